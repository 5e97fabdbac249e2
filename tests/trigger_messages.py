"""Service Bus messages as the queue trigger receives them: the concrete `azure.functions.ServiceBusMessage` the
Python worker builds from what the host sends (as the local host builds it too, localdev/host/servicebus.py),
with the first delivery counted as 1, as the host counts it. Shared by the trigger's unit tests and the
function-level tests.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from azure.functions.servicebus import ServiceBusMessage

_SEQUENCE = itertools.count(1)
_ENQUEUED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def delivered(
    body: bytes,
    *,
    message_id: str = "m-1",
    delivery_count: int = 1,
    sequence_number: int | None = None,
    enqueued_at: datetime | None = None,
) -> ServiceBusMessage:
    """One delivery of a message with a data body. A redelivery of the same message keeps its sequence number
    and enqueued time and raises `delivery_count`."""
    sequence = next(_SEQUENCE) if sequence_number is None else sequence_number
    return ServiceBusMessage(
        body=body,
        message_id=message_id,
        sequence_number=sequence,
        enqueued_time_utc=enqueued_at or _ENQUEUED + timedelta(seconds=sequence),
        delivery_count=delivery_count,
        content_type="application/json",
        application_properties={},
        user_properties={},
    )


def redelivered(message: ServiceBusMessage) -> ServiceBusMessage:
    """The same message delivered once more (after an abandon, or a completion the host could not make)."""
    return delivered(
        message.get_body(),
        message_id=message.message_id,
        delivery_count=(message.delivery_count or 1) + 1,
        sequence_number=message.sequence_number,
        enqueued_at=message.enqueued_time_utc,
    )
