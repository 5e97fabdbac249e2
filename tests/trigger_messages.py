"""Service Bus messages as the queue trigger receives them, and a recorder of how the trigger settles them.

The messages are real `azure.servicebus.ServiceBusReceivedMessage`s, built by the binding extension's own
converter from the bytes the Functions host sends (as the local host lays them out), so a test meets what the
trigger meets in Azure. Shared by the trigger's unit tests and the function-level tests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus._pyamqp.message import Message, Properties
from azurefunctions.extensions.bindings.servicebus import ServiceBusReceivedMessage as SdkTyped

from localdev.host.sdkbinding import ModelBindingData, SdkTrigger, host_content, sdk_trigger


def delivered(
    *, data: list[bytes] | None = None, value: Any = None, message_id: str = "m-1"
) -> ServiceBusReceivedMessage:
    binding = sdk_trigger("serviceBusTrigger", SdkTyped)
    assert isinstance(binding, SdkTrigger)
    amqp = Message(properties=Properties(message_id=message_id.encode()), data=data, value=value)
    message: ServiceBusReceivedMessage = binding.decode_data(ModelBindingData(host_content(uuid.uuid4(), amqp)))
    return message


@dataclass
class Actions:
    """What the trigger settles a message with (ServiceBusMessageActions itself needs the host's gRPC channel)."""

    done: list[tuple[Any, ...]] = field(default_factory=list)

    def complete(self, message: ServiceBusReceivedMessage) -> None:
        self.done.append(("complete", message.message_id))

    def deadletter(
        self,
        message: ServiceBusReceivedMessage,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None:
        self.done.append(("deadletter", message.message_id, deadletter_reason, deadletter_error_description))
