"""SDK-type trigger binding: hand the function an `azure.servicebus.ServiceBusReceivedMessage`.

When a trigger parameter is annotated with an SDK type (`azurefunctions-extensions-bindings-servicebus`),
the worker declares the binding `SupportsDeferredBinding` and the host sends *model binding data*
instead of a decoded message; the extension's converter rebuilds the SDK message from it. The Service
Bus extension builds that content as the lock token (16 bytes, .NET `Guid.ToByteArray` order) followed
by the raw AMQP message as the .NET SDK holds it: header (delivery count already raised by one, as
.NET counts), delivery annotations with `x-opt-lock-token`, message annotations, properties,
application properties, body. This module lays out the same bytes from what the host's receiver got,
and runs the app's registered converter over them, so the app meets the same object here as in Azure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus._pyamqp._encode import (
    TYPE,
    VALUE,
    describe_performative,
    encode_annotations,
    encode_payload,
    encode_value,
)
from azure.servicebus._pyamqp.message import Header, Message
from azure.servicebus._pyamqp.types import AMQPTypes
from azurefunctions.extensions.base import Datum, get_binding_registry

MODEL_BINDING_DATA = "model_binding_data"
# What the Service Bus extension puts in ModelBindingData for one message.
SOURCE = "AzureServiceBusReceivedMessage"
CONTENT_TYPE = "application/octet-stream"
VERSION = "1.0"

_LOCK_TOKEN = b"x-opt-lock-token"
_DELIVERY_ANNOTATIONS = 0x71
# The SDK decodes AMQP timestamps and longs to plain ints; re-encoding an int guesses a 32-bit int,
# which an enqueued time overflows. These annotations are timestamps on the wire; other ints are longs.
_TIMESTAMP_ANNOTATIONS = frozenset({b"x-opt-enqueued-time", b"x-opt-locked-until", b"x-opt-scheduled-enqueue-time"})


@dataclass(frozen=True)
class ModelBindingData:
    """The fields of the worker protocol's ModelBindingData message that converters read."""

    content: bytes
    version: str = VERSION
    source: str = SOURCE
    content_type: str = CONTENT_TYPE


def model_binding_data(message: ServiceBusReceivedMessage) -> ModelBindingData:
    # The SDK keeps the decoded AMQP message as `_message`; there is no public accessor.
    return ModelBindingData(host_content(uuid.UUID(str(message.lock_token)), message._message))


def host_content(lock_token: uuid.UUID, raw: Message) -> bytes:
    """The bytes the Service Bus extension sends for a message received (by AMQP) as `raw`."""
    header = raw.header or Header()
    out = bytearray(lock_token.bytes_le)
    encode_value(out, describe_performative(header._replace(delivery_count=(header.delivery_count or 0) + 1)))
    encode_value(
        out,
        {
            TYPE: AMQPTypes.described,
            VALUE: (
                {TYPE: AMQPTypes.ulong, VALUE: _DELIVERY_ANNOTATIONS},
                encode_annotations({_LOCK_TOKEN: {TYPE: AMQPTypes.uuid, VALUE: lock_token}}),
            ),
        },
    )
    annotations = {
        key: _typed(value, timestamp=key in _TIMESTAMP_ANNOTATIONS)
        for key, value in (raw.message_annotations or {}).items()
    }
    properties = {key: _typed(value) for key, value in (raw.application_properties or {}).items()}
    # encode_payload writes neither the header's new count nor delivery annotations: both are above.
    encode_payload(
        out,
        raw._replace(
            header=None,
            delivery_annotations=None,
            message_annotations=annotations or None,
            application_properties=properties or None,
        ),
    )
    return bytes(out)


def _typed(value: Any, *, timestamp: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return {TYPE: AMQPTypes.timestamp if timestamp else AMQPTypes.long, VALUE: value}


@dataclass(frozen=True)
class SdkTrigger:
    """How to build an SDK-typed trigger argument: the app's registered converter and the annotation."""

    converter: Any
    annotation: type

    def decode(self, message: ServiceBusReceivedMessage) -> Any:
        return self.decode_data(model_binding_data(message))

    def decode_data(self, data: ModelBindingData) -> Any:
        datum = Datum(value=data, type=MODEL_BINDING_DATA)
        return self.converter.decode(datum, trigger_metadata={}, pytype=self.annotation)


def sdk_trigger(binding_type: str, annotation: Any) -> SdkTrigger | None:
    """The SDK-type binding for a trigger parameter, or None when it takes the worker's own types."""
    registry = get_binding_registry()
    converter = registry.get(binding_type)
    if converter is None or not registry.check_supported_type(annotation):
        return None
    return SdkTrigger(converter, annotation) if converter.check_input_type_annotation(annotation) else None


def is_grpc_client(annotation: Any) -> bool:
    """A parameter the worker fills with the settlement client (e.g. `message_actions`)."""
    return bool(get_binding_registry().check_supported_grpc_client_type(annotation))


def settlement_client() -> Any:
    """What the worker passes such a parameter: the client registered for `serviceBusClient`."""
    return get_binding_registry().get("serviceBusClient").get_client()
