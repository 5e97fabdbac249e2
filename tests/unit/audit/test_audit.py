"""The audit over in-memory ports: every finding code, incremental reporting, and a quiet healthy fleet."""

from __future__ import annotations

from datetime import timedelta

from interconnect.adapters.memory import InMemoryAuditStore, InMemoryQuarantine
from interconnect.audit.inventory import InventoryReader
from interconnect.audit.model import Thresholds
from interconnect.audit.service import AuditJob, Audits
from interconnect.avs.resources import Link, LinkStatus, Segment
from interconnect.errors import ArmError, DependencyError, MalformedAnswerError
from interconnect.linking.model import Action
from interconnect.linking.quarantine import Quarantined
from interconnect.linking.queue import DeadLetter, WorkItem
from interconnect.linking.sweeper import Sweeper
from interconnect.linking.worker import MAX_RETRIES
from tests.factories import SUB_A, cloud, cloud_id
from tests.unit.world import World


class Posts:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def post(self, text: str) -> None:
        self.texts.append(text)


def audits(world: World, chat: Posts | None = None, quarantine: InMemoryQuarantine | None = None) -> Audits:
    return Audits(
        InventoryReader(world.avs, concurrency=2),
        world.store,
        InMemoryAuditStore(world.store),
        world.queue,
        world.clock,
        (SUB_A,),
        Thresholds(stuck_minutes=30, stale_minutes=60),
        chat=chat,
        quarantine=quarantine if quarantine is not None else InMemoryQuarantine(),
    )


def codes(run) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(f.code for f in run.findings)


def test_a_healthy_fleet_has_no_findings_and_is_not_posted() -> None:
    world, chat = World(), Posts()
    rid = world.submit(Action.CONNECT)
    world.drain()
    assert world.store.get(rid).status.value == "Succeeded"
    run = audits(world, chat).run("r1")
    assert run.findings == [] and run.clouds == 3 and run.links == 1
    assert chat.texts == []


def test_each_kind_of_trouble_is_found() -> None:
    world = World()
    a, b, c = world.a, world.b, world.c
    d, e = cloud_id("d"), cloud_id("e")
    world.avs.add(cloud(d, block="10.0.4.0/24"))  # overlaps b
    world.avs.add(cloud(e, block="10.7.0.0/22"))
    world.avs.links[(a, "by-hand")] = Link(a, "by-hand", b, LinkStatus.FAILED)
    world.avs.links[(b, "back")] = Link(b, "back", a, LinkStatus.ACTIVE)  # both directions
    world.avs.links[(a, "far")] = Link(a, "far", c, LinkStatus.ACTIVE)  # c is in eastus
    world.avs.links[(a, "to-d")] = Link(a, "to-d", d, LinkStatus.BUILDING)
    world.avs.links[(e, "e-b")] = Link(e, "e-b", b, LinkStatus.ACTIVE)
    world.avs.segments[e] = [Segment("web", "10.0.5.1/24", "/infra/tier-1s/t1")]  # e overlaps b, linked to it
    world.queue.dead.append(DeadLetter("m", b"{}", "MaxDeliveryCountExceeded", ""))
    service = audits(world)
    first = service.run("r1")
    assert {
        "LINK_NOT_ACTIVE",
        "DUPLICATE_LINK",
        "CROSS_REGION_LINK",
        "OVERLAP_ON_LINK",
        "NEIGHBOR_OVERLAP",
        "UNMANAGED_LINK",
        "DEAD_LETTERED",
    } <= set(codes(first))
    assert "LINK_STUCK" not in codes(first)
    world.clock.advance(minutes=31)
    second = service.run("r2")
    assert "LINK_STUCK" in codes(second)
    assert [f.code for f in second.findings if f.key in set(second.new)] == ["LINK_STUCK"]


