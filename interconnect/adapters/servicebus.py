"""The work queue on Azure Service Bus (azure-servicebus), sent with the SDK rather than an output binding.

The Functions output binding takes only str/bytes, so it cannot set MessageId; we need MessageId = request
id for the queue's duplicate detection (docs/functions-platform.md §0.5).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime

from azure.core.credentials import TokenCredential
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusSender,
    ServiceBusSubQueue,
)
from azure.servicebus.amqp import AmqpMessageBodyType
from azure.servicebus.exceptions import ServiceBusError

from interconnect.adapters import telemetry
from interconnect.errors import DependencyError, InterconnectError
from interconnect.linking.queue import DeadLetter, WorkItem


@contextmanager
def translated(what: str) -> Iterator[None]:
    try:
        yield
    except ServiceBusError as exc:
        raise DependencyError(f"{what}: Service Bus unavailable ({type(exc).__name__})", retry_after=5) from exc
    except (OSError, TimeoutError) as exc:
        raise DependencyError(f"{what}: Service Bus unreachable", retry_after=5) from exc


# Service Bus caps a message id at 128 characters; a dead-letter reason or description from a hand-made
# message could be longer, and they are stored in a request's reasons and logged, so they are cut here.
MAX_ID, MAX_REASON, MAX_DESCRIPTION = 128, 128, 1024


def dead_letter(message: ServiceBusReceivedMessage) -> DeadLetter:
    """The dead letter as the sweeper sees it; any body section, never raising on an odd one."""
    body_type = message.body_type
    body = b"".join(message.body) if body_type == AmqpMessageBodyType.DATA else b""
    return DeadLetter(
        str(message.message_id)[:MAX_ID],
        body,
        (message.dead_letter_reason or "")[:MAX_REASON],
        (message.dead_letter_error_description or "")[:MAX_DESCRIPTION],
        body_type=getattr(body_type, "value", str(body_type)),
    )


def to_message(item: WorkItem, trace_context: dict[str, str] | None = None) -> ServiceBusMessage:
    """`trace_context`: the W3C traceparent (and tracestate) the work continues, as application properties."""
    properties: dict[str | bytes, int | float | bytes | str] = {"requestId": item.request_id}
    properties.update(trace_context or {})
    return ServiceBusMessage(
        item.encode(),
        message_id=item.message_id,
        content_type="application/json",
        subject=item.kind,
        application_properties=properties,  # type: ignore[arg-type]
    )


@contextmanager
def producing(item: WorkItem, queue_name: str) -> Iterator[ServiceBusMessage]:
    """The message for `item`, under a producer span whose context it carries: the current span's trace, or for
    an item sent from a stored request outside it (a sweeper re-drive) the request's own (`item.trace`)."""
    attributes = {
        "messaging.system": "servicebus",
        "messaging.operation.type": "send",
        "messaging.destination.name": queue_name,
        "messaging.message.id": item.message_id,
        "interconnect.request.id": item.request_id,
        "interconnect.work.kind": item.kind,
        "interconnect.work.attempt": item.attempt,
        "interconnect.work.retry": item.retry,
    }
    stored = telemetry.parse_traceparent(item.trace)
    with telemetry.span(f"queue send {item.kind}", "producer", attributes, parent=stored) as span:
        # Telemetry off here: the stored context still travels, for the processes that export.
        carried = telemetry.inject() if span is not None else ({"traceparent": stored} if stored else {})
        yield to_message(item, carried)


