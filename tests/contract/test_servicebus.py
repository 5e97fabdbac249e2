"""Contract tests: the Service Bus stand-in, driven only by the real `azure-servicebus` SDK (sync client).

Each test names a Service Bus behaviour the app relies on and checks it through the SDK's public API, failure
paths included. Waiting is always on a condition with a deadline (a receive's `max_wait_time`, or
`wait_until`), never a fixed sleep. Opening an SDK client costs about a second, so tests reuse theirs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusMessageState,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusReceiver,
    ServiceBusSender,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import (
    MessageLockLostError,
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    OperationTimeoutError,
    ServiceBusConnectionError,
    ServiceBusError,
    SessionCannotBeLockedError,
    SessionLockLostError,
)

from localdev.procs import wait_until
from tests.plugins.servicebus import RunningServiceBus, start_servicebus

pytestmark = pytest.mark.contract

WORK = "work"  # general purpose: a lock long enough never to expire during a test
SHORT_LOCK = "short-lock"  # locks that expire within a test
SESSIONS = "sessions"
SHORT_SESSIONS = "short-sessions"
CONFIG = {
    "queues": [
        {
            "name": WORK,
            "lockDuration": "PT10S",
            "maxDeliveryCount": 3,
            "requiresDuplicateDetection": True,
            "duplicateDetectionHistoryTimeWindow": "PT1M",
            "deadLetteringOnMessageExpiration": True,
        },
        {"name": SHORT_LOCK, "lockDuration": "PT2S", "maxDeliveryCount": 2},
        {"name": SESSIONS, "lockDuration": "PT10S", "requiresSession": True},
        {"name": SHORT_SESSIONS, "lockDuration": "PT2S", "requiresSession": True},
    ]
}
# Generous upper bound for anything that should happen "now" (a receive that must find a message).
PROMPT = 5


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServiceBus]:
    with start_servicebus(CONFIG, tmp_path_factory.mktemp("servicebus-contract")) as running:
        yield running


@pytest.fixture(autouse=True)
def _empty_broker(broker: RunningServiceBus) -> None:
    broker.admin.reset()


@pytest.fixture(scope="module")
def client(broker: RunningServiceBus) -> Iterator[ServiceBusClient]:
    with ServiceBusClient.from_connection_string(broker.connection_string) as sb_client:
        yield sb_client


Senders = Callable[[str], ServiceBusSender]


@pytest.fixture(scope="module")
def senders(client: ServiceBusClient) -> Iterator[Senders]:
    """`senders(queue)`: an open sender for the queue, shared by the module's tests (opening one costs ~1 s)."""
    opened: dict[str, ServiceBusSender] = {}
    with ExitStack() as stack:

        def sender(queue: str) -> ServiceBusSender:
            if queue not in opened:
                opened[queue] = stack.enter_context(client.get_queue_sender(queue))
            return opened[queue]

        yield sender


@pytest.fixture
def no_retry_client(broker: RunningServiceBus) -> Iterator[ServiceBusClient]:
    """For refusals the SDK would retry (it retries session-cannot-be-locked and timeouts): the broker's
    answer is under test, not the SDK's retry policy."""
    with ServiceBusClient.from_connection_string(broker.connection_string, retry_total=0) as sb_client:
        yield sb_client


def utc_now() -> datetime:
    return datetime.now(UTC)


def text(message: ServiceBusReceivedMessage) -> str:
    return b"".join(message.body).decode()


def receive_one(receiver: ServiceBusReceiver, timeout: float = PROMPT) -> ServiceBusReceivedMessage:
    messages = receiver.receive_messages(max_message_count=1, max_wait_time=timeout)
    assert len(messages) == 1, "expected a message"
    return messages[0]


def receive_all(receiver: ServiceBusReceiver, count: int) -> list[ServiceBusReceivedMessage]:
    """Exactly `count` messages, however the SDK splits them over receive calls (within PROMPT seconds)."""
    received: list[ServiceBusReceivedMessage] = []
    deadline = time.monotonic() + PROMPT
    while len(received) < count and time.monotonic() < deadline:
        received += receiver.receive_messages(max_message_count=count - len(received), max_wait_time=PROMPT)
    assert len(received) == count
    return received


# -- start-up, addressing ------------------------------------------------------------------------------------


