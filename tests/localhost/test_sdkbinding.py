"""The model binding data the host sends for an SDK-typed Service Bus trigger, laid out as the real host does."""

from __future__ import annotations

import uuid

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus._pyamqp._decode import decode_payload

from localdev.host.sdkbinding import model_binding_data
from tests.localhost.conftest import SAMPLE_QUEUE, Broker

pytestmark = pytest.mark.integration


def test_the_content_is_the_lock_token_then_the_whole_amqp_message_as_dotnet_holds_it(broker: Broker) -> None:
    with ServiceBusClient.from_connection_string(broker.connection_string) as client:
        with client.get_queue_sender(SAMPLE_QUEUE) as sender:
            sender.send_messages(
                ServiceBusMessage(
                    b"hello",
                    message_id="m-1",
                    content_type="text/plain",
                    application_properties={"kind": "greeting", "count": 3},
                )
            )
        with client.get_queue_receiver(SAMPLE_QUEUE, max_wait_time=5) as receiver:
            (received,) = receiver.receive_messages(max_wait_time=5)
            data, token = model_binding_data(received), received.lock_token
            receiver.complete_message(received)

    assert (data.version, data.source, data.content_type) == (
        "1.0",
        "AzureServiceBusReceivedMessage",
        "application/octet-stream",
    )
    assert isinstance(token, uuid.UUID)
    assert data.content[:16] == token.bytes_le  # .NET Guid.ToByteArray order
    amqp = decode_payload(memoryview(data.content[16:]))
    assert amqp.header.delivery_count == 1  # .NET counts the first delivery as 1
    assert amqp.delivery_annotations == {b"x-opt-lock-token": token}
    assert amqp.message_annotations == received._message.message_annotations  # timestamps and longs intact
    assert amqp.properties == received._message.properties
    assert amqp.application_properties == {b"kind": b"greeting", b"count": 3}
    assert amqp.data == [b"hello"]
    # Sections in the order the host writes them: header, delivery and message annotations, properties, ...
    descriptors = [
        data.content[i + 2]
        for i in range(16, len(data.content) - 2)
        if data.content[i : i + 2] == b"\x00S" and 0x70 <= data.content[i + 2] <= 0x78
    ]
    assert descriptors == [0x70, 0x71, 0x72, 0x73, 0x74, 0x75]
