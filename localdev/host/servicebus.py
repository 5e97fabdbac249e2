"""Pump Service Bus queue messages into queue-triggered functions with the real azure-servicebus SDK.

Behaves as the Functions Service Bus extension does for a single-message trigger: PEEK_LOCK receive,
`maxConcurrentCalls` messages in flight per function (`maxConcurrentSessions` sessions for a
session-enabled trigger, one message at a time per session), lock renewal up to
`maxAutoLockRenewalDuration`, complete on success (unless `autoCompleteMessages` is false) and abandon
on exception. The function gets the `func.ServiceBusMessage` the Python worker builds. Redelivery and
dead-lettering after `maxDeliveryCount` are the broker's job.

Each concurrency slot owns its own client and receiver in its own thread: SDK receivers are not
thread-safe, so a message is received, handled and settled on one thread. A slot that loses its
broker backs off and reconnects; repeated failures are logged once per window, never in a hot loop.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from azure.functions.servicebus import ServiceBusMessage
from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    AutoLockRenewer,
    ServiceBusClient,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusReceiver,
)
from azure.servicebus.amqp import AmqpMessageBodyType
from azure.servicebus.exceptions import ServiceBusError, SessionLockLostError

from localdev.host.bindings import FunctionSpec, ServiceBusTrigger
from localdev.host.groups import service_bus_concurrency
from localdev.host.invocation import Invoker
from localdev.host.settings import HostOptions, ServiceBusConnection

log = logging.getLogger("localdev.host.servicebus")

# How long one receive call waits for a message: bounds how late a slot notices shutdown.
_POLL_SECONDS = 1.0
# How long a session slot waits for the broker to hand it an available session.
_ACCEPT_SESSION_SECONDS = 5.0
_BACKOFF_FIRST, _BACKOFF_MAX = 0.5, 5.0
# Repeated connection failures of one function are logged at most once per this many seconds.
_FAILURE_LOG_WINDOW = 30.0


def to_function_message(message: ServiceBusReceivedMessage) -> ServiceBusMessage:
    """The concrete trigger type the Python worker builds from the host's message metadata.

    The host reads messages with the .NET SDK, which counts the first delivery as 1; the Python SDK
    reports the AMQP header's delivery-count, which is 0 on first delivery. Hence the + 1.
    """
    properties = {_text(k): _property(v) for k, v in (message.application_properties or {}).items()}
    return ServiceBusMessage(
        body=_body_bytes(message),
        message_id=message.message_id or "",
        application_properties=properties,
        user_properties=dict(properties),
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        dead_letter_error_description=message.dead_letter_error_description,
        dead_letter_reason=message.dead_letter_reason,
        dead_letter_source=message.dead_letter_source,
        delivery_count=(message.delivery_count or 0) + 1,
        enqueued_sequence_number=message.enqueued_sequence_number,
        enqueued_time_utc=message.enqueued_time_utc,
        expires_at_utc=message.expires_at_utc,
        label=message.subject,
        locked_until=message.locked_until_utc,
        lock_token=str(message.lock_token) if message.lock_token else None,
        partition_key=message.partition_key,
        reply_to=message.reply_to,
        reply_to_session_id=message.reply_to_session_id,
        scheduled_enqueue_time_utc=message.scheduled_enqueue_time_utc,
        sequence_number=message.sequence_number,
        session_id=message.session_id,
        state=int(message.state),
        subject=message.subject,
        time_to_live=message.time_to_live,
        to=message.to,
    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _property(value: object) -> object:
    """The SDK's AMQP decoder returns strings as bytes; the host (.NET) sees them as strings."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value
    return value


def _body_bytes(message: ServiceBusReceivedMessage) -> bytes:
    body = message.body
    if message.body_type == AmqpMessageBodyType.DATA:
        return b"".join(body)
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, default=str).encode()


def client_factory(
    connection: ServiceBusConnection, client_kwargs: Mapping[str, Any]
) -> Callable[[], ServiceBusClient]:
    """How to build a client for a trigger's resolved `connection` (settings.service_bus_connection)."""
    connection_string = connection.connection_string
    if connection_string:
        return lambda: ServiceBusClient.from_connection_string(connection_string, **client_kwargs)
    from azure.identity import DefaultAzureCredential  # only identity-based connections need it

    assert connection.namespace is not None
    namespace = connection.namespace
    credential = DefaultAzureCredential(managed_identity_client_id=connection.client_id)
    return lambda: ServiceBusClient(namespace, credential, **client_kwargs)


