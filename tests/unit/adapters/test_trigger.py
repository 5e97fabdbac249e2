"""The queue trigger: a work item is handled; a message no redelivery could help is set aside in the quarantine
and the function returns (the host completes it); anything transient, a failed quarantine write included,
raises (the host abandons it and Service Bus redelivers it).

The messages are the concrete `azure.functions.ServiceBusMessage` the worker hands the standard trigger.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters import trigger
from interconnect.adapters.memory import InMemoryQuarantine
from interconnect.errors import CorruptRecordError, DependencyError
from interconnect.linking.quarantine import MAX_BODY, MAX_DESCRIPTION, Quarantined
from interconnect.linking.queue import WorkItem
from tests.trigger_messages import delivered, redelivered


def test_a_work_item_is_handled_and_nothing_is_set_aside() -> None:
    quarantine, handled = InMemoryQuarantine(), []
    item = WorkItem("req-1", "check", attempt=2)
    trigger.receive(delivered(item.encode().encode()), quarantine, handled.append)
    assert handled == [item]
    assert quarantine.count() == 0


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\x80 not json", "not valid UTF-8"),
        (b'{"kind": "process"}', "no requestId"),
        (b'{"requestId": "r", "kind": "explode"}', "bad requestId, kind"),
        (b"", "not valid JSON"),
        # Deep nesting raised RecursionError, which escaped: the host abandoned it ten times before Service Bus
        # dead-lettered it, and the sweeper then crashed on it every pass.
        (b"[" * 2000 + b"]" * 2000, "nests deeper than"),
        (b'{"requestId": "\\ud800"}', "not valid"),  # a lone surrogate
        (b'{"requestId": "../../x"}', "bad requestId"),
        (b'["requestId"]', "JSON list"),
        (b" " * 5000, "at most 4096"),
    ],
)
def test_what_is_no_work_item_is_set_aside_with_its_code_and_never_handled(body: bytes, why: str) -> None:
    quarantine, handled = InMemoryQuarantine(), []
    trigger.receive(delivered(body, message_id="m-bad", delivery_count=1), quarantine, handled.append)
    assert handled == []
    (kept,) = quarantine.recent(10)
    assert (kept.reason, kept.message_id, kept.delivery_count) == ("MALFORMED_MESSAGE", "m-bad", 1)
    assert why in kept.description
    assert (kept.body, kept.body_length, kept.body_sha256) == (body, len(body), hashlib.sha256(body).hexdigest())


def test_a_large_body_is_kept_capped_with_the_length_and_hash_of_the_whole() -> None:
    quarantine = InMemoryQuarantine()
    body = b"\xff" + b"secret-looking-body" * 10_000
    trigger.receive(delivered(body), quarantine, lambda item: None)
    (kept,) = quarantine.recent(1)
    assert kept.body == body[:MAX_BODY] and len(kept.body) == MAX_BODY
    assert (kept.body_length, kept.body_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert len(kept.description) <= MAX_DESCRIPTION and "secret-looking-body" not in kept.description


def test_the_body_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    trigger.receive(delivered(b'{"requestId": "x", "kind": "hunter2-' + b"s" * 50 + b'"}'), InMemoryQuarantine(), print)
    assert "set aside" in caplog.text and "hunter2" not in caplog.text


def test_a_message_id_from_outside_is_made_loggable_and_named_by_its_hash() -> None:
    quarantine = InMemoryQuarantine()
    message_id = "evil\nFORGED LINE " + "x" * 500
    trigger.receive(delivered(b"nope", message_id=message_id), quarantine, print)
    (kept,) = quarantine.recent(1)
    assert "\n" not in kept.message_id and len(kept.message_id) <= 201
    assert kept.message_id_sha256 == hashlib.sha256(message_id.encode()).hexdigest()


def test_a_redelivery_of_a_message_already_set_aside_is_one_record() -> None:
    # The quarantine was written but the host could not complete the message (lock lost, instance recycled).
    quarantine = InMemoryQuarantine()
    first = delivered(b"not json", message_id="m-twice")
    trigger.receive(first, quarantine, print)
    trigger.receive(redelivered(first), quarantine, print)
    assert quarantine.count() == 1
    # ...while another message with the same id (sent again by someone) is a record of its own
    trigger.receive(delivered(b"not json", message_id="m-twice"), quarantine, print)
    assert quarantine.count() == 2


def test_a_failure_to_handle_raises_and_sets_nothing_aside() -> None:
    def unavailable(item: WorkItem) -> None:
        raise DependencyError("Table Storage unavailable")

    quarantine = InMemoryQuarantine()
    with pytest.raises(DependencyError):
        trigger.receive(delivered(WorkItem("req-1").encode().encode()), quarantine, unavailable)
    assert quarantine.count() == 0


def test_a_work_item_whose_request_cannot_be_read_back_is_set_aside_at_once() -> None:
    def unreadable(item: WorkItem) -> None:
        raise CorruptRecordError("request 'req-1' is stored in a form this version cannot read (INVALID_ID in target)")

    quarantine = InMemoryQuarantine()
    body = WorkItem("req-1").encode().encode()
    trigger.receive(delivered(body, message_id="m-old"), quarantine, unreadable)
    (kept,) = quarantine.recent(1)
    assert (kept.reason, kept.message_id, kept.body) == ("CORRUPT_RECORD", "m-old", body)
    assert "INVALID_ID in target" in kept.description


class DownQuarantine(InMemoryQuarantine):
    def put(self, message: Quarantined) -> None:
        raise DependencyError("setting aside message: Table Storage unavailable (503)")


def test_when_the_quarantine_cannot_be_written_the_trigger_raises_so_the_message_is_redelivered() -> None:
    with pytest.raises(DependencyError):
        trigger.receive(delivered(b"not json"), DownQuarantine(), print)
    with pytest.raises(DependencyError):
        trigger.receive(delivered(WorkItem("r").encode().encode()), DownQuarantine(), raiser(CorruptRecordError("x")))


def raiser(error: Exception):  # type: ignore[no-untyped-def]
    def handle(item: WorkItem) -> None:
        raise error

    return handle


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=6000))
def test_any_body_is_handled_or_set_aside_never_anything_else(body: bytes) -> None:
    quarantine, handled = InMemoryQuarantine(), []
    trigger.receive(delivered(body), quarantine, handled.append)
    assert len(handled) + quarantine.count() == 1
    if quarantine.count():
        assert quarantine.recent(1)[0].reason == "MALFORMED_MESSAGE"