def test_missing_link_limit_and_stale_requests_are_found() -> None:
    world = World()
    rid = world.submit(Action.CONNECT)
    world.drain()
    world.avs.links.clear()  # someone deleted our link in the portal
    for i in range(9):
        peer = cloud_id(f"p{i}")
        world.avs.add(cloud(peer, block=f"172.16.{i * 4}.0/22"))
        world.avs.links[(peer, f"l{i}")] = Link(peer, f"l{i}", world.b, LinkStatus.ACTIVE)
    stuck = world.submit(Action.CONNECT, world.a, world.c)  # accepted, never processed
    world.queue.sent.clear()
    world.clock.advance(minutes=61)
    run = audits(world).run("r1")
    found = codes(run)
    assert "MISSING_LINK" in found and "LINK_LIMIT_NEAR" in found and "STALE_REQUEST" in found
    missing = next(f for f in run.findings if f.code == "MISSING_LINK")
    assert missing.details["requestId"] == rid
    stale = next(f for f in run.findings if f.code == "STALE_REQUEST")
    assert stale.details["requestId"] == stuck


def test_a_second_run_reports_nothing_new_and_a_fix_is_reported_resolved() -> None:
    world, chat = World(), Posts()
    world.avs.links[(world.a, "x")] = Link(world.a, "x", world.b, LinkStatus.DISCONNECTED)
    service = audits(world, chat)
    first = service.run("r1")
    assert len(first.new) == len(first.findings) > 0 and len(chat.texts) == 1
    second = service.run("r2")
    assert second.new == [] and second.resolved == [] and len(chat.texts) == 1
    world.avs.links[(world.a, "x")] = Link(world.a, "x", world.b, LinkStatus.ACTIVE)
    world.clock.advance(minutes=1)
    third = service.run("r3")
    assert [f.code for f in third.resolved] == ["LINK_NOT_ACTIVE"]
    assert "resolved LINK_NOT_ACTIVE" in chat.texts[-1]
    assert timedelta(0) <= third.finished_at - third.started_at


def test_a_run_completes_past_unreadable_request_rows_and_a_hostile_dead_letter_and_says_so() -> None:
    # GIVEN a stale request, two rows an older version stored that cannot be read back, and a deeply
    # nested message in the dead-letter queue
    world = World()
    rid = world.submit(Action.CONNECT)
    world.queue.sent.clear()
    world.store.corrupt.update({"old-1": "INVALID_ID in target", "old-2": "INVALID_COLUMN"})
    world.queue.dead.append(DeadLetter("deep", b"[" * 50_000 + b"]" * 50_000, "MaxDeliveryCountExceeded", ""))
    world.clock.advance(minutes=61)
    sweeper = Sweeper(world.store, world.queue, world.clock)
    service = audits(world)
    service.redrive = sweeper.sweep
    # WHEN the audit runs (with the sweeper's re-drive, as deployed)
    run = service.run("r1")
    # THEN it reports the stale request and the dead letter, names the unreadable rows, and re-drove the rest
    assert {"STALE_REQUEST", "DEAD_LETTERED"} <= set(codes(run))
    assert any("2 unfinished request row(s) could not be read back" in p for p in run.problems)
    assert [item.request_id for item, _ in world.queue.sent] == [rid]


def test_an_unreadable_prefix_is_a_finding_critical_where_the_cloud_is_linked() -> None:
    # GIVEN b with an empty network block (linked to a) and c with a Global Reach prefix that does not parse
    world = World()
    world.avs.links[(world.a, "a-b")] = Link(world.a, "a-b", world.b, LinkStatus.ACTIVE)
    world.avs.add(cloud(world.b, block=""))
    world.avs.global_reach[world.c] = ["10.9.0.300/29"]
    # WHEN the audit runs
    run = audits(world).run("r1")
    # THEN each is a finding naming the cloud and the prefix, so a person sees what no check could judge
    found = {f.clouds[0]: f for f in run.findings if f.code == "UNREADABLE_PREFIX"}
    assert set(found) == {str(world.b), str(world.c)}
    assert (found[str(world.b)].severity, found[str(world.c)].severity) == ("critical", "warning")
    assert "networkBlock" in found[str(world.b)].message and "10.9.0.300/29" in found[str(world.c)].message
    assert found[str(world.b)].details["count"] == 1


