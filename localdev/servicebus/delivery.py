"""What a receiver sees of a stored message: the broker's annotations over the bytes the sender wrote.

Receiving, peeking and receiving deferred messages all hand out the same encoding, so the SDK reads sequence
number, enqueued time, lock expiry, state and dead-letter reason the same way whichever path it used.
"""

from __future__ import annotations

from typing import Any

from proton import timestamp

from . import codec
from .entity import MessageState, StoredMessage

SEQUENCE_NUMBER = "x-opt-sequence-number"
ENQUEUED_TIME = "x-opt-enqueued-time"
LOCKED_UNTIL = "x-opt-locked-until"
MESSAGE_STATE = "x-opt-message-state"
DEAD_LETTER_REASON = "DeadLetterReason"
DEAD_LETTER_DESCRIPTION = "DeadLetterErrorDescription"


def ms_timestamp(epoch_seconds: float) -> timestamp:
    """An AMQP timestamp (milliseconds since the Unix epoch), as Service Bus sends its times."""
    return timestamp(round(epoch_seconds * 1000))


def encode_stored(message: StoredMessage) -> bytes:
    annotations: dict[str, Any] = {
        SEQUENCE_NUMBER: message.sequence_number,
        ENQUEUED_TIME: ms_timestamp(message.enqueued_at),
    }
    if message.lock is not None:
        annotations[LOCKED_UNTIL] = ms_timestamp(message.lock.locked_until)
    if message.state != MessageState.ACTIVE:
        annotations[MESSAGE_STATE] = int(message.state)
    dead_letter: dict[str, str] = {}
    if message.dead_letter_reason is not None:
        dead_letter[DEAD_LETTER_REASON] = message.dead_letter_reason
    if message.dead_letter_description is not None:
        dead_letter[DEAD_LETTER_DESCRIPTION] = message.dead_letter_description
    return codec.encode_message(
        message.envelope,
        delivery_count=message.delivery_count,
        annotations=annotations,
        application_properties=dead_letter or None,
    )
