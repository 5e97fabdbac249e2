"""Outages of Table Storage and Service Bus during intake, and conflicting requests fired at once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.data.tables import TableServiceClient

from localdev import azurite
from localdev.armsim import ArmSimAdmin
from localdev.chaos import Api, check, cloud_id, pair_fleet, wait_terminal
from localdev.cloud import LocalCloud

pytestmark = pytest.mark.reliability


def request_rows(cloud: LocalCloud) -> int:
    tables = TableServiceClient.from_connection_string(azurite.connection_string(cloud.tables_port))
    return sum(1 for _ in tables.get_table_client("requests").query_entities("RowKey eq 'request'"))


def connect(source: str, target: str) -> dict[str, str]:
    return {"action": "connect", "source": cloud_id(source), "target": cloud_id(target)}


@pytest.mark.parametrize("down", ["azurite-table", "servicebus"])
def test_intake_answers_503_and_keeps_nothing_while_a_dependency_is_down(
    chaos_cloud: LocalCloud, api: Api, arm: ArmSimAdmin, down: str
) -> None:
    arm.load_fleet(pair_fleet(3))
    before = api.submit(connect("s0", "t0"), uuid.uuid4().hex)  # accepted before the outage
    rows = request_rows(chaos_cloud)
    service = chaos_cloud.service(down)
    service.stop()
    try:
        status, body = api.call("POST", "requests", connect("s1", "t1"), {"Idempotency-Key": uuid.uuid4().hex})
        assert status == 503, body
        assert body["error"]["code"] in ("DEPENDENCY_UNAVAILABLE", "THROTTLED")
    finally:
        service.start()
    assert request_rows(chaos_cloud) == rows  # nothing half-written
    # The pipeline drains after the restart: the earlier request finishes (re-driven by the sweeper if the
    # broker lost its scheduled messages) and a new one goes through.
    after = api.submit(connect("s2", "t2"), uuid.uuid4().hex)
    report = check(wait_terminal(api, [before, after], timeout=120), arm)
    assert report.statuses == {"Succeeded": 2}, report.summary()
    assert report.ok


def fire_at_once(api: Api, bodies: list[dict[str, str]]) -> list[str]:
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda body: api.submit(body, uuid.uuid4().hex), bodies))


def by_acceptance(api: Api, ids: list[str]) -> list[dict]:
    views = wait_terminal(api, ids, timeout=120)
    return sorted(views.values(), key=lambda v: (v["createdAt"], v["requestId"]))


def test_two_connects_whose_targets_overlap_keep_only_the_first(api: Api, arm: ArmSimAdmin) -> None:
    overlapping = {"name": "c0", "location": "westeurope", "networkBlock": "10.0.4.0/22"}  # = t0's block
    arm.load_fleet(pair_fleet(1, extra=[overlapping]))
    first, second = by_acceptance(api, fire_at_once(api, [connect("s0", "t0"), connect("s0", "c0")]))
    assert first["status"] == "Succeeded"
    assert second["status"] == "Rejected" and [r["code"] for r in second["reasons"]] == ["NEIGHBOR_OVERLAP"]
    assert len(arm.state()["links"]) == 1


def test_the_tenth_link_is_made_and_the_eleventh_refused(api: Api, arm: ArmSimAdmin) -> None:
    peers = [{"name": f"p{i}", "location": "westeurope", "networkBlock": f"10.100.{i * 4}.0/22"} for i in range(11)]
    hub = {
        "name": "hub",
        "location": "westeurope",
        "networkBlock": "10.200.0.0/22",
        "links": [{"target": f"p{i}"} for i in range(9)],
    }
    arm.load_fleet(pair_fleet(0, extra=[hub, *peers]))
    tenth, eleventh = by_acceptance(api, fire_at_once(api, [connect("hub", "p9"), connect("hub", "p10")]))
    assert tenth["status"] == "Succeeded"
    assert eleventh["status"] == "Rejected" and [r["code"] for r in eleventh["reasons"]] == ["LINK_LIMIT"]
    assert len(arm.state()["links"]) == 10


def test_connect_and_disconnect_of_one_pair_apply_in_acceptance_order(api: Api, arm: ArmSimAdmin) -> None:
    arm.load_fleet(pair_fleet(1))
    disconnect = {"action": "disconnect", "source": cloud_id("s0"), "target": cloud_id("t0")}
    first, second = by_acceptance(api, fire_at_once(api, [connect("s0", "t0"), disconnect]))
    assert (first["status"], second["status"]) == ("Succeeded", "Succeeded")
    linked = arm.state()["links"]
    if first["action"] == "connect":
        assert second["outcome"].startswith("unlinked") and linked == []
    else:
        assert first["outcome"].startswith("not linked") and len(linked) == 1
