"""Service Bus queue triggers in the host process, against the local Service Bus stand-in."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
)

from localdev.procs import wait_until
from tests.localhost.conftest import (
    MAX_DELIVERY_COUNT,
    SAMPLE_QUEUE,
    SESSION_QUEUE,
    SHORT_LOCK_QUEUE,
    SHORT_LOCK_SECONDS,
    Broker,
    RunningHost,
    StartHost,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client(broker: Broker) -> Iterator[ServiceBusClient]:
    with ServiceBusClient.from_connection_string(broker.connection_string) as sdk:
        yield sdk


def send(client: ServiceBusClient, queue: str, *messages: ServiceBusMessage) -> None:
    with client.get_queue_sender(queue) as sender:
        sender.send_messages(list(messages))


def host_on(start_host: StartHost, broker: Broker, **settings: str) -> RunningHost:
    return start_host(ServiceBusConnection=broker.connection_string, **settings)


def settled(broker: Broker, queue: str) -> bool:
    stats = broker.admin.queue(queue)
    return stats["active"] == 0 and stats["locked"] == 0


def test_a_message_invokes_the_function_and_is_completed(
    broker: Broker, start_host: StartHost, client: ServiceBusClient
) -> None:
    host = host_on(start_host, broker)
    send(
        client,
        SAMPLE_QUEUE,
        ServiceBusMessage(
            b'{"hello": "world"}',
            message_id="message-1",
            content_type="application/json",
            correlation_id="corr-1",
            application_properties={"kind": "greeting", "count": 3},
        ),
    )

    (seen,) = host.wait_for_records("on_message", 1)
    assert seen["body"] == '{"hello": "world"}'
    assert seen["message_id"] == "message-1"
    assert seen["delivery_count"] == 1  # the host counts the first delivery as 1
    assert seen["content_type"] == "application/json"
    assert seen["correlation_id"] == "corr-1"
    assert seen["application_properties"] == {"kind": "greeting", "count": 3}
    assert seen["sequence_number"] >= 1 and seen["lock_token"] and seen["enqueued_time_utc"]
    wait_until(lambda: settled(broker, SAMPLE_QUEUE), 10, what="the message to be completed")
    assert broker.admin.dead_letter_depth(SAMPLE_QUEUE) == 0
    assert "Executed 'Functions.on_message' (trigger=serviceBus, Succeeded" in host.log()


def test_a_failing_message_is_redelivered_then_dead_lettered(
    broker: Broker, start_host: StartHost, client: ServiceBusClient
) -> None:
    host = host_on(start_host, broker)
    send(client, SAMPLE_QUEUE, ServiceBusMessage(b"fail always", message_id="poison"))

    wait_until(
        lambda: broker.admin.dead_letter_depth(SAMPLE_QUEUE) == 1, 30, what="the poison message to be dead-lettered"
    )
    attempts = [r["delivery_count"] for r in host.records("on_message") if r["message_id"] == "poison"]
    assert attempts == list(range(1, MAX_DELIVERY_COUNT + 1))
    assert settled(broker, SAMPLE_QUEUE)
    assert host.service.alive()


def test_many_messages_are_all_processed_once(broker: Broker, start_host: StartHost, client: ServiceBusClient) -> None:
    host = host_on(start_host, broker)
    send(client, SAMPLE_QUEUE, *(ServiceBusMessage(f"n{i}", message_id=f"m{i}") for i in range(20)))
    records = host.wait_for_records("on_message", 20)
    assert sorted(r["message_id"] for r in records) == sorted(f"m{i}" for i in range(20))
    wait_until(lambda: settled(broker, SAMPLE_QUEUE), 10, what="all messages to be completed")
    assert len(host.records("on_message")) == 20


def test_session_messages_are_handled_in_order_per_session(
    broker: Broker, start_host: StartHost, client: ServiceBusClient
) -> None:
    host = host_on(start_host, broker)
    send(
        client,
        SESSION_QUEUE,
        *(
            ServiceBusMessage(f"{session}{i}", message_id=f"{session}{i}", session_id=session)
            for i in range(5)
            for session in "AB"
        ),
    )
    records = host.wait_for_records("on_session_message", 10)
    for session in "AB":
        assert [r["body"] for r in records if r["session_id"] == session] == [f"{session}{i}" for i in range(5)]
    assert all(r["delivery_count"] == 1 for r in records)
    wait_until(lambda: settled(broker, SESSION_QUEUE), 10, what="all session messages to be completed")


def test_the_host_survives_a_broker_outage_and_reconnects(broker: Broker, start_host: StartHost) -> None:
    host = host_on(start_host, broker)
    broker.stop()
    wait_until(lambda: "on_message: Service Bus unavailable" in host.log(), 30, what="the host to notice the outage")
    broker.start()
    with ServiceBusClient.from_connection_string(broker.connection_string) as client:
        send(client, SAMPLE_QUEUE, ServiceBusMessage(b"after the outage", message_id="after"))
    (seen,) = host.wait_for_records("on_message", 1, timeout=60)
    assert seen["message_id"] == "after"
    assert host.service.alive()
    # Failures are reported once per window, not once per slot per retry.
    assert host.log().count("on_message: Service Bus unavailable") <= 2


def test_sigterm_lets_an_invocation_finish_and_complete_its_message(
    broker: Broker, start_host: StartHost, client: ServiceBusClient, tmp_path: Path
) -> None:
    host = host_on(start_host, broker)
    gate = tmp_path / "gate"
    send(client, SAMPLE_QUEUE, ServiceBusMessage(f"gate:{gate}", message_id="in-flight"))
    host.wait_for_records("on_message", 1)
    proc = host.service.proc
    assert proc is not None

    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "shutting down" in host.log(), 10, what="the host to start shutting down")
    gate.touch()

    assert proc.wait(timeout=20) == 0
    wait_until(lambda: settled(broker, SAMPLE_QUEUE), 10, what="the in-flight message to be completed")
    assert len(host.records("on_message")) == 1  # completed, so never redelivered


def test_locks_are_renewed_while_the_function_runs(
    broker: Broker, start_host: StartHost, client: ServiceBusClient
) -> None:
    host = host_on(start_host, broker, SAMPLE_QUEUE=SHORT_LOCK_QUEUE)
    # The function runs for twice the queue's lock duration; without renewal the lock would be lost,
    # completing would fail and the message would come back.
    send(client, SHORT_LOCK_QUEUE, ServiceBusMessage(f"sleep:{2 * SHORT_LOCK_SECONDS}", message_id="long"))
    host.wait_for_records("on_message", 1)
    wait_until(lambda: "Executed 'Functions.on_message'" in host.log(), 20, what="the long invocation to end")
    wait_until(lambda: settled(broker, SHORT_LOCK_QUEUE), 10, what="the long message to be completed")
    assert "could not complete" not in host.log()
    assert [r["delivery_count"] for r in host.records("on_message")] == [1]
