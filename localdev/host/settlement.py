"""Message settlement: the host's side of `message_actions` and of auto-complete.

Every message handed to a function is *held* for the length of its invocation. While held, the app can
settle it through `ServiceBusMessageActions` (azurefunctions-extensions-bindings-servicebus), which calls
the host's `Settlement` gRPC service with the lock token; this module serves that service on loopback
and settles with the receiver the message came from. When the invocation ends, the host settles what the
app left unsettled, as the Service Bus extension does: abandon after a failure, complete after a success
if `autoCompleteMessages` is on, otherwise leave the lock to expire.

A settlement for a message no longer held (the invocation is over) is refused with NOT_FOUND, as the
real service refuses a lock token it no longer tracks; a second settlement of one message is refused
with FAILED_PRECONDITION.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import grpc
from azure.servicebus import ServiceBusReceivedMessage, ServiceBusReceiver
from azure.servicebus.exceptions import ServiceBusError
from azurefunctions.extensions.bindings.protos import settlement_pb2 as pb
from azurefunctions.extensions.bindings.protos.settlement_pb2_grpc import (
    SettlementServicer,
    add_SettlementServicer_to_server,
)
from google.protobuf.empty_pb2 import Empty

log = logging.getLogger("localdev.host.settlement")

# What the Functions host passes the Python worker; the extension sizes its channel with it.
MAX_MESSAGE_LENGTH = 2_147_483_647
_WORKERS = 8

Settle = Callable[[ServiceBusReceiver, ServiceBusReceivedMessage], None]


@dataclass
class Held:
    """One message for the length of one invocation."""

    receiver: ServiceBusReceiver
    message: ServiceBusReceivedMessage
    function: str
    settled: str = ""  # how the message was settled, once it was
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settle(self, outcome: str, action: Settle) -> None:
        """Run `action` unless the message is settled already; raises ServiceBusError or AlreadySettled."""
        with self.lock:
            if self.settled:
                raise AlreadySettled(f"message {self.message.message_id} was already {self.settled}")
            action(self.receiver, self.message)
            self.settled = outcome

    def finish(self, failed: bool, auto_complete: bool) -> None:
        """Settle what the app left unsettled, once its invocation has ended."""
        if failed:
            self._settle_quietly("abandoned", ServiceBusReceiver.abandon_message)
        elif auto_complete:
            self._settle_quietly("completed", ServiceBusReceiver.complete_message)
        elif not self.settled:
            log.warning(
                "%s: returned without settling message %s (autoCompleteMessages=false); the broker "
                "redelivers it once its lock expires",
                self.function,
                self.message.message_id,
            )

    def _settle_quietly(self, outcome: str, action: Settle) -> None:
        try:
            self.settle(outcome, action)
        except AlreadySettled:
            pass
        except ServiceBusError as error:
            # Lock lost or link gone: the broker redelivers the message once its lock expires.
            log.warning(
                "%s: could not settle message %s as %s (%s); the broker will redeliver it",
                self.function,
                self.message.message_id,
                outcome,
                type(error).__name__,
            )


class AlreadySettled(Exception):
    pass


class Settlements(SettlementServicer):
    """The messages now held, by lock token, and the gRPC service that settles them."""

    def __init__(self) -> None:
        self._held: dict[str, Held] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage, function: str) -> Iterator[Held]:
        held = Held(receiver, message, function)
        token = str(message.lock_token)
        with self._lock:
            self._held[token] = held
        try:
            yield held
        finally:
            with self._lock:
                self._held.pop(token, None)

    # --- the Settlement service (names and shapes fixed by settlement.proto) ---

    def Complete(self, request: pb.CompleteRequest, context: grpc.ServicerContext) -> Empty:
        return self._settle(request.locktoken, b"", "completed", ServiceBusReceiver.complete_message, context)

    def Abandon(self, request: pb.AbandonRequest, context: grpc.ServicerContext) -> Empty:
        return self._settle(
            request.locktoken, request.propertiesToModify, "abandoned", ServiceBusReceiver.abandon_message, context
        )

    def Deadletter(self, request: pb.DeadletterRequest, context: grpc.ServicerContext) -> Empty:
        reason = request.deadletterReason.value if request.HasField("deadletterReason") else None
        description = (
            request.deadletterErrorDescription.value if request.HasField("deadletterErrorDescription") else None
        )

        def dead_letter(receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) -> None:
            receiver.dead_letter_message(message, reason=reason, error_description=description)

        return self._settle(request.locktoken, request.propertiesToModify, "dead-lettered", dead_letter, context)

    def Defer(self, request: pb.DeferRequest, context: grpc.ServicerContext) -> Empty:
        return self._settle(
            request.locktoken, request.propertiesToModify, "deferred", ServiceBusReceiver.defer_message, context
        )

    def RenewMessageLock(self, request: pb.RenewMessageLockRequest, context: grpc.ServicerContext) -> Empty:
        held = self._find(request.locktoken, context)
        with _service_bus_errors(context):
            held.receiver.renew_message_lock(held.message)
        return Empty()

    def _find(self, token: str, context: grpc.ServicerContext) -> Held:
        with self._lock:
            held = self._held.get(token)
        if held is None:
            _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"no message with lock token {token!r} is held by a running invocation",
            )
        return held

    def _settle(
        self, token: str, properties: bytes, outcome: str, action: Settle, context: grpc.ServicerContext
    ) -> Empty:
        held = self._find(token, context)
        if properties:  # the extension (1.0.0b2) always sends none
            _abort(context, grpc.StatusCode.UNIMPLEMENTED, "propertiesToModify is not supported by the local host")
        with _service_bus_errors(context):
            try:
                held.settle(outcome, action)
            except AlreadySettled as error:
                _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))
        log.info("%s: message %s %s by the function", held.function, held.message.message_id, outcome)
        return Empty()


@contextmanager
def _service_bus_errors(context: grpc.ServicerContext) -> Iterator[None]:
    try:
        yield
    except ServiceBusError as error:
        _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"{type(error).__name__}: {error}")


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    context.abort(code, details)
    raise AssertionError("unreachable: context.abort raises")


class SettlementServer:
    """The Settlement service on a loopback port, and the worker command line that points at it."""

    def __init__(self, settlements: Settlements, host: str = "127.0.0.1") -> None:
        self._server: Any = grpc.server(
            futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="settlement")
        )
        add_SettlementServicer_to_server(settlements, self._server)
        self.host = host
        self.port = self._server.add_insecure_port(f"{host}:0")

    def start(self) -> None:
        self._server.start()

    def stop(self, grace: float) -> None:
        self._server.stop(grace).wait(grace)

    def worker_argv(self) -> list[str]:
        """The arguments the Functions host starts the Python worker with, as far as extensions read them."""
        return [
            sys.argv[0],
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--functions-grpc-max-message-length",
            str(MAX_MESSAGE_LENGTH),
        ]
