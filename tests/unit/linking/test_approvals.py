"""Disconnects wait for a second person: approve, reject, self-approval, expiry, binding to the request."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from interconnect.avs.resources import Link, LinkStatus
from interconnect.errors import ConflictError, DependencyError, ForbiddenError
from interconnect.linking.approvals import Approvals
from interconnect.linking.model import Action, Requester, Status
from interconnect.linking.policy import DEFAULT, parse_policy
from tests.unit.world import ALICE, World

# A person signed in with Entra, holding the approve role: the only kind of REST caller who may approve.
BOB = Requester("api", "bob", "Bob", roles=frozenset({"Links.Approve"}), verified_person=True)


@pytest.fixture
def world() -> World:
    world = World(approvals=True)
    world.avs.links[(world.a, "ab")] = Link(world.a, "ab", world.b, LinkStatus.ACTIVE)
    return world


def approvals(world: World, policy=DEFAULT) -> Approvals:  # type: ignore[no-untyped-def]
    return Approvals(world.store, world.queue, world.clock, policy)


def waiting(world: World) -> str:
    rid = world.submit(Action.DISCONNECT)
    world.worker.handle(world.queue.take()[0])
    assert world.status(rid) is Status.AWAITING_APPROVAL
    return rid


def test_a_disconnect_waits_and_nothing_is_deleted_before_approval(world: World) -> None:
    rid = waiting(world)
    assert "delete_link" not in world.avs.calls
    ((expiry, at),) = world.queue.sent
    assert expiry.kind == "expire" and at == world.clock.now + timedelta(minutes=60)
    assert world.store.get(rid).approval is not None


def test_approval_by_someone_else_lets_it_proceed(world: World) -> None:
    rid = waiting(world)
    approvals(world).decide(rid, BOB, approve=True)
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.SUCCEEDED and world.avs.links == {}
    assert request.approval is not None and request.approval.decided_by == "api:bob"
    assert any(
        e.actor == "api:bob" and e.status is Status.VALIDATING and e.message == "approved by Bob (api:bob)"
        for e in world.store.events(rid)
    )


def test_the_requester_cannot_approve_their_own_disconnect(world: World) -> None:
    rid = waiting(world)
    with pytest.raises(ForbiddenError) as err:
        approvals(world).decide(
            rid, replace(ALICE, roles=frozenset({"Links.Approve"}), verified_person=True), approve=True
        )
    assert err.value.code == "SELF_APPROVAL"
    assert world.status(rid) is Status.AWAITING_APPROVAL


def test_only_approvers_named_by_the_policy_may_approve(world: World) -> None:
    rid = waiting(world)
    policy = parse_policy({"rules": [], "approvers": ["slack:T1/*"]}, "test")
    with pytest.raises(ForbiddenError) as err:
        approvals(world, policy).decide(rid, BOB, approve=True)
    assert err.value.code == "NOT_AN_APPROVER"
    approvals(world, policy).decide(rid, Requester("slack", "T1/U9"), approve=True)
    assert world.status(rid) is Status.VALIDATING


def test_rejection_ends_the_request(world: World) -> None:
    rid = waiting(world)
    approvals(world).decide(rid, BOB, approve=False)
    request = world.store.get(rid)
    assert request.status is Status.REJECTED and request.reasons[0].code == "APPROVAL_REJECTED"


def test_nobody_approving_expires_the_request(world: World) -> None:
    rid = waiting(world)
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.EXPIRED and request.reasons[0].code == "APPROVAL_EXPIRED"
    with pytest.raises(ConflictError) as err:
        approvals(world).decide(rid, BOB, approve=True)
    assert err.value.code == "NOT_AWAITING_APPROVAL"


def test_an_approval_after_the_deadline_is_refused(world: World) -> None:
    rid = waiting(world)
    world.clock.advance(minutes=61)
    with pytest.raises(ConflictError) as err:
        approvals(world).decide(rid, BOB, approve=True)
    assert err.value.code == "APPROVAL_EXPIRED"


def test_an_approval_is_bound_to_the_exact_request(world: World) -> None:
    rid = waiting(world)
    with pytest.raises(ConflictError) as err:
        approvals(world).decide(rid, BOB, approve=True, fingerprint="not-this-one")
    assert err.value.code == "APPROVAL_MISMATCH"
    approvals(world).decide(rid, BOB, approve=True, fingerprint=world.store.get(rid).fingerprint)


def test_connects_need_no_approval(world: World) -> None:
    c = world.c
    rid = world.submit(Action.CONNECT, world.a, c)
    world.drain()
    assert world.status(rid) is not Status.AWAITING_APPROVAL


@pytest.mark.parametrize(
    "spelling",
    [
        Requester("api", "ALICE", roles=frozenset({"Links.Approve"}), verified_person=True),
        Requester("API", "Alice", roles=frozenset({"Links.Approve"}), verified_person=True),
        Requester("api", "alice", "a different display name", roles=frozenset({"Links.Approve"}), verified_person=True),
    ],
)
def test_the_requester_in_another_spelling_is_still_the_requester(world: World, spelling: Requester) -> None:
    rid = waiting(world)
    with pytest.raises(ForbiddenError) as err:
        approvals(world).decide(rid, spelling, approve=True)
    assert err.value.code == "SELF_APPROVAL"
    assert world.status(rid) is Status.AWAITING_APPROVAL


def test_approvers_and_requesters_in_the_policy_match_in_any_case(world: World) -> None:
    policy = parse_policy(
        {
            "rules": [{"requesters": ["API:Alice"], "actions": ["disconnect"], "scopes": ["*"]}],
            "approvers": ["Slack:T1/u9"],
        },
        "test",
    )
    assert policy.check(ALICE, Action.DISCONNECT, (world.a, world.b)) == []
    assert policy.check(Requester("api", "ALICE"), Action.DISCONNECT, (world.a, world.b)) == []
    assert policy.check(BOB, Action.DISCONNECT, (world.a, world.b)) != []
    assert policy.may_approve(Requester("slack", "t1/U9"))
    assert not policy.may_approve(Requester("slack", "T1/U8"))


@pytest.mark.parametrize(
    "caller",
    [
        Requester("api", "key", "function key"),
        Requester("api", "sp:00000000-0000-0000-0000-0000000000aa", roles=frozenset({"Links.Approve"})),
        Requester("api", "mallory", "mallory@example.com", roles=frozenset({"Links.Approve"})),
    ],
)
def test_a_rest_caller_who_is_not_a_verified_person_cannot_approve(world: World, caller: Requester) -> None:
    rid = waiting(world)
    for approve in (True, False):
        with pytest.raises(ForbiddenError) as err:
            approvals(world).decide(rid, caller, approve=approve)
        assert err.value.code == "APPROVER_NOT_VERIFIED"
    assert world.status(rid) is Status.AWAITING_APPROVAL


def test_a_verified_person_without_the_approve_role_is_not_an_approver(world: World) -> None:
    rid = waiting(world)
    carol = Requester("api", "carol", "Carol", roles=frozenset({"Links.Request"}), verified_person=True)
    with pytest.raises(ForbiddenError) as err:
        approvals(world).decide(rid, carol, approve=True)
    assert err.value.code == "NOT_AN_APPROVER"
    admin = Requester("api", "dave", "Dave", roles=frozenset({"links.admin"}), verified_person=True)
    assert approvals(world).decide(rid, admin, approve=True).status is Status.VALIDATING


def test_the_policy_names_approvers_and_requesters_by_role_and_by_group(world: World) -> None:
    group = "6f1c0c4e-0000-4000-8000-00000000c0de"
    policy = parse_policy(
        {
            "rules": [
                {"requesters": ["role:Links.Request"], "actions": ["connect"], "scopes": ["*"]},
                {"requesters": [f"group:{group}"], "actions": ["disconnect"], "scopes": ["*"]},
            ],
            "approvers": [f"group:{group.upper()}"],
        },
        "test",
    )
    clouds = (world.a, world.b)
    requester = Requester("api", "erin", roles=frozenset({"LINKS.REQUEST"}), verified_person=True)
    assert policy.check(requester, Action.CONNECT, clouds) == []
    assert policy.check(requester, Action.DISCONNECT, clouds)[0].code == "REQUESTER_NOT_ALLOWED"
    member = Requester("api", "frank", groups=frozenset({group}), verified_person=True)
    assert policy.check(member, Action.DISCONNECT, clouds) == []
    assert policy.check(member, Action.CONNECT, clouds)[0].code == "REQUESTER_NOT_ALLOWED"
    assert policy.may_approve(member) and not policy.may_approve(requester)
    # A principal glob never matches a role's name: `role:` and `group:` entries are not requester ids.
    assert not policy.may_approve(Requester("role", "Links.Request"))


def test_by_default_automation_and_the_request_role_may_disconnect_but_a_person_without_it_may_not(
    world: World,
) -> None:
    clouds = (world.a, world.b)
    assert DEFAULT.check(Requester("api", "key"), Action.DISCONNECT, clouds) == []
    assert (
        DEFAULT.check(Requester("api", "sp:app", roles=frozenset({"Links.Request"})), Action.DISCONNECT, clouds) == []
    )
    assert DEFAULT.check(Requester("api", "sp:app"), Action.DISCONNECT, clouds) != []
    assert DEFAULT.check(Requester("api", "u1", verified_person=True), Action.DISCONNECT, clouds) != []
    assert DEFAULT.check(Requester("api", "u1", verified_person=True), Action.CONNECT, clouds) == []
    assert DEFAULT.check(Requester("slack", "T1/U1"), Action.DISCONNECT, clouds) != []


CAROL = Requester("api", "carol", "Carol", roles=frozenset({"Links.Request"}), verified_person=True)
SELF = replace(ALICE, roles=frozenset({"Links.Approve"}))


@pytest.mark.parametrize(
    ("caller", "minutes", "code"),
    [
        (BOB, 0, None),
        (Requester("api", "key", "function key"), 0, "APPROVER_NOT_VERIFIED"),
        (SELF, 0, "SELF_APPROVAL"),
        (CAROL, 0, "NOT_AN_APPROVER"),
        (BOB, 61, "APPROVAL_EXPIRED"),
        # The same order as decide(): an unverified caller learns nothing about the request, not even its state.
        (Requester("api", "key", "function key"), 61, "APPROVER_NOT_VERIFIED"),
    ],
)
def test_may_decide_names_the_code_decide_refuses_with(
    world: World, caller: Requester, minutes: int, code: str | None
) -> None:
    rid = waiting(world)
    world.clock.advance(minutes=minutes)
    assert approvals(world).may_decide(world.store.get(rid), caller) == code
    if code is None:
        approvals(world).decide(rid, caller, approve=True)
        assert approvals(world).may_decide(world.store.get(rid), caller) == "NOT_AWAITING_APPROVAL"
    else:
        with pytest.raises((ConflictError, ForbiddenError)) as err:
            approvals(world).decide(rid, caller, approve=True)
        assert err.value.code == code
        assert world.status(rid) is Status.AWAITING_APPROVAL


def test_may_decide_refuses_a_request_that_never_waited(world: World) -> None:
    rid = world.submit(Action.CONNECT, world.a, world.c)
    world.drain()
    assert approvals(world).may_decide(world.store.get(rid), BOB) == "NOT_AWAITING_APPROVAL"


def test_the_approval_event_says_what_the_disconnect_cuts(world: World) -> None:
    rid = waiting(world)
    event = world.store.events(rid)[-1]
    assert event.status is Status.AWAITING_APPROVAL
    assert event.message.startswith("waiting for approval by someone other than ")
    assert event.message.endswith(
        ". What it cuts: a and b stop reaching each other (1 routed prefix of a, 1 routed prefix of b); "
        "a: 10.0.0.0/22 networkBlock; b: 10.0.4.0/22 networkBlock"
    )


def test_what_it_cuts_is_read_once_not_on_a_redelivered_message(world: World) -> None:
    rid = world.submit(Action.DISCONNECT)
    item, _ = world.queue.take()
    world.worker.handle(item)
    reads = len(world.avs.calls)
    world.worker.handle(item)  # Service Bus delivers at least once
    assert world.status(rid) is Status.AWAITING_APPROVAL
    assert world.avs.calls[reads:].count("get_cloud") == 0


def test_arm_out_of_reach_never_holds_the_approval_back(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(cloud: object) -> None:
        raise DependencyError("ARM <unreachable>")

    monkeypatch.setattr(world.avs, "get_cloud", down)
    rid = waiting(world)
    assert world.store.get(rid).approval is not None
    assert world.store.events(rid)[-1].message.endswith(". What it cuts could not be read: ARM ?unreachable?")
