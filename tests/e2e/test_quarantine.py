"""The quarantine on the local cloud, through the local host's standard Service Bus trigger.

A message that is no work item, and a work item whose request row cannot be read back, are set aside on their
first delivery with their reason: written to the quarantine table, completed, never redelivered, never in the
dead-letter queue. When the quarantine cannot be written (Table Storage down), the message is abandoned and
redelivered instead, and the broker dead-letters it after maxDeliveryCount tries: nothing is lost.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue

from interconnect.adapters.quarantine import TableQuarantine
from interconnect.linking.quarantine import Quarantined
from interconnect.linking.queue import WorkItem
from localdev import servicebus
from localdev.cloud import QUEUE_NAME
from tests.e2e.conftest import App, running_app
from tests.factories import write_poisoned_request

pytestmark = pytest.mark.e2e
SUB, RG = "66666666-6666-6666-6666-666666666666", "rg-quarantine"
MAX_DELIVERY_COUNT = 10  # localdev/queues.json, as in infra
CLOUD = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.AVS/privateClouds/"


@pytest.fixture(scope="module")
def quarantine_app() -> Iterator[App]:
    yield from running_app(INTERCONNECT_APPROVALS="off", INTERCONNECT_SUBSCRIPTIONS=SUB)


def send(app: App, body: bytes, message_id: str) -> None:
    with (
        ServiceBusClient.from_connection_string(servicebus.connection_string(app.cloud.sb_port)) as client,
        client.get_queue_sender(QUEUE_NAME) as sender,
    ):
        sender.send_messages(ServiceBusMessage(body, message_id=message_id))


def quarantined(app: App, message_id: str) -> Quarantined | None:
    return next((m for m in TableQuarantine(app.tables).recent(1000) if m.message_id == message_id), None)


def deliveries(app: App, message_id: str) -> list[int]:
    """The delivery count of every time the trigger set this message aside, from the host's log."""
    assert app.cloud.log_dir is not None
    text = (app.cloud.log_dir / "host.log").read_text(errors="replace")
    return [int(n) for n in re.findall(rf"set aside message {re.escape(message_id)} \(delivery (\d+),", text)]


def failed_invocations(app: App) -> int:
    assert app.cloud.log_dir is not None
    text = (app.cloud.log_dir / "host.log").read_text(errors="replace")
    return len(re.findall(r"Executed 'Functions\.process_work_item' \(trigger=\w+, Failed,", text))


def settled(app: App) -> bool:
    stats = app.bus.queue(QUEUE_NAME)
    return stats["active"] == 0 and stats["scheduled"] == 0


def sent_and_set_aside_once(app: App, message_id: str, body: bytes, reason: str) -> Quarantined:
    failures_before = failed_invocations(app)
    send(app, body, message_id)
    app.wait_until(lambda: quarantined(app, message_id) is not None, f"{message_id} to be set aside")
    app.wait_until(lambda: settled(app), "the queue to be empty (the message completed)")
    kept = quarantined(app, message_id)
    assert kept is not None
    assert (kept.reason, kept.delivery_count, kept.body, kept.body_length) == (reason, 1, body, len(body))
    assert deliveries(app, message_id) == [1], "set aside at its first delivery, and delivered once"
    assert failed_invocations(app) == failures_before, "no invocation failed, so nothing was abandoned"
    assert app.bus.dead_letter_depth(QUEUE_NAME) == 0
    return kept


def test_a_message_that_is_no_work_item_is_set_aside_at_its_first_delivery(quarantine_app: App) -> None:
    app = quarantine_app
    assert app.call("GET", "requests").status == 200  # the app is up
    message_id = f"junk-{uuid.uuid4().hex}"
    body = b'{"requestId": "../../etc", "kind": "process"}'
    kept = sent_and_set_aside_once(app, message_id, body, "MALFORMED_MESSAGE")
    assert "bad requestId" in kept.description
    # The sweeper and the audit report it (the audit's QUARANTINED finding); the app goes on working.
    started = app.call("POST", "audits")
    assert started.status == 202, started.body
    app.wait_until_found(f"audits/{started.body['runId']}")
    findings = app.call("GET", f"audits/{started.body['runId']}").body["findings"]
    (finding,) = [f for f in findings if f["code"] == "QUARANTINED"]
    assert finding["details"]["count"] >= 1


def test_a_work_item_whose_request_cannot_be_read_back_is_set_aside_at_its_first_delivery(
    quarantine_app: App,
) -> None:
    app = quarantine_app
    assert app.call("GET", "requests").status == 200  # the app is up and has made its tables
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    rid = write_poisoned_request(app.tables, source=CLOUD + "pc-a", target=CLOUD + "../../evil", at=hour_ago)
    message_id = f"old-{uuid.uuid4().hex}"
    body = WorkItem(rid).encode().encode()
    kept = sent_and_set_aside_once(app, message_id, body, "CORRUPT_RECORD")
    assert rid in kept.description


@pytest.fixture
def outage_app() -> Iterator[App]:
    # A cloud of its own: Table Storage is stopped here.
    yield from running_app(INTERCONNECT_APPROVALS="off", INTERCONNECT_SUBSCRIPTIONS=SUB)


def test_when_tables_is_down_the_message_is_redelivered_and_in_the_end_dead_lettered_never_lost(
    outage_app: App,
) -> None:
    app = outage_app
    assert app.call("GET", "requests").status == 200
    tables = app.cloud.service("azurite-table")
    tables.stop()
    message_id = f"junk-{uuid.uuid4().hex}"
    try:
        send(app, b"not a work item", message_id)
        # Each delivery fails (the quarantine cannot be written) and raises: the host abandons the message and
        # the broker redelivers it, until maxDeliveryCount (10); then the broker dead-letters it.
        app.wait_until(lambda: app.bus.dead_letter_depth(QUEUE_NAME) == 1, "the message to be dead-lettered")
        app.wait_until(lambda: failed_invocations(app) >= MAX_DELIVERY_COUNT, "every failed delivery to be logged")
        assert failed_invocations(app) == MAX_DELIVERY_COUNT
    finally:
        tables.start()
    with (
        ServiceBusClient.from_connection_string(servicebus.connection_string(app.cloud.sb_port)) as client,
        client.get_queue_receiver(QUEUE_NAME, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver,
    ):
        (letter,) = receiver.peek_messages(max_message_count=10)
    assert (letter.message_id, letter.dead_letter_reason) == (message_id, "MaxDeliveryCountExceeded")
    assert b"".join(letter.body) == b"not a work item"
    assert deliveries(app, message_id) == []  # never written to the quarantine, and still whole in the DLQ
