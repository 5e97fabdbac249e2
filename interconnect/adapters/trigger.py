"""The queue trigger's end of Service Bus: decode the delivered message, then settle it.

The trigger receives the SDK message (azurefunctions-extensions-bindings-servicebus) with
`autoCompleteMessages` off, so the app settles each message itself: a message that can never be a work
item goes to the dead-letter queue at once with our code as the reason, instead of being retried
`maxDeliveryCount` times first; so does one whose request row cannot be read back (CORRUPT_RECORD).
Anything else that goes wrong is raised: the host then abandons the message and Service Bus redelivers it.
The body is decoded within bounds (`messages.decode`), so no message, however large or deeply nested, can
raise anything but MALFORMED_MESSAGE while decoding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus.amqp import AmqpMessageBodyType

from interconnect.errors import CorruptRecordError, ValidationError
from interconnect.linking import queue as messages
from interconnect.linking.queue import WorkItem, loggable

log = logging.getLogger("interconnect.trigger")
# The extension decodes messages with uamqp, whose C layer logs a dozen INFO lines per message.
logging.getLogger("uamqp").setLevel(logging.WARNING)

# Service Bus keeps the description as a message property; a bounded one keeps the DLQ readable.
MAX_DESCRIPTION = 1024


class MessageActions(Protocol):
    """What the trigger uses of `azurefunctions.extensions.bindings.servicebus.ServiceBusMessageActions`."""

    def complete(self, message: ServiceBusReceivedMessage) -> None: ...

    def deadletter(
        self,
        message: ServiceBusReceivedMessage,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None: ...


def work_item(message: ServiceBusReceivedMessage) -> WorkItem:
    """Raises ValidationError (MALFORMED_MESSAGE) for a message that is not a work item."""
    if message.body_type != AmqpMessageBodyType.DATA:
        # Intake sends data bodies; an AMQP value or sequence body came from something else.
        raise ValidationError(
            f"queue message has an AMQP {message.body_type.value} body, not data", code="MALFORMED_MESSAGE"
        )
    return messages.decode(b"".join(message.body))


def settle(message: ServiceBusReceivedMessage, actions: MessageActions, handle: Callable[[WorkItem], None]) -> None:
    try:
        item = work_item(message)
    except ValidationError as error:
        log.error("dead-lettering message %s: %s (%s)", loggable(str(message.message_id)), error, error.code)
        actions.deadletter(
            message, deadletter_reason=error.code, deadletter_error_description=str(error)[:MAX_DESCRIPTION]
        )
        return
    try:
        handle(item)  # only transient errors escape: the host abandons and Service Bus redelivers
    except CorruptRecordError as error:
        # Its request row cannot be read back by this version, so no redelivery can help: set it aside at
        # once for a person (the sweeper leaves it there, the audit counts it) instead of ten failed tries.
        log.error("dead-lettering message %s: %s (%s)", loggable(str(message.message_id)), error, error.code)
        actions.deadletter(
            message, deadletter_reason=error.code, deadletter_error_description=str(error)[:MAX_DESCRIPTION]
        )
        return
    actions.complete(message)
