"""The queue trigger's settlement: decode or dead-letter, then complete.

The messages are real `azure.servicebus.ServiceBusReceivedMessage`s, built by the extension's converter
from the bytes the Functions host sends (as the local host lays them out), so the trigger meets here
what it meets in Azure.
"""

from __future__ import annotations

from typing import Any

import pytest

from interconnect.adapters import trigger
from interconnect.errors import CorruptRecordError, DependencyError
from interconnect.linking.queue import WorkItem
from tests.trigger_messages import Actions, delivered


def test_a_work_item_is_handled_then_completed() -> None:
    actions, handled = Actions(), []
    item = WorkItem("req-1", "check", attempt=2)
    trigger.settle(delivered(data=[item.encode().encode()]), actions, handled.append)
    assert handled == [item]
    assert actions.done == [("complete", "m-1")]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"data": [b"\x80 not json"]}, "not valid UTF-8"),
        ({"data": [b'{"kind": "process"}']}, "no requestId"),
        ({"data": [b'{"requestId": "r", "kind": "explode"}']}, "bad requestId, kind"),
        ({"data": [b""]}, "not valid JSON"),
        ({"value": {"requestId": "r"}}, "AMQP value body"),
        # Deep nesting raised RecursionError, which escaped: the host abandoned it ten times before Service Bus
        # dead-lettered it, and the sweeper then crashed on it every pass.
        ({"data": [b"[" * 2000 + b"]" * 2000]}, "nests deeper than"),
        ({"data": [b'{"requestId": "\\ud800"}']}, "not valid"),  # a lone surrogate
        ({"data": [b'{"requestId": "../../x"}']}, "bad requestId"),
        ({"data": [b'["requestId"]']}, "JSON list"),
        ({"data": [b" " * 5000]}, "at most 4096"),
    ],
)
def test_what_is_no_work_item_is_dead_lettered_with_the_code_and_never_handled(body: dict[str, Any], why: str) -> None:
    actions, handled = Actions(), []
    trigger.settle(delivered(**body), actions, handled.append)
    assert handled == []
    ((what, message_id, reason, description),) = actions.done
    assert (what, message_id, reason) == ("deadletter", "m-1", "MALFORMED_MESSAGE")
    assert why in description


def test_the_description_is_bounded_and_carries_no_body() -> None:
    actions = Actions()
    body = b"\xff" + b"secret-looking-body" * 10_000
    trigger.settle(delivered(data=[body]), actions, lambda item: None)
    description = actions.done[0][3]
    assert len(description) <= trigger.MAX_DESCRIPTION and "secret-looking-body" not in description


def test_a_failure_to_handle_leaves_the_message_unsettled_for_redelivery() -> None:
    def unavailable(item: WorkItem) -> None:
        raise DependencyError("Table Storage unavailable")

    actions = Actions()
    with pytest.raises(DependencyError):
        trigger.settle(delivered(data=[WorkItem("req-1").encode().encode()]), actions, unavailable)
    assert actions.done == []


def test_a_work_item_whose_request_cannot_be_read_back_is_dead_lettered_at_once() -> None:
    def unreadable(item: WorkItem) -> None:
        raise CorruptRecordError("request 'req-1' is stored in a form this version cannot read (INVALID_ID in target)")

    actions = Actions()
    trigger.settle(delivered(data=[WorkItem("req-1").encode().encode()]), actions, unreadable)
    ((what, message_id, reason, description),) = actions.done
    assert (what, message_id, reason) == ("deadletter", "m-1", "CORRUPT_RECORD")
    assert "INVALID_ID in target" in description