def test_reads_arm_refuses_or_answers_malformed_are_findings_and_the_run_completes() -> None:
    # GIVEN b's segments refused, a holding a readable link and one ARM answers malformed
    world = World()
    world.avs.links[(world.a, "a-b")] = Link(world.a, "a-b", world.b, LinkStatus.FAILED)
    world.avs.garbled[(world.a, "odd")] = "properties.linkedCloud is 'zz', not a private cloud id"
    world.avs.refuse["list_segments:b"] = ArmError(
        "listing segments of b: denied",
        code="ARM_AuthorizationFailed",
        details={"status": 403, "armCode": "AuthorizationFailed"},
    )
    # WHEN the audit runs
    run = audits(world).run("r1")
    # THEN both are findings, the readable link is still judged, and the problems name them too
    unreadable = {f.clouds[0]: f for f in run.findings if f.code == "UNREADABLE_CLOUD"}
    assert set(unreadable) == {str(world.a), str(world.b)}
    assert unreadable[str(world.a)].details["reads"] == [
        {"read": "cloudLinks.list", "code": "ARM_MALFORMED_ANSWER", "partial": True}
    ]
    assert "'odd'" in unreadable[str(world.a)].message and "incomplete" in unreadable[str(world.a)].message
    assert unreadable[str(world.b)].details["reads"][0]["code"] == "ARM_AuthorizationFailed"
    assert "LINK_NOT_ACTIVE" in codes(run) and run.links == 1 and len(run.problems) == 2


def test_a_subscription_listing_with_a_malformed_cloud_keeps_the_rest_and_says_so() -> None:
    world = World()
    world.avs.refuse["list_clouds"] = MalformedAnswerError(
        "ARM's answer to privateClouds.list of subscription s is malformed: the cloud's id is 7",
        partial=[cloud(world.a), cloud(world.b, block="10.0.4.0/22")],
        details={"status": 200, "armCode": "MALFORMED_ANSWER"},
    )
    run = audits(world).run("r1")
    assert run.clouds == 2
    (finding,) = [f for f in run.findings if f.code == "UNREADABLE_CLOUD"]
    assert finding.clouds == (f"/subscriptions/{SUB_A}",) and "privateClouds.list is incomplete" in finding.message


def test_an_audit_job_is_the_same_wire_item_as_before_with_its_run_id_named() -> None:
    item = WorkItem("run-1", "audit", retry=3)
    assert AuditJob.from_item(item) == AuditJob(run_id="run-1", retry=3)
    assert AuditJob("run-1", 3).to_item() == item
    assert AuditJob("run-1").to_item().message_id == "run-1:audit"  # duplicate detection keys on this id


def test_an_audit_that_stays_unavailable_is_retried_with_backoff_then_given_up_without_raising() -> None:
    class Down:
        def run(self, run_id: str) -> None:
            raise DependencyError("ARM unavailable")

    world = World()
    world.dispatch.audits = Down()  # type: ignore[assignment]
    world.queue.send(AuditJob("run-1").to_item())
    world.drain()  # raises nothing: the last failure is logged, not re-raised
    retried = sorted(m for m in world.queue.seen if m.startswith("run-1:audit:retry:"))
    assert retried == sorted(f"run-1:audit:retry:{n}" for n in range(1, MAX_RETRIES + 1))


def test_messages_in_the_quarantine_are_a_finding_as_dead_letters_are() -> None:
    # GIVEN a healthy fleet, and two messages the worker set aside (no work item; a request it cannot read)
    world, quarantine = World(), InMemoryQuarantine()
    world.avs.add(cloud(cloud_id("pc-a"), block="10.0.0.0/22"))
    for reason, message_id in [("MALFORMED_MESSAGE", "m-1"), ("CORRUPT_RECORD", "m-2")]:
        quarantine.put(
            Quarantined.of(
                reason=reason,
                description="why",
                message_id=message_id,
                sequence_number=1,
                enqueued_at=None,
                delivery_count=1,
                body=b"x",
            )
        )
    # WHEN the audit runs
    run = audits(world, quarantine=quarantine).run("r1")
    # THEN it reports them, with their count, and nothing else
    (finding,) = run.findings
    assert (finding.code, finding.severity, finding.details) == ("QUARANTINED", "warning", {"count": 2})
    assert "2 message(s) sit in the quarantine" in finding.message
    # ...and an empty quarantine is no finding
    assert "QUARANTINED" not in codes(audits(World(), quarantine=InMemoryQuarantine()).run("r2"))
