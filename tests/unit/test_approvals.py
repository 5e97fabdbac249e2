"""Disconnects wait for a second person: approve, reject, self-approval, expiry, binding to the request."""

from __future__ import annotations

from datetime import timedelta

import pytest

from interconnect.approvals import Approvals
from interconnect.errors import ConflictError, ForbiddenError
from interconnect.facts import Link, LinkStatus
from interconnect.model import Action, Requester, Status
from interconnect.policy import DEFAULT, parse_policy
from tests.unit.world import ALICE, World

BOB = Requester("api", "bob")


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
    (expiry, at), = world.queue.sent
    assert expiry.kind == "expire" and at == world.clock.now + timedelta(minutes=60)
    assert world.store.get(rid).approval is not None


def test_approval_by_someone_else_lets_it_proceed(world: World) -> None:
    rid = waiting(world)
    approvals(world).decide(rid, BOB, approve=True)
    world.drain()
    request = world.store.get(rid)
    assert request.status is Status.SUCCEEDED and world.avs.links == {}
    assert request.approval is not None and request.approval.decided_by == "api:bob"
    assert any(e.actor == "api:bob" and e.status is Status.VALIDATING for e in world.store.events(rid))


def test_the_requester_cannot_approve_their_own_disconnect(world: World) -> None:
    rid = waiting(world)
    with pytest.raises(ForbiddenError) as err:
        approvals(world).decide(rid, ALICE, approve=True)
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


@pytest.mark.parametrize("spelling", [Requester("api", "ALICE"), Requester("API", "Alice"),
                                      Requester("api", "alice", "a different display name")])
def test_the_requester_in_another_spelling_is_still_the_requester(world: World, spelling: Requester) -> None:
    rid = waiting(world)
    with pytest.raises(ForbiddenError) as err:
        approvals(world).decide(rid, spelling, approve=True)
    assert err.value.code == "SELF_APPROVAL"
    assert world.status(rid) is Status.AWAITING_APPROVAL


def test_approvers_and_requesters_in_the_policy_match_in_any_case(world: World) -> None:
    policy = parse_policy({"rules": [{"requesters": ["API:Alice"], "actions": ["disconnect"], "scopes": ["*"]}],
                           "approvers": ["Slack:T1/u9"]}, "test")
    assert policy.check(ALICE, Action.DISCONNECT, (world.a, world.b)) == []
    assert policy.check(Requester("api", "ALICE"), Action.DISCONNECT, (world.a, world.b)) == []
    assert policy.check(BOB, Action.DISCONNECT, (world.a, world.b)) != []
    assert policy.may_approve(Requester("slack", "t1/U9"))
    assert not policy.may_approve(Requester("slack", "T1/U8"))
