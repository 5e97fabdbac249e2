"""The worker over in-memory ports: decisions, follow-up checks, and replays at every step."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from interconnect.avs.ids import link_name
from interconnect.avs.resources import Link, LinkStatus
from interconnect.errors import ArmError, DependencyError
from interconnect.linking.lifecycle import CHECK_HEARTBEAT
from interconnect.linking.model import Action, Requester, Status
from interconnect.linking.queue import WorkItem
from interconnect.linking.worker import MAX_RETRIES, retry_delay
from tests.factories import cloud, cloud_id
from tests.unit.world import World

ALICE = Requester("api", "alice")


@pytest.fixture
def world() -> World:
    return World()


def test_connect_creates_the_link_on_the_source_and_succeeds_once_active(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.SUCCEEDED and "Active" in request.outcome
    assert world.avs.links[(world.a, link_name(world.b))].status == LinkStatus.ACTIVE
    assert [e.status for e in world.store.events(rid)] == [
        Status.ACCEPTED,
        Status.VALIDATING,
        Status.IN_PROGRESS,
        Status.SUCCEEDED,
    ]
    assert [e.sequence for e in world.store.events(rid)] == [1, 2, 3, 4]


def test_each_check_that_finds_the_link_still_building_is_recorded(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    world.worker.handle(world.queue.take()[0])  # AVS has not finished yet
    world.drain()
    assert [e.status for e in world.store.events(rid)][-3:] == [
        Status.IN_PROGRESS,
        Status.IN_PROGRESS,
        Status.SUCCEEDED,
    ]
    assert "Building" in world.store.events(rid)[3].message


def follow(world: World, checks: int, *, twice: bool = False) -> list[WorkItem]:
    """Deliver the next `checks` follow-up checks at their due times, AVS not finishing meanwhile."""
    delivered = []
    for _ in range(checks):
        item, at = world.queue.take()
        assert item.kind == "check" and at is not None
        world.clock.now = max(world.clock.now, at)
        world.worker.handle(item)
        if twice:
            world.worker.handle(item)  # Service Bus delivers it again
        delivered.append(item)
    return delivered


def check_events(world: World, rid: str) -> list[str]:
    """The messages of the trail's follow-up check events (InProgress after InProgress)."""
    return [e.message for e in world.store.events(rid) if e.previous is Status.IN_PROGRESS]


