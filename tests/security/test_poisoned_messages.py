"""Poisoned queue messages, sent with the real azure-servicebus SDK as something other than intake would.

Each data-bodied one is set aside at once (written to the quarantine table at its first delivery with our
reason, then completed, never retried until Service Bus gives up) or, for a well-formed work item naming no
request, dropped; none reaches the dead-letter queue. The sweeper runs every two seconds here and counts the
quarantine on every pass: every sweep must still succeed; a connect afterwards still succeeds, the listing and
an audit still work. A message with an AMQP value or sequence body (intake only sends data bodies) is never
handled and never lost: set aside, or dead-lettered by the broker after maxDeliveryCount deliveries where the
standard trigger's host cannot hand it over (in Azure it cannot: docs/functions-platform.md §2.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.amqp import AmqpAnnotatedMessage, AmqpMessageProperties

from interconnect.adapters.quarantine import TableQuarantine
from localdev.cloud import QUEUE_NAME
from tests.e2e.sink import Sink
from tests.security.conftest import TARGET, Attacked, attacked_app
from tests.security.hostile import deep_array, deep_object

pytestmark = pytest.mark.security

UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
# Messages that can never be a work item: set aside at once, with our reason.
MALFORMED: dict[str, bytes] = {
    "bad-bytes": b"\xff\xfe\x00\x81garbage",
    "empty": b"",
    "a-list": b"[1, 2, 3]",
    "a-string": b'"process"',
    "request-id-a-number": b'{"requestId": 5, "kind": "process"}',
    "no-request-id": b'{"kind": "process"}',
    "unknown-kind": b'{"requestId": "r1", "kind": "explode"}',
    "deep-array": deep_array().encode(),
    "deep-object": deep_object().encode(),
    "deep-origin": b'{"requestId": "r1", "kind": "process", "origin": ' + deep_array().encode() + b"}",
    "lone-surrogate": b'{"requestId": "\\ud800", "kind": "process"}',
    "nan-attempt": b'{"requestId": "r1", "kind": "check", "attempt": NaN}',
    "huge-number": b'{"requestId": "r1", "kind": "check", "attempt": ' + b"9" * 5000 + b"}",
}
# Bodies that are no data section at all.
NOT_DATA: dict[str, dict[str, object]] = {
    "amqp-value": {"value_body": {"requestId": "r1", "kind": "process"}},
    "amqp-sequence": {"sequence_body": [["requestId", "r1"]]},
}
# Well-formed work items naming requests that do not exist (or could not): dropped or set aside, never retried.
UNKNOWN = {
    "dot-request": b'{"requestId": "..", "kind": "process"}',
    "slash-request": b'{"requestId": "../../x", "kind": "check", "attempt": 1}',
    "long-request": b'{"requestId": "' + b"x" * 20_000 + b'", "kind": "process"}',
    "audit-of-nothing": b'{"requestId": "%2F..", "kind": "audit"}',
}


@pytest.fixture(scope="module")
def poisoned(sink: Sink) -> Iterator[Attacked]:
    yield from attacked_app(sink, INTERCONNECT_SWEEP_SCHEDULE="*/2 * * * * *")


def host_log(attacked: Attacked) -> Path:
    assert attacked.app.cloud.log_dir is not None
    return attacked.app.cloud.log_dir / "host.log"


def sweeps(attacked: Attacked, outcome: str) -> int:
    text = host_log(attacked).read_text(errors="replace")
    return len(re.findall(rf"Executed 'Functions\.sweep' \(trigger=timer, {outcome},", text))


def work_item_failures(attacked: Attacked) -> int:
    text = host_log(attacked).read_text(errors="replace")
    return len(re.findall(r"Executed 'Functions\.process_work_item' \(trigger=\w+, Failed,", text))


def send(client: ServiceBusClient, messages: dict[str, bytes] | dict[str, dict[str, object]]) -> None:
    """Send each message with its key as message id: bytes as a data body, a dict as an AMQP value or sequence."""
    with client.get_queue_sender(QUEUE_NAME) as sender:
        for message_id, body in messages.items():
            if isinstance(body, dict):
                sender.send_messages(
                    AmqpAnnotatedMessage(**body, properties=AmqpMessageProperties(message_id=message_id))
                )
            else:
                sender.send_messages(ServiceBusMessage(body, message_id=message_id))


def dead_letters(client: ServiceBusClient) -> dict[str, str]:
    """message id -> dead-letter reason, for everything in the dead-letter queue (peeked: nothing is locked)."""
    with client.get_queue_receiver(QUEUE_NAME, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver:
        return {str(m.message_id): str(m.dead_letter_reason) for m in receiver.peek_messages(max_message_count=200)}


def set_aside(attacked: Attacked) -> dict[str, tuple[str, int | None]]:
    """message id -> (reason, delivery count) for everything in the quarantine."""
    return {m.message_id: (m.reason, m.delivery_count) for m in TableQuarantine(attacked.app.tables).recent(500)}


def test_poisoned_messages_are_set_aside_and_the_sweeper_connects_and_audits_go_on(poisoned: Attacked) -> None:
    app = poisoned.app
    client = ServiceBusClient.from_connection_string(app.cloud.app_settings()["ServiceBusConnection"])
    with client:
        failures_before = work_item_failures(poisoned)
        send(client, {**MALFORMED, **UNKNOWN})
        app.wait_until(
            lambda: app.bus.depth(QUEUE_NAME) == 0 and app.bus.queue(QUEUE_NAME)["scheduled"] == 0,
            "every poisoned message to leave the queue",
        )
        # Set aside at the first delivery: no invocation failed (a failure means an abandon and a redelivery).
        assert work_item_failures(poisoned) == failures_before, "a poisoned message made the worker fail"
        kept = set_aside(poisoned)
        wrong = {k: kept.get(k) for k in MALFORMED if kept.get(k) != ("MALFORMED_MESSAGE", 1)}
        assert not wrong, f"not set aside at the first delivery with our reason: {wrong}"
        retried = {k: v for k, v in kept.items() if k in UNKNOWN and not (UPPER_SNAKE.fullmatch(v[0]) and v[1] == 1)}
        assert not retried, retried
        assert not (set(MALFORMED) | set(UNKNOWN)) & set(dead_letters(client)), "none is left to the broker"

        # The sweeper counts the quarantine every two seconds: it must keep succeeding.
        succeeded, failed = sweeps(poisoned, "Succeeded"), sweeps(poisoned, "Failed")
        app.wait_until(
            lambda: sweeps(poisoned, "Succeeded") >= succeeded + 2 or sweeps(poisoned, "Failed") > failed,
            "two more sweeps",
            timeout=30,
        )
        assert sweeps(poisoned, "Failed") == failed, "a sweep failed on the poisoned quarantine"
        assert set(MALFORMED) <= set(set_aside(poisoned)), "a malformed message vanished: it was for a person"

    request_id = app.submit("connect", TARGET.cloud_id("pc-a"), TARGET.cloud_id("pc-b"))
    assert app.wait(request_id)["status"] == "Succeeded"
    listing = app.call("GET", "requests")
    assert listing.status == 200 and any(r["requestId"] == request_id for r in listing.body["value"])
    started = app.call("POST", "audits")
    assert started.status == 202, started.body
    app.wait_until_found(f"audits/{started.body['runId']}")
    findings = app.call("GET", f"audits/{started.body['runId']}").body["findings"]
    assert "QUARANTINED" in {f["code"] for f in findings}


def test_a_message_with_no_data_body_is_never_handled_and_never_lost(poisoned: Attacked) -> None:
    app = poisoned.app
    client = ServiceBusClient.from_connection_string(app.cloud.app_settings()["ServiceBusConnection"])
    with client:
        send(client, NOT_DATA)

        def accounted_for() -> bool:
            return set(NOT_DATA) <= set(set_aside(poisoned)) | set(dead_letters(client))

        app.wait_until(accounted_for, "each to be set aside or dead-lettered", timeout=60)
        letters, kept = dead_letters(client), set_aside(poisoned)
        for message_id in NOT_DATA:
            if message_id in kept:
                assert kept[message_id][0] == "MALFORMED_MESSAGE", kept[message_id]
            else:  # the host could not hand it over: abandoned until the broker gave up on it
                assert letters[message_id] == "MaxDeliveryCountExceeded", letters[message_id]