def test_broker_and_its_admin_api_are_up_once_started(
    servicebus_factory: Callable[[dict[str, Any]], RunningServiceBus],
) -> None:
    # How fast it starts is a figure for bench/startup.py, not a gate for a merge.
    running = servicebus_factory(CONFIG)  # returns once the AMQP port accepts connections
    assert running.admin.health()  # the admin API is up by then too


def test_sigterm_stops_the_broker_gracefully_even_with_clients_connected(tmp_path: Path) -> None:
    with (
        start_servicebus(CONFIG, tmp_path) as running,
        ServiceBusClient.from_connection_string(running.connection_string, retry_total=0) as sb_client,
        sb_client.get_queue_sender(WORK) as sender,
    ):
        sender.send_messages(ServiceBusMessage("connected"))
        running.service.stop()  # waits for the process within its own deadline, then kills it
        assert running.service.proc is not None and running.service.proc.returncode == 0
        # The client learns that the connection is gone (and only then releases its socket).
        with pytest.raises(ServiceBusConnectionError):
            sender.send_messages(ServiceBusMessage("too late"))


def test_unknown_queue_is_refused_with_entity_not_found(client: ServiceBusClient) -> None:
    with (
        pytest.raises(MessagingEntityNotFoundError, match="could not be found"),
        client.get_queue_sender("no-such-queue") as sender,
    ):
        sender.send_messages(ServiceBusMessage("lost"))
    with pytest.raises(MessagingEntityNotFoundError), client.get_queue_receiver("no-such-queue") as receiver:
        receiver.receive_messages(max_wait_time=1)


# -- sending ---------------------------------------------------------------------------------------------------


def test_message_properties_round_trip(client: ServiceBusClient, senders: Senders) -> None:
    sent_at = utc_now()
    sender = senders(WORK)
    sender.send_messages(
        ServiceBusMessage(
            "payload",
            message_id="m-1",
            session_id="ignored-session",
            application_properties={"kind": "test", "n": 7},
            content_type="application/json",
            correlation_id="corr-1",
            subject="subj",
            time_to_live=timedelta(minutes=5),
            reply_to="replies",
            to="destination",
        )
    )
    with client.get_queue_receiver(WORK) as receiver:
        message = receive_one(receiver)
        assert text(message) == "payload"
        assert message.message_id == "m-1"
        assert message.session_id == "ignored-session"
        assert message.application_properties == {b"kind": b"test", b"n": 7}
        assert message.content_type == "application/json"
        assert message.correlation_id == "corr-1"
        assert message.subject == "subj"
        assert message.reply_to == "replies"
        assert message.to == "destination"
        assert message.time_to_live == timedelta(minutes=5)
        assert message.sequence_number is not None and message.sequence_number > 0
        assert message.delivery_count == 0
        assert message.state == ServiceBusMessageState.ACTIVE
        assert message.enqueued_time_utc is not None
        assert abs(message.enqueued_time_utc - sent_at) < timedelta(seconds=PROMPT)
        assert message.locked_until_utc is not None
        lock_left = message.locked_until_utc - message.enqueued_time_utc
        assert timedelta(seconds=9) < lock_left <= timedelta(seconds=10 + PROMPT)
        assert isinstance(message.lock_token, uuid.UUID)
        receiver.complete_message(message)


