"""Connect and disconnect through the REST API, end to end on the local cloud."""

from __future__ import annotations

import uuid

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from interconnect.adapters.quarantine import TableQuarantine
from interconnect.linking.quarantine import Quarantined
from localdev import servicebus
from tests.e2e.conftest import App, puts

QUEUE = "interconnect-requests"

pytestmark = pytest.mark.e2e


def test_connect_then_disconnect(app: App, fleet: dict[str, str]) -> None:
    response = app.call(
        "POST", "requests", {"action": "connect", "source": fleet["a"], "target": fleet["b"], "reference": "CHG-1"}
    )
    assert response.status == 202
    assert response.headers["Location"] == response.body["statusUrl"]
    assert response.body["status"] == "Accepted"
    done = app.wait(response.body["requestId"])
    assert done["status"] == "Succeeded", done
    assert [e["status"] for e in done["events"]][:3] == ["Accepted", "Validating", "InProgress"]
    (link,) = app.links()
    assert link["source"].lower() == fleet["a"].lower()
    assert link["properties"]["linkedCloud"].lower() == fleet["b"].lower()
    assert link["properties"]["status"] == "Active"

    seen_from_b = app.call("GET", f"links?cloud={fleet['b']}").body["value"]
    assert [(v["direction"], v["status"]) for v in seen_from_b] == [("incoming", "Active")]

    gone = app.wait(app.submit("disconnect", fleet["b"], fleet["a"]))
    assert gone["status"] == "Succeeded", gone
    assert app.links() == []


def test_connect_while_linked_is_a_noop_without_a_second_put(app: App, fleet: dict[str, str]) -> None:
    assert app.wait(app.submit("connect", fleet["a"], fleet["b"]))["status"] == "Succeeded"
    before = puts(app)
    again = app.wait(app.submit("connect", fleet["b"], fleet["a"]))
    assert again["status"] == "Succeeded" and again["outcome"].startswith("already linked")
    assert puts(app) == before == 1


def test_disconnect_when_not_linked_is_a_noop(app: App, fleet: dict[str, str]) -> None:
    done = app.wait(app.submit("disconnect", fleet["a"], fleet["b"]))
    assert done["status"] == "Succeeded" and done["outcome"].startswith("not linked")


def test_different_regions_are_rejected(app: App, fleet: dict[str, str]) -> None:
    done = app.wait(app.submit("connect", fleet["a"], fleet["far"]))
    assert done["status"] == "Rejected"
    assert [r["code"] for r in done["reasons"]] == ["REGION_MISMATCH"]
    assert done["events"][-1]["reasons"] == done["reasons"]
    assert puts(app) == 0


def test_unknown_cloud_is_rejected(app: App, fleet: dict[str, str]) -> None:
    done = app.wait(app.submit("connect", fleet["a"], fleet["missing"]))
    assert done["status"] == "Rejected"
    assert [r["code"] for r in done["reasons"]] == ["CLOUD_NOT_FOUND"]


BAD = [
    (b"{not json", "INVALID_JSON"),
    (b'{"action": "connect"}', "MISSING_FIELD"),
    (b'{"action": "connect", "source": "pc-a", "target": "/subscriptions/x"}', "INVALID_ID"),
]


@pytest.mark.parametrize(("raw", "code"), BAD)
def test_bad_input_is_refused_and_nothing_is_stored_or_queued(
    app: App, fleet: dict[str, str], raw: bytes, code: str
) -> None:
    rows, queued = app.request_rows(), app.bus.stats()
    response = app.call("POST", "requests", raw=raw)
    assert response.status == 400 and response.body["error"]["code"] == code
    assert response.body["error"]["message"]
    assert app.request_rows() == rows
    assert app.bus.stats() == queued


def test_same_cloud_is_refused(app: App, fleet: dict[str, str]) -> None:
    rows = app.request_rows()
    response = app.call(
        "POST",
        "requests",
        {
            "action": "connect",
            "source": fleet["a"],
            "target": fleet["a"].upper().replace("SUBSCRIPTIONS", "subscriptions"),
        },
    )
    assert response.status == 400 and response.body["error"]["code"] == "SAME_CLOUD"
    assert app.request_rows() == rows


