"""The `$management` request/response operations the SDK uses, mapped onto an Entity.

The SDK sends these for everything that is not a plain send, receive or link settlement: schedule and cancel,
peek, lock renewal, settlement of deferred messages (and the fallback for any settlement), receiving deferred
messages and the session operations. Each request is an AMQP map; each reply is a status code plus a map.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from proton import UNDESCRIBED, Array, Data

from . import codec
from .delivery import encode_stored, ms_timestamp
from .entity import Entity
from .errors import (
    ArgumentError,
    BrokerError,
    MessageLockLost,
    MessageSizeExceeded,
    NotImplementedOperation,
    SessionLockLost,
)

OPERATION_PREFIX = "com.microsoft:"


@dataclass(frozen=True)
class ManagementResult:
    status_code: int
    description: str
    body: dict[str, Any] | None = None
    error_condition: str | None = None


OK = "OK"
# Handlers get the entity, the request map, the time, and the caller's identity for session ownership.
SessionOwner = Callable[[str], object]
Handler = Callable[[Entity, Mapping[str, Any], float, SessionOwner], ManagementResult]


def execute(
    operation: str, entity: Entity, body: Mapping[str, Any], now: float, session_owner: SessionOwner
) -> ManagementResult:
    """Run one request; a refused request becomes the status code and error condition Service Bus would send."""
    handler = _HANDLERS.get(operation.removeprefix(OPERATION_PREFIX))
    try:
        if handler is None:
            raise NotImplementedOperation(f"The operation '{operation}' is not supported by the local stand-in.")
        return handler(entity, body, now, session_owner)
    except BrokerError as error:
        return ManagementResult(error.status_code, error.description, error_condition=error.condition)


def _items(value: Any) -> list[Any]:
    if isinstance(value, Array):
        return list(value.elements)
    if isinstance(value, list | tuple):
        return list(value)
    raise ArgumentError(f"expected an array, got {type(value).__name__}")


def _required(body: Mapping[str, Any], key: str) -> Any:
    if key not in body:
        raise ArgumentError(f"The request is missing '{key}'.")
    return body[key]


def _lock_tokens(body: Mapping[str, Any]) -> list[uuid.UUID]:
    tokens = _items(_required(body, "lock-tokens"))
    if not all(isinstance(t, uuid.UUID) for t in tokens):
        raise ArgumentError("lock-tokens must be an array of uuid")
    return tokens


def _sequence_numbers(body: Mapping[str, Any]) -> list[int]:
    return [int(n) for n in _items(_required(body, "sequence-numbers"))]


def _longs(values: list[int]) -> Array:
    return Array(UNDESCRIBED, Data.LONG, *values)


def _check_session(entity: Entity, body: Mapping[str, Any], session_owner: SessionOwner) -> None:
    """A request naming a session is only served to the receiver holding that session's lock."""
    session_id = body.get("session-id")
    if session_id is not None:
        entity.require_session_lock(str(session_id), session_owner(str(session_id)))


def _in_session(body: Mapping[str, Any], error: MessageLockLost) -> BrokerError:
    # A message of a session is held by the session lock; once that is gone the SDK expects session-lock-lost.
    if body.get("session-id") is None:
        return error
    return SessionLockLost(f"The session lock was lost for session '{body['session-id']}'.")


def _schedule(entity: Entity, body: Mapping[str, Any], now: float, _: SessionOwner) -> ManagementResult:
    envelopes = []
    for item in _items(_required(body, "messages")):
        raw = bytes(_required(item, "message"))
        if len(raw) > entity.config.max_message_size:
            raise MessageSizeExceeded(
                f"The message of {len(raw)} bytes exceeds the limit of {entity.config.max_message_size} bytes."
            )
        envelopes.append(codec.parse_message(raw))
    for envelope in envelopes:
        entity.check_sendable(envelope)
    numbers = [entity.enqueue(envelope, now)[0] for envelope in envelopes]
    return ManagementResult(200, OK, {"sequence-numbers": _longs(numbers)})


def _cancel_scheduled(entity: Entity, body: Mapping[str, Any], _now: float, _: SessionOwner) -> ManagementResult:
    entity.cancel_scheduled(_sequence_numbers(body))
    return ManagementResult(200, OK, {})


