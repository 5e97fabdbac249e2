"""Every pre-flight rule, passing and failing, on facts gathered from the in-memory AVS."""

from __future__ import annotations

import pytest

from interconnect.adapters.memory import InMemoryAvs, InMemoryRequestStore, InMemoryWorkQueue
from interconnect.armid import CloudId
from interconnect.facts import Cloud, Link, LinkStatus, PermissionEntry, Segment
from interconnect.intake import Intake
from interconnect.model import Action, Requester
from interconnect.policy import load_policy
from interconnect.preflight import Preflight
from interconnect.rules import LINK_LIMIT, decide
from interconnect.validation import Submit
from tests.factories import Clock, cloud, cloud_id

API = Requester("api", "key", "function key")  # automation: may disconnect under the default policy
CHAT = Requester("slack", "T1/U1")


class Fleet:
    def __init__(self) -> None:
        self.avs, self.store = InMemoryAvs(), InMemoryRequestStore()
        self.a = self.add("a", "10.0.0.0/22")
        self.b = self.add("b", "10.0.4.0/22")

    def add(self, name: str, block: str, **kw: object) -> CloudId:
        cid = cloud_id(name)
        self.avs.add(cloud(cid, block=block, **kw))  # type: ignore[arg-type]
        return cid

    def link(self, source: CloudId, target: CloudId, status: str = LinkStatus.ACTIVE) -> None:
        name = f"l-{source.name}-{target.name}"
        self.avs.links[(source, name)] = Link(source, name, target, status)

    def decide(self, action: Action = Action.CONNECT, source: CloudId | None = None,
               target: CloudId | None = None, requester: Requester = API, policy: str = ""):
        preflight = Preflight(self.avs, self.store, load_policy(policy))
        return decide(preflight.gather(action, source or self.a, target or self.b, requester))


def codes(decision) -> list[str]:
    return [r.code for r in decision.reasons]


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


def test_a_clean_pair_may_be_linked(fleet: Fleet) -> None:
    decision = fleet.decide()
    assert decision.kind == "create" and decision.holder == fleet.a


