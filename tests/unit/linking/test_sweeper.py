"""The sweeper over in-memory ports: dead letters become Failed requests, stuck requests are re-driven, and
no bad record (a hostile dead letter, a row that cannot be read back) stops a pass."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters.memory import InMemoryQuarantine
from interconnect.errors import ConflictError, DependencyError
from interconnect.linking.model import Action, Status
from interconnect.linking.quarantine import Quarantined
from interconnect.linking.queue import DeadLetter, WorkItem
from interconnect.linking.sweeper import Sweeper
from tests.unit.world import World

NOTHING = {"deadLettered": 0, "malformed": 0, "unreadable": 0, "deferred": 0, "redriven": 0, "quarantined": 0}


def sweeper(world: World, quarantine: InMemoryQuarantine | None = None) -> Sweeper:
    return Sweeper(
        world.store,
        world.queue,
        world.clock,
        stale_after=timedelta(minutes=10),
        quarantine=quarantine if quarantine is not None else InMemoryQuarantine(),
    )


def set_aside(body: bytes, message_id: str) -> Quarantined:
    return Quarantined.of(
        reason="MALFORMED_MESSAGE",
        description="queue message is not valid JSON",
        message_id=message_id,
        sequence_number=7,
        enqueued_at=None,
        delivery_count=1,
        body=body,
    )


class DownQuarantine(InMemoryQuarantine):
    def count(self) -> int:
        raise DependencyError("counting the quarantine: Table Storage unavailable (503)")


def test_messages_in_the_quarantine_are_counted_and_left_for_a_person() -> None:
    world, quarantine = World(), InMemoryQuarantine()
    quarantine.put(set_aside(b"not json", "m-1"))
    quarantine.put(set_aside(b"[1]", "m-2"))
    assert sweeper(world, quarantine).sweep() == {**NOTHING, "quarantined": 2}
    assert quarantine.count() == 2  # the sweeper reports them; only a person removes them


def test_a_quarantine_that_cannot_be_counted_ends_the_pass_after_the_rest_was_done() -> None:
    world = World()
    world.submit(Action.CONNECT)
    world.queue.take()  # lost
    world.clock.advance(minutes=11)
    with pytest.raises(DependencyError):
        sweeper(world, DownQuarantine()).sweep()
    assert len(world.queue.sent) == 1  # the stale request was re-driven first


def test_a_dead_lettered_work_item_fails_its_request_with_the_reason() -> None:
    world = World()
    rid = world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    world.queue.dead.append(
        DeadLetter(
            item.message_id,
            item.encode().encode(),
            "MaxDeliveryCountExceeded",
            "Message could not be consumed after 10 delivery attempts.",
        )
    )
    assert sweeper(world).sweep() == {**NOTHING, "deadLettered": 1}
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
    ((item, _),) = world.queue.sent
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


def dead(item_or_body: WorkItem | bytes, message_id: str = "m") -> DeadLetter:
    body = item_or_body.encode().encode() if isinstance(item_or_body, WorkItem) else item_or_body
    return DeadLetter(message_id, body, "MaxDeliveryCountExceeded", "")


NESTED = b"[" * 100_000 + b"]" * 100_000  # json.loads raises RecursionError on this


@pytest.mark.parametrize(
    "body",
    [
        NESTED,
        b'{"requestId": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"requestId": "\\ud800"}',  # a lone surrogate
        b'{"requestId": "a/b/../c"}',  # not an id: would reach a table key
        b'"just a string"',
        b"\xff\xfe",
        b"x" * 1_000_000,
    ],
)
def test_a_hostile_dead_letter_is_set_aside_and_the_rest_of_the_pass_goes_on(body: bytes) -> None:
    # GIVEN a hostile message ahead of a real dead-lettered work item, and a request nobody queued
    world = World()
    failed = world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    lost = world.submit(Action.CONNECT, world.a, world.c)
    world.queue.sent.clear()
    world.queue.dead += [dead(body, "hostile"), dead(item, "good")]
    world.clock.advance(minutes=11)
    # WHEN the sweeper runs
    report = sweeper(world).sweep()
    # THEN the hostile one is left for a person, and everything after it was still done
    assert report == {**NOTHING, "malformed": 1, "deadLettered": 1, "redriven": 1}
    assert [d.message_id for d in world.queue.dead] == ["hostile"]
    assert world.status(failed) is Status.FAILED
    assert [i.request_id for i, _ in world.queue.sent] == [lost]


def test_a_dead_letter_with_a_value_body_is_malformed() -> None:
    world = World()
    world.queue.dead.append(DeadLetter("v", b"", "", "", body_type="value"))
    assert sweeper(world).sweep() == {**NOTHING, "malformed": 1}


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
            max_leaves=30,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_no_dead_letter_body_whatsoever_stops_a_pass(body: bytes) -> None:
    world = World()
    world.queue.dead.append(dead(body))
    report = sweeper(world).sweep()
    assert report["malformed"] + report["deadLettered"] == 1  # a body that happens to be a work item is settled


def test_a_dead_letter_whose_request_cannot_be_read_back_is_left_and_the_rest_go_on() -> None:
    world = World()
    good = world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    world.store.corrupt["poisoned"] = "INVALID_ID in target"
    world.queue.dead += [dead(WorkItem("poisoned"), "bad"), dead(item, "good")]
    report = sweeper(world).sweep()
    # Counted once for its dead letter and once as a stale row the re-drive could not read.
    assert report == {**NOTHING, "deadLettered": 1, "unreadable": 2}
    assert [d.message_id for d in world.queue.dead] == ["bad"]
    assert world.status(good) is Status.FAILED


def test_stale_rows_that_cannot_be_read_back_are_counted_and_the_rest_re_driven() -> None:
    world = World()
    rid = world.submit(Action.CONNECT)
    world.queue.sent.clear()
    world.store.corrupt.update({"old-1": "INVALID_ID in source", "old-2": "INVALID_COLUMN"})
    world.clock.advance(minutes=11)
    assert sweeper(world).sweep() == {**NOTHING, "unreadable": 2, "redriven": 1}
    assert [i.request_id for i, _ in world.queue.sent] == [rid]


def test_a_request_that_keeps_changing_defers_its_dead_letter_to_the_next_pass() -> None:
    world = World()
    world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    world.queue.dead.append(dead(item))

    def always_changed(*_: object) -> None:
        raise ConflictError("changed concurrently")

    world.store.save = always_changed  # type: ignore[method-assign]
    assert sweeper(world).sweep() == {**NOTHING, "deferred": 1}
    assert len(world.queue.dead) == 1


def test_an_outage_ends_the_pass_for_the_next_tick_to_retry() -> None:
    world = World()
    world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    world.queue.dead.append(dead(item))

    def unavailable(_: str) -> None:
        raise DependencyError("Table Storage unavailable")

    world.store.get = unavailable  # type: ignore[method-assign,assignment]
    with pytest.raises(DependencyError):
        sweeper(world).sweep()


def test_what_a_dead_letter_brings_is_logged_cut_and_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.queue.dead.append(DeadLetter("m\nFAKE LINE", b"{", "Reason\r\nFORGED", "d" * 10_000))
    sweeper(world).sweep()
    (line,) = [r.getMessage() for r in caplog.records if "malformed message" in r.getMessage()]
    assert "\n" not in line and "\r" not in line and "d" * 201 not in line


def test_a_re_drive_continues_the_trace_the_request_was_accepted_in() -> None:
    # The row keeps its intake's W3C traceparent; the re-drive carries it, so the work it starts joins that trace.
    world = World()
    rid = world.submit(Action.CONNECT)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    world.store.rows[rid] = world.store.rows[rid].with_changes(traceparent=traceparent)
    world.queue.sent.clear()  # the message was lost
    world.clock.advance(minutes=11)
    assert sweeper(world).sweep()["redriven"] == 1
    ((item, _),) = world.queue.sent
    assert item.trace == traceparent and item == WorkItem(rid, "process", origin=item.origin)  # not in its identity
