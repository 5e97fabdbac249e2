"""The quarantine: where the worker sets aside a queue message that no redelivery could help, and its port.

The queue trigger is the standard one, which cannot dead-letter a message itself: the host completes a
message when the function returns and abandons it when the function raises. A message that is no work item
(`MALFORMED_MESSAGE`), or whose request row cannot be read back (`CORRUPT_RECORD`), is therefore written to
the quarantine with its reason and the function returns, so it is set aside on its first delivery instead of
being retried `maxDeliveryCount` times. The sweeper and the audit report what sits there, as they report the
dead-letter queue (which still takes what the broker gives up on: `maxDeliveryCount`, TTL).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from interconnect.linking.queue import loggable

# What the quarantine keeps of a message: a description as long as a dead-letter description may be, and the
# body's first 32 KiB (a work item is under 4 KiB, so that shows what was sent).
MAX_DESCRIPTION = 1024
MAX_BODY = 32 * 1024


@dataclass(frozen=True)
class Quarantined:
    """A delivered message the worker set aside instead of handling.

    The body is kept (capped, as opaque bytes, never decoded or logged) because the host completes the
    message once it is set aside: this is then the only copy of what was sent, as the dead-letter queue
    would have kept it. `body_length` and `body_sha256` are of the whole body. `message_id` is fit for a log
    line (`loggable`); the message itself is named by `key` (the SHA-256 of its id as sent, its sequence
    number and its enqueued time), the same at every delivery of one message, so setting it aside twice
    keeps one record.
    """

    reason: str
    description: str
    message_id: str
    message_id_sha256: str
    sequence_number: int
    enqueued_at: datetime | None
    delivery_count: int | None
    body_length: int
    body_sha256: str
    body: bytes

    @classmethod
    def of(
        cls,
        *,
        reason: str,
        description: str,
        message_id: str,
        sequence_number: int | None,
        enqueued_at: datetime | None,
        delivery_count: int | None,
        body: bytes,
    ) -> Quarantined:
        return cls(
            reason=loggable(reason),
            description=description[:MAX_DESCRIPTION],
            message_id=loggable(message_id),
            message_id_sha256=hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest(),
            sequence_number=sequence_number or 0,
            enqueued_at=enqueued_at,
            delivery_count=delivery_count,
            body_length=len(body),
            body_sha256=hashlib.sha256(body).hexdigest(),
            body=bytes(body[:MAX_BODY]),
        )

    @property
    def key(self) -> str:
        enqueued = self.enqueued_at.isoformat() if self.enqueued_at else "-"
        return f"{enqueued}|{self.message_id_sha256}|{self.sequence_number}"


class Quarantine(Protocol):
    """The set-aside messages (Table Storage in the app, `adapters/quarantine.py`)."""

    def put(self, message: Quarantined) -> None:
        """Keep `message`; the same `key` twice is one record. Raises DependencyError when it cannot be kept:
        the message must then be abandoned, so that Service Bus redelivers it (and dead-letters it in the end)."""

    def count(self) -> int:
        """How many messages sit in the quarantine (up to a cap)."""

    def recent(self, limit: int) -> list[Quarantined]:
        """The newest set-aside messages first (by enqueued time)."""
