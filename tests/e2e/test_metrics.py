"""The metrics of a known run, as the local cloud's telemetry sink (localdev/otlp) received them from the app.

One connect is filed to Succeeded and one refused (its clouds are in different regions), through the REST API on
the local host. Every process of the host exports its own cumulative metrics, so a count is the last value each
process exported for an attribute set, summed over the processes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interconnect.adapters.metrics import INSTRUMENTS
from localdev import otlp
from localdev.cloud import LocalCloud
from localdev.procs import free_port, wait_until
from tests.e2e.conftest import FUNCTION_KEY, STARTED_SETTINGS, App, app_on, cloud_ids, cloud_log_dir, load_clouds, pc

pytestmark = pytest.mark.e2e

SUB, RG = "88888888-8888-8888-8888-888888888888", "rg-metrics"
A, B, FAR = cloud_ids(SUB, RG, "pc-a", "pc-b", "pc-far")
API_CONNECT = {"interconnect.request.action": "connect", "interconnect.channel": "api"}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Path]]:
    telemetry_dir = tmp_path_factory.mktemp("metrics")
    settings = {"LOCALHOST_FUNCTION_KEYS": FUNCTION_KEY, "INTERCONNECT_SUBSCRIPTIONS": SUB}
    cloud = LocalCloud(
        host_port=free_port(), extra_settings=settings, log_dir=cloud_log_dir("metrics"), telemetry_dir=telemetry_dir
    )
    STARTED_SETTINGS.append(cloud.app_settings())  # the log-secrets check reads this cloud's logs too
    with cloud:
        app = app_on(cloud)
        load_clouds(
            app,
            [pc("pc-a", "10.0.0.0/22"), pc("pc-b", "10.0.4.0/22"), pc("pc-far", "10.0.8.0/22", location="eastus")],
            sub=SUB,
            rg=RG,
        )
        yield app, telemetry_dir


def totals(directory: Path, name: str, field: str = "value") -> dict[tuple[tuple[str, Any], ...], float]:
    """`name`'s current totals by attribute set: each process's last exported point (cumulative), summed."""
    last: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[str, float]] = {}
    for point in otlp.metrics(directory):
        if point["name"] != name:
            continue
        attributes = tuple(sorted(point["attributes"].items()))
        key = (json.dumps(point["resource"], sort_keys=True), attributes)
        if key not in last or point["time"] >= last[key][0]:
            last[key] = (point["time"], point[field])
    summed: dict[tuple[tuple[str, Any], ...], float] = {}
    for (_, attributes), (_, value) in last.items():
        summed[attributes] = summed.get(attributes, 0) + value
    return summed


def key(**attributes: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(attributes.items()))


def settled(directory: Path, name: str, expected: dict[tuple[tuple[str, Any], ...], float], field: str) -> None:
    """Wait (deadline, not a sleep) until the sink holds `expected` for `name`; exports run every 2 s."""
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen["last"] = totals(directory, name, field)
        return seen["last"] == expected

    try:
        wait_until(reached, 60, interval=0.5, what=f"{name} to reach {expected}")
    except Exception as exc:
        raise AssertionError(f"{name}: expected {expected}, the sink holds {seen.get('last')}") from exc


def test_a_known_run_shows_its_counts_in_the_local_export(measured: tuple[App, Path]) -> None:
    app, directory = measured
    linked = app.submit("connect", A, B)
    refused = app.submit("connect", A, FAR)
    assert app.wait(linked)["status"] == "Succeeded"
    assert app.wait(refused)["status"] == "Rejected"

    outcome = "interconnect.request.outcome"
    both = {key(**API_CONNECT, **{outcome: "Succeeded"}): 1, key(**API_CONNECT, **{outcome: "Rejected"}): 1}
    settled(directory, "interconnect.requests", both, "value")
    settled(directory, "interconnect.request.duration", both, "count")
    status = "interconnect.request.status"
    settled(
        directory,
        "interconnect.request.decision.duration",
        {key(**API_CONNECT, **{status: "InProgress"}): 1, key(**API_CONNECT, **{status: "Rejected"}): 1},
        "count",
    )
    settled(
        directory,
        "interconnect.operation.recording.delay",
        {key(**{"interconnect.operation.verb": "create", outcome: "Succeeded"}): 1},
        "count",
    )
    # ARM was asked to create the link once and said yes; every call is named by its kind and answer.
    calls = totals(directory, "interconnect.arm.calls")
    puts = {
        dict(k)["http.response.status_code"]: n
        for k, n in calls.items()
        if dict(k)["interconnect.arm.call"] == "cloudLinks.put"
    }
    assert puts and all(200 <= status < 300 for status in puts) and sum(puts.values()) == 1, calls
    assert {dict(k)["interconnect.arm.call"] for k in calls} >= {
        "privateClouds.get",
        "cloudLinks.list",
        "cloudLinks.get",
    }
    assert totals(directory, "interconnect.messages.set_aside") == {}
    # What reached the sink carries the catalogue's names and units, nothing else under our prefix.
    exported = {(p["name"], p["unit"]) for p in otlp.metrics(directory) if p["name"].startswith("interconnect.")}
    assert exported <= {(i.name, i.unit) for i in INSTRUMENTS}


def test_a_throttled_arm_call_shows_as_the_429_it_was_though_the_sdk_retried_it(measured: tuple[App, Path]) -> None:
    app, directory = measured
    # ARM throttles the link's PUT once: the SDK's retry policy tries again after Retry-After and the link is made.
    ids = load_clouds(
        app,
        [pc("pc-c", "10.1.0.0/22"), pc("pc-d", "10.1.4.0/22")],
        sub=SUB,
        rg=RG,
        faults={"errors": [{"status": 429, "count": 1, "methods": ["PUT"], "retryAfter": 0.1}]},
    )
    assert app.wait(app.submit("connect", ids["pc-c"], ids["pc-d"]))["status"] == "Succeeded"
    call, status = "interconnect.arm.call", "http.response.status_code"

    def throttled_put_counted() -> bool:
        return totals(directory, "interconnect.arm.calls").get(key(**{call: "cloudLinks.put", status: 429}), 0) == 1

    wait_until(throttled_put_counted, 60, interval=0.5, what="the throttled PUT to be exported")