class _FailureLog:
    """Logs a function's broker failures once per window instead of once per slot per retry."""

    def __init__(self, function: str) -> None:
        self._function = function
        self._lock = threading.Lock()
        self._failing = False
        self._suppressed = 0
        self._last_logged = 0.0

    def failed(self, error: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            if self._failing and now - self._last_logged < _FAILURE_LOG_WINDOW:
                self._suppressed += 1
                return
            extra = f" ({self._suppressed} more failures since the last report)" if self._suppressed else ""
            log.warning(
                "%s: Service Bus unavailable, retrying with backoff: %s: %s%s",
                self._function,
                type(error).__name__,
                str(error).splitlines()[0] if str(error) else "",
                extra,
            )
            self._failing, self._suppressed, self._last_logged = True, 0, now

    def connected(self) -> None:
        with self._lock:
            if self._failing:
                log.info("%s: Service Bus connection restored", self._function)
            self._failing, self._suppressed = False, 0


class _Slot:
    """One concurrency slot of one function: a client, a receiver and the messages it handles."""

    def __init__(
        self,
        spec: FunctionSpec,
        new_client: Callable[[], ServiceBusClient],
        invoker: Invoker,
        renewer: AutoLockRenewer,
        failures: _FailureLog,
        options: HostOptions,
        stop: threading.Event,
    ) -> None:
        assert isinstance(spec.trigger, ServiceBusTrigger)
        self.spec, self.trigger = spec, spec.trigger
        self._new_client, self._invoker, self._renewer = new_client, invoker, renewer
        self._failures, self._options, self._stop = failures, options, stop
        # True while a session slot waits for the broker to hand it a session: it holds nothing then.
        self.accepting = False
        self._reached_broker = False

    def run(self) -> None:
        delay = _BACKOFF_FIRST
        while not self._stop.is_set():
            self._reached_broker = False
            try:
                with self._new_client() as client:
                    if self.trigger.sessions:
                        self._serve_sessions(client)
                    else:
                        self._serve_queue(client)
                return
            except Exception as error:  # any broker or network failure: back off and reconnect
                self._failures.failed(error)
            if self._reached_broker:
                delay = _BACKOFF_FIRST  # a new outage, not the same one going on
            # Jitter keeps the slots of a function from reconnecting in lockstep.
            if self._stop.wait(delay * random.uniform(0.8, 1.2)):
                return
            delay = min(delay * 2, _BACKOFF_MAX)

    def _serve_queue(self, client: ServiceBusClient) -> None:
        with client.get_queue_receiver(
            self.trigger.queue_name,
            receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
            auto_lock_renewer=self._renewer,
            max_wait_time=_POLL_SECONDS,
            prefetch_count=0,
        ) as receiver:
            self._connected()
            while not self._stop.is_set():
                for message in receiver.receive_messages(max_message_count=1, max_wait_time=_POLL_SECONDS):
                    self._handle(receiver, message)

    def _serve_sessions(self, client: ServiceBusClient) -> None:
        while not self._stop.is_set():
            self.accepting = True
            # The session lock is registered for renewal by hand, once one is held: handing the
            # renewer to a receiver that ends up with no session makes the SDK fail the open.
            with client.get_queue_receiver(
                self.trigger.queue_name,
                session_id=NEXT_AVAILABLE_SESSION,
                receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
                max_wait_time=_ACCEPT_SESSION_SECONDS,
                prefetch_count=0,
            ) as receiver:
                self.accepting = False
                self._connected()
                # When no session came up in time the SDK still opens the receiver, without a session
                # id; the broker's timeout error only surfaces on the next operation.
                if isinstance(receiver.session.session_id, str):
                    self._renewer.register(receiver, receiver.session)
                    self._serve_session(receiver)

    def _connected(self) -> None:
        self._reached_broker = True
        self._failures.connected()

    def _serve_session(self, receiver: ServiceBusReceiver) -> None:
        """Handle one session's messages in order until it has been idle for sessionIdleTimeout."""
        idle_since = time.monotonic()
        while not self._stop.is_set():
            idle = time.monotonic() - idle_since
            if idle >= self._options.session_idle_timeout:
                return
            wait = min(_POLL_SECONDS, self._options.session_idle_timeout - idle)
            try:
                messages = receiver.receive_messages(max_message_count=1, max_wait_time=wait)
            except SessionLockLostError:
                # Another receiver may take the session over; this slot goes back to accepting.
                log.warning("%s: lost the lock on session %r", self.spec.name, receiver.session.session_id)
                return
            for message in messages:
                self._handle(receiver, message)
                idle_since = time.monotonic()

    def _handle(self, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) -> None:
        """Invoke the function with one message, then settle it as the Service Bus extension does."""
        try:
            value = to_function_message(message)
        except Exception:  # as in the worker, a message that cannot be bound fails its invocation
            log.exception("%s: cannot bind message %s", self.spec.name, message.message_id)
            self._settle(receiver, message, failed=True)
            return
        try:
            self._invoker.run(self.spec, value, lambda result: None)
        except Exception:  # the invoker logged it (or the host is draining): let the broker redeliver
            self._settle(receiver, message, failed=True)
        else:
            self._settle(receiver, message, failed=False)

    def _settle(self, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage, failed: bool) -> None:
        """Abandon after a failure; complete after a success if auto-complete is on."""
        if not failed and not self.trigger.auto_complete:
            # A Python function has no way to settle a message itself (that needs the SDK-typed binding,
            # which this host refuses), so the lock runs out and the broker redelivers.
            log.warning(
                "%s: autoCompleteMessages is false, so message %s stays unsettled; the broker redelivers it "
                "once its lock expires",
                self.spec.name,
                message.message_id,
            )
            return
        outcome, settle = ("abandon", receiver.abandon_message) if failed else ("complete", receiver.complete_message)
        try:
            settle(message)
        except ServiceBusError as error:
            # Lock lost or link gone: the broker redelivers the message once its lock expires.
            log.warning(
                "%s: could not %s message %s (%s); the broker will redeliver it",
                self.spec.name,
                outcome,
                message.message_id,
                type(error).__name__,
            )


class ServiceBusPump:
    """All Service Bus triggered functions of the app, each with its concurrency slots."""

    def __init__(
        self,
        functions: Iterable[FunctionSpec],
        invoker: Invoker,
        options: HostOptions,
        connections: Mapping[str, ServiceBusConnection],
        stop: threading.Event,
    ) -> None:
        """`connections` holds each function's resolved connection, by function name."""
        self.functions = [f for f in functions if isinstance(f.trigger, ServiceBusTrigger)]
        self._invoker, self._options, self._stop = invoker, options, stop
        client_kwargs = options.client_retry.client_kwargs()
        self._factories = {f.name: client_factory(connections[f.name], client_kwargs) for f in self.functions}
        self._renewers: list[AutoLockRenewer] = []
        self._slots: list[tuple[_Slot, threading.Thread]] = []

    def start(self) -> None:
        for spec in self.functions:
            slots = service_bus_concurrency(spec, self._options)

            def renew_failed(renewable: object, error: Exception | None, name: str = spec.name) -> None:
                log.warning("%s: lock renewal stopped for %r: %s", name, renewable, error)

            # The renewer needs a thread for its dispatcher plus one per lock being renewed.
            renewer = AutoLockRenewer(
                max_lock_renewal_duration=self._options.max_auto_lock_renewal,
                on_lock_renew_failure=renew_failed,
                max_workers=slots + 1,
            )
            self._renewers.append(renewer)
            failures = _FailureLog(spec.name)
            for index in range(slots):
                slot = _Slot(
                    spec,
                    self._factories[spec.name],
                    self._invoker,
                    renewer,
                    failures,
                    self._options,
                    self._stop,
                )
                thread = threading.Thread(target=slot.run, name=f"servicebus-{spec.name}-{index}", daemon=True)
                thread.start()
                self._slots.append((slot, thread))

    def join(self, timeout: float) -> None:
        """Wait (up to `timeout` s in all) for the slots to settle and close their receivers.

        Session slots still waiting for a session hold nothing and are not waited for.
        """
        deadline = time.monotonic() + timeout
        for slot, thread in self._slots:
            if not slot.accepting:
                thread.join(max(0.0, deadline - time.monotonic()))
        for renewer in self._renewers:
            renewer.close(wait=False)