class ServiceBusWorkQueue:
    """`WorkQueue` on a Service Bus queue. One sender, reused: opening one costs a CBS handshake."""

    def __init__(self, client: ServiceBusClient, queue_name: str) -> None:
        self._client = client
        self._queue_name = queue_name
        self._sender: ServiceBusSender | None = None
        # SDK senders are not thread-safe, and the HTTP functions run on several threads.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        *,
        queue_name: str,
        connection_string: str = "",
        namespace: str = "",
        credential: TokenCredential | None = None,
    ) -> ServiceBusWorkQueue:
        if connection_string:
            client = ServiceBusClient.from_connection_string(connection_string, retry_total=2)
        else:
            if credential is None:
                raise InterconnectError("a Service Bus namespace needs a credential", code="SETTINGS_INVALID")
            client = ServiceBusClient(namespace, credential, retry_total=2)
        return cls(client, queue_name)

    def _get_sender(self) -> ServiceBusSender:
        if self._sender is None:
            # No keep-alive thread: every 30 s it listens on the connection for up to the socket timeout (0.2 s)
            # while holding the connection's lock, so a send that arrives then waits, and the sends queued
            # behind our lock with it. At 50 acknowledgements/s that stall alone was the p99 (bench.intake).
            # Without it, a connection the service closed after a long idle spell costs the next send one
            # reconnect (the SDK retries it), once.
            self._sender = self._client.get_queue_sender(self._queue_name, keep_alive=None)
        return self._sender

    def _reset(self) -> None:
        # A sender whose connection died stays broken for good in some failure modes; start afresh.
        if self._sender is not None:
            with suppress(Exception):
                self._sender.close()
            self._sender = None

    def send(self, item: WorkItem) -> None:
        with producing(item, self._queue_name) as message, self._lock, translated(f"queueing {item.message_id}"):
            try:
                self._get_sender().send_messages(message)
            except Exception:
                self._reset()
                raise

    def schedule(self, item: WorkItem, at: datetime) -> None:
        with producing(item, self._queue_name) as message, self._lock, translated(f"scheduling {item.message_id}"):
            try:
                self._get_sender().schedule_messages(message, at)
            except Exception:
                self._reset()
                raise

    def dead_letter_count(self, limit: int = 1000) -> int:
        with (
            translated("peeking at the dead-letter queue"),
            self._client.get_queue_receiver(self._queue_name, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver,
        ):
            count, sequence = 0, 0
            while count < limit:
                page = receiver.peek_messages(max_message_count=min(100, limit - count), sequence_number=sequence)
                if not page:
                    return count
                count += len(page)
                sequence = max(m.sequence_number or 0 for m in page) + 1
            return count

    def drain_dead_letters(self, handle: Callable[[DeadLetter], bool], limit: int) -> int:
        looked: set[int | None] = set()  # the SDK types a message's sequence number as optional
        with (
            translated("reading the dead-letter queue"),
            self._client.get_queue_receiver(
                self._queue_name, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=1
            ) as receiver,
        ):
            while len(looked) < limit:
                batch = receiver.receive_messages(max_message_count=min(50, limit - len(looked)), max_wait_time=1)
                fresh = [m for m in batch if m.sequence_number not in looked]
                if not fresh:
                    for message in batch:
                        receiver.abandon_message(message)
                    break
                for message in batch:
                    if message.sequence_number in looked:
                        receiver.abandon_message(message)  # one we left earlier in this pass
                        continue
                    looked.add(message.sequence_number)
                    if handle(dead_letter(message)):
                        receiver.complete_message(message)
                    else:
                        receiver.abandon_message(message)
        return len(looked)

    def ping(self) -> None:
        # Building a batch needs the sender link open (it reads the link's max message size) and sends nothing.
        with self._lock, translated("reaching Service Bus"):
            try:
                self._get_sender().create_message_batch()
            except Exception:
                self._reset()
                raise

    def open_in_background(self) -> None:
        """Open the sender's connection on a thread of its own. Opening takes the SDK several AMQP round trips
        (connection, CBS token, session, link; ~0.45 s even on loopback, mostly waiting), so a cold instance
        that starts it when the queue is made overlaps it with importing and calling Table Storage instead of
        paying it after them, before its first acknowledgement. A send waits for it (the lock)."""

        def open_quietly() -> None:
            # A failure here is not this thread's to report: the send that follows opens the sender again
            # and raises DependencyError itself if Service Bus is still unreachable.
            with suppress(Exception):
                self.ping()

        threading.Thread(target=open_quietly, name="servicebus-open", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._reset()
            self._client.close()
