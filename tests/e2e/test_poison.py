"""Poison on the local cloud: a request row an older version stored with non-ARM cloud ids, a deeply nested
queue message (set aside in the quarantine at its first delivery) and bad continuation tokens. Afterwards
`GET /api/requests`, dry runs, the sweeper and the audit all still work, and the poison is reported, not
hidden (issue 13, items 2, 3, 5). A nested message in the dead-letter queue itself is swept in
tests/integration/test_work_queue.py."""

from __future__ import annotations

import base64
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from interconnect.adapters.quarantine import TableQuarantine
from interconnect.adapters.tables import TableRequestStore
from interconnect.avs.ids import parse_cloud_id
from interconnect.linking.intake import request_id_for
from interconnect.linking.model import Action, LinkRequest, Requester
from localdev import servicebus
from tests.e2e.conftest import App, load_clouds, pc, running_app
from tests.factories import write_poisoned_request

pytestmark = pytest.mark.e2e
SUB, RG = "77777777-7777-7777-7777-777777777777", "rg-poison"
QUEUE = "interconnect-requests"
# What the version before issue 13 turned a signed Slack `confirm_disconnect` button value into: a CloudId
# built without validation, stored as is.
NON_ARM_TARGET = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.AVS/privateClouds/../../evil"
NESTED = b"[" * 100_000 + b"]" * 100_000  # json.loads raises RecursionError on this


@pytest.fixture(scope="module")
def poison_app() -> Iterator[App]:
    # The sweeper every second, and requests stale after 3 s, so a pass is seen within seconds.
    yield from running_app(
        INTERCONNECT_APPROVALS="off",
        INTERCONNECT_SWEEP_SCHEDULE="* * * * * *",
        INTERCONNECT_STALE_MINUTES="0.05",
        INTERCONNECT_SUBSCRIPTIONS=SUB,
    )


def write_unqueued_request(tables: TableServiceClient, source: str, target: str, at: datetime) -> str:
    """A connect recorded but never queued (intake died between the two): only the sweeper can move it."""
    rid = request_id_for("api", None)
    request = LinkRequest(
        id=rid,
        action=Action.CONNECT,
        source=parse_cloud_id(source),
        target=parse_cloud_id(target),
        requester=Requester("api", "alice"),
        created_at=at,
        updated_at=at,
        correlation_id="c",
        fingerprint="f",
        version=1,
    )
    TableRequestStore(tables).create(request)
    return rid


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


BAD_TOKENS = [
    "not base64!",
    b64(b"[1, 2]"),
    b64(b'"just a string"'),
    b64(b'{"PartitionKey": "all", "RowKey": "x"}'),
    b64(b'{"v": 1, "q": "x", "pk": "\\ud800", "rk": "x"}'),
    b64(b"[" * 300 + b"]" * 300),
    "A" * 1500,
]


def test_after_poison_listings_dry_runs_the_sweeper_and_the_audit_all_still_work(poison_app: App) -> None:
    app = poison_app
    clouds = [pc("a", "10.0.0.0/22"), pc("b", "10.0.4.0/22"), pc("c", "10.0.8.0/22")]
    a, b, c = load_clouds(app, clouds, sub=SUB, rg=RG).values()
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert app.call("GET", "requests").status == 200  # the app is up and has made its tables

    # GIVEN a poisoned row on cloud a (unfinished and stale), a deeply nested message set aside
    poisoned = write_poisoned_request(app.tables, source=a, target=NON_ARM_TARGET, at=hour_ago)
    nested_id = f"nested-{uuid.uuid4().hex}"
    with (
        ServiceBusClient.from_connection_string(servicebus.connection_string(app.cloud.sb_port)) as client,
        client.get_queue_sender(QUEUE) as sender,
    ):
        sender.send_messages(ServiceBusMessage(NESTED, message_id=nested_id))
    quarantine = TableQuarantine(app.tables)
    app.wait_until(
        lambda: any(m.message_id == nested_id for m in quarantine.recent(100)), "the nested message to be set aside"
    )
    (nested,) = [m for m in quarantine.recent(100) if m.message_id == nested_id]
    assert (nested.reason, nested.delivery_count, nested.body_length) == ("MALFORMED_MESSAGE", 1, len(NESTED))
    assert app.bus.dead_letter_depth(QUEUE) == 0

    # THEN every bad continuation token is a 400 that says what to do, and the listing answers 200
    for token in BAD_TOKENS:
        refused = app.call("GET", f"requests?continuation={urllib.parse.quote(token, safe='')}")
        assert refused.status == 400, (token[:40], refused.body)
        assert refused.body["error"]["code"] == "INVALID_CONTINUATION"
        assert "leave it out" in refused.body["error"]["message"]
    listed = app.call("GET", "requests")
    assert listed.status == 200, listed.body
    assert listed.body["skipped"] >= 1 and poisoned not in {r["requestId"] for r in listed.body["value"]}
    assert app.call("GET", f"requests?cloud={urllib.parse.quote(a, safe='')}").body["skipped"] == 1

    # ...a dry run on the poisoned cloud answers a verdict, and new work on it still finishes
    dry = app.call("POST", "requests?dryRun=true", {"action": "connect", "source": a, "target": b})
    assert dry.status == 200 and dry.body["allowed"] is True, dry.body
    assert app.wait(app.submit("connect", a, b))["status"] == "Succeeded"

    # ...and the sweeper gets past the poisoned stale row on every pass: a request recorded but never queued
    # is re-driven and finishes, while the nested message stays set aside
    lost = write_unqueued_request(app.tables, a, c, hour_ago)
    assert app.wait(lost)["status"] == "Succeeded"
    assert any(m.message_id == nested_id for m in quarantine.recent(100))

    # ...and an audit run completes, naming what it could not read
    started = app.call("POST", "audits")
    assert started.status == 202, started.body
    app.wait_until_found(f"audits/{started.body['runId']}")
    run = app.call("GET", f"audits/{started.body['runId']}").body
    assert run["summary"]["clouds"] == 3
    assert "QUARANTINED" in {f["code"] for f in run["findings"]}
    assert any("could not be read back" in problem for problem in run["problems"]), run["problems"]
    huge = app.call("GET", "audits/" + "a" * 20_000)
    assert 400 <= huge.status < 500 and "a" * 100 not in str(huge.body)  # a 4xx that does not echo the id
