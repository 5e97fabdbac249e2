"""A change set's progress (pure) and its row in the requests table, read back as written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from interconnect.adapters.changesets import InMemoryChangeSetStore, from_entity, to_entity
from interconnect.errors import ConflictError, NotFoundError
from interconnect.estate.changeset import (
    PENDING,
    ChangeSet,
    ChangeSetStatus,
    ChangeStep,
    Done,
    File,
    Stop,
    Wait,
    idempotency_key,
    next_move,
    observed,
    settled,
)
from interconnect.linking.model import Action, Reason, Requester, Status
from tests.factories import cloud_id

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
A, B, C = cloud_id("pc-a"), cloud_id("pc-b"), cloud_id("pc-c")
ALICE = Requester("api", "alice", "Alice", roles=frozenset({"Links.Request"}))


def changeset(*steps: ChangeStep) -> ChangeSet:
    return ChangeSet("cs-1", "v1:" + "a" * 64, NOW, NOW, ALICE, steps)


def two_steps() -> ChangeSet:
    return changeset(ChangeStep(1, Action.DISCONNECT, A, B), ChangeStep(2, Action.CONNECT, A, C))


def test_the_first_step_not_filed_is_filed_and_only_after_the_one_before_succeeded() -> None:
    fresh = two_steps()
    assert next_move(fresh) == File(fresh.steps[0])
    filed = observed(fresh, 1, "r1", Status.ACCEPTED, (), NOW)
    assert next_move(filed) == Wait(filed.steps[0])
    waiting = observed(filed, 1, "r1", Status.AWAITING_APPROVAL, (), NOW)
    assert next_move(waiting) == Wait(waiting.steps[0])
    done = observed(waiting, 1, "r1", Status.SUCCEEDED, (), NOW)
    assert next_move(done) == File(done.steps[1])
    both = observed(done, 2, "r2", Status.SUCCEEDED, (), NOW)
    assert next_move(both) == Done()
    assert settled(both, Done(), NOW).status is ChangeSetStatus.SUCCEEDED


@pytest.mark.parametrize("ended", [Status.REJECTED, Status.FAILED, Status.EXPIRED])
def test_a_step_that_ends_without_succeeding_stops_the_change_set_naming_it(ended: Status) -> None:
    why = Reason("APPROVAL_REJECTED", "Bob rejected it")
    stopped = observed(two_steps(), 1, "r1", ended, (why,), NOW)
    move = next_move(stopped)
    assert isinstance(move, Stop) and move.step.index == 1
    assert move.reason.code == f"CHANGESET_STEP_{ended.value.upper()}"
    assert move.reason.details == {
        "step": 1,
        "requestId": "r1",
        "status": ended.value,
        "reasons": [why.to_dict()],
    }
    failed = settled(stopped, move, NOW)
    assert failed.status is ChangeSetStatus.FAILED and failed.reason == move.reason
    assert failed.to_view()["steps"][1]["status"] == PENDING and failed.to_view()["steps"][1]["requestId"] is None


def test_an_empty_change_set_is_done_and_keys_name_the_change_set_and_step() -> None:
    assert next_move(changeset()) == Done()
    assert idempotency_key("cs-1", 3) == "changeset:cs-1:3"


def test_the_row_reads_back_as_written_with_the_requesters_roles() -> None:
    impact = {"summary": "cuts 10.0.0.0/22 from 10.0.4.0/22"}
    stored = observed(
        changeset(ChangeStep(1, Action.DISCONNECT, A, B, impact=impact), ChangeStep(2, Action.CONNECT, A, C)),
        1,
        "r1",
        Status.REJECTED,
        (Reason("APPROVAL_REJECTED", "no"),),
        NOW,
    )
    entity = to_entity(stored)
    assert entity["PartitionKey"] == "changeset-cs-1" and entity["RowKey"] == "changeset"
    back = from_entity(entity)
    assert back == stored and back.requested_by.roles == ALICE.roles


def test_the_row_of_a_long_plan_is_split_over_columns() -> None:
    steps = tuple(ChangeStep(i, Action.DISCONNECT, A, B, impact={"summary": "x" * 2000}) for i in range(1, 40))
    entity = to_entity(changeset(*steps))
    assert entity["stepChunks"] > 1
    assert from_entity(entity).steps == steps


def test_the_in_memory_store_refuses_a_stale_write_as_the_table_does() -> None:
    store = InMemoryChangeSetStore()
    created = store.create(two_steps())
    with pytest.raises(ConflictError):
        store.create(two_steps())
    store.save(observed(created, 1, "r1", Status.ACCEPTED, (), NOW))
    with pytest.raises(ConflictError):
        store.save(observed(created, 1, "r2", Status.ACCEPTED, (), NOW))  # read before the other write
    with pytest.raises(NotFoundError):
        store.get("nope")
