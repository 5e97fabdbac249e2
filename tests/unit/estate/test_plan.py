"""The planner: the change a topology makes, ordered, every step decided by the pre-flight's own rules."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Link, LinkStatus
from interconnect.estate.plan import Plan, unread_peers
from interconnect.linking.model import Requester
from interconnect.linking.rules import LINK_LIMIT, Decision
from tests.unit.estate.fleet import SUB_A, SUB_B, Fleet, document


def codes(planned: Plan) -> list[str]:
    return [r.code for r in planned.reasons]


def changes(planned: Plan) -> list[tuple[str, str, str]]:
    return [(s.change, s.source.name, s.target.name) for s in planned.steps]


def comparable(decision: Decision) -> tuple[Any, ...]:
    """A decision without what the plan adds to a reason (the planned link a NEIGHBOR_OVERLAP comes from)."""
    reasons = tuple((r.code, {k: v for k, v in r.details.items() if k != "plannedLink"}) for r in decision.reasons)
    return (decision.kind, decision.holder, decision.link_name, decision.target, str(reasons))


def test_a_document_that_matches_the_estate_plans_nothing() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    fleet.link(a, b)
    planned = fleet.plan(document("between: [a, b]"))
    assert planned.steps == () and planned.allowed and [link.source for link in planned.stay] == [a]


def test_missing_links_are_connected_and_undeclared_ones_disconnected_with_their_impact() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    fleet.add("c", "10.0.8.0/22")
    fleet.link(a, b)
    planned = fleet.plan(document("between: [a, c]"))
    assert changes(planned) == [("connect", "a", "c"), ("disconnect", "a", "b")]
    assert planned.allowed
    connect, disconnect = planned.steps
    assert connect.declared_at is not None and (connect.declared_at.path, connect.declared_at.line) == ("links[0]", 6)
    assert connect.decision.kind == "create" and connect.decision.holder == a
    assert disconnect.impact is not None and disconnect.impact["linked"] == "yes"
    assert disconnect.impact["target"]["routed"] == [{"prefix": "10.0.4.0/22", "source": "networkBlock"}]


def test_from_says_which_cloud_holds_a_new_link() -> None:
    fleet = Fleet()
    fleet.add("a", "10.0.0.0/22")
    c = fleet.add("c", "10.0.8.0/22")
    (step,) = fleet.plan(document("from: c\n    to: a")).steps
    assert step.decision.holder == c


def test_two_new_links_each_fine_alone_that_together_overlap_are_refused_naming_both() -> None:
    fleet = Fleet()
    fleet.add("a", "10.0.0.0/22")
    fleet.add("hub", "10.1.0.0/22")
    fleet.add("c", "10.0.0.0/24")  # overlaps a, which hub would learn from both
    alone = [fleet.plan(document("between: [a, hub]")), fleet.plan(document("between: [hub, c]"))]
    assert all(p.allowed for p in alone)
    planned = fleet.plan(document("between: [a, hub]", "between: [hub, c]"))
    assert not planned.allowed and codes(planned) == ["NEIGHBOR_OVERLAP"]
    refused = next(s for s in planned.steps if not s.allowed)
    first = next(s for s in planned.steps if s.allowed)
    (reason,) = refused.decision.reasons
    assert reason.details["plannedLink"] == {
        "step": first.number,
        "source": str(first.source),
        "target": str(first.target),
    }
    assert f"step {first.number} of this plan" in reason.message
    assert planned.end_state == ()  # the end state shows nothing the steps did not say


def test_a_removal_that_frees_room_comes_before_the_connect_that_needs_it() -> None:
    fleet = Fleet()
    hub = fleet.add("hub", "10.200.0.0/22")
    spokes = [fleet.add(f"s{i}", f"10.{i}.0.0/22") for i in range(LINK_LIMIT + 1)]
    for spoke in spokes[:LINK_LIMIT]:
        fleet.link(hub, spoke)
    keep = [f"between: [hub, s{i}]" for i in range(1, LINK_LIMIT + 1)]  # s0 out, s10 in
    planned = fleet.plan(document(*keep))
    assert changes(planned) == [("disconnect", "hub", "s0"), ("connect", "hub", "s10")]
    assert planned.allowed


def test_a_connect_that_needs_no_room_is_made_before_anything_is_cut() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    fleet.add("c", "10.0.8.0/22")
    fleet.link(a, b)
    assert changes(fleet.plan(document("between: [a, c]"))) == [("connect", "a", "c"), ("disconnect", "a", "b")]


def test_a_neighbour_that_stops_being_one_lets_the_connect_through_after_the_removal() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.1.0.0/22")
    fleet.add("c", "10.1.0.0/24")  # overlaps b: a may not have both as peers
    fleet.link(a, b)
    planned = fleet.plan(document("between: [a, c]"))
    assert changes(planned) == [("disconnect", "a", "b"), ("connect", "a", "c")] and planned.allowed


def test_the_limit_is_counted_after_all_connects() -> None:
    fleet = Fleet()
    fleet.add("hub", "10.200.0.0/22")
    for i in range(LINK_LIMIT + 1):
        fleet.add(f"s{i}", f"10.{i}.0.0/22")
    planned = fleet.plan(document(*[f"between: [hub, s{i}]" for i in range(LINK_LIMIT + 1)]))
    assert codes(planned) == ["LINK_LIMIT"]
    assert [s.allowed for s in planned.steps].count(False) == 1 and not planned.steps[-1].allowed


def test_every_rule_gives_its_own_reason_code() -> None:
    fleet = Fleet()
    fleet.add("a", "10.0.0.0/22")
    fleet.add("far", "10.9.0.0/22", location="eastus")
    fleet.add("twin", "10.0.0.0/22")
    planned = fleet.plan(document("between: [a, far]", "between: [a, twin]"))
    assert sorted(codes(planned)) == ["ADDRESS_OVERLAP", "REGION_MISMATCH"]


def test_the_requester_policy_applies_to_each_step() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    fleet.link(a, b)
    planned = fleet.plan(document(), requester=Requester("slack", "T1/U1"))
    assert codes(planned) == ["REQUESTER_NOT_ALLOWED"]


def test_links_with_an_end_outside_the_scope_are_listed_and_never_touched() -> None:
    fleet = Fleet()
    a = fleet.add("a", "10.0.0.0/22")
    other = fleet.add("other", "10.5.0.0/22", sub=SUB_B)
    elsewhere = fleet.link(a, other)
    planned = fleet.plan(document())
    assert planned.steps == () and planned.outside == (elsewhere,)


def test_a_failed_declared_link_is_repaired_in_place() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    broken = fleet.link(b, a, LinkStatus.FAILED)
    (step,) = fleet.plan(document("between: [a, b]")).steps
    assert step.change == "repair" and (step.decision.holder, step.decision.link_name) == (b, broken.name)


def test_a_declared_direction_unlike_the_built_one_is_a_note_not_a_rebuild() -> None:
    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    fleet.link(b, a)
    planned = fleet.plan(document("from: a\n    to: b"))
    assert planned.steps == () and [n.code for n in planned.notes] == ["TOPOLOGY_DIRECTION_DIFFERS"]


def test_a_peer_the_estate_lacks_is_named_for_the_gatherer() -> None:
    fleet = Fleet()
    a = fleet.add("a", "10.0.0.0/22")
    ghost = fleet.add("ghost", "10.7.0.0/22", sub=SUB_B)
    fleet.link(a, ghost)
    estate = fleet.estate()
    del estate.clouds[ghost]  # type: ignore[attr-defined]
    assert unread_peers(estate) == [ghost]


def test_the_fingerprint_changes_with_the_facts_a_verdict_rests_on_and_only_with_them() -> None:
    fleet = Fleet()
    fleet.add("a", "10.0.0.0/22")
    fleet.add("b", "10.0.4.0/22")
    text = document("between: [a, b]")
    first = fleet.plan(text)
    assert fleet.plan(text).fingerprint == first.fingerprint
    fleet.add("unrelated", "10.9.0.0/22")
    assert fleet.plan(text).fingerprint == first.fingerprint
    fleet.add("b", "10.0.4.0/23")  # the same cloud, its routed space grown
    assert fleet.plan(text).fingerprint != first.fingerprint


# ------------------------------------------------------------------------------------------------ properties

BLOCKS = ["10.0.0.0/22", "10.0.4.0/22", "10.0.8.0/22", "10.0.0.0/16", "10.0.4.0/24", "172.16.0.0/22"]


@st.composite
def estates(draw: st.DrawFn) -> tuple[Fleet, list[CloudId], str]:
    """A small estate (some clouds out of scope, some in another region, overlapping blocks likely), its links,
    and a document declaring a random set of pairs of its in-scope clouds."""
    fleet = Fleet()
    count = draw(st.integers(3, 7))
    clouds = []
    for i in range(count):
        outside = draw(st.booleans()) and i > 1
        location = draw(st.sampled_from(["westeurope", "westeurope", "westeurope", "northeurope"]))
        clouds.append(
            fleet.add(f"c{i}", draw(st.sampled_from(BLOCKS)), sub=SUB_B if outside else SUB_A, location=location)
        )
    pairs = [(a, b) for i, a in enumerate(clouds) for b in clouds[i + 1 :]]
    for a, b in draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []:
        forward = draw(st.booleans())
        fleet.link(a, b) if forward else fleet.link(b, a)
    inside = [(a, b) for a, b in pairs if a.subscription != SUB_B and b.subscription != SUB_B]
    declared = draw(st.lists(st.sampled_from(inside), unique=True, max_size=len(inside))) if inside else []
    return fleet, clouds, document(*[f"between: [{a.name}, {b.name}]" for a, b in declared])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_every_step_gets_the_decision_the_pre_flight_gives_its_request_at_that_point(
    case: tuple[Fleet, list[CloudId], str],
) -> None:
    fleet, _, text = case
    planned = fleet.plan(text)
    assert [comparable(d) for d in fleet.replay(planned)] == [comparable(s.decision) for s in planned.steps]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_planning_is_deterministic_and_out_of_scope_links_are_never_touched(
    case: tuple[Fleet, list[CloudId], str],
) -> None:
    fleet, _, text = case
    first, again = fleet.plan(text), fleet.plan(text)
    assert first == again and first.fingerprint == again.fingerprint
    assert first.end_state == ()  # judging each step on the state before it leaves nothing for the end state
    touched = {frozenset((s.source, s.target)) for s in first.steps}
    assert not touched & {frozenset((link.source, link.target)) for link in first.outside}
    assert all(SUB_B not in (s.source.subscription, s.target.subscription) for s in first.steps)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_once_applied_a_document_plans_nothing(case: tuple[Fleet, list[CloudId], str]) -> None:
    fleet, _, text = case
    fleet.replay(fleet.plan(text))
    assert fleet.plan(text).steps == ()


@settings(max_examples=80, deadline=None)
@given(
    st.sets(st.integers(0, 13), max_size=LINK_LIMIT),
    st.sets(st.integers(0, 13), max_size=LINK_LIMIT),
    st.lists(st.integers(0, 13), max_size=6),
)
def test_the_order_keeps_every_intermediate_state_within_the_limit_whenever_the_end_state_is(
    now: set[int], wanted: set[int], tied: list[int]
) -> None:
    """A hub holds `now` spokes and should hold `wanted`; some spokes are also linked to each other (which a
    removal does not free). Every state the plan passes through keeps every cloud within LINK_LIMIT."""
    fleet = Fleet()
    hub = fleet.add("hub", "10.200.0.0/22")
    spokes = [fleet.add(f"s{i}", f"10.{i}.0.0/22") for i in range(14)]
    for i in now:
        fleet.link(hub, spokes[i])
    for i, j in itertools.pairwise(tied):
        if i != j and not any(link.joins(spokes[i], spokes[j]) for link in fleet.avs.links.values()):
            fleet.link(spokes[i], spokes[j])
    ties = [
        f"between: [{link.source.name}, {link.target.name}]" for link in fleet.avs.links.values() if link.source != hub
    ]
    planned = fleet.plan(document(*[f"between: [hub, s{i}]" for i in sorted(wanted)], *ties))
    assert "LINK_LIMIT" not in codes(planned)
    links = list(fleet.avs.links.values())
    for step in planned.steps:
        if step.change == "disconnect":
            links = [link for link in links if not link.joins(step.source, step.target)]
        else:
            links.append(Link(step.source, "new", step.target, LinkStatus.ACTIVE))
        assert max(sum(1 for link in links if c in (link.source, link.target)) for c in [hub, *spokes]) <= LINK_LIMIT


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates())
def test_a_document_declaring_exactly_the_estate_in_scope_plans_no_step(case: tuple[Fleet, list[CloudId], str]) -> None:
    fleet, _, _ = case
    managed = [
        link for link in fleet.avs.links.values() if SUB_B not in (link.source.subscription, link.target.subscription)
    ]
    text = document(*[f"from: {link.source.name}\n    to: {link.target.name}" for link in managed])
    planned = fleet.plan(text)
    assert planned.steps == () and planned.notes == () and len(planned.stay) == len(managed)


def test_the_plan_view_is_json_and_the_benchmark_runs_small(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import topology_plan

    fleet = Fleet()
    a, b = fleet.add("a", "10.0.0.0/22"), fleet.add("b", "10.0.4.0/22")
    fleet.link(a, b)
    view = json.loads(json.dumps(fleet.plan(document()).to_view()))
    assert view["summary"]["disconnect"] == 1 and view["steps"][0]["impact"]["linked"] == "yes"
    # The benchmark asserts its own plan is allowed and its floor finds the end state clean; no time is checked.
    monkeypatch.setattr(
        "sys.argv", ["topology_plan", "--clouds", "20", "--links", "40", "--changes", "10", "--repeat", "1"]
    )
    topology_plan.main()
    out = capsys.readouterr().out
    # By default both estates: all clouds in one subscription, and spread over four (one listing each).
    assert out.count("ratio plan/floor") == 2
    assert "20 clouds in 1 subscription(s)" in out and "ARM reads to plan: " in out
    assert "20 clouds in 4 subscription(s)" in out and "(4 listing(s), " in out


def test_the_benchmark_spreads_the_same_estate_over_the_subscriptions_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import topology_plan

    small = ["--clouds", "9", "--links", "12", "--changes", "4", "--repeat", "1"]
    monkeypatch.setattr("sys.argv", ["topology_plan", *small, "--subscriptions", "3"])
    topology_plan.main()
    out = capsys.readouterr().out
    assert out.count("ratio plan/floor") == 1 and "9 clouds in 3 subscription(s)" in out and "(3 listing(s), " in out
    # Round-robin over the subscriptions, and otherwise the same clouds and links as on one subscription.
    one, _, one_pairs = topology_plan.build(9, 12, 7)
    spread, ids, pairs = topology_plan.build(9, 12, 7, subscriptions=3)
    assert pairs == one_pairs and [cid.name for cid in ids] == [cid.name for cid in one.clouds]
    assert [cid.subscription for cid in ids[:4]] == [*topology_plan.subscription_ids(3), ids[0].subscription]
    assert len(topology_plan.fleet_of(spread)["subscriptions"]) == 3
