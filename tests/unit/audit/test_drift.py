"""Drift: registered topology documents against the inventory (interconnect/audit/drift.py), pure and through
the audit service over in-memory ports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters.memory import InMemoryAuditStore, InMemoryQuarantine, InMemoryTopologyRegistry
from interconnect.audit.drift import MISSING, UNDECLARED, UNRESOLVABLE, drift
from interconnect.audit.inventory import InventoryReader
from interconnect.audit.model import CRITICAL, WARNING, CloudRecord, Inventory, UnreadableRead
from interconnect.audit.service import Audits
from interconnect.audit.topology import build_graph
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link, LinkStatus
from interconnect.avs.routed import RoutedSpace
from interconnect.errors import ArmError, ValidationError
from interconnect.estate.document import parse_document
from interconnect.estate.registry import SCOPE_MISMATCH, RegisteredTopology, registration
from interconnect.estate.topology import scope_of
from interconnect.linking.model import Action, Requester
from tests.factories import SUB_A, SUB_B, cloud, cloud_id
from tests.unit.world import World

ALICE = Requester("api", "alice", "Alice")
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
A, B, C, D = (cloud_id(n) for n in ("pc-a", "pc-b", "pc-c", "pc-d"))
FAR = cloud_id("pc-far", sub=SUB_B)


def document(
    links: list[tuple[CloudId, CloudId]], *, name: str | None = "weu-prod", subs: tuple[str, ...] = (SUB_A,)
) -> bytes:
    body = {
        "apiVersion": "interconnect/v1",
        "kind": "Topology",
        "scope": {"subscriptions": list(subs)},
        "links": [{"between": [str(a), str(b)]} for a, b in links],
    }
    if name:
        body["metadata"] = {"name": name}
    return json.dumps(body).encode()


def registered(data: bytes) -> RegisteredTopology:
    return registration(data, scope_of(parse_document(data)), by=ALICE, at=AT)


def inventory(clouds: list[CloudId], links: list[tuple[CloudId, CloudId]], **kw: object) -> Inventory:
    held: dict[CloudId, list[Link]] = {c: [] for c in clouds}
    for source, target in links:
        held[source].append(Link(source, f"l-{source.name}-{target.name}", target, LinkStatus.ACTIVE))
    return Inventory(
        AT,
        {c: CloudRecord(cloud(c), tuple(held[c]), RoutedSpace(())) for c in clouds},
        **kw,  # type: ignore[arg-type]
    )


def test_an_estate_that_is_what_its_document_declares_has_no_drift() -> None:
    found = drift(inventory([A, B, C], [(A, B), (C, B)]), [registered(document([(A, B), (B, C)]))], [SUB_A])
    assert found.findings == [] and found.problems == []


def test_a_link_the_document_does_not_declare_is_named_with_the_document() -> None:
    found = drift(inventory([A, B, C], [(A, B), (A, C)]), [registered(document([(A, B)]))], [SUB_A])
    [finding] = found.findings
    assert finding.code == UNDECLARED and finding.severity == WARNING
    assert finding.clouds == (str(A), str(C))
    assert finding.details["link"] == "l-pc-a-pc-c" and finding.details["topology"] == "weu-prod"
    assert finding.details["scope"] == {"subscriptions": [SUB_A], "resourceGroups": []}
    assert finding.details["registeredBy"] == "Alice (api:alice)"
    assert "link l-pc-a-pc-c from rg-avs/pc-a to rg-avs/pc-c exists but topology 'weu-prod' does not declare it" in (
        finding.message
    )
    assert "declare it in the document, or apply the document to remove it" in finding.message


def test_a_declared_link_that_is_missing_says_where_it_is_declared() -> None:
    data = b"apiVersion: interconnect/v1\nkind: Topology\nscope:\n  subscriptions: [" + SUB_A.encode()
    data += b"]\nlinks:\n  - between: [rg-avs/pc-a, rg-avs/pc-b]\n  - between: [rg-avs/pc-b, rg-avs/pc-c]\n"
    found = drift(inventory([A, B, C], [(A, B)]), [registered(data)], [SUB_A])
    [finding] = found.findings
    assert finding.code == MISSING and finding.severity == CRITICAL
    assert set(finding.clouds) == {str(B), str(C)}
    assert finding.details["declared"] == {"path": "links[1]", "line": 7}
    assert finding.details["topology"] == ""  # no metadata.name: named by its scope
    assert (
        f"the topology of subscription {SUB_A} declares a link between rg-avs/pc-b and rg-avs/pc-c" in finding.message
    )
    assert "(line 7, links[1])" in finding.message and "apply the document to make it" in finding.message


def test_a_link_held_by_either_end_or_seen_only_as_incoming_is_present() -> None:
    # pc-b's links could not be listed, but pc-a's cloud says pc-b holds a link to it.
    clouds = inventory([A, B], []).clouds
    clouds[A] = CloudRecord(
        Cloud(A, "westeurope", "Succeeded", "10.0.0.0/22", external_links=(B,)), (), RoutedSpace(())
    )
    found = drift(Inventory(AT, clouds), [registered(document([(A, B)]))], [SUB_A])
    assert found.findings == []


def test_links_outside_the_scope_are_not_the_documents() -> None:
    out_of_scope = cloud_id("pc-x", rg="rg-other")
    data = json.dumps(
        {
            "apiVersion": "interconnect/v1",
            "kind": "Topology",
            "scope": {"resourceGroups": [f"/subscriptions/{SUB_A}/resourceGroups/rg-avs"]},
            "links": [],
        }
    ).encode()
    found = drift(inventory([A, B, out_of_scope], [(A, out_of_scope)]), [registered(data)], [SUB_A])
    assert found.findings == []


def test_a_request_in_progress_for_the_pair_holds_the_finding_back() -> None:
    def pending(a: CloudId, b: CloudId, action: Action) -> str | None:
        if {a, b} == {A, C} and action is Action.DISCONNECT:
            return "r-disconnect"
        if {a, b} == {B, C} and action is Action.CONNECT:
            return "r-connect"
        return None

    found = drift(inventory([A, B, C], [(A, B), (A, C)]), [registered(document([(A, B), (B, C)]))], [SUB_A], pending)
    assert found.findings == []
    # A request the other way round does not: a connect does not remove an undeclared link.
    found = drift(
        inventory([A, B, C], [(A, B), (A, C)]),
        [registered(document([(A, B)]))],
        [SUB_A],
        lambda a, b, action: "r" if action is Action.CONNECT else None,
    )
    assert [f.code for f in found.findings] == [UNDECLARED]


def test_a_document_naming_a_cloud_that_is_gone_is_unresolvable_and_still_compared() -> None:
    gone = cloud_id("pc-gone")
    found = drift(inventory([A, B, C], [(A, C)]), [registered(document([(A, gone), (A, B)]))], [SUB_A])
    by_code = {f.code: f for f in found.findings}
    assert set(by_code) == {UNRESOLVABLE, UNDECLARED, MISSING}
    assert by_code[UNRESOLVABLE].clouds == (str(gone),)
    assert "rg-avs/pc-gone no longer exists" in by_code[UNRESOLVABLE].message
    assert by_code[MISSING].clouds == (str(A), str(B))  # the gone cloud's link is not also "missing"


def test_a_short_name_that_no_longer_names_a_cloud_is_unresolvable_not_a_crash() -> None:
    data = b"apiVersion: interconnect/v1\nkind: Topology\nscope: {subscriptions: [" + SUB_A.encode()
    data += b"]}\nmetadata: {name: weu-prod}\nlinks:\n  - between: [pc-a, pc-deleted]\n"
    found = drift(inventory([A, B], [(A, B)]), [registered(data)], [SUB_A])
    [finding] = found.findings
    assert finding.code == UNRESOLVABLE and finding.severity == WARNING
    assert "topology 'weu-prod'" in finding.message and "pc-deleted" in finding.message
    assert finding.details["count"] == 1


def test_a_stored_document_this_version_cannot_read_is_unresolvable() -> None:
    entry = registered(document([(A, B)]))
    broken = RegisteredTopology(b"kind: [", entry.scope, "weu-prod", ALICE, AT)
    [finding] = drift(inventory([A, B], [(A, B)]), [broken], [SUB_A]).findings
    assert finding.code == UNRESOLVABLE and "TOPOLOGY" not in finding.message.split(":")[0]


def test_a_scope_the_audit_does_not_read_is_said_not_guessed() -> None:
    found = drift(inventory([A, B], [(A, B)]), [registered(document([(A, B), (A, FAR)], subs=(SUB_A, SUB_B)))], [SUB_A])
    assert found.findings == []  # FAR is not read: neither gone nor missing
    assert found.problems == [
        f"topology 'weu-prod' manages {SUB_B}, which this audit does not read (INTERCONNECT_SUBSCRIPTIONS): "
        "its links there are not compared"
    ]


def test_a_link_whose_ends_could_not_be_listed_is_not_called_missing() -> None:
    unreadable = (UnreadableRead(str(B), "cloudLinks.list", "ARM_AuthorizationFailed", "no"),)
    found = drift(inventory([A, B], [], unreadable=unreadable), [registered(document([(A, B)]))], [SUB_A])
    assert found.findings == []
    assert "whether it exists is not known" in found.problems[0]


def test_two_documents_over_one_link_report_it_apart() -> None:
    first = registered(document([], name="one"))
    second = registered(document([], name="two", subs=(SUB_A, SUB_B)))
    findings = drift(inventory([A, B], [(A, B)]), [first, second], [SUB_A, SUB_B]).findings
    assert [f.code for f in findings] == [UNDECLARED, UNDECLARED]
    assert len({f.key for f in findings}) == 2


def test_a_missing_link_finding_is_drawn_on_both_clouds_and_an_undeclared_one_on_its_edge() -> None:
    inv = inventory([A, B, C], [(A, C)])
    findings = drift(inv, [registered(document([(A, B)]))], [SUB_A]).findings
    graph = build_graph(inv, findings)
    [edge] = graph["edges"]
    assert edge["findings"] == [UNDECLARED]
    nodes = {n["shortName"]: n["findings"] for n in graph["nodes"]}
    assert nodes["rg-avs/pc-a"] == [MISSING] and nodes["rg-avs/pc-b"] == [MISSING]


def test_registration_holds_the_document_to_its_scope_and_keeps_one_per_scope() -> None:
    registry = InMemoryTopologyRegistry(clock=lambda: AT)
    first, second = document([(A, B)], name="first"), document([(A, C)], name="second")
    registry.register(first, scope_of(parse_document(first)), by=ALICE)
    registry.register(second, scope_of(parse_document(second)), by=Requester("api", "bob"), fingerprint="v1:ab")
    [only] = registry.registered()
    assert (only.name, only.document, only.registered_by.id, only.fingerprint) == ("second", second, "bob", "v1:ab")
    other = document([], subs=(SUB_B,))
    with pytest.raises(ValidationError) as refused:
        registry.register(other, scope_of(parse_document(first)), by=ALICE)
    assert refused.value.code == SCOPE_MISMATCH
    with pytest.raises(ValidationError) as invalid:
        registry.register(b"links: [", scope_of(parse_document(first)), by=ALICE)
    assert invalid.value.code == "TOPOLOGY_INVALID"
    assert len(registry.registered()) == 1


CLOUDS = [cloud_id(f"pc-{i}") for i in range(5)]
PAIRS = list(combinations(CLOUDS, 2))


@settings(max_examples=60, deadline=None)
@given(
    existing=st.sets(st.sampled_from(PAIRS), max_size=len(PAIRS)),
    declared=st.sets(st.sampled_from(PAIRS), max_size=len(PAIRS)),
    flip=st.booleans(),
)
def test_drift_is_exactly_the_difference_between_declared_and_existing(
    existing: set[tuple[CloudId, CloudId]], declared: set[tuple[CloudId, CloudId]], flip: bool
) -> None:
    # Which end holds a link, and in which order the document names it, never matters.
    held = [(b, a) if flip else (a, b) for a, b in PAIRS if (a, b) in existing]
    found = drift(inventory(CLOUDS, held), [registered(document([p for p in PAIRS if p in declared]))], [SUB_A])
    undeclared = {frozenset(f.clouds) for f in found.findings if f.code == UNDECLARED}
    missing = {frozenset(f.clouds) for f in found.findings if f.code == MISSING}
    as_sets = {frozenset(map(str, p)) for p in existing}, {frozenset(map(str, p)) for p in declared}
    assert undeclared == as_sets[0] - as_sets[1]
    assert missing == as_sets[1] - as_sets[0]
    assert len(found.findings) == len(undeclared) + len(missing) and found.problems == []


# ------------------------------------------------------------------------------------------- through the service


def audits(world: World, registry: InMemoryTopologyRegistry) -> Audits:
    return Audits(
        InventoryReader(world.avs, concurrency=2),
        world.store,
        InMemoryAuditStore(world.store),
        world.queue,
        world.clock,
        (SUB_A,),
        quarantine=InMemoryQuarantine(),
        topologies=registry,
    )


def test_every_audit_reports_drift_new_then_resolved() -> None:
    world, registry = World(), InMemoryTopologyRegistry()
    data = document([(world.a, world.b)])
    registry.register(data, scope_of(parse_document(data)), by=ALICE)
    service = audits(world, registry)
    first = service.run("r1")
    assert [f.code for f in first.findings if f.code.startswith("TOPOLOGY_")] == [MISSING]
    assert first.to_view()["summary"]["byCode"][MISSING] == 1
    world.avs.links[(world.a, "made")] = Link(world.a, "made", world.b, LinkStatus.ACTIVE)
    world.avs.links[(world.a, "by-hand")] = Link(world.a, "by-hand", world.c, LinkStatus.ACTIVE)
    second = service.run("r2")
    drifted = [f for f in second.findings if f.code.startswith("TOPOLOGY_")]
    assert [(f.code, f.details["link"]) for f in drifted] == [(UNDECLARED, "by-hand")]
    assert drifted[0].key in second.new and [f.code for f in second.resolved] == [MISSING]


def test_a_connect_in_progress_for_a_declared_pair_is_not_drift() -> None:
    world, registry = World(), InMemoryTopologyRegistry()
    data = document([(world.a, world.b)])
    registry.register(data, scope_of(parse_document(data)), by=ALICE)
    world.submit(Action.CONNECT)  # accepted, not worked on yet
    run = audits(world, registry).run("r1")
    assert not [f for f in run.findings if f.code.startswith("TOPOLOGY_")]


def test_change_set_steps_not_filed_yet_are_not_drift() -> None:
    world, registry = World(), InMemoryTopologyRegistry()
    data = document([(world.a, world.b)])
    registry.register(data, scope_of(parse_document(data)), by=ALICE)
    service = audits(world, registry)
    service.pending_changes = lambda: [(world.b, world.a, Action.CONNECT)]
    assert not [f for f in service.run("r1").findings if f.code.startswith("TOPOLOGY_")]


def test_without_a_registry_the_audit_runs_as_before() -> None:
    world = World()
    service = audits(world, InMemoryTopologyRegistry())
    service.topologies = None
    assert not [f for f in service.run("r1").findings if f.code.startswith("TOPOLOGY_")]


def test_a_cloud_of_a_subscription_not_listed_whole_is_not_called_gone() -> None:
    unlisted = frozenset({SUB_A})
    by_id = drift(inventory([A], [], unlisted=unlisted), [registered(document([(A, B)]))], [SUB_A])
    assert by_id.findings == []
    assert "could not all be listed" in by_id.problems[0]
    data = b"apiVersion: interconnect/v1\nkind: Topology\nscope: {subscriptions: [" + SUB_A.encode()
    data += b"]}\nlinks:\n  - between: [pc-a, pc-not-listed]\n"
    by_name = drift(inventory([A], [], unlisted=unlisted), [registered(data)], [SUB_A])
    assert by_name.findings == [] and "could not be compared" in by_name.problems[1]


def test_the_reader_names_a_subscription_whose_listing_failed() -> None:
    world = World()
    world.avs.refuse["list_clouds"] = ArmError("no", code="ARM_AuthorizationFailed")
    inv = InventoryReader(world.avs, concurrency=2).read([SUB_A], AT)
    assert inv.unlisted == frozenset({SUB_A}) and inv.clouds == {}