def _peek(entity: Entity, body: Mapping[str, Any], _now: float, _: SessionOwner) -> ManagementResult:
    start = int(body.get("from-sequence-number") or 0)
    count = int(body.get("message-count") or 1)
    session_id = body.get("session-id")
    messages = entity.peek(start, count, session_id=str(session_id) if session_id is not None else None)
    if not messages:
        return ManagementResult(204, "No messages to peek.")
    return ManagementResult(200, OK, {"messages": [{"message": encode_stored(m)} for m in messages]})


def _renew_lock(entity: Entity, body: Mapping[str, Any], now: float, _: SessionOwner) -> ManagementResult:
    expirations = [ms_timestamp(entity.renew_lock(token, now)) for token in _lock_tokens(body)]
    return ManagementResult(200, OK, {"expirations": Array(UNDESCRIBED, Data.TIMESTAMP, *expirations)})


_DISPOSITIONS = {"completed", "abandoned", "defered", "suspended"}


def _update_disposition(
    entity: Entity, body: Mapping[str, Any], _now: float, session_owner: SessionOwner
) -> ManagementResult:
    status = str(_required(body, "disposition-status"))
    if status not in _DISPOSITIONS:
        raise ArgumentError(f"Unknown disposition-status '{status}'.")
    _check_session(entity, body, session_owner)
    tokens = _lock_tokens(body)
    try:
        for token in tokens:
            if status == "completed":
                entity.complete(token)
            elif status == "abandoned":
                entity.abandon(token)
            elif status == "defered":
                entity.defer(token)
            else:
                entity.dead_letter(
                    token, _optional_text(body, "deadletter-reason"), _optional_text(body, "deadletter-description")
                )
    except MessageLockLost as error:
        raise _in_session(body, error) from None
    return ManagementResult(200, OK, {})


def _optional_text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return str(value) if value is not None else None


def _receive_by_sequence_number(
    entity: Entity, body: Mapping[str, Any], now: float, session_owner: SessionOwner
) -> ManagementResult:
    _check_session(entity, body, session_owner)
    # receiver-settle-mode is the AMQP one: 0 (first) is receive-and-delete, 1 (second) is peek-lock.
    peek_lock = int(body.get("receiver-settle-mode", 1)) == 1
    messages = entity.receive_deferred(_sequence_numbers(body), now, lock=peek_lock)
    replies = []
    for message in messages:
        reply: dict[str, Any] = {"message": encode_stored(message)}
        if message.lock is not None:
            reply["lock-token"] = message.lock.token
        replies.append(reply)
    return ManagementResult(200, OK, {"messages": replies})


def _session_id(body: Mapping[str, Any]) -> str:
    return str(_required(body, "session-id"))


def _renew_session_lock(
    entity: Entity, body: Mapping[str, Any], now: float, session_owner: SessionOwner
) -> ManagementResult:
    session_id = _session_id(body)
    locked_until = entity.renew_session_lock(session_id, session_owner(session_id), now)
    return ManagementResult(200, OK, {"expiration": ms_timestamp(locked_until)})


def _get_session_state(
    entity: Entity, body: Mapping[str, Any], _now: float, session_owner: SessionOwner
) -> ManagementResult:
    session_id = _session_id(body)
    return ManagementResult(200, OK, {"session-state": entity.get_session_state(session_id, session_owner(session_id))})


def _set_session_state(
    entity: Entity, body: Mapping[str, Any], _now: float, session_owner: SessionOwner
) -> ManagementResult:
    session_id = _session_id(body)
    state = body.get("session-state")
    entity.set_session_state(session_id, session_owner(session_id), bytes(state) if state is not None else None)
    return ManagementResult(200, OK, {})


_HANDLERS: dict[str, Handler] = {
    "schedule-message": _schedule,
    "cancel-scheduled-message": _cancel_scheduled,
    "peek-message": _peek,
    "renew-lock": _renew_lock,
    "update-disposition": _update_disposition,
    "receive-by-sequence-number": _receive_by_sequence_number,
    "renew-session-lock": _renew_session_lock,
    "get-session-state": _get_session_state,
    "set-session-state": _set_session_state,
}
