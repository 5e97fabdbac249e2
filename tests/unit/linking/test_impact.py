"""What a disconnect cuts: the impact view over the facts, in the dry run and for a stored request."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.avs.cidr import Prefix
from interconnect.avs.resources import Link, LinkStatus, Refusal, Segment
from interconnect.avs.routed import RoutedSpace
from interconnect.errors import ArmError, NotFoundError
from interconnect.linking.facts import CloudFacts, Facts
from interconnect.linking.impact import LISTED, cut_line, impact, plain, unread_line
from interconnect.linking.model import Action, Requester
from interconnect.linking.queries import Queries
from interconnect.linking.validation import Submit
from tests.factories import cloud, cloud_id
from tests.unit.world import ALICE, World

A, B = cloud_id("pc-a"), cloud_id("pc-b")


@pytest.fixture
def world() -> World:
    world = World()
    world.avs.links[(world.a, "ab")] = Link(world.a, "ab", world.b, LinkStatus.ACTIVE)
    world.avs.segments[world.a] = [
        Segment("web", "192.168.10.1/24", connected_gateway="t1"),
        Segment("isolated", "192.168.99.1/24"),  # no gateway: routes nothing, so nothing of it is cut
    ]
    world.avs.global_reach[world.b] = ["172.16.0.0/29"]
    return world


def queries(world: World) -> Queries:
    return Queries(world.store, world.avs, world.queue, world.worker.preflight)


def test_the_dry_run_of_a_disconnect_shows_what_each_side_stops_reaching(world: World) -> None:
    plan = queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))
    assert plan["allowed"]
    found = plan["impact"]
    assert found["source"] == {
        "cloud": str(world.a),
        "routed": [
            {"prefix": "10.0.0.0/22", "source": "networkBlock"},
            {"prefix": "192.168.10.0/24", "source": "segment web"},
        ],
        "unreadable": [],
    }
    assert found["target"]["routed"] == [
        {"prefix": "10.0.4.0/22", "source": "networkBlock"},
        {"prefix": "172.16.0.0/29", "source": "Global Reach"},
    ]
    assert found["linked"] == "yes" and found["linkStatus"] == ["Active"]
    assert found["summary"] == "a and b stop reaching each other (2 routed prefixes of a, 2 routed prefixes of b)"


def test_a_connect_plan_has_no_impact(world: World) -> None:
    assert "impact" not in queries(world).plan(Submit(Action.CONNECT, world.a, world.c, ALICE))


def test_a_segment_listing_arm_refuses_is_stated_and_leaves_the_verdict_alone(world: World) -> None:
    world.avs.refuse["list_segments:b"] = ArmError("no", code="ARM_AuthorizationFailed", details={"status": 403})
    plan = queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))
    # The worker never reads segments for a disconnect, so the dry run must not refuse over them either.
    assert plan["allowed"] and plan["reasons"] == [] and plan["facts"]["refusedReads"] == []
    (why,) = plan["impact"]["target"]["unreadable"]
    assert "the NSX segments of rg-avs/b cannot be read" in why
    assert plan["impact"]["summary"].endswith("; what b routes could not all be read")


def test_an_unlinked_pair_loses_nothing(world: World) -> None:
    del world.avs.links[(world.a, "ab")]
    found = queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))["impact"]
    assert found["linked"] == "no" and found["summary"] == "a and b are not linked: the disconnect cuts nothing"


def test_a_refused_link_listing_makes_the_link_unknown_not_absent(world: World) -> None:
    del world.avs.links[(world.a, "ab")]
    world.avs.refuse["list_links:a"] = ArmError("no", code="ARM_AuthorizationFailed", details={"status": 403})
    found = queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))["impact"]
    assert found["linked"] == "unknown" and found["summary"].startswith("a and b may be linked")


def test_a_link_that_is_not_active_routes_nothing_now(world: World) -> None:
    world.avs.links[(world.a, "ab")] = Link(world.a, "ab", world.b, "failed")
    found = queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))["impact"]
    assert found["linkStatus"] == ["Failed"] and "is Failed, so nothing routes across it now" in found["summary"]


def test_an_end_that_cannot_be_read_is_said(world: World) -> None:
    world.avs.refuse["get_cloud:b"] = ArmError("no", code="ARM_AuthorizationFailed", details={"status": 403})
    found = queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))["impact"]
    assert found["target"]["routed"] == [] and "rg-avs/b cannot be read" in found["target"]["unreadable"][0]
    assert found["linked"] == "yes"  # a holds the link, so it is seen from a's side


def test_the_impact_of_a_stored_disconnect_is_read_live(world: World) -> None:
    rid = world.submit(Action.DISCONNECT)
    found = queries(world).impact(rid)
    assert found is not None and found["source"]["cloud"] == str(world.a) and found["linked"] == "yes"
    assert queries(world).impact(world.store.get(rid)) == found
    world.avs.segments[world.a] = []
    assert queries(world).impact(rid) != found


def test_a_stored_connect_has_no_impact_and_an_unknown_id_is_not_found(world: World) -> None:
    assert queries(world).impact(world.submit(Action.CONNECT, world.a, world.c)) is None
    with pytest.raises(NotFoundError) as err:
        queries(world).impact("0" * 32)
    assert err.value.code == "REQUEST_NOT_FOUND"


# --- the pure view over any facts -----------------------------------------------------------------------------

networks = st.builds(
    lambda version, value, length: (
        ipaddress.ip_network((value, length), strict=False)
        if version == 4
        else ipaddress.ip_network((value << 96, length + 96), strict=False)
    ),
    st.sampled_from([4, 6]),
    st.integers(0, 2**32 - 1),
    st.integers(8, 32),
)
spaces = st.builds(
    lambda prefixes, problems: RoutedSpace(tuple(prefixes), tuple(problems)),
    st.lists(st.builds(Prefix, networks, st.sampled_from(["networkBlock", "segment web", "Global Reach"])), max_size=6),
    st.lists(st.just("a value could not be read"), max_size=1),
)
ends = st.one_of(st.none(), st.builds(lambda space: CloudFacts(cloud(A), space), spaces))
statuses = st.lists(st.sampled_from(["Active", "building", "Failed", "Disconnected"]), max_size=2)


def facts_of(source: CloudFacts | None, target: CloudFacts | None, links: list[str], refused: bool) -> Facts:
    target = target if target is None else CloudFacts(cloud(B, block="10.9.0.0/22"), target.space)
    return Facts(
        Action.DISCONNECT,
        A,
        B,
        Requester("api", "alice"),
        source,
        target,
        tuple(Link(A, f"l{i}", B, status) for i, status in enumerate(links)),
        refusals=(Refusal(B, "cloudLinks.list", 403, "AuthorizationFailed"),) if refused else (),
    )


@given(ends, ends, statuses, st.booleans())
def test_each_side_lists_exactly_its_routed_space_and_the_summary_counts_it(
    source: CloudFacts | None, target: CloudFacts | None, links: list[str], refused: bool
) -> None:
    facts = facts_of(source, target, links, refused)
    found = impact(facts)
    json.dumps(found)  # a plain JSON view
    for side, end in ((found["source"], facts.source), (found["target"], facts.target)):
        if end is None:
            assert side["routed"] == [] and len(side["unreadable"]) == 1
        else:
            assert [(r["prefix"], r["source"]) for r in side["routed"]] == [
                (str(p.network), p.origin) for p in end.space.prefixes
            ]
            assert len(side["unreadable"]) == len(end.space.problems)
    assert found["linked"] == ("yes" if links else "unknown" if refused or None in (source, target) else "no")
    if found["linked"] != "no":
        assert f"{len(found['source']['routed'])} routed prefix" in found["summary"]
        assert f"{len(found['target']['routed'])} routed prefix" in found["summary"]
    assert ("could not all be read" in found["summary"]) == (
        found["linked"] != "no" and bool(found["source"]["unreadable"] or found["target"]["unreadable"])
    )


@given(ends, ends, statuses)
def test_swapping_the_ends_swaps_the_sides(
    source: CloudFacts | None, target: CloudFacts | None, links: list[str]
) -> None:
    facts = facts_of(source, target, links, False)
    swapped = replace(facts, source_id=B, target_id=A, source=facts.target, target=facts.source)
    there, back = impact(facts), impact(swapped)
    assert (there["source"], there["target"]) == (back["target"], back["source"])
    assert there["linked"] == back["linked"] and there["linkStatus"] == back["linkStatus"]


def test_the_plans_fit_the_documented_plan_schema(world: World) -> None:
    from tests.unit.app.test_openapi import component

    world.avs.refuse["list_segments:b"] = ArmError("no", code="ARM_AuthorizationFailed", details={"status": 403})
    for action, target in ((Action.DISCONNECT, world.b), (Action.CONNECT, world.c)):
        component("Plan").validate(queries(world).plan(Submit(action, world.a, target, ALICE)))
    component("Impact").validate(queries(world).impact(world.submit(Action.DISCONNECT)))


# -- the chat's line ---------------------------------------------------------------------------------------------


def test_the_cut_line_says_the_summary_then_each_sides_prefixes(world: World) -> None:
    line = cut_line(queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))["impact"])
    assert line == (
        "What it cuts: a and b stop reaching each other (2 routed prefixes of a, 2 routed prefixes of b); "
        "a: 10.0.0.0/22 networkBlock, 192.168.10.0/24 segment web; b: 10.0.4.0/22 networkBlock, 172.16.0.0/29 "
        "Global Reach"
    )


def test_the_cut_line_counts_what_it_does_not_list_and_says_what_was_not_read(world: World) -> None:
    world.avs.segments[world.a] = [
        Segment(f"seg_{n}", f"192.168.{n}.1/24", connected_gateway="t1") for n in range(LISTED + 2)
    ]
    world.avs.refuse["list_segments:b"] = ArmError("no", code="ARM_AuthorizationFailed", details={"status": 403})
    line = cut_line(queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))["impact"])
    assert f"192.168.{LISTED - 2}.0/24 segment seg_{LISTED - 2} and 3 more; b: 10.0.4.0/22 networkBlock" in line
    assert f"segment seg_{LISTED - 1}" not in line
    assert "; not read: the NSX segments of rg-avs/b cannot be read" in line


def test_an_unlinked_pair_is_one_sentence() -> None:
    view = {"summary": "a and b are not linked: the disconnect cuts nothing", "linked": "no"}
    assert cut_line(view) == "What it cuts: a and b are not linked: the disconnect cuts nothing"


def test_outside_text_in_the_cut_line_is_plain(world: World) -> None:
    world.avs.segments[world.a] = [Segment("<!here> *x* `y` [l](u)\n_z_ seg_ok", "192.168.10.1/24", "t1")]
    line = cut_line(queries(world).plan(Submit(Action.DISCONNECT, world.a, world.b, ALICE))["impact"])
    assert "segment ??here? ?x? ?y? ?l?(u)??z? seg_ok" in line
    assert unread_line("ARM <unreachable>\n*now*") == "What it cuts could not be read: ARM ?unreachable???now?"


@given(st.text(max_size=200))
def test_plain_text_has_no_character_a_chat_gives_meaning_to(text: str) -> None:
    kept = plain(text)
    assert len(kept) == len(text)
    assert not set(kept) & set('<>&*`~[]!@#|\\\n\r\t"')
    assert all(c.isascii() for c in kept)
