"""The sweeper over in-memory ports: dead letters become Failed requests, stuck requests are re-driven."""

from __future__ import annotations

from datetime import timedelta

from interconnect.messages import DeadLetter, WorkItem
from interconnect.model import Action, Status
from interconnect.sweeper import Sweeper
from tests.unit.world import World


def sweeper(world: World) -> Sweeper:
    return Sweeper(world.store, world.queue, world.clock, stale_after=timedelta(minutes=10))


def test_a_dead_lettered_work_item_fails_its_request_with_the_reason() -> None:
    world = World()
    rid = world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    world.queue.dead.append(DeadLetter(item.message_id, item.encode().encode(), "MaxDeliveryCountExceeded",
                                       "Message could not be consumed after 10 delivery attempts."))
    assert sweeper(world).sweep() == {"deadLettered": 1, "malformed": 0, "redriven": 0}
    request = world.store.get(rid)
    assert request.status is Status.FAILED and request.reasons[0].code == "DEAD_LETTERED"
    assert "MaxDeliveryCountExceeded" in request.reasons[0].message
    assert world.queue.dead == []


def test_a_malformed_dead_letter_is_left_for_a_person() -> None:
    world = World()
    world.queue.dead.append(DeadLetter("m1", b"{not json", "MaxDeliveryCountExceeded", ""))
    assert sweeper(world).sweep()["malformed"] == 1
    assert len(world.queue.dead) == 1


def test_a_request_recorded_but_never_queued_is_re_driven_and_finishes() -> None:
    world = World()
    rid = world.submit(Action.CONNECT)
    world.queue.sent.clear()  # the message was lost
    world.clock.advance(minutes=11)
    assert sweeper(world).sweep()["redriven"] == 1
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED


def test_an_operation_whose_check_was_lost_is_checked_again() -> None:
    world = World()
    rid = world.submit(Action.CONNECT)
    world.worker.handle(world.queue.take()[0])
    world.queue.sent.clear()  # the scheduled check was lost
    world.clock.advance(minutes=11)
    world.avs.settle()
    assert sweeper(world).sweep()["redriven"] == 1
    (item, _), = world.queue.sent
    assert (item.kind, item.attempt) == ("check", 0)
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED


def test_fresh_requests_are_left_alone() -> None:
    world = World()
    world.submit(Action.CONNECT)
    world.clock.advance(minutes=5)
    assert sweeper(world).sweep()["redriven"] == 0


def test_re_drives_are_not_taken_for_duplicates() -> None:
    assert WorkItem("r", origin="sweep-1").message_id != WorkItem("r").message_id