def test_checks_that_see_the_same_state_are_counted_on_the_row_but_recorded_once(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    follow(world, 5)
    request = world.store.get(rid)
    assert check_events(world, rid) == [f"link {link_name(world.b)} is Building"]
    assert request.operation is not None and request.operation.checks == 5
    assert request.updated_at == world.clock.now  # the row shows the last check, though the trail does not
    assert [e.sequence for e in world.store.events(rid)] == [1, 2, 3, 4]
    world.drain()
    assert [e.sequence for e in world.store.events(rid)] == [1, 2, 3, 4, 5]


def test_a_check_that_sees_a_different_state_is_recorded(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    key = (world.a, link_name(world.b))
    follow(world, 2)
    world.avs.links[key] = Link(world.a, key[1], world.b, "Updating")  # a state ARM may add; not an end
    follow(world, 2)
    world.avs.links[key] = Link(world.a, key[1], world.b, LinkStatus.BUILDING)
    follow(world, 2)
    assert check_events(world, rid) == [f"link {key[1]} is {s}" for s in ("Building", "Updating", "Building")]
    assert world.store.get(rid).operation.checks == 6  # type: ignore[union-attr]


def test_a_long_quiet_build_gets_a_heartbeat_event_every_check_heartbeat(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    poll = world.worker.poll_interval
    follow(world, 2 * (CHECK_HEARTBEAT // poll) + 1)  # the first check, then two heartbeats' worth
    recorded = [e for e in world.store.events(rid) if e.previous is Status.IN_PROGRESS]
    assert len(recorded) == 3
    first, *beats = recorded
    assert first.message == f"link {link_name(world.b)} is Building"
    assert [b.at - a.at for a, b in itertools.pairwise(recorded)] == [CHECK_HEARTBEAT] * 2
    assert all(b.message.startswith(f"{first.message}; still watched, unchanged since") for b in beats)
    assert f"unchanged since {first.at.isoformat()}" in beats[0].message
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED


def test_a_redelivered_check_appends_no_event_whether_or_not_it_was_recorded(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    delivered = follow(world, 4, twice=True)  # the first recorded, the others quiet; each delivered twice
    trail = world.store.events(rid)
    for item in delivered:  # and every one again, late
        world.worker.handle(item)
    assert world.store.events(rid) == trail and len(check_events(world, rid)) == 1
    assert world.store.get(rid).operation.checks == 4  # type: ignore[union-attr]
    assert len(world.queue.sent) == 1  # one next check, under one id: the broker drops its repeats


def test_the_worker_does_not_wait_for_the_link_but_schedules_a_check(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    assert world.status(rid) is Status.IN_PROGRESS
    ((item, at),) = world.queue.sent
    assert item.kind == "check" and at == world.clock.now + timedelta(seconds=10)


def test_connect_when_already_linked_either_way_is_a_noop(world: World) -> None:
    world.avs.links[(world.b, "by-hand")] = Link(world.b, "by-hand", world.a, LinkStatus.ACTIVE)
    rid = world.submit(Action.CONNECT)
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED
    assert "already linked" in world.store.get(rid).outcome
    assert "create_link" not in world.avs.calls


def test_connect_repairs_a_failed_link_in_place(world: World) -> None:
    world.avs.links[(world.b, "old")] = Link(world.b, "old", world.a, LinkStatus.FAILED)
    rid = world.submit(Action.CONNECT)
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED
    assert set(world.avs.links) == {(world.b, "old")}


def test_disconnect_deletes_the_link_where_it_lives(world: World) -> None:
    world.avs.links[(world.b, "held-by-b")] = Link(world.b, "held-by-b", world.a, LinkStatus.ACTIVE)
    rid = world.submit(Action.DISCONNECT)
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED and world.avs.links == {}


def test_disconnect_removes_links_in_both_directions(world: World) -> None:
    world.avs.links[(world.a, "ab")] = Link(world.a, "ab", world.b, LinkStatus.ACTIVE)
    world.avs.links[(world.b, "ba")] = Link(world.b, "ba", world.a, LinkStatus.ACTIVE)
    rid = world.submit(Action.DISCONNECT)
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED and world.avs.links == {}


def test_disconnect_when_not_linked_is_a_noop(world: World) -> None:
    rid = world.submit(Action.DISCONNECT)
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED and "not linked" in world.store.get(rid).outcome


def test_different_regions_are_rejected_with_both_locations(world: World) -> None:
    rid = world.submit(Action.CONNECT, target=world.c)
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.REJECTED
    assert [r.code for r in request.reasons] == ["REGION_MISMATCH"]
    assert "eastus" in request.reasons[0].message and "westeurope" in request.reasons[0].message
    assert world.store.events(rid)[-1].reasons == request.reasons


def test_unknown_clouds_are_each_reported(world: World) -> None:
    rid = world.submit(Action.CONNECT, source=cloud_id("ghost-1"), target=cloud_id("ghost-2"))
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.REJECTED
    assert [r.code for r in request.reasons] == ["CLOUD_NOT_FOUND", "CLOUD_NOT_FOUND"]


def test_a_cloud_that_is_not_ready_is_rejected(world: World) -> None:
    busy = cloud_id("busy")
    world.avs.add(cloud(busy, state="Updating", block="10.9.0.0/22"))
    rid = world.submit(Action.CONNECT, target=busy)
    world.drain()
    assert [r.code for r in world.store.get(rid).reasons] == ["CLOUD_NOT_READY"]


def test_a_link_that_ends_failed_fails_the_request(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    key = (world.a, link_name(world.b))
    world.avs.links[key] = Link(world.a, key[1], world.b, LinkStatus.FAILED)
    world.drain(settle=False)
    request = world.store.get(rid)
    assert request.status is Status.FAILED and request.reasons[0].code == "LINK_FAILED"


def test_a_link_stuck_building_times_out(world: World) -> None:
    world.worker.operation_timeout = timedelta(minutes=3)
    rid = world.submit(Action.CONNECT)
    world.drain(settle=False)
    request = world.store.get(rid)
    assert request.status is Status.FAILED and request.reasons[0].code == "OPERATION_TIMEOUT"


def test_arm_refusal_fails_the_request_with_its_code(world: World) -> None:
    world.avs.refuse["create"] = ArmError("quota", code="ARM_CloudLinkLimitExceeded")
    rid = world.submit(Action.CONNECT)
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.FAILED and request.reasons[0].code == "ARM_CloudLinkLimitExceeded"


def test_redelivering_every_message_changes_nothing(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    delivered: list[WorkItem] = []
    while world.queue.sent:
        item, at = world.queue.take()
        if at is not None:
            world.clock.now = max(world.clock.now, at)
            world.avs.settle()
        world.worker.handle(item)
        delivered.append(item)
        world.worker.handle(item)  # a second delivery of the same message
    for item in delivered:  # and all of them again, late
        world.worker.handle(item)
    assert world.status(rid) is Status.SUCCEEDED
    assert world.avs.calls.count("create_link") == 1
    assert [e.sequence for e in world.store.events(rid)] == [1, 2, 3, 4]


def test_a_crash_after_recording_the_operation_resumes_with_one_put(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    world.avs.refuse["create"] = ArmError("boom")  # stands for a crash right before the PUT lands

    class Crash(Exception):
        pass

    def crash(*args: object) -> None:
        raise Crash

    world.avs.create_link = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.worker.handle(item)
    assert world.status(rid) is Status.IN_PROGRESS and world.queue.sent == []
    del world.avs.create_link  # back to the real fake
    world.avs.refuse.clear()
    world.worker.handle(item)  # Service Bus redelivers the first message
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED
    assert world.avs.calls.count("create_link") == 1


def test_same_idempotency_key_returns_the_same_request_and_queues_once(world: World) -> None:
    first = world.submit(Action.CONNECT, key="CHG-1")
    again = world.submit(Action.CONNECT, key="CHG-1")
    assert first == again and len(world.queue.sent) == 1


def test_a_transient_arm_failure_is_retried_later_with_backoff_not_raised(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    calls = {"n": 0}
    real = world.avs.get_cloud

    def flaky(cloud):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise DependencyError("ARM answered 503", retry_after=7)
        return real(cloud)

    world.avs.get_cloud = flaky  # type: ignore[method-assign]
    world.worker.handle(item)
    ((retry, at),) = world.queue.sent
    assert (retry.kind, retry.retry) == ("process", 1) and at == world.clock.now + timedelta(seconds=7)
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED


def test_a_dependency_that_never_recovers_fails_the_request_after_the_last_retry(world: World) -> None:
    rid = world.submit(Action.CONNECT)

    def down(cloud):  # type: ignore[no-untyped-def]
        raise DependencyError("ARM unreachable")

    world.avs.get_cloud = down  # type: ignore[method-assign]
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.FAILED and request.reasons[0].code == "DEPENDENCY_UNAVAILABLE"
    assert sum(1 for item in world.queue.seen if ":retry:" in item) == MAX_RETRIES


def test_retry_delays_grow_and_honour_retry_after() -> None:
    assert [retry_delay(n, None).total_seconds() for n in range(4)] == [2, 4, 8, 16]
    assert retry_delay(10, None) == timedelta(minutes=5)
    assert retry_delay(0, 30) == timedelta(seconds=30)


@pytest.mark.parametrize("odd", [float("nan"), float("inf"), -5.0, 1e300])
def test_a_retry_after_that_is_no_usable_number_never_breaks_the_schedule(odd: float) -> None:
    assert timedelta(seconds=2) <= retry_delay(0, odd) <= timedelta(hours=1)


def test_decisions_on_a_cloud_follow_the_order_requests_were_accepted(world: World) -> None:
    c = cloud_id("c-overlaps-b")
    world.avs.add(cloud(c, block="10.0.4.0/23"))
    first = world.submit(Action.CONNECT, world.a, world.b)
    world.clock.advance(seconds=1)
    second = world.submit(Action.CONNECT, world.a, c)
    first_item, _ = world.queue.take()
    second_item, _ = world.queue.take()
    world.worker.handle(second_item)  # delivered first, but accepted second: it must wait
    assert world.status(second) is Status.ACCEPTED
    world.worker.handle(first_item)
    world.drain()
    assert world.status(first) is Status.SUCCEEDED
    assert [r.code for r in world.store.get(second).reasons] == ["NEIGHBOR_OVERLAP"]


def test_connect_and_disconnect_of_one_pair_apply_in_order(world: World) -> None:
    connect = world.submit(Action.CONNECT)
    world.clock.advance(seconds=1)
    disconnect = world.submit(Action.DISCONNECT)
    connect_item, _ = world.queue.take()
    disconnect_item, _ = world.queue.take()
    world.worker.handle(disconnect_item)
    world.worker.handle(connect_item)
    world.drain()
    assert (world.status(connect), world.status(disconnect)) == (Status.SUCCEEDED, Status.SUCCEEDED)
    assert world.avs.links == {}
    assert "unlinked" in world.store.get(disconnect).outcome


# -- reads ARM refuses end the request with their cause: no exception, no redelivery ----------------------


def forbidden(code: str = "AuthorizationFailed") -> ArmError:
    return ArmError(f"ARM said {code}", code=f"ARM_{code}", details={"status": 403, "armCode": code})


@pytest.mark.parametrize(
    ("refused", "code"),
    [
        ("get_cloud:b", "CLOUD_NOT_FOUND"),
        ("list_segments:b", "PERMISSION_DENIED"),
        ("get_cloud:c", "NEIGHBOR_UNREADABLE"),
        ("list_global_reach:c", "NEIGHBOR_UNREADABLE"),
    ],
)
def test_a_refused_read_rejects_the_request_at_once_with_its_cause(world: World, refused: str, code: str) -> None:
    world.avs.add(cloud(world.c, block="10.0.8.0/22"))  # c, in the pair's region, is linked to a
    world.avs.links[(world.a, "to-c")] = Link(world.a, "to-c", world.c, LinkStatus.ACTIVE)
    world.avs.refuse[refused] = forbidden()
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])  # one delivery decides: nothing raised, nothing re-queued
    request = world.store.get(rid)
    assert request.status is Status.REJECTED and [r.code for r in request.reasons] == [code]
    assert request.reasons[0].details["status"] == 403 and world.queue.sent == []
    assert "create_link" not in world.avs.calls


def test_a_refusal_while_following_an_operation_fails_the_request(world: World) -> None:
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    world.avs.refuse["get_link"] = forbidden()
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.FAILED and request.reasons[0].code == "ARM_AuthorizationFailed"
    assert world.queue.sent == []


def test_a_permanent_arm_error_from_any_step_ends_the_request_instead_of_raising(world: World) -> None:
    rid = world.submit(Action.CONNECT)

    def refused(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise forbidden("SomethingNew")

    world.worker.preflight.gather = refused  # type: ignore[method-assign]
    world.worker.handle(world.queue.take()[0])
    request = world.store.get(rid)
    assert request.status is Status.REJECTED and request.reasons[0].code == "ARM_SomethingNew"


def test_a_disconnect_whose_reverse_link_cannot_be_read_afterwards_fails_with_the_cause(world: World) -> None:
    world.avs.links[(world.a, "ab")] = Link(world.a, "ab", world.b, LinkStatus.ACTIVE)
    world.avs.links[(world.b, "ba")] = Link(world.b, "ba", world.a, LinkStatus.ACTIVE)
    rid = world.submit(Action.DISCONNECT)
    world.worker.handle(world.queue.take()[0])  # deletes one of them
    world.avs.refuse["list_links"] = forbidden()  # the identity lost its read before the follow-up
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.FAILED and "cannot be read" in request.outcome
    assert {r.code for r in request.reasons} == {"PERMISSION_DENIED"}


def test_a_repair_at_the_link_limit_goes_ahead(world: World) -> None:
    world.avs.links[(world.b, "old")] = Link(world.b, "old", world.a, LinkStatus.FAILED)
    for i in range(9):
        peer = cloud_id(f"p{i}")
        world.avs.add(cloud(peer, block=f"172.16.{i * 4}.0/22"))
        world.avs.links[(world.a, f"to-p{i}")] = Link(world.a, f"to-p{i}", peer, LinkStatus.ACTIVE)
    rid = world.submit(Action.CONNECT)
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED
    assert world.avs.links[(world.b, "old")].status == LinkStatus.ACTIVE


# -- ordered decisions: waiters are woken, with one fallback chain under them --------------------------------


def deliver_in_time_order(world: World, settle: bool = True) -> list[WorkItem]:
    """Deliver every message in the order the broker would (due time, then sending order), moving the clock to
    a scheduled message's time only when nothing is due before it. Returns what was delivered."""
    delivered = []
    while world.queue.sent:
        due = [(at or world.clock.now, n) for n, (_, at) in enumerate(world.queue.sent)]
        at, n = min(due)
        item, _ = world.queue.sent.pop(n)
        if at > world.clock.now:
            world.clock.now = at
            if settle:
                world.avs.settle()
        world.dispatch.handle(item)
        delivered.append(item)
    return delivered


def test_a_waiting_request_is_woken_when_the_one_before_it_is_decided(world: World) -> None:
    spoke = cloud_id("spoke")
    world.avs.add(cloud(spoke, block="10.0.8.0/22"))
    first = world.submit(Action.CONNECT, world.a, world.b)
    world.clock.advance(seconds=1)
    second = world.submit(Action.CONNECT, world.a, spoke)
    first_item, second_item = world.queue.take()[0], world.queue.take()[0]
    world.worker.handle(second_item)  # delivered before the first: it waits, with one fallback scheduled
    ((fallback, at),) = world.queue.sent
    assert world.status(second) is Status.ACCEPTED and fallback.message_id == f"{second}:wait:1"
    assert at == world.store.get(second).created_at + timedelta(seconds=30)
    world.queue.sent.clear()
    world.worker.handle(first_item)  # decided: the link is being built, and the waiter is told at once
    wake = [item for item, at in world.queue.sent if item.request_id == second]
    assert [(w.kind, w.waker, w.waker_status) for w in wake] == [("process", first, "InProgress")]
    assert dict((item.message_id, at) for item, at in world.queue.sent)[wake[0].message_id] is None
    world.worker.handle(wake[0])
    assert world.status(second) is Status.IN_PROGRESS  # decided without waiting for the fallback


def test_a_wake_up_that_finds_the_request_still_held_back_starts_no_chain(world: World) -> None:
    first = world.submit(Action.CONNECT, world.a, world.b)
    world.clock.advance(seconds=1)
    second = world.submit(Action.CONNECT, world.a, world.c)
    world.queue.sent.clear()
    world.worker.handle(WorkItem(second, "process", waker="someone-else", waker_status="Succeeded"))
    assert world.status(second) is Status.ACCEPTED and world.queue.sent == []
    assert world.status(first) is Status.ACCEPTED


def test_a_waiter_keeps_exactly_one_fallback_chain_on_a_fixed_grid(world: World) -> None:
    world.submit(Action.CONNECT, world.a, world.b)  # never delivered: holds the next one back
    world.clock.advance(seconds=1)
    waiter = world.submit(Action.CONNECT, world.a, world.c)
    world.queue.sent.clear()
    world.worker.handle(WorkItem(waiter, "process"))
    world.worker.handle(WorkItem(waiter, "process"))  # the first message redelivered
    world.worker.handle(WorkItem(waiter, "process", origin="sweep-1"))  # a sweeper re-drive
    assert [item.message_id for item, _ in world.queue.sent] == [f"{waiter}:wait:1"]
    for slot in (1, 2, 3):  # each link of the chain schedules the next slot, never sooner, never growing
        item, at = world.queue.take()
        assert at is not None
        world.clock.now = at
        world.worker.handle(item)
        ((nxt, nxt_at),) = world.queue.sent
        assert nxt.attempt == slot + 1 and nxt_at == at + timedelta(seconds=30)


def test_a_stale_blocker_no_longer_holds_the_waiter_once_its_fallback_runs(world: World) -> None:
    world.submit(Action.CONNECT, world.a, world.b)  # accepted, never decided
    world.clock.advance(seconds=1)
    waiter = world.submit(Action.CONNECT, world.a, world.c)
    world.queue.sent.clear()
    world.worker.handle(WorkItem(waiter, "process"))
    world.clock.advance(minutes=16)  # past STALE_UNDECIDED: the chain's next link decides it
    item, _ = world.queue.take()
    world.worker.handle(item)
    assert world.status(waiter) is not Status.ACCEPTED


def test_a_redelivered_decision_step_sends_its_wake_up_again_under_the_same_id(world: World) -> None:
    first = world.submit(Action.CONNECT, world.a, world.b)
    world.clock.advance(seconds=1)
    second = world.submit(Action.CONNECT, world.a, world.c)
    world.queue.sent.clear()
    sends: list[str] = []
    real_send = world.queue.send

    def recording(item: WorkItem) -> None:
        sends.append(item.message_id)
        real_send(item)

    world.queue.send = recording  # type: ignore[method-assign]
    world.worker.handle(WorkItem(first, "process"))
    world.worker.handle(WorkItem(first, "process"))  # redelivered after the decision was saved
    wakes = [s for s in sends if s.startswith(f"{second}:wake:")]
    assert wakes == [f"{second}:wake:{first}:InProgress"] * 2
    assert sum(1 for item, _ in world.queue.sent if item.request_id == second) == 1  # the broker kept one


def test_an_operation_ending_wakes_a_request_on_the_same_pair(world: World) -> None:
    connect = world.submit(Action.CONNECT)
    world.clock.advance(seconds=1)
    disconnect = world.submit(Action.DISCONNECT)
    world.queue.sent.clear()
    world.worker.handle(WorkItem(connect, "process"))
    world.worker.handle(WorkItem(disconnect, "process", waker=connect, waker_status="InProgress"))
    assert world.status(disconnect) is Status.ACCEPTED  # the link is still being built
    world.avs.settle()
    world.clock.advance(seconds=10)
    world.worker.handle(WorkItem(connect, "check"))
    assert world.status(connect) is Status.SUCCEEDED
    wake = [item for item, _ in world.queue.sent if item.waker == connect and item.waker_status == "Succeeded"]
    assert [w.request_id for w in wake] == [disconnect]


def test_a_burst_on_one_hub_is_decided_in_acceptance_order_with_linear_messages(world: World) -> None:
    n = 50
    spokes = [cloud_id(f"spoke-{i}") for i in range(n)]
    for i, spoke in enumerate(spokes):
        world.avs.add(cloud(spoke, block=f"172.{16 + i // 64}.{(i % 64) * 4}.0/22"))
    ids = []
    for spoke in spokes:
        ids.append(world.submit(Action.CONNECT, world.a, spoke))
        world.clock.advance(seconds=0.01)
    decided: list[str] = []
    decided_at = set()
    real_save = world.store.save

    def recording(request, event):  # type: ignore[no-untyped-def]
        if event.previous is Status.VALIDATING:
            decided.append(request.id)
            decided_at.add(event.at)
        return real_save(request, event)

    world.store.save = recording  # type: ignore[method-assign]
    start = world.clock.now
    world.queue.sent.reverse()  # the broker hands them out in any order: the worst, last accepted first
    delivered = deliver_in_time_order(world)
    assert all(world.status(rid).is_terminal for rid in ids)
    assert decided == ids
    wakes = sum(1 for item in delivered if item.is_wake_up)
    fallbacks = sum(1 for item in delivered if item.kind == "process" and item.attempt and not item.is_wake_up)
    assert wakes <= 2 * n and fallbacks <= n  # O(n): each waiter's chain had at most one link due
    assert decided_at == {start}  # every decision was woken, none waited for its fallback


def test_a_wake_up_that_cannot_be_sent_does_not_hold_up_the_step_and_the_fallback_finds_the_waiter(
    world: World,
) -> None:
    spoke = cloud_id("spoke")
    world.avs.add(cloud(spoke, block="10.0.8.0/22"))
    first = world.submit(Action.CONNECT, world.a, world.b)
    world.clock.advance(seconds=1)
    second = world.submit(Action.CONNECT, world.a, spoke)
    world.queue.sent.clear()
    world.worker.handle(WorkItem(second, "process"))  # waits, with its fallback
    real_send = world.queue.send

    def no_wake_ups(item: WorkItem) -> None:
        if item.is_wake_up:
            raise DependencyError("Service Bus unavailable")
        real_send(item)

    world.queue.send = no_wake_ups  # type: ignore[method-assign]
    world.worker.handle(WorkItem(first, "process"))
    assert world.status(first) is Status.IN_PROGRESS and "create_link" in world.avs.calls
    assert not any(item.is_wake_up for item, _ in world.queue.sent)
    deliver_in_time_order(world)
    assert world.status(first) is Status.SUCCEEDED and world.status(second) is Status.SUCCEEDED


def test_a_request_accepted_earlier_that_shows_up_during_the_preflight_decides_first(world: World) -> None:
    spoke = cloud_id("spoke")
    world.avs.add(cloud(spoke, block="10.0.8.0/22"))
    accepted_at = world.clock.now
    world.clock.advance(seconds=1)
    later = world.submit(Action.CONNECT, world.a, spoke)
    world.queue.sent.clear()
    earlier: list[str] = []
    real_gather = world.worker.preflight.gather

    def intake_lands_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not earlier:  # a POST accepted a moment before `later` finishes writing its row only now
            now, world.clock.now = world.clock.now, accepted_at
            earlier.append(world.submit(Action.CONNECT, world.a, world.b))
            world.clock.now = now
        return real_gather(*args, **kwargs)

    world.worker.preflight.gather = intake_lands_meanwhile  # type: ignore[method-assign]
    world.worker.handle(WorkItem(later, "process"))
    assert world.status(later) is Status.VALIDATING and "create_link" not in world.avs.calls  # it waits
    decided: list[str] = []
    real_save = world.store.save

    def recording(request, event):  # type: ignore[no-untyped-def]
        if event.previous is Status.VALIDATING:
            decided.append(request.id)
        return real_save(request, event)

    world.store.save = recording  # type: ignore[method-assign]
    deliver_in_time_order(world)
    assert decided == [earlier[0], later]
    assert world.status(earlier[0]) is Status.SUCCEEDED and world.status(later) is Status.SUCCEEDED
