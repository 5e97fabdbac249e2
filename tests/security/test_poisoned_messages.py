"""Poisoned queue messages, sent with the real azure-servicebus SDK as something other than intake would.

Each is set aside at once (dead-lettered at its first delivery with our reason, not retried until Service
Bus gives up) or, for a well-formed work item naming no request, dropped; the dead-letter queue they land in
is swept every two seconds here, and every sweep must still succeed; a connect afterwards still succeeds,
the listing and an audit still work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.amqp import AmqpAnnotatedMessage, AmqpMessageProperties

from localdev.cloud import QUEUE_NAME
from tests.e2e.sink import Sink
from tests.security.conftest import TARGET, Attacked, attacked_app
from tests.security.hostile import deep_array, deep_object

pytestmark = pytest.mark.security

UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
# Messages that can never be a work item: dead-lettered at once, with our reason.
MALFORMED: dict[str, bytes | dict[str, object]] = {
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


def send(client: ServiceBusClient, messages: dict[str, bytes | dict[str, object]]) -> None:
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
        app.wait_until(
            lambda: set(MALFORMED) <= set(dead_letters(client)), "the malformed messages to be set aside", timeout=30
        )
        reasons = dead_letters(client)
        wrong = {k: reasons[k] for k in MALFORMED if not UPPER_SNAKE.fullmatch(reasons[k])}
        assert not wrong, f"dead-lettered without our reason (after retries?): {wrong}"
        retried = {k: v for k, v in reasons.items() if k in UNKNOWN and not UPPER_SNAKE.fullmatch(v)}
        assert not retried, retried

        # The sweeper reads that dead-letter queue every two seconds: it must keep succeeding.
        succeeded, failed = sweeps(poisoned, "Succeeded"), sweeps(poisoned, "Failed")
        app.wait_until(
            lambda: sweeps(poisoned, "Succeeded") >= succeeded + 2 or sweeps(poisoned, "Failed") > failed,
            "two more sweeps",
            timeout=30,
        )
        assert sweeps(poisoned, "Failed") == failed, "a sweep failed on the poisoned dead-letter queue"
        assert set(MALFORMED) <= set(dead_letters(client)), "a malformed message vanished: it was for a person"

    request_id = app.submit("connect", TARGET.cloud_id("pc-a"), TARGET.cloud_id("pc-b"))
    assert app.wait(request_id)["status"] == "Succeeded"
    listing = app.call("GET", "requests")
    assert listing.status == 200 and any(r["requestId"] == request_id for r in listing.body["value"])
    started = app.call("POST", "audits")
    assert started.status == 202, started.body
    app.wait_until_found(f"audits/{started.body['runId']}")