def test_batch_and_list_sends_are_received_in_order(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(WORK)
    batch = sender.create_message_batch()
    for n in range(3):
        batch.add_message(ServiceBusMessage(f"batch-{n}", application_properties={"n": n}))
    sender.send_messages(batch)
    sender.send_messages([ServiceBusMessage("list-0"), ServiceBusMessage("list-1")])
    assert broker.admin.depth(WORK) == 5
    with client.get_queue_receiver(WORK) as receiver:
        messages = receive_all(receiver, 5)
        assert [text(m) for m in messages] == ["batch-0", "batch-1", "batch-2", "list-0", "list-1"]
        first = messages[0].sequence_number
        assert [m.sequence_number for m in messages] == [first + n for n in range(5)]
        assert [m.application_properties[b"n"] for m in messages[:3]] == [0, 1, 2]
        for message in messages:
            receiver.complete_message(message)
    assert broker.admin.depth(WORK) == 0


def test_size_limit_is_256_kib(client: ServiceBusClient, senders: Senders, broker: RunningServiceBus) -> None:
    sender = senders(WORK)
    with pytest.raises(MessageSizeExceededError):
        sender.send_messages(ServiceBusMessage(b"x" * 300 * 1024))
    with pytest.raises(MessageSizeExceededError):
        sender.send_messages([ServiceBusMessage(b"x" * 100 * 1024) for _ in range(3)])
    large = bytes(range(256)) * 800  # 200 KiB: several AMQP frames each way
    sender.send_messages(ServiceBusMessage(large))
    assert broker.admin.depth(WORK) == 1
    with client.get_queue_receiver(WORK) as receiver:
        message = receive_one(receiver)
        assert b"".join(message.body) == large
        receiver.complete_message(message)


def test_duplicate_message_id_is_dropped_within_the_window(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(WORK)
    sender.send_messages(ServiceBusMessage("first", message_id="dup"))
    sender.send_messages(ServiceBusMessage("second", message_id="dup"))
    sender.send_messages([ServiceBusMessage("third", message_id="dup"), ServiceBusMessage("other")])
    assert broker.admin.depth(WORK) == 2
    with client.get_queue_receiver(WORK) as receiver:
        assert [text(m) for m in receive_all(receiver, 2)] == ["first", "other"]


# -- peek-lock settlement ---------------------------------------------------------------------------------


def test_complete_removes_the_message(client: ServiceBusClient, senders: Senders, broker: RunningServiceBus) -> None:
    sender = senders(WORK)
    sender.send_messages(ServiceBusMessage("done"))
    with client.get_queue_receiver(WORK) as receiver:
        message = receive_one(receiver)
        assert broker.admin.queue(WORK)["locked"] == 1
        receiver.complete_message(message)
        assert broker.admin.queue(WORK) | {"name": WORK} == {
            "name": WORK,
            "active": 0,
            "scheduled": 0,
            "locked": 0,
            "deferred": 0,
            "deadLetter": 0,
            "sessionsLocked": 0,
        }
        assert receiver.receive_messages(max_wait_time=1) == []


def test_abandon_redelivers_with_increased_delivery_count(client: ServiceBusClient, senders: Senders) -> None:
    sender = senders(WORK)
    sender.send_messages(ServiceBusMessage("retry me"))
    with client.get_queue_receiver(WORK) as receiver:
        first = receive_one(receiver)
        assert first.delivery_count == 0
        receiver.abandon_message(first)
        second = receive_one(receiver)
        assert (second.message_id, second.delivery_count) == (first.message_id, 1)
        assert second.lock_token != first.lock_token
        receiver.complete_message(second)


def test_max_delivery_count_moves_the_message_to_the_dead_letter_queue(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(WORK)
    sender.send_messages(ServiceBusMessage("poison", message_id="poison"))
    with client.get_queue_receiver(WORK) as receiver:
        for attempt in range(3):  # maxDeliveryCount is 3
            message = receive_one(receiver)
            assert message.delivery_count == attempt
            receiver.abandon_message(message)
        assert receiver.receive_messages(max_wait_time=1) == []
    assert (broker.admin.depth(WORK), broker.admin.dead_letter_depth(WORK)) == (0, 1)
    with client.get_queue_receiver(WORK, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dead_letters:
        dead = receive_one(dead_letters)
        assert dead.message_id == "poison"
        assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
        assert dead.dead_letter_error_description == "Message could not be consumed after 3 delivery attempts."
        dead_letters.complete_message(dead)
    assert broker.admin.dead_letter_depth(WORK) == 0


def test_explicit_dead_letter_keeps_reason_and_description(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(WORK)
    sender.send_messages(ServiceBusMessage("bad input", application_properties={"origin": "test"}))
    with client.get_queue_receiver(WORK) as receiver:
        receiver.dead_letter_message(
            receive_one(receiver), reason="ValidationFailed", error_description="field x is missing"
        )
    assert broker.admin.dead_letter_depth(WORK) == 1
    with client.get_queue_receiver(WORK, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dead_letters:
        dead = receive_one(dead_letters)
        assert text(dead) == "bad input"
        assert (dead.dead_letter_reason, dead.dead_letter_error_description) == (
            "ValidationFailed",
            "field x is missing",
        )
        assert dead.application_properties[b"origin"] == b"test"


def test_defer_then_receive_deferred_by_sequence_number(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(WORK)
    sender.send_messages(ServiceBusMessage("later"))
    with client.get_queue_receiver(WORK) as receiver:
        message = receive_one(receiver)
        receiver.defer_message(message)
        assert receiver.receive_messages(max_wait_time=1) == []
        assert broker.admin.queue(WORK)["deferred"] == 1
        # The SDK peeks from after the last sequence number it received unless told otherwise.
        [peeked] = receiver.peek_messages(max_message_count=5, sequence_number=message.sequence_number)
        assert peeked.state == ServiceBusMessageState.DEFERRED
        [deferred] = receiver.receive_deferred_messages([message.sequence_number])
        assert text(deferred) == "later"
        receiver.complete_message(deferred)
    assert broker.admin.queue(WORK)["deferred"] == 0


# -- locks ---------------------------------------------------------------------------------------------------


def test_lock_expiry_redelivers_with_increased_delivery_count(client: ServiceBusClient, senders: Senders) -> None:
    sender = senders(SHORT_LOCK)
    sender.send_messages(ServiceBusMessage("slow consumer"))
    with client.get_queue_receiver(SHORT_LOCK) as receiver:
        first = receive_one(receiver)
        assert first.locked_until_utc is not None
        # Not settled: once the 2 s lock runs out the broker hands the message out again.
        again = receive_one(receiver, timeout=PROMPT + 2)
        assert (again.message_id, again.delivery_count) == (first.message_id, 1)
        assert again.lock_token != first.lock_token
        assert utc_now() >= first.locked_until_utc
        receiver.complete_message(again)


def test_lock_expiry_at_max_delivery_count_dead_letters(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(SHORT_LOCK)
    sender.send_messages(ServiceBusMessage("always too slow"))
    with client.get_queue_receiver(SHORT_LOCK) as receiver:
        assert receive_one(receiver).delivery_count == 0
        assert receive_one(receiver, timeout=PROMPT + 2).delivery_count == 1
    # maxDeliveryCount is 2: the second expiry dead-letters it.
    wait_until(
        lambda: broker.admin.dead_letter_depth(SHORT_LOCK) == 1,
        timeout=PROMPT + 2,
        what="the message to be dead-lettered",
    )
    with client.get_queue_receiver(SHORT_LOCK, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dead_letters:
        assert receive_one(dead_letters).dead_letter_reason == "MaxDeliveryCountExceeded"


def test_settling_after_the_lock_expired_raises_lock_lost(client: ServiceBusClient, senders: Senders) -> None:
    sender = senders(SHORT_LOCK)
    sender.send_messages(ServiceBusMessage("expired"))
    with client.get_queue_receiver(SHORT_LOCK) as receiver:
        message = receive_one(receiver)
        locked_until = message.locked_until_utc
        assert locked_until is not None
        wait_until(lambda: utc_now() > locked_until, timeout=PROMPT, what="the lock to expire")
        with pytest.raises(MessageLockLostError):
            receiver.complete_message(message)


def test_broker_refuses_settlement_of_a_lock_it_has_expired(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    """The SDK's own clock check cannot catch this one: the broker alone knows the lock is gone."""
    sender = senders(WORK)
    sender.send_messages(ServiceBusMessage("lock stolen"))
    with client.get_queue_receiver(WORK) as receiver:
        message = receive_one(receiver)
        assert broker.admin.expire_locks(WORK) == 1
        assert message.locked_until_utc is not None and message.locked_until_utc > utc_now()
        redelivered = receive_one(receiver)
        assert (redelivered.message_id, redelivered.delivery_count) == (message.message_id, 1)
        with pytest.raises(MessageLockLostError, match="lock"):
            receiver.complete_message(message)
        with pytest.raises(MessageLockLostError):
            receiver.renew_message_lock(message)
        receiver.complete_message(redelivered)
    assert broker.admin.depth(WORK) == 0


def test_renew_lock_extends_locked_until(client: ServiceBusClient, senders: Senders, broker: RunningServiceBus) -> None:
    sender = senders(SHORT_LOCK)
    sender.send_messages(ServiceBusMessage("long job"))
    with client.get_queue_receiver(SHORT_LOCK) as receiver:
        message = receive_one(receiver)
        first_expiry = message.locked_until_utc
        assert first_expiry is not None
        wait_until(
            lambda: utc_now() > first_expiry - timedelta(seconds=1), timeout=PROMPT, what="half the lock to pass"
        )
        renewed = receiver.renew_message_lock(message)
        assert renewed > first_expiry
        assert message.locked_until_utc == renewed
        wait_until(
            lambda: utc_now() > first_expiry + timedelta(milliseconds=300),
            timeout=PROMPT,
            what="the original lock to pass",
        )
        receiver.complete_message(message)  # still locked thanks to the renewal
    assert broker.admin.queue(SHORT_LOCK)["active"] == 0


# -- scheduling, peeking, receive-and-delete -----------------------------------------------------------------


def test_scheduled_message_is_only_received_after_its_time(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    with client.get_queue_receiver(WORK) as receiver:
        enqueue_at = utc_now() + timedelta(seconds=3)
        [sequence_number] = senders(WORK).schedule_messages(ServiceBusMessage("later"), enqueue_at)
        assert broker.admin.queue(WORK)["scheduled"] == 1
        assert receiver.receive_messages(max_wait_time=1) == []
        assert utc_now() < enqueue_at  # the empty receive above really was before the scheduled time
        message = receive_one(receiver, timeout=PROMPT + 3)
        assert utc_now() >= enqueue_at - timedelta(milliseconds=5)
        assert message.sequence_number == sequence_number
        assert message.enqueued_time_utc is not None and message.enqueued_time_utc >= enqueue_at - timedelta(
            milliseconds=5
        )
        receiver.complete_message(message)


def test_scheduled_enqueue_time_on_a_plain_send(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    with client.get_queue_receiver(WORK) as receiver:
        enqueue_at = utc_now() + timedelta(seconds=2)
        senders(WORK).send_messages(ServiceBusMessage("timed", scheduled_enqueue_time_utc=enqueue_at))
        assert (broker.admin.queue(WORK)["scheduled"], broker.admin.depth(WORK)) == (1, 0)
        message = receive_one(receiver, timeout=PROMPT + 2)
        assert utc_now() >= enqueue_at - timedelta(milliseconds=5)
        assert message.scheduled_enqueue_time_utc is not None
        receiver.complete_message(message)


def test_cancel_scheduled_messages(client: ServiceBusClient, senders: Senders, broker: RunningServiceBus) -> None:
    sender = senders(WORK)
    numbers = sender.schedule_messages([ServiceBusMessage("a"), ServiceBusMessage("b")], utc_now() + timedelta(hours=1))
    assert len(numbers) == 2 and numbers[0] < numbers[1]
    assert broker.admin.queue(WORK)["scheduled"] == 2
    sender.cancel_scheduled_messages(numbers)
    assert broker.admin.queue(WORK)["scheduled"] == 0
    sender.cancel_scheduled_messages(numbers[0])  # cancelling again is a no-op
    assert broker.admin.stats()[WORK] == {
        "active": 0,
        "scheduled": 0,
        "locked": 0,
        "deferred": 0,
        "deadLetter": 0,
        "sessionsLocked": 0,
    }


def test_peek_browses_active_and_scheduled_messages_without_locking(client: ServiceBusClient, senders: Senders) -> None:
    sender = senders(WORK)
    sender.send_messages([ServiceBusMessage(f"m{n}") for n in range(3)])
    [scheduled] = sender.schedule_messages(ServiceBusMessage("s"), utc_now() + timedelta(hours=1))
    with client.get_queue_receiver(WORK) as receiver:
        first_two = receiver.peek_messages(max_message_count=2)
        rest = receiver.peek_messages(max_message_count=10)  # continues after the last peeked
        peeked = first_two + rest
        first = peeked[0].sequence_number
        assert [m.sequence_number for m in peeked] == [first, first + 1, first + 2, scheduled]
        assert [text(m) for m in peeked] == ["m0", "m1", "m2", "s"]
        assert [m.state for m in peeked] == [ServiceBusMessageState.ACTIVE] * 3 + [ServiceBusMessageState.SCHEDULED]
        assert receiver.peek_messages(max_message_count=5, sequence_number=scheduled + 1) == []
        with pytest.raises(ValueError):
            receiver.complete_message(peeked[0])
        # Peeking neither locked nor counted a delivery.
        assert [m.delivery_count for m in receive_all(receiver, 3)] == [0, 0, 0]


def test_receive_and_delete_removes_on_delivery(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(WORK)
    sender.send_messages([ServiceBusMessage("one"), ServiceBusMessage("two")])
    with client.get_queue_receiver(WORK, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE) as receiver:
        messages = receive_all(receiver, 2)
        assert [text(m) for m in messages] == ["one", "two"]
        assert broker.admin.depth(WORK) == 0
        with pytest.raises(ValueError):
            receiver.complete_message(messages[0])
    with client.get_queue_receiver(WORK) as receiver:
        assert receiver.receive_messages(max_wait_time=1) == []


def test_expired_message_is_dead_lettered(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(WORK)
    sender.send_messages(ServiceBusMessage("stale", time_to_live=timedelta(seconds=1)))
    wait_until(
        lambda: broker.admin.dead_letter_depth(WORK) == 1,
        timeout=PROMPT,
        what="the expired message to be dead-lettered",
    )
    assert broker.admin.depth(WORK) == 0
    with client.get_queue_receiver(WORK, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dead_letters:
        assert receive_one(dead_letters).dead_letter_reason == "TTLExpiredException"


def test_concurrent_receivers_never_get_the_same_message(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    expected = [f"job-{n}" for n in range(40)]
    senders(WORK).send_messages([ServiceBusMessage(body) for body in expected])
    received: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        deadline = time.monotonic() + 30
        with client.get_queue_receiver(WORK) as receiver:
            while time.monotonic() < deadline:
                with lock:
                    if len(received) >= len(expected):
                        return
                batch = receiver.receive_messages(max_message_count=5, max_wait_time=1)
                for message in batch:
                    receiver.complete_message(message)
                with lock:
                    received.extend(text(m) for m in batch)

    workers = [threading.Thread(target=consume) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(received) == sorted(expected)  # each exactly once
    assert broker.admin.depth(WORK) == 0


# -- sessions ---------------------------------------------------------------------------------------------


def send_to_sessions(senders: Senders, queue: str, *sessions: str) -> None:
    senders(queue).send_messages([ServiceBusMessage(f"{s}-{n}", session_id=s) for s in sessions for n in range(2)])


def test_session_receiver_gets_only_its_session(client: ServiceBusClient, senders: Senders) -> None:
    send_to_sessions(senders, SESSIONS, "a", "b")
    with client.get_queue_receiver(SESSIONS, session_id="b") as receiver:
        assert receiver.session.session_id == "b"
        messages = receive_all(receiver, 2)
        assert [text(m) for m in messages] == ["b-0", "b-1"]
        assert all(m.session_id == "b" for m in messages)
        assert receiver.receive_messages(max_wait_time=1) == []
        for message in messages:
            receiver.complete_message(message)


def test_a_locked_session_cannot_be_taken_by_a_second_receiver(
    broker: RunningServiceBus, client: ServiceBusClient, senders: Senders, no_retry_client: ServiceBusClient
) -> None:
    send_to_sessions(senders, SESSIONS, "a")
    with client.get_queue_receiver(SESSIONS, session_id="a") as holder:
        assert holder.session.session_id == "a"
        with (
            pytest.raises(SessionCannotBeLockedError),
            no_retry_client.get_queue_receiver(SESSIONS, session_id="a") as contender,
        ):
            contender.receive_messages(max_wait_time=1)
        assert broker.admin.queue(SESSIONS)["sessionsLocked"] == 1
        assert [text(m) for m in receive_all(holder, 2)] == ["a-0", "a-1"]


def test_next_available_session_receivers_get_distinct_sessions(
    broker: RunningServiceBus, client: ServiceBusClient, senders: Senders, no_retry_client: ServiceBusClient
) -> None:
    send_to_sessions(senders, SESSIONS, "a", "b")
    with (
        client.get_queue_receiver(SESSIONS, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=PROMPT) as first,
        client.get_queue_receiver(SESSIONS, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=PROMPT) as second,
    ):
        sessions = {first.session.session_id, second.session.session_id}
        assert sessions == {"a", "b"}
        for receiver in (first, second):
            messages = receive_all(receiver, 2)
            assert {m.session_id for m in messages} == {receiver.session.session_id}
        assert broker.admin.queue(SESSIONS)["sessionsLocked"] == 2
        with (
            pytest.raises(OperationTimeoutError),
            no_retry_client.get_queue_receiver(SESSIONS, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=1) as third,
        ):
            third.receive_messages(max_wait_time=1)
    assert broker.admin.queue(SESSIONS)["sessionsLocked"] == 0


def test_session_lock_renewal_and_state(client: ServiceBusClient, senders: Senders) -> None:
    send_to_sessions(senders, SESSIONS, "a")
    with client.get_queue_receiver(SESSIONS, session_id="a") as receiver:
        session = receiver.session
        before = session.locked_until_utc
        assert before is not None
        wait_until(
            lambda: utc_now() > before - timedelta(seconds=9), timeout=PROMPT, what="some of the session lock to pass"
        )
        assert session.renew_lock() > before
        assert session.get_state() is None
        session.set_state(b"checkpoint-1")
        assert session.get_state() == b"checkpoint-1"
    with client.get_queue_receiver(SESSIONS, session_id="a") as receiver:
        assert receiver.session.get_state() == b"checkpoint-1"  # state outlives the session lock


def test_session_lock_expiry_loses_the_session(
    broker: RunningServiceBus, client: ServiceBusClient, senders: Senders
) -> None:
    send_to_sessions(senders, SHORT_SESSIONS, "a")
    with client.get_queue_receiver(SHORT_SESSIONS, session_id="a") as receiver:
        message = receive_one(receiver)
        locked_until = receiver.session.locked_until_utc
        assert locked_until is not None
        wait_until(
            lambda: broker.admin.queue(SHORT_SESSIONS)["sessionsLocked"] == 0,
            timeout=PROMPT,
            what="the broker to expire the session lock",
        )
        with pytest.raises(SessionLockLostError):
            receiver.complete_message(message)
    with client.get_queue_receiver(SHORT_SESSIONS, session_id="a") as receiver:
        again = receive_one(receiver)
        assert (again.message_id, again.delivery_count) == (message.message_id, 1)


def test_session_queue_refuses_messages_without_session_id(senders: Senders) -> None:
    with pytest.raises(ServiceBusError, match="SessionId"):
        senders(SESSIONS).send_messages(ServiceBusMessage("no session"))


# -- admin surface -----------------------------------------------------------------------------------------


def test_admin_reports_depths_and_reset_empties_every_queue(
    client: ServiceBusClient, senders: Senders, broker: RunningServiceBus
) -> None:
    sender = senders(WORK)
    sender.send_messages([ServiceBusMessage("a"), ServiceBusMessage("b", message_id="kept-id")])
    sender.schedule_messages(ServiceBusMessage("c"), utc_now() + timedelta(hours=1))
    stats = broker.admin.stats()
    assert set(stats) == {WORK, SHORT_LOCK, SESSIONS, SHORT_SESSIONS}
    assert stats[WORK] == {
        "active": 2,
        "scheduled": 1,
        "locked": 0,
        "deferred": 0,
        "deadLetter": 0,
        "sessionsLocked": 0,
    }
    broker.admin.reset()
    assert broker.admin.stats()[WORK] == {
        "active": 0,
        "scheduled": 0,
        "locked": 0,
        "deferred": 0,
        "deadLetter": 0,
        "sessionsLocked": 0,
    }
    senders(WORK).send_messages(ServiceBusMessage("b again", message_id="kept-id"))  # duplicate history reset too
    assert broker.admin.depth(WORK) == 1
    assert broker.admin.health()


def test_the_apps_queue_configuration_is_served(fresh_servicebus: RunningServiceBus) -> None:
    queue = "interconnect-requests"
    with (
        ServiceBusClient.from_connection_string(fresh_servicebus.connection_string) as sb_client,
        sb_client.get_queue_sender(queue) as sender,
    ):
        sender.send_messages(
            [ServiceBusMessage("request", message_id="r-1"), ServiceBusMessage("request", message_id="r-1")]
        )
    assert fresh_servicebus.admin.depth(queue) == 1  # duplicate detection is on for the app's queue
