"""Drift on the local cloud: a topology applied through `POST /api/topology/apply` is registered, and the audits
that follow report a link made by hand as TOPOLOGY_UNDECLARED_LINK and a declared link removed by hand as
TOPOLOGY_MISSING_LINK, each naming the link and the document, in the run and on the topology picture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from interconnect.adapters.topology_tables import TableTopologyRegistry
from tests.e2e.conftest import App, cloud_ids, fleet_document, pc, running_app

pytestmark = pytest.mark.e2e
SUB, RG = "19191919-1919-1919-1919-191919191919", "rg-drift"
OTHER_RG = "rg-drift-other"  # in the audited subscription, outside the document's scope
A, B, C, D = cloud_ids(SUB, RG, "pc-a", "pc-b", "pc-c", "pc-d")
[OUTSIDE] = cloud_ids(SUB, OTHER_RG, "pc-outside")

DOCUMENT = f"""\
apiVersion: interconnect/v1
kind: Topology
metadata:
  name: weu-drift
scope:
  resourceGroups: [/subscriptions/{SUB}/resourceGroups/{RG}]
defaults:
  subscription: {SUB}
  resourceGroup: {RG}
links:
  - between: [pc-a, pc-b]
  - from: pc-b
    to: pc-c
    description: made by the apply
""".encode()


@pytest.fixture(scope="module")
def drift_app() -> Iterator[App]:
    yield from running_app(INTERCONNECT_SUBSCRIPTIONS=SUB, INTERCONNECT_APPROVALS="off")


def load(app: App) -> None:
    fleet = fleet_document(
        SUB,
        RG,
        [
            pc("pc-a", "10.0.0.0/22", links=[{"target": "pc-b"}]),
            pc("pc-b", "10.0.4.0/22"),
            pc("pc-c", "10.0.8.0/22"),
            pc("pc-d", "10.0.12.0/22"),
        ],
    )
    fleet["subscriptions"][0]["resourceGroups"].append(
        {"name": OTHER_RG, "privateClouds": [pc("pc-outside", "10.0.16.0/22")]}
    )
    app.arm.load_fleet(fleet)


def yaml_call(app: App, path: str) -> Any:
    return app.call("POST", path, raw=DOCUMENT, headers={"Content-Type": "application/yaml"})


def run_audit(app: App) -> dict[str, Any]:
    started = app.call("POST", "audits")
    assert started.status == 202, started.body
    run_id = started.body["runId"]
    app.wait_until_found(f"audits/{run_id}")
    return app.call("GET", f"audits/{run_id}").body


def drift(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in run["findings"] if f["code"].startswith("TOPOLOGY_")]


def test_a_link_made_by_hand_and_a_declared_link_removed_by_hand_are_drift(drift_app: App) -> None:
    load(drift_app)
    plan = yaml_call(drift_app, "topology/plan")
    assert plan.status == 200 and plan.body["allowed"], plan.body
    applied = yaml_call(drift_app, f"topology/apply?fingerprint={plan.body['fingerprint']}")
    assert applied.status == 202, applied.body
    changeset = applied.body["changeSetId"]
    drift_app.wait_until(
        lambda: drift_app.call("GET", f"changesets/{changeset}").body["status"] != "InProgress",
        "the change set to finish",
    )
    assert drift_app.call("GET", f"changesets/{changeset}").body["status"] == "Succeeded"
    [registered] = TableTopologyRegistry(drift_app.tables).registered()
    assert registered.document == DOCUMENT and registered.name == "weu-drift"

    clean = run_audit(drift_app)
    assert drift(clean) == [], drift(clean)

    drift_app.arm.add_link(A, D, name="by-hand")  # made in the portal, outside the document
    drift_app.arm.add_link(A, OUTSIDE, name="not-ours")  # an end outside the scope: not the document's
    undeclared = run_audit(drift_app)
    [finding] = drift(undeclared)
    assert finding["code"] == "TOPOLOGY_UNDECLARED_LINK" and finding["severity"] == "warning"
    assert finding["state"] == "new" and finding["clouds"] == [A, D]
    assert finding["details"]["link"] == "by-hand" and finding["details"]["topology"] == "weu-drift"
    assert finding["details"]["scope"]["resourceGroups"] == [f"/subscriptions/{SUB}/resourceGroups/{RG}"]
    said = "link by-hand from rg-drift/pc-a to rg-drift/pc-d exists but topology 'weu-drift' does not declare it"
    assert said in finding["message"]

    made = next(link for link in drift_app.links() if link["source"].lower() == B.lower())
    drift_app.arm.remove_link(B, made["name"])  # the link the apply made, removed by hand
    missing = run_audit(drift_app)
    by_code = {f["code"]: f for f in drift(missing)}
    assert set(by_code) == {"TOPOLOGY_UNDECLARED_LINK", "TOPOLOGY_MISSING_LINK"}
    gone = by_code["TOPOLOGY_MISSING_LINK"]
    assert gone["severity"] == "critical" and gone["state"] == "new" and sorted(gone["clouds"]) == sorted([B, C])
    assert gone["details"]["declared"] == {"path": "links[1]", "line": 12}
    said = "topology 'weu-drift' declares a link between rg-drift/pc-b and rg-drift/pc-c (line 12, links[1])"
    assert said in gone["message"]
    assert "MISSING_LINK" in {f["code"] for f in missing["findings"]}  # the apply's request made it: ours, gone
    assert by_code["TOPOLOGY_UNDECLARED_LINK"]["state"] == "open"

    graph = drift_app.call("GET", "topology?format=json").body
    [by_hand] = [e for e in graph["edges"] if e["name"] == "by-hand"]
    assert "TOPOLOGY_UNDECLARED_LINK" in by_hand["findings"]  # beside UNMANAGED_LINK: no request of ours made it
    nodes = {n["id"].lower(): n["findings"] for n in graph["nodes"]}
    assert "TOPOLOGY_MISSING_LINK" in nodes[B.lower()] and "TOPOLOGY_MISSING_LINK" in nodes[C.lower()]
