"""Every pre-flight rule, passing and failing, on facts gathered from the in-memory AVS."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters.memory import InMemoryAvs, InMemoryRequestStore, InMemoryWorkQueue
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link, LinkStatus, PermissionEntry, Segment
from interconnect.errors import ArmError, DependencyError, MalformedAnswerError, ThrottledError
from interconnect.linking.facts import Preflight, facts_view
from interconnect.linking.intake import Intake
from interconnect.linking.model import Action, Requester
from interconnect.linking.policy import load_policy
from interconnect.linking.rules import LINK_LIMIT, decide
from interconnect.linking.validation import Submit
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

    def decide(
        self,
        action: Action = Action.CONNECT,
        source: CloudId | None = None,
        target: CloudId | None = None,
        requester: Requester = API,
        policy: str = "",
    ):
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
    policy = (
        '{"rules": [{"requesters": ["slack:T1/*"], "actions": ["connect"], '
        f'"scopes": ["/subscriptions/{fleet.a.subscription}/resourceGroups/rg-avs"]}}]}}'
    )
    assert fleet.decide(requester=CHAT, policy=policy).kind == "create"
    other = fleet.add("other", "10.8.0.0/22")
    assert codes(fleet.decide(requester=Requester("slack", "T2/U1"), target=other, policy=policy)) == [
        "REQUESTER_NOT_ALLOWED"
    ]


def test_several_failures_are_listed_together(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.0.0/24", location="eastus")
    fleet.avs.grants[c] = [PermissionEntry(("*/read",))]
    assert codes(fleet.decide(target=c, requester=CHAT, policy='{"rules": []}')) == [
        "REQUESTER_NOT_ALLOWED",
        "REGION_MISMATCH",
        "PERMISSION_DENIED",
        "ADDRESS_OVERLAP",
    ]


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


# -- reads ARM refuses are facts, not crashes ---------------------------------------------------------

ANYONE = '{"rules": [{"requesters": ["*"], "actions": ["connect", "disconnect"], "scopes": ["*"]}]}'


def refusal(status: int = 403, code: str = "AuthorizationFailed") -> ArmError:
    """What the adapter raises for a permanent 4xx (interconnect/adapters/avs.py `translated`)."""
    return ArmError(f"reading: ARM said {code}", code=f"ARM_{code}", details={"status": status, "armCode": code})


END_READS = [
    ("list_links", "cloudLinks.list"),
    ("list_segments", "segments.list"),
    ("list_global_reach", "globalReach.list"),
    ("permissions", "permissions.list"),
]


def test_a_target_that_arm_refuses_to_show_is_cloud_not_found_naming_the_read(fleet: Fleet) -> None:
    fleet.avs.refuse["get_cloud:b"] = refusal()
    decision = fleet.decide()
    assert codes(decision) == ["CLOUD_NOT_FOUND"]
    assert decision.reasons[0].details == {
        "cloud": str(fleet.b),
        "read": "privateClouds.get",
        "status": 403,
        "armCode": "AuthorizationFailed",
        "armMessage": "reading: ARM said AuthorizationFailed",
    }
    assert "cannot be read" in decision.reasons[0].message and "403 AuthorizationFailed" in decision.reasons[0].message


@pytest.mark.parametrize(("call", "read"), END_READS)
def test_any_refused_read_of_an_end_refuses_the_connect_naming_cloud_and_read(
    fleet: Fleet, call: str, read: str
) -> None:
    fleet.avs.refuse[f"{call}:b"] = refusal()
    decision = fleet.decide()
    assert decision.kind == "reject" and codes(decision) == ["PERMISSION_DENIED"]
    details = decision.reasons[0].details
    assert (details["cloud"], details["read"], details["status"]) == (str(fleet.b), read, 403)
    assert fleet.b.short in decision.reasons[0].message


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "ResourceNotFound", "CLOUD_NOT_FOUND"),
        (401, "InvalidAuthenticationToken", "PERMISSION_DENIED"),
        (400, "BadRequest", "ARM_BadRequest"),
    ],
)
def test_the_status_of_a_refused_read_picks_the_reason(fleet: Fleet, status: int, code: str, expected: str) -> None:
    fleet.avs.refuse["list_segments:a"] = refusal(status, code)
    assert codes(fleet.decide()) == [expected]


def test_a_transient_error_on_a_read_still_raises_for_the_worker_to_retry(fleet: Fleet) -> None:
    fleet.avs.refuse["list_segments:b"] = ThrottledError("ARM throttled the call", retry_after=3)  # type: ignore[assignment]
    with pytest.raises(DependencyError):
        fleet.decide()


@pytest.mark.parametrize("call", ["get_cloud", "list_segments", "list_global_reach"])
def test_an_unreadable_neighbour_refuses_the_connect_with_its_own_reason(fleet: Fleet, call: str) -> None:
    c = fleet.add("c", "172.16.0.0/22")
    fleet.link(fleet.a, c)
    fleet.avs.refuse[f"{call}:c"] = refusal()
    decision = fleet.decide()
    assert codes(decision) == ["NEIGHBOR_UNREADABLE"]
    details = decision.reasons[0].details
    assert (details["neighbor"], details["linkedTo"], details["status"]) == (str(c), str(fleet.a), 403)
    assert "cannot be ruled out" in decision.reasons[0].message and fleet.b.short in decision.reasons[0].message


def test_a_neighbour_that_does_not_exist_routes_nothing(fleet: Fleet) -> None:
    gone = cloud_id("gone")
    fleet.link(fleet.a, gone)
    assert fleet.decide().kind == "create"


def test_a_peer_whose_links_cannot_be_listed_is_still_a_peer_and_still_counted(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.4.0/24")  # overlaps b
    fleet.link(c, fleet.a)  # held by c: a sees it only in externalCloudLinks
    fleet.avs.refuse["list_links:c"] = refusal()
    decision = fleet.decide()
    assert codes(decision) == ["NEIGHBOR_OVERLAP"]
    fleet.avs.add(cloud(c, block="172.16.0.0/22"))
    assert fleet.decide().kind == "create"  # its links are not needed to judge the connect


def test_a_disconnect_does_not_read_what_it_does_not_need(fleet: Fleet) -> None:
    fleet.link(fleet.a, fleet.b)
    c = fleet.add("c", "172.16.0.0/22")
    fleet.link(fleet.a, c)
    for call in ("get_cloud:c", "list_segments", "list_global_reach"):
        fleet.avs.refuse[call] = refusal()
    assert fleet.decide(Action.DISCONNECT, policy=ANYONE).kind == "delete"


def test_a_disconnect_removes_a_link_to_a_cloud_it_cannot_read(fleet: Fleet) -> None:
    fleet.link(fleet.a, fleet.b)
    fleet.avs.refuse["get_cloud:b"] = refusal()
    decision = fleet.decide(Action.DISCONNECT, policy=ANYONE)
    assert (decision.kind, decision.holder) == ("delete", fleet.a)


def test_a_disconnect_refuses_when_the_unreadable_end_holds_a_link(fleet: Fleet) -> None:
    fleet.link(fleet.a, fleet.b)
    fleet.link(fleet.b, fleet.a)  # b holds one too: a names b in its externalCloudLinks
    fleet.avs.refuse["get_cloud:b"] = refusal()
    fleet.avs.refuse["list_links:b"] = refusal()
    decision = fleet.decide(Action.DISCONNECT, policy=ANYONE)
    assert codes(decision) == ["CLOUD_NOT_FOUND"] and decision.reasons[0].details["read"] == "privateClouds.get"


def test_a_disconnect_naming_a_cloud_that_is_not_there_is_still_cloud_not_found(fleet: Fleet) -> None:
    assert codes(fleet.decide(Action.DISCONNECT, target=cloud_id("typo"), policy=ANYONE)) == ["CLOUD_NOT_FOUND"]


def test_a_disconnect_needs_the_links_only_of_an_end_that_may_hold_one(fleet: Fleet) -> None:
    fleet.link(fleet.b, fleet.a)
    fleet.avs.refuse["list_links:a"] = refusal()  # b does not name a as a holder: a holds none to b
    assert fleet.decide(Action.DISCONNECT, policy=ANYONE).kind == "delete"
    fleet.link(fleet.a, fleet.b)  # now it does
    decision = fleet.decide(Action.DISCONNECT, policy=ANYONE)
    assert codes(decision) == ["PERMISSION_DENIED"] and decision.reasons[0].details["read"] == "cloudLinks.list"


def test_a_disconnect_cannot_skip_the_permissions_where_the_link_lives(fleet: Fleet) -> None:
    fleet.link(fleet.a, fleet.b)
    fleet.avs.refuse["permissions:a"] = refusal()
    decision = fleet.decide(Action.DISCONNECT, policy=ANYONE)
    assert codes(decision) == ["PERMISSION_DENIED"] and decision.reasons[0].details["read"] == "permissions.list"


def test_the_dry_run_view_lists_the_refused_reads(fleet: Fleet) -> None:
    fleet.avs.refuse["list_segments:b"] = refusal()
    facts = Preflight(fleet.avs, fleet.store).gather(Action.CONNECT, fleet.a, fleet.b, API)
    assert [(r["cloud"], r["read"]) for r in facts_view(facts)["refusedReads"]] == [(str(fleet.b), "segments.list")]


# -- an empty or missing prefix on an object that routes is INVALID_PREFIX, never dropped ----------------


def _with_empty(fleet: Fleet, cid: CloudId, where: str) -> None:
    c = fleet.avs.clouds[cid]
    if where == "networkBlock":
        fleet.avs.add(replace(c, network_block=""))
    elif where == "extendedNetworkBlocks":
        fleet.avs.add(replace(c, extended_network_blocks=("10.9.0.0/23", "")))
    elif where == "circuit":
        fleet.avs.add(replace(c, circuit_subnets=("10.255.0.0/30", "")))
    elif where == "globalReach":
        fleet.avs.global_reach[cid] = [" "]
    else:
        fleet.avs.segments[cid] = [Segment("web", "", "/infra/tier-1s/t1")]


EMPTY_PLACES = {
    "networkBlock": "networkBlock",
    "extendedNetworkBlocks": "extendedNetworkBlocks[1]",
    "circuit": "ExpressRoute circuit subnet 2",
    "globalReach": "Global Reach connection 1 of 1",
    "segment": "segment web",
}


@pytest.mark.parametrize("where", EMPTY_PLACES)
def test_an_empty_prefix_on_an_object_that_routes_is_invalid_naming_the_object(fleet: Fleet, where: str) -> None:
    _with_empty(fleet, fleet.b, where)
    decision = fleet.decide()
    assert codes(decision) == ["INVALID_PREFIX"]
    assert EMPTY_PLACES[where] in decision.reasons[0].message and fleet.b.short in decision.reasons[0].message
    assert "cannot be ruled out" in decision.reasons[0].message


@pytest.mark.parametrize("where", EMPTY_PLACES)
def test_an_empty_prefix_on_a_neighbour_is_invalid_too(fleet: Fleet, where: str) -> None:
    c = fleet.add("c", "172.16.0.0/22")
    fleet.link(c, fleet.b)
    _with_empty(fleet, c, where)
    decision = fleet.decide()
    assert codes(decision) == ["INVALID_PREFIX"] and decision.reasons[0].details["cloud"] == str(c)


def test_a_segment_without_a_connected_gateway_routes_nothing_even_without_an_address(fleet: Fleet) -> None:
    fleet.avs.segments[fleet.b] = [Segment("lab", "", "")]
    assert fleet.decide().kind == "create"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(EMPTY_PLACES)), min_size=1, max_size=5, unique=True),
    st.sampled_from(["a", "b", "neighbour"]),
)
def test_a_connect_is_never_allowed_while_a_routed_prefix_is_empty(places: list[str], whose: str) -> None:
    fleet = Fleet()
    c = fleet.add("c", "172.16.0.0/22")
    fleet.link(c, fleet.a)
    for where in places:
        _with_empty(fleet, {"a": fleet.a, "b": fleet.b, "neighbour": c}[whose], where)
    decision = fleet.decide()
    assert decision.kind == "reject" and "INVALID_PREFIX" in codes(decision)
    assert len([r for r in decision.reasons if r.code == "INVALID_PREFIX"]) == len(places)


# -- a repair of an existing link is not a new link ------------------------------------------------------


@pytest.mark.parametrize("status", [LinkStatus.FAILED, LinkStatus.DISCONNECTED])
def test_repairing_a_link_of_a_cloud_at_the_limit_is_allowed(fleet: Fleet, status: str) -> None:
    fleet.link(fleet.b, fleet.a, status)
    for i in range(LINK_LIMIT - 1):
        fleet.link(fleet.a, fleet.add(f"p{i}", f"172.16.{i * 4}.0/22"))
    decision = fleet.decide()
    assert (decision.kind, decision.holder, decision.link_name) == ("create", fleet.b, "l-b-a")
    assert "repairing" in decision.outcome


def test_a_new_link_to_a_cloud_at_the_limit_is_still_refused(fleet: Fleet) -> None:
    for i in range(LINK_LIMIT):
        fleet.link(fleet.b, fleet.add(f"p{i}", f"172.16.{i * 4}.0/22"))
    decision = fleet.decide()
    assert codes(decision) == ["LINK_LIMIT"] and decision.reasons[0].details["cloud"] == str(fleet.b)


def test_an_earlier_accepted_connect_of_the_same_pair_is_not_counted_twice(fleet: Fleet) -> None:
    for i in range(LINK_LIMIT - 1):
        fleet.link(fleet.a, fleet.add(f"p{i}", f"172.16.{i * 4}.0/22"))
    Intake(fleet.store, InMemoryWorkQueue(), Clock()).submit(Submit(Action.CONNECT, fleet.a, fleet.b, API))
    assert fleet.decide().kind == "create"  # the same link the earlier request makes: still 10


# -- a malformed ARM answer is a refusal of its read: rejected, never a crash, never a link left out ---------


def malformed(
    read: str = "privateClouds.get", what: str = "the cloud's id is 'x', not a private cloud id"
) -> MalformedAnswerError:
    """What the adapter raises for an answer its API does not describe (interconnect/adapters/avs.py)."""
    return MalformedAnswerError(
        f"ARM's answer to {read} is malformed: {what}",
        details={"status": 200, "armCode": "MALFORMED_ANSWER", "read": read},
    )


def test_an_end_whose_cloud_answer_is_malformed_is_rejected_with_its_own_code(fleet: Fleet) -> None:
    fleet.avs.refuse["get_cloud:b"] = malformed()
    decision = fleet.decide()
    assert codes(decision) == ["ARM_MALFORMED_ANSWER"]
    details = decision.reasons[0].details
    assert (details["cloud"], details["read"], details["armCode"]) == (
        str(fleet.b),
        "privateClouds.get",
        "MALFORMED_ANSWER",
    )
    assert "malformed" in decision.reasons[0].message and str(fleet.b) in decision.reasons[0].message


def test_a_malformed_link_of_an_end_rejects_the_connect_and_keeps_the_well_formed_links_in_view(fleet: Fleet) -> None:
    c = fleet.add("c", "172.16.0.0/22")
    fleet.link(fleet.a, c)
    fleet.avs.garbled[(fleet.a, "odd")] = "properties.linkedCloud is 'zz', not a private cloud id"
    facts = Preflight(fleet.avs, fleet.store).gather(Action.CONNECT, fleet.a, fleet.b, API)
    decision = decide(facts)
    assert codes(decision) == ["ARM_MALFORMED_ANSWER"]
    assert decision.reasons[0].details["read"] == "cloudLinks.list" and "'odd'" in decision.reasons[0].message
    view = facts_view(facts)
    assert [(link["holder"], link["linkedCloud"]) for link in view["links"]] == [(str(fleet.a), str(c))]
    assert [(r["read"], r["armCode"]) for r in view["refusedReads"]] == [("cloudLinks.list", "MALFORMED_ANSWER")]


def test_a_link_that_cannot_be_read_is_never_left_out_of_the_limit(fleet: Fleet) -> None:
    # GIVEN a holding 9 readable links and a 10th that ARM answers malformed
    for i in range(LINK_LIMIT):
        fleet.link(fleet.a, fleet.add(f"p{i}", f"172.16.{i * 4}.0/22"))
    fleet.avs.garbled[(fleet.a, f"l-a-p{LINK_LIMIT - 1}")] = "properties.linkedCloud is null, not a private cloud id"
    # THEN the connect is not allowed as if a had 9
    decision = fleet.decide()
    assert decision.kind == "reject" and "ARM_MALFORMED_ANSWER" in codes(decision)


def test_an_incoming_peer_whose_links_are_malformed_is_still_a_peer(fleet: Fleet) -> None:
    c = fleet.add("c", "10.0.4.0/24")  # overlaps b
    fleet.link(c, fleet.a)  # held by c: a sees it in externalCloudLinks
    fleet.avs.garbled[(c, f"l-c-{fleet.a.name}")] = "properties.linkedCloud is '..', not a private cloud id"
    assert codes(fleet.decide()) == ["NEIGHBOR_OVERLAP"]


@pytest.mark.parametrize("call", ["get_cloud", "list_segments", "list_global_reach"])
def test_a_neighbour_answered_malformed_is_unreadable(fleet: Fleet, call: str) -> None:
    c = fleet.add("c", "172.16.0.0/22")
    fleet.link(fleet.a, c)
    fleet.avs.refuse[f"{call}:c"] = malformed()
    decision = fleet.decide()
    assert codes(decision) == ["NEIGHBOR_UNREADABLE"] and decision.reasons[0].details["armCode"] == "MALFORMED_ANSWER"
    assert "malformed" in decision.reasons[0].message


def test_a_disconnect_refuses_when_the_holders_links_are_malformed(fleet: Fleet) -> None:
    fleet.link(fleet.a, fleet.b)
    fleet.avs.garbled[(fleet.a, "odd")] = "name is '..', not a link name ARM allows"  # another link to b, perhaps
    decision = fleet.decide(Action.DISCONNECT, policy=ANYONE)
    assert codes(decision) == ["ARM_MALFORMED_ANSWER"]
