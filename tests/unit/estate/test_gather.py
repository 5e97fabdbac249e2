"""Reading the estate through the AVS port, and planning a document on it, end to end on the in-memory AVS."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from interconnect.adapters.memory import InMemoryRequestStore
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import PermissionEntry, Segment
from interconnect.errors import ArmError, ThrottledError
from interconnect.estate.gather import THROTTLED_ATTEMPTS, EstateReader, plan_document
from tests.unit.estate.fleet import API, SUB_A, SUB_B, Fleet, document
from tests.unit.estate.test_plan import estates


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


def test_a_cloud_no_verdict_looks_at_has_no_routed_space_read_and_a_disconnect_reads_the_holders_permissions() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    c, d = fleet.add("c", "10.0.8.0/22"), fleet.add("d", "10.0.12.0/22")
    far = fleet.add("far", "10.0.16.0/22")
    fleet.link(a, b)  # to remove: b does not hold it
    fleet.link(c, d)  # stays, and neither end neighbours a connect
    estate_reader = reader(fleet)
    _, planned = plan_document(document("between: [c, d]", "between: [b, far]"), estate_reader, API)
    assert [(s.change, s.source, s.target) for s in planned.steps] == [("connect", b, far), ("disconnect", a, b)]
    read = Counter(fleet.avs.calls)
    # One listing; the links of each of the five clouds; the routed space of a, b (a step's ends, b's neighbour)
    # and far; the permissions of b and far (the connect) and a (holder of the link removed), never of c or d.
    assert read == Counter(list_clouds=1, list_links=5, list_segments=3, list_global_reach=3, permissions=3)
    assert estate_reader.reads == sum(read.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_the_plan_on_the_estate_read_as_deep_as_it_needs_is_the_plan_on_the_whole_estate(
    case: tuple[Fleet, list[CloudId], str],
) -> None:
    fleet, clouds, text = case
    fleet.avs.grants[clouds[0]] = [PermissionEntry(("Microsoft.AVS/privateClouds/read",))]  # one cloud refused
    _, planned = plan_document(text, reader(fleet), API)
    whole = fleet.plan(text)
    assert [(s.change, s.source, s.target, s.decision, s.impact) for s in planned.steps] == [
        (s.change, s.source, s.target, s.decision, s.impact) for s in whole.steps
    ]
    assert (planned.stay, planned.end_state, planned.notes) == (whole.stay, whole.end_state, whole.notes)
    # Outside links: every one at a cloud of the scope (and those the peers read hold); one between two clouds
    # outside it that no cloud of the scope is linked to is in no read, only in the whole estate.
    at_scope = {link for link in whole.outside if SUB_A in (link.source.subscription, link.target.subscription)}
    assert at_scope <= set(planned.outside) <= set(whole.outside)
    assert set(planned.consulted) == set(whole.consulted)


def test_a_read_arm_throttles_waits_its_turn_and_one_it_keeps_throttling_fails_the_plan_for_a_retry() -> None:
    fleet = Fleet()
    fleet.add("a", "10.0.0.0/22")
    fleet.add("b", "10.0.4.0/22")
    slept: list[float] = []
    throttled = ThrottledError("slow down", retry_after=0.5)
    real = fleet.avs.list_segments
    left = [2]

    def segments(cid: CloudId) -> list[Segment]:
        if left[0]:
            left[0] -= 1
            raise throttled
        return real(cid)

    fleet.avs.list_segments = segments  # type: ignore[method-assign]
    estate_reader = EstateReader(fleet.avs, InMemoryRequestStore(), sleep=slept.append)
    _, planned = plan_document(document("between: [a, b]"), estate_reader, API)
    assert planned.allowed and slept == [0.5, 0.5]
    assert estate_reader.reads == 1 + 3 * 2 + 2  # a read retried is one read of the plan

    left[0] = THROTTLED_ATTEMPTS
    with pytest.raises(ThrottledError):
        plan_document(
            document("between: [a, b]"), EstateReader(fleet.avs, InMemoryRequestStore(), sleep=slept.append), API
        )
