"""Reading the estate through the AVS port, and planning a document on it, end to end on the in-memory AVS."""

from __future__ import annotations

from interconnect.adapters.memory import InMemoryRequestStore
from interconnect.avs.resources import PermissionEntry
from interconnect.errors import ArmError
from interconnect.estate.gather import EstateReader, plan_document
from tests.unit.estate.fleet import API, SUB_B, Fleet, document


def reader(fleet: Fleet) -> EstateReader:
    return EstateReader(fleet.avs, InMemoryRequestStore())


def test_a_document_planned_on_the_estate_read_gets_the_verdicts_of_the_estate_as_built() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    fleet.add("hub", "10.1.0.0/22")
    fleet.add("c", "10.0.0.0/24")
    fleet.link(a, b)
    text = document("between: [a, hub]", "between: [hub, c]")
    _, planned = plan_document(text, reader(fleet), API)
    expected = fleet.plan(text)
    assert [(s.change, s.source, s.target, s.decision) for s in planned.steps] == [
        (s.change, s.source, s.target, s.decision) for s in expected.steps
    ]
    assert [r.code for r in planned.reasons] == ["NEIGHBOR_OVERLAP"]


def test_a_peer_in_a_subscription_outside_the_scope_is_read_and_its_overlap_caught() -> None:
    fleet = Fleet()
    fleet.add("a", "10.0.0.0/22")
    hub = fleet.add("hub", "10.1.0.0/22")
    far = fleet.add("far", "10.0.0.0/24", sub=SUB_B)
    fleet.link(hub, far)
    estate_reader = reader(fleet)
    _, planned = plan_document(document("between: [a, hub]"), estate_reader, API)
    assert [r.code for r in planned.reasons] == ["NEIGHBOR_OVERLAP"]
    assert [link.target for link in planned.outside] == [far]


def test_permissions_are_read_for_the_clouds_the_steps_act_on() -> None:
    fleet = Fleet()
    a = fleet.add("a", "10.0.0.0/22")
    fleet.add("b", "10.0.4.0/22")
    fleet.avs.grants[a] = [PermissionEntry(("Microsoft.AVS/privateClouds/read",))]
    estate_reader = reader(fleet)
    _, planned = plan_document(document("between: [a, b]"), estate_reader, API)
    assert [r.code for r in planned.reasons] == ["PERMISSION_DENIED"]
    # One listing, three reads per cloud, then the permissions of the two ends.
    assert estate_reader.reads == 1 + 3 * 2 + 2


def test_a_read_arm_refuses_is_the_reason_a_request_would_get() -> None:
    fleet = Fleet()
    fleet.add("a", "10.0.0.0/22")
    fleet.add("b", "10.0.4.0/22")
    fleet.avs.refuse["list_segments:b"] = ArmError("no", details={"status": 403, "armCode": "AuthorizationFailed"})
    _, planned = plan_document(document("between: [a, b]"), reader(fleet), API)
    assert [r.code for r in planned.reasons] == ["PERMISSION_DENIED"]
    assert planned.reasons[0].details["read"] == "segments.list"


def test_nothing_to_change_reads_no_permissions() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    fleet.link(a, b)
    estate_reader = reader(fleet)
    _, planned = plan_document(document("between: [a, b]"), estate_reader, API)
    assert planned.steps == () and "permissions" not in fleet.avs.calls