def test_overlapping_network_blocks_are_refused_naming_both_prefixes(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.0.0/16")
    decision = fleet.decide(target=c)
    assert codes(decision) == ["ADDRESS_OVERLAP"]
    assert "10.0.0.0/22 (networkBlock) with 10.0.0.0/16 (networkBlock)" in decision.reasons[0].message


@pytest.mark.parametrize("where", ["segment", "extended", "circuit", "global_reach"])
def test_every_part_of_the_routed_space_counts(fleet: Fleet, where: str) -> None:
    b = fleet.avs.clouds[fleet.b]
    if where == "segment":
        fleet.avs.segments[fleet.b] = [Segment("web", "10.0.1.1/24", "/infra/tier-1s/t1")]
    elif where == "extended":
        fleet.avs.add(Cloud(b.id, b.location, "Succeeded", b.network_block, ("10.0.2.0/23",)))
    elif where == "circuit":
        fleet.avs.add(Cloud(b.id, b.location, "Succeeded", b.network_block, (), ("10.0.3.0/30",)))
    else:
        fleet.avs.global_reach[fleet.b] = ["10.0.0.128/29"]
    assert codes(fleet.decide()) == ["ADDRESS_OVERLAP"]


def test_segments_without_a_connected_gateway_are_not_routed(fleet: Fleet) -> None:
    fleet.avs.segments[fleet.b] = [Segment("isolated", "10.0.1.1/24", "")]
    assert fleet.decide().kind == "create"


def test_adjacent_blocks_do_not_overlap(fleet: Fleet) -> None:
    assert fleet.decide().kind == "create"  # 10.0.0.0/22 and 10.0.4.0/22 touch


def test_a_malformed_prefix_from_arm_is_reported_not_raised(fleet: Fleet) -> None:
    fleet.avs.global_reach[fleet.b] = ["10.0.0.300/29"]
    decision = fleet.decide()
    assert codes(decision) == ["INVALID_PREFIX"] and "10.0.0.300/29" in decision.reasons[0].message


def test_a_peer_of_one_end_overlapping_the_other_end_is_refused(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.4.0/24")  # overlaps b
    fleet.link(c, fleet.a)  # incoming link to a, held by c
    decision = fleet.decide()
    assert codes(decision) == ["NEIGHBOR_OVERLAP"]
    assert decision.reasons[0].details["neighbor"] == str(c)


def test_a_building_link_counts_as_a_peer(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.0.0/24")  # overlaps a
    fleet.link(fleet.b, c, LinkStatus.BUILDING)
    assert codes(fleet.decide()) == ["NEIGHBOR_OVERLAP"]


def test_an_earlier_accepted_connect_counts_as_a_peer(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.0.0/24")  # overlaps a
    Intake(fleet.store, InMemoryWorkQueue(), Clock()).submit(Submit(Action.CONNECT, fleet.b, c, API))
    assert codes(fleet.decide()) == ["NEIGHBOR_OVERLAP"]


def test_different_regions_and_unready_clouds_are_all_reported(fleet: Fleet) -> None:
    c = fleet.add("c", "10.1.0.0/22", location="eastus", state="Updating")
    decision = fleet.decide(target=c)
    assert codes(decision) == ["CLOUD_NOT_READY", "REGION_MISMATCH"]


def test_missing_clouds_are_reported_each(fleet: Fleet) -> None:
    assert codes(fleet.decide(source=cloud_id("x"), target=cloud_id("y"))) == ["CLOUD_NOT_FOUND"] * 2


def test_no_write_permission_on_either_end_is_refused(fleet: Fleet) -> None:
    fleet.avs.grants[fleet.b] = [PermissionEntry(("Microsoft.AVS/*/read",))]
    fleet.avs.grants[fleet.a] = [PermissionEntry(("Microsoft.AVS/*",), ("Microsoft.AVS/privateClouds/cloudLinks/*",))]
    decision = fleet.decide()
    assert codes(decision) == ["PERMISSION_DENIED", "PERMISSION_DENIED"]


def test_wildcard_grants_are_honoured(fleet: Fleet) -> None:
    fleet.avs.grants[fleet.a] = [PermissionEntry(("microsoft.avs/privateClouds/*",))]
    assert fleet.decide().kind == "create"


def test_the_eleventh_link_is_refused(fleet: Fleet) -> None:
    for i in range(LINK_LIMIT):
        peer = fleet.add(f"p{i}", f"172.16.{i * 4}.0/22")
        fleet.link(fleet.a, peer) if i % 2 else fleet.link(peer, fleet.a)
    decision = fleet.decide()
    assert codes(decision) == ["LINK_LIMIT"] and decision.reasons[0].details["links"] == LINK_LIMIT


def test_nine_links_leave_room_for_a_tenth(fleet: Fleet) -> None:
    for i in range(LINK_LIMIT - 1):
        fleet.link(fleet.a, fleet.add(f"p{i}", f"172.16.{i * 4}.0/22"))
    assert fleet.decide().kind == "create"


def test_default_policy_refuses_disconnect_from_chat_but_allows_connect(fleet: Fleet) -> None:
    fleet.link(fleet.a, fleet.b)
    assert codes(fleet.decide(Action.DISCONNECT, requester=CHAT)) == ["REQUESTER_NOT_ALLOWED"]
    assert fleet.decide(Action.DISCONNECT, requester=API).kind == "delete"


def test_a_policy_scopes_requesters_to_resource_groups(fleet: Fleet) -> None:
    policy = ('{"rules": [{"requesters": ["slack:T1/*"], "actions": ["connect"], '
              f'"scopes": ["/subscriptions/{fleet.a.subscription}/resourceGroups/rg-avs"]}}]}}')
    assert fleet.decide(requester=CHAT, policy=policy).kind == "create"
    other = fleet.add("other", "10.8.0.0/22")
    assert codes(fleet.decide(requester=Requester("slack", "T2/U1"), target=other, policy=policy)) == [
        "REQUESTER_NOT_ALLOWED"]


def test_several_failures_are_listed_together(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.0.0/24", location="eastus")
    fleet.avs.grants[c] = [PermissionEntry(("*/read",))]
    assert codes(fleet.decide(target=c, requester=CHAT, policy='{"rules": []}')) == [
        "REQUESTER_NOT_ALLOWED", "REGION_MISMATCH", "PERMISSION_DENIED", "ADDRESS_OVERLAP"]


def test_connect_when_linked_in_either_direction_is_a_noop_even_if_rules_now_fail(fleet: Fleet) -> None:
    fleet.link(fleet.b, fleet.a)
    fleet.avs.segments[fleet.b] = [Segment("web", "10.0.1.1/24", "/infra/tier-1s/t1")]
    assert fleet.decide().kind == "noop"


def test_disconnect_ignores_overlap_and_region_and_deletes_where_the_link_lives(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.0.0/22", location="eastus")
    fleet.link(c, fleet.a)
    decision = fleet.decide(Action.DISCONNECT, target=c)
    assert decision.kind == "delete" and decision.holder == c


def test_disconnect_needs_delete_permission_only_where_the_link_lives(fleet: Fleet) -> None:
    fleet.link(fleet.b, fleet.a)
    fleet.avs.grants[fleet.a] = [PermissionEntry(("*/read",))]
    assert fleet.decide(Action.DISCONNECT).kind == "delete"
    fleet.avs.grants[fleet.b] = [PermissionEntry(("*/read",))]
    assert codes(fleet.decide(Action.DISCONNECT)) == ["PERMISSION_DENIED"]
