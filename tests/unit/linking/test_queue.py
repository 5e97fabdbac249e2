"""The wire contract of work items: wake-ups round-trip, older messages still decode, bad wake-ups are refused."""

from __future__ import annotations

import json

import pytest

from interconnect.errors import ValidationError
from interconnect.linking.queue import WorkItem, decode


def test_a_wake_up_round_trips_and_its_id_names_waiter_waker_and_transition() -> None:
    wake = WorkItem("waiter-1", "process", waker="waker-9", waker_status="InProgress")
    assert decode(wake.encode()) == wake and wake.is_wake_up
    assert wake.message_id == "waiter-1:wake:waker-9:InProgress"
    assert WorkItem("waiter-1", "process", waker="waker-9", waker_status="Succeeded").message_id != wake.message_id


def test_other_items_keep_the_shape_older_workers_read() -> None:
    item = WorkItem("r-1", "process", 3)
    assert set(json.loads(item.encode())) == {"requestId", "kind", "attempt", "retry", "origin"}
    assert item.message_id == "r-1:wait:3" and not item.is_wake_up


def test_a_message_written_before_wake_ups_still_decodes() -> None:
    old = b'{"requestId": "r-1", "kind": "process", "attempt": 2, "retry": 0, "origin": ""}'
    assert decode(old) == WorkItem("r-1", "process", 2)


@pytest.mark.parametrize(
    "extra",
    [
        {"waker": "w-1"},  # no status
        {"wakerStatus": "Succeeded"},  # no waker
        {"waker": "w-1", "wakerStatus": "Finished"},  # not a status
        {"waker": "w/1", "wakerStatus": "Succeeded"},  # not an id
        {"waker": 7, "wakerStatus": "Succeeded"},
        {"waker": "w-1", "wakerStatus": "Succeeded", "kind": "check"},  # only `process` is woken
    ],
)
def test_a_bad_wake_up_is_no_work_item(extra: dict[str, object]) -> None:
    body = {"requestId": "r-1", "kind": "process"} | extra
    with pytest.raises(ValidationError) as caught:
        decode(json.dumps(body))
    assert caught.value.code == "MALFORMED_MESSAGE"
