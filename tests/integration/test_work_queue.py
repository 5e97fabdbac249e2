"""`ServiceBusWorkQueue` through the real azure-servicebus SDK on the Service Bus stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import ServiceBusClient

from interconnect.adapters.servicebus import ServiceBusWorkQueue
from interconnect.errors import DependencyError
from interconnect.messages import DeadLetter, WorkItem, decode
from localdev.procs import ROOT, wait_until

pytestmark = pytest.mark.integration
QUEUE = "interconnect-requests"


@pytest.fixture
def bus(fresh_servicebus):
    queue = ServiceBusWorkQueue.from_settings(queue_name=QUEUE, connection_string=fresh_servicebus.connection_string)
    yield fresh_servicebus, queue
    queue.close()


def receive_all(connection_string: str, count: int, wait: float = 2) -> list:
    with ServiceBusClient.from_connection_string(connection_string) as client, \
            client.get_queue_receiver(QUEUE, max_wait_time=wait) as receiver:
        messages = receiver.receive_messages(max_message_count=count, max_wait_time=wait)
        for message in messages:
            receiver.complete_message(message)
        return messages


def test_a_work_item_is_sent_with_its_message_id(bus) -> None:
    broker, queue = bus
    queue.send(WorkItem("r-1"))
    (message,) = receive_all(broker.connection_string, 1)
    assert message.message_id == "r-1"
    assert decode(b"".join(message.body)) == WorkItem("r-1")


def test_the_same_step_sent_twice_is_delivered_once(bus) -> None:
    broker, queue = bus
    queue.send(WorkItem("r-2"))
    queue.send(WorkItem("r-2"))
    queue.send(WorkItem("r-2", retry=1))
    assert sorted(m.message_id for m in receive_all(broker.connection_string, 10)) == ["r-2", "r-2:retry:1"]


def test_a_scheduled_check_arrives_at_its_time(bus) -> None:
    broker, queue = bus
    queue.schedule(WorkItem("r-3", "check", 0), datetime.now(UTC) + timedelta(seconds=1))
    assert broker.admin.depth(QUEUE) == 0
    wait_until(lambda: broker.admin.depth(QUEUE) == 1, 10, what="the scheduled message")


def test_dead_letters_are_handed_over_and_removed_when_handled(bus) -> None:
    broker, queue = bus
    queue.send(WorkItem("r-4"))
    queue.send(WorkItem("r-5"))
    with ServiceBusClient.from_connection_string(broker.connection_string) as client, \
            client.get_queue_receiver(QUEUE, max_wait_time=2) as receiver:
        for message in receiver.receive_messages(max_message_count=2, max_wait_time=2):
            receiver.dead_letter_message(message, reason="TestReason", error_description="because")
    seen: list[DeadLetter] = []

    def handle(letter: DeadLetter) -> bool:
        seen.append(letter)
        return json.loads(letter.body)["requestId"] == "r-4"

    assert queue.drain_dead_letters(handle, 10) == 2
    assert sorted((s.message_id, s.reason, s.description) for s in seen) == [
        ("r-4", "TestReason", "because"), ("r-5", "TestReason", "because")]
    assert broker.admin.dead_letter_depth(QUEUE) == 1


def test_an_unreachable_broker_is_a_dependency_error(servicebus_factory) -> None:
    broker = servicebus_factory(ROOT / "localdev" / "queues.json")
    queue = ServiceBusWorkQueue.from_settings(queue_name=QUEUE, connection_string=broker.connection_string)
    queue.send(WorkItem("r-6"))
    broker.service.stop()
    with pytest.raises(DependencyError):
        queue.send(WorkItem("r-7"))
    queue.close()
