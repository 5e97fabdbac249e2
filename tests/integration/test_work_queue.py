"""`ServiceBusWorkQueue` through the real azure-servicebus SDK on the Service Bus stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.amqp import AmqpAnnotatedMessage

from interconnect.adapters.servicebus import ServiceBusWorkQueue
from interconnect.errors import DependencyError
from interconnect.linking.model import Action, Status
from interconnect.linking.queue import DeadLetter, WorkItem, decode
from interconnect.linking.sweeper import Sweeper
from localdev.procs import ROOT, wait_until
from tests.unit.world import World

pytestmark = pytest.mark.integration
QUEUE = "interconnect-requests"


@pytest.fixture
def bus(fresh_servicebus):
    queue = ServiceBusWorkQueue.from_settings(queue_name=QUEUE, connection_string=fresh_servicebus.connection_string)
    yield fresh_servicebus, queue
    queue.close()


def receive_all(connection_string: str, count: int, wait: float = 2) -> list:
    with (
        ServiceBusClient.from_connection_string(connection_string) as client,
        client.get_queue_receiver(QUEUE, max_wait_time=wait) as receiver,
    ):
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


def test_the_sender_runs_no_keep_alive_thread(bus) -> None:
    # Its periodic listen holds the connection's lock for up to 0.2 s, stalling every send queued behind it.
    import threading

    broker, queue = bus
    queue.send(WorkItem("r-keep-alive"))
    assert [t.name for t in threading.enumerate() if "_keep_alive" in t.name] == []
    assert [m.message_id for m in receive_all(broker.connection_string, 1)] == ["r-keep-alive"]


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
    with (
        ServiceBusClient.from_connection_string(broker.connection_string) as client,
        client.get_queue_receiver(QUEUE, max_wait_time=2) as receiver,
    ):
        for message in receiver.receive_messages(max_message_count=2, max_wait_time=2):
            receiver.dead_letter_message(message, reason="TestReason", error_description="because")
    seen: list[DeadLetter] = []

    def handle(letter: DeadLetter) -> bool:
        seen.append(letter)
        return json.loads(letter.body)["requestId"] == "r-4"

    assert queue.drain_dead_letters(handle, 10) == 2
    assert sorted((s.message_id, s.reason, s.description) for s in seen) == [
        ("r-4", "TestReason", "because"),
        ("r-5", "TestReason", "because"),
    ]
    assert broker.admin.dead_letter_depth(QUEUE) == 1


def test_a_send_after_opening_in_the_background_goes_out_on_the_opened_sender(bus) -> None:
    broker, queue = bus
    queue.open_in_background()  # what a cold instance does when it makes the queue
    queue.send(WorkItem("r-open"))  # waits for the opening, never opens a second sender
    queue.send(WorkItem("r-open", retry=1))
    assert sorted(m.message_id for m in receive_all(broker.connection_string, 10)) == ["r-open", "r-open:retry:1"]


def test_opening_in_the_background_with_the_broker_down_leaves_the_send_to_report_it(servicebus_factory) -> None:
    broker = servicebus_factory(ROOT / "localdev" / "queues.json")
    queue = ServiceBusWorkQueue.from_settings(queue_name=QUEUE, connection_string=broker.connection_string)
    broker.service.stop()
    queue.open_in_background()  # fails on its thread, quietly
    with pytest.raises(DependencyError):
        queue.send(WorkItem("r-8"))
    queue.close()


def test_an_unreachable_broker_is_a_dependency_error(servicebus_factory) -> None:
    broker = servicebus_factory(ROOT / "localdev" / "queues.json")
    queue = ServiceBusWorkQueue.from_settings(queue_name=QUEUE, connection_string=broker.connection_string)
    queue.send(WorkItem("r-6"))
    broker.service.stop()
    with pytest.raises(DependencyError):
        queue.send(WorkItem("r-7"))
    queue.close()


def test_the_sweeper_sets_hostile_dead_letters_aside_and_settles_the_rest(bus) -> None:
    # GIVEN, in the dead-letter queue: a deeply nested body, an AMQP value body, a work item with an
    # oversized description, and a work item of a real request, in that order
    broker, queue = bus
    world = World()
    rid = world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    other = world.submit(Action.CONNECT, world.a, world.c)
    with ServiceBusClient.from_connection_string(broker.connection_string) as client:
        with client.get_queue_sender(QUEUE) as sender:
            sender.send_messages(ServiceBusMessage(b"[" * 100_000 + b"]" * 100_000, message_id="nested"))
            sender.send_messages(
                AmqpAnnotatedMessage(value_body={"requestId": rid}, properties={"message_id": "value"})
            )
            sender.send_messages(ServiceBusMessage(WorkItem(other).encode(), message_id="long"))
            sender.send_messages(ServiceBusMessage(item.encode(), message_id=item.message_id))
        with client.get_queue_receiver(QUEUE, max_wait_time=2) as receiver:
            received = receiver.receive_messages(max_message_count=4, max_wait_time=2)
            assert len(received) == 4
            for message in received:
                receiver.dead_letter_message(
                    message,
                    reason="MaxDeliveryCountExceeded",
                    error_description="x" * 5000 if message.message_id == "long" else "",
                )
    # WHEN the sweeper drains the real dead-letter queue
    report = Sweeper(world.store, queue, world.clock).sweep()
    # THEN the two that are no work item stay for a person; the others are settled and the request failed
    assert (report["malformed"], report["deadLettered"]) == (2, 2), report
    assert broker.admin.dead_letter_depth(QUEUE) == 2
    failed = world.store.get(rid)
    assert failed.status is Status.FAILED and failed.reasons[0].code == "DEAD_LETTERED"
    stored = world.store.get(other).reasons[0].details["deadLetterDescription"]
    assert 0 < len(stored) <= 1024  # a description from outside is cut before it is stored