def test_idempotency_key_returns_the_same_request(app: App, fleet: dict[str, str]) -> None:
    body = {"action": "connect", "source": fleet["a"], "target": fleet["b"]}
    first = app.call("POST", "requests", body, headers={"Idempotency-Key": f"k-{fleet['a']}"})
    second = app.call("POST", "requests", body, headers={"Idempotency-Key": f"k-{fleet['a']}"})
    assert (first.status, second.status) == (202, 200)
    assert first.body["requestId"] == second.body["requestId"]
    other = app.call(
        "POST", "requests", {**body, "reference": "different"}, headers={"Idempotency-Key": f"k-{fleet['a']}"}
    )
    assert other.status == 409 and other.body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert app.wait(first.body["requestId"])["status"] == "Succeeded"
    assert puts(app) == 1


def test_listing_requests_by_cloud_and_status(app: App, fleet: dict[str, str]) -> None:
    first = app.wait(app.submit("connect", fleet["a"], fleet["far"]))["requestId"]
    second = app.wait(app.submit("disconnect", fleet["a"], fleet["b"]))["requestId"]
    listed = app.call("GET", f"requests?cloud={fleet['a']}").body["value"]
    assert [r["requestId"] for r in listed] == [second, first]
    rejected = app.call("GET", f"requests?cloud={fleet['a']}&status=Rejected").body["value"]
    assert [r["requestId"] for r in rejected] == [first]
    paged = app.call("GET", f"requests?cloud={fleet['a']}&limit=1").body
    assert [r["requestId"] for r in paged["value"]] == [second] and paged["continuation"]


def test_unknown_request_is_404_with_an_error_body(app: App) -> None:
    response = app.call("GET", "requests/00000000-0000-0000-0000-000000000000")
    assert response.status == 404 and response.body["error"]["code"] == "REQUEST_NOT_FOUND"


def test_function_key_is_required_but_health_is_anonymous(app: App) -> None:
    assert app.call("GET", "requests", key=None).status == 401
    health = app.call("GET", "health", key=None)
    assert health.status == 200, health.body
    assert health.body["checks"] == {"tables": {"ok": True}, "serviceBus": {"ok": True}, "arm": {"ok": True}}


def test_dry_run_reports_every_reason_and_records_nothing(app: App, fleet: dict[str, str]) -> None:
    rows = app.request_rows()
    response = app.call(
        "POST", "requests?dryRun=true", {"action": "connect", "source": fleet["a"], "target": fleet["far"]}
    )
    assert response.status == 200
    assert response.body["allowed"] is False
    assert [r["code"] for r in response.body["reasons"]] == ["REGION_MISMATCH"]
    assert response.body["facts"]["source"]["routedPrefixes"][0]["prefix"] == "10.0.0.0/22"
    assert app.request_rows() == rows
    ok = app.call("POST", "requests?dryRun=true", {"action": "connect", "source": fleet["a"], "target": fleet["b"]})
    assert ok.body["allowed"] is True and puts(app) == 0


def test_a_message_that_is_no_work_item_is_set_aside_at_once_with_the_reason(app: App, fleet: dict[str, str]) -> None:
    tag = uuid.uuid4().hex
    bad = {
        f"{tag}-bytes": (b"\x80 not json", "not valid UTF-8"),
        f"{tag}-shape": (b'{"kind": "process"}', "no requestId"),
    }
    with (
        ServiceBusClient.from_connection_string(servicebus.connection_string(app.cloud.sb_port)) as client,
        client.get_queue_sender(QUEUE) as sender,
    ):
        sender.send_messages([ServiceBusMessage(body, message_id=message_id) for message_id, (body, _) in bad.items()])
    quarantine = TableQuarantine(app.tables)

    def kept() -> dict[str, Quarantined]:
        return {m.message_id: m for m in quarantine.recent(500) if m.message_id in bad}

    app.wait_until(lambda: set(kept()) == set(bad), "the messages to be set aside", timeout=30)
    for message_id, message in kept().items():
        body, why = bad[message_id]
        assert (message.reason, message.body) == ("MALFORMED_MESSAGE", body)
        assert why in message.description, message.description
        assert message.delivery_count == 1  # not after 10 deliveries
    # The trigger goes on handling the messages it can decode.
    assert app.wait(app.submit("connect", fleet["a"], fleet["b"]))["status"] == "Succeeded"
