"""The queue trigger's end of Service Bus: decode the delivered message and hand its work item on, or set the
message aside in the quarantine.

The trigger is the standard one (`func.ServiceBusMessage`, `autoCompleteMessages` on): the host completes a
message when the function returns and abandons it when the function raises. So a message that can never be a
work item (MALFORMED_MESSAGE), or whose request row cannot be read back (CORRUPT_RECORD), is written to the
quarantine with its reason and the function returns: it is set aside at its first delivery instead of being
retried `maxDeliveryCount` times first. If the quarantine cannot be written, that raises too: the host
abandons the message, Service Bus redelivers it, and after `maxDeliveryCount` the broker dead-letters it, so
nothing is lost. Anything else that goes wrong is raised, for Service Bus to redeliver.

The body is decoded within bounds (`queue.decode`), so no message, however large or deeply nested, can raise
anything but MALFORMED_MESSAGE while decoding. The body is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import azure.functions as func

from interconnect.adapters import metrics, telemetry
from interconnect.errors import CorruptRecordError, InterconnectError, ValidationError
from interconnect.linking import queue as messages
from interconnect.linking.quarantine import Quarantine, Quarantined
from interconnect.linking.queue import WorkItem

log = logging.getLogger("interconnect.trigger")


def receive(message: func.ServiceBusMessage, quarantine: Quarantine, handle: Callable[[WorkItem], None]) -> None:
    """Returns when the message was handled or set aside (the host completes it); raises for a redelivery."""
    body = message.get_body()
    try:
        item = messages.decode(body)
    except ValidationError as error:
        set_aside(message, body, error, quarantine)
        return
    properties = message.application_properties or {}
    attributes = {
        "messaging.system": "servicebus",
        "messaging.operation.type": "process",
        "messaging.message.id": messages.loggable(str(message.message_id or "")),
        "interconnect.request.id": item.request_id,
        "interconnect.work.kind": item.kind,
        "interconnect.work.attempt": item.attempt,
        "interconnect.work.retry": item.retry,
    }
    # The message's W3C trace context (set by whoever sent it, held to its grammar here): the work joins the
    # request's one trace, however many messages and processes it spans.
    with (
        telemetry.bound(requestId=item.request_id),
        telemetry.span(
            f"work {item.kind}",
            "consumer",
            attributes,
            parent=telemetry.parse_traceparent(properties.get("traceparent")),
            tracestate=str(properties.get("tracestate") or ""),
        ) as span,
    ):
        try:
            handle(item)  # only transient errors escape: the host abandons and Service Bus redelivers
        except CorruptRecordError as error:
            # Its request row cannot be read back by this version, so no redelivery can help: set it aside at
            # once for a person (the sweeper and the audit count it) instead of ten failed tries.
            telemetry.fail(span, error.code)
            set_aside(message, body, error, quarantine)


def set_aside(message: func.ServiceBusMessage, body: bytes, error: InterconnectError, quarantine: Quarantine) -> None:
    kept = Quarantined.of(
        reason=error.code,
        description=str(error),
        message_id=str(message.message_id or ""),
        sequence_number=message.sequence_number,
        enqueued_at=message.enqueued_time_utc,
        delivery_count=message.delivery_count,
        body=body,
    )
    # Raises when the quarantine cannot be written: the host then abandons the message, so it is never lost.
    quarantine.put(kept)
    metrics.count_set_aside(error.code)
    log.error(
        "set aside message %s (delivery %s, %d bytes) in the quarantine: %s",
        kept.message_id,
        kept.delivery_count,
        kept.body_length,
        kept.description,
        extra={"code": error.code},
    )
