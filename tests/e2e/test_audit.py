"""The audit on the local cloud: one simulated fleet with every kind of trouble, a healthy fleet, and runs
compared with the one before."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.amqp import AmqpAnnotatedMessage

from interconnect.adapters.quarantine import TableQuarantine
from localdev import servicebus
from tests.e2e.conftest import App, cloud_ids, fleet_document, pc, running_app

pytestmark = pytest.mark.e2e
SUB, RG = "66666666-6666-6666-6666-666666666666", "rg-audit"


@pytest.fixture(scope="module")
def audit_app() -> Iterator[App]:
    yield from running_app(
        INTERCONNECT_SUBSCRIPTIONS=SUB,
        INTERCONNECT_STUCK_MINUTES="0.0001",
        INTERCONNECT_STALE_MINUTES="0.001",
        INTERCONNECT_APPROVALS="on",
        INTERCONNECT_APPROVAL_MINUTES="60",
    )


def load(app: App, clouds: list[dict[str, Any]]) -> None:
    throttle = {"reads": None, "writes": None, "deletes": None}
    app.arm.load_fleet(fleet_document(SUB, RG, clouds, faults={"throttle": throttle}))


def run_audit(app: App) -> dict[str, Any]:
    started = app.call("POST", "audits")
    assert started.status == 202, started.body
    run_id = started.body["runId"]
    app.wait_until_found(f"audits/{run_id}")
    return app.call("GET", f"audits/{run_id}").body


def codes(run: dict[str, Any], state: str | None = None) -> set[str]:
    return {f["code"] for f in run["findings"] if state is None or f["state"] == state}


def test_a_healthy_fleet_has_no_findings(audit_app: App) -> None:
    load(audit_app, [pc("a", "10.0.0.0/22"), pc("b", "10.0.4.0/22")])
    a, b = cloud_ids(SUB, RG, "a", "b")
    assert audit_app.wait(audit_app.submit("connect", a, b))["status"] == "Succeeded"
    run = run_audit(audit_app)
    assert run["findings"] == [], run["findings"]
    assert run["summary"]["clouds"] == 2 and run["summary"]["links"] == 1
    assert audit_app.call("GET", "audits/latest").body["runId"] == run["runId"]


def test_every_finding_on_a_troubled_fleet_and_only_changes_reported_next_time(audit_app: App) -> None:
    hub_peers = [pc(f"p{i}", f"172.16.{i * 4}.0/22", links=[{"target": "hub"}]) for i in range(9)]
    load(
        audit_app,
        [
            pc("a", "10.0.0.0/22", links=[{"target": "b", "status": "Failed"}, {"target": "c"}]),
            pc("b", "10.0.4.0/22", links=[{"target": "a", "name": "b-back-to-a"}]),  # both directions
            pc(
                "c",
                "10.0.8.0/22",
                segments=[{"name": "web", "gatewayAddress": "10.0.1.1/24", "connectedGateway": "/infra/tier-1s/t1"}],
            ),  # overlaps a, linked
            pc("d", "10.0.12.0/22", links=[{"target": "e", "status": "Building"}]),  # stays Building
            pc("e", "10.0.16.0/22"),
            pc("f", "10.0.12.0/22", links=[{"target": "e"}]),  # e's peers d and f overlap
            pc("east", "10.9.0.0/22", location="eastus"),
            pc("hub", "10.20.0.0/22"),
            *hub_peers,
            pc("m1", "10.30.0.0/22"),
            pc("m2", "10.30.4.0/22"),
            pc("w1", "10.40.0.0/22"),
            pc("w2", "10.40.4.0/22"),
        ],
    )
    a, east, m1, m2, w1, w2 = cloud_ids(SUB, RG, "a", "east", "m1", "m2", "w1", "w2")
    audit_app.arm.add_link(a, east, name="to-east")  # made "in the portal": service rules do not apply
    made = audit_app.wait(audit_app.submit("connect", m1, m2))
    assert made["status"] == "Succeeded"
    audit_app.arm.remove_link(m1, made["operation"]["linkName"])  # our link vanished
    waiting = audit_app.submit("disconnect", w1, w2)  # sits in AwaitingApproval: a stale request
    audit_app.wait_for(waiting, "AwaitingApproval")
    with (
        ServiceBusClient.from_connection_string(servicebus.connection_string(audit_app.cloud.sb_port)) as client,
        client.get_queue_sender("interconnect-requests") as sender,
    ):
        # Set aside in the quarantine at its first delivery (QUARANTINED)...
        sender.send_messages(ServiceBusMessage(b"not a work item", message_id=uuid.uuid4().hex))
        # ...while an AMQP value body cannot be bound to the standard trigger at all: the broker dead-letters it
        # after maxDeliveryCount deliveries (DEAD_LETTERED)
        sender.send_messages(AmqpAnnotatedMessage(value_body={"requestId": "x"}, properties={"message_id": "value"}))
    audit_app.wait_until(lambda: audit_app.bus.dead_letter_depth("interconnect-requests") >= 1, "a dead letter")
    audit_app.wait_until(lambda: TableQuarantine(audit_app.tables).count() >= 1, "a set-aside message")

    first = run_audit(audit_app)
    expected = {
        "LINK_NOT_ACTIVE",
        "CROSS_REGION_LINK",
        "OVERLAP_ON_LINK",
        "NEIGHBOR_OVERLAP",
        "DUPLICATE_LINK",
        "UNMANAGED_LINK",
        "MISSING_LINK",
        "LINK_LIMIT_NEAR",
        "STALE_REQUEST",
        "DEAD_LETTERED",
        "QUARANTINED",
    }
    assert expected <= codes(first), codes(first)
    assert codes(first, "new") == codes(first)
    second = run_audit(audit_app)
    assert codes(second, "new") == {"LINK_STUCK"}  # still Building: now past the threshold; nothing else new
    assert second["resolved"] == []

    (d,) = cloud_ids(SUB, RG, "d")
    audit_app.arm.set_link_status(d, "e", "Active")
    third = run_audit(audit_app)
    assert {f["code"] for f in third["resolved"]} == {"LINK_STUCK"}
    assert codes(third, "new") == set()
    for finding in first["findings"]:
        assert finding["severity"] in ("critical", "warning", "info") and finding["message"]


def test_the_topology_of_the_latest_audit_in_every_format(audit_app: App) -> None:
    load(
        audit_app,
        [
            pc("a", "10.0.0.0/22", links=[{"target": "b"}]),
            pc("b", "10.0.4.0/22"),
            pc("c", "10.0.8.0/22", links=[{"target": "a", "status": "Failed"}]),
        ],
    )
    run_audit(audit_app)
    graph = audit_app.call("GET", "topology").body
    assert {n["shortName"] for n in graph["nodes"]} == {f"{RG}/a", f"{RG}/b", f"{RG}/c"}
    assert sorted(e["status"] for e in graph["edges"]) == ["Active", "Failed"]
    assert [r["name"] for r in graph["regions"]] == ["westeurope"]
    for fmt, marker in (("mermaid", "flowchart"), ("dot", "digraph"), ("svg", "<svg")):
        assert marker in audit_app.call("GET", f"topology?format={fmt}").body
    assert audit_app.call("GET", "topology?format=png").body["error"]["code"] == "INVALID_FORMAT"
