"""The app on the local host on the local cloud, driven over HTTP as a user would.

One local cloud and host per session (starting them costs seconds); each test loads its own fleet into
the ARM simulator and uses unique clouds, so tests never depend on each other's leftovers.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient

from localdev import azurite
from localdev.armsim import ArmSimAdmin
from localdev.cloud import LocalCloud
from localdev.procs import ROOT, free_port, wait_until
from localdev.servicebus import ServiceBusAdmin
from tests.e2e import contract

FUNCTION_KEY = "e2e-fake-function-key"
TERMINAL = {"Succeeded", "Rejected", "Failed", "Expired"}
# Every local cloud a test session starts writes its logs (host and worker included) under one directory, which
# tests/security/test_log_secrets.py greps for keys, tokens and secrets. The last few sessions' logs are kept
# (and any session younger than a day: another one may still be writing).
TEST_LOGS = ROOT / ".localcloud" / "test-logs"
SESSION_LOGS = TEST_LOGS / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
KEEP_SESSIONS = 3
KEEP_SECONDS = 24 * 3600
# The settings of every local cloud this session started, for the same test to know which secrets to look for.
STARTED_SETTINGS: list[dict[str, str]] = []


def cloud_log_dir(name: str) -> Path:
    """A fresh directory under this session's log directory for one local cloud's logs."""
    if not SESSION_LOGS.exists():
        SESSION_LOGS.mkdir(parents=True)
        for old in sorted(TEST_LOGS.iterdir())[:-KEEP_SESSIONS]:
            if time.time() - old.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
    path = SESSION_LOGS / f"{name}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass
class App:
    cloud: LocalCloud
    arm: ArmSimAdmin
    bus: ServiceBusAdmin
    tables: TableServiceClient

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        key: str | None = FUNCTION_KEY,
    ) -> Response:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            all_headers["x-functions-key"] = key
        request = urllib.request.Request(
            f"{self.cloud.host_url}/api/{path}", data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, got_headers, text = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            status, got_headers, text = err.code, dict(err.headers), err.read()
        # Every answer must be one the OpenAPI document allows: a violation fails the test that made the call.
        contract.check(method, path, status, got_headers, text)
        is_json = {k.lower(): v for k, v in got_headers.items()}.get("content-type", "").startswith("application/json")
        return Response(status, got_headers, (json.loads(text) if is_json else text.decode()) if text else None)

    def submit(self, action: str, source: str, target: str, **extra: Any) -> str:
        response = self.call("POST", "requests", {"action": action, "source": source, "target": target, **extra})
        assert response.status == 202, response.body
        return response.body["requestId"]

    def wait(self, request_id: str, timeout: float = 60) -> dict[str, Any]:
        """The request once it is terminal."""
        found: dict[str, Any] = {}

        def terminal() -> bool:
            found.update(self.call("GET", f"requests/{request_id}").body)
            return found.get("status") in TERMINAL

        wait_until(terminal, timeout, interval=0.1, what=f"request {request_id} to finish")
        return found

    def wait_for(self, request_id: str, status: str, timeout: float = 30) -> None:
        wait_until(
            lambda: self.call("GET", f"requests/{request_id}").body.get("status") == status,
            timeout,
            interval=0.1,
            what=f"request {request_id} to be {status}",
        )

    def wait_until_found(self, path: str, timeout: float = 60) -> None:
        wait_until(lambda: self.call("GET", path).status == 200, timeout, interval=0.2, what=f"{path} to exist")

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        wait_until(condition, timeout, interval=0.2, what=what)

    def links(self) -> list[dict[str, Any]]:
        return self.arm.state()["links"]

    def request_rows(self) -> int:
        table = self.tables.get_table_client("requests")
        try:
            return sum(1 for _ in table.query_entities("RowKey eq 'request'"))
        except ResourceNotFoundError:  # the table is made with the first request a fresh cloud stores
            return 0


def new_cloud(settings: Mapping[str, str], log_name: str = "e2e") -> LocalCloud:
    """A local cloud (not yet started) with `settings`, logging under this session's logs, and its settings
    recorded for the log-secrets check."""
    cloud = LocalCloud(host_port=free_port(), extra_settings=dict(settings), log_dir=cloud_log_dir(log_name))
    STARTED_SETTINGS.append(cloud.app_settings())
    return cloud


def app_on(cloud: LocalCloud) -> App:
    """The handle the tests drive a running local cloud through."""
    return App(
        cloud,
        ArmSimAdmin(cloud.arm_url),
        ServiceBusAdmin(cloud.sb_admin_port),
        TableServiceClient.from_connection_string(azurite.connection_string(cloud.tables_port)),
    )


def running_app(**settings: str) -> Iterator[App]:
    with new_cloud({"LOCALHOST_FUNCTION_KEYS": FUNCTION_KEY, **settings}) as cloud:
        yield app_on(cloud)


@pytest.fixture(scope="session")
def app() -> Iterator[App]:
    # Approvals are off here; tests/e2e/test_approvals.py runs its own cloud with them on.
    yield from running_app(INTERCONNECT_APPROVALS="off")


def cloud_ids(sub: str, rg: str, *names: str) -> list[str]:
    return [f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/{n}" for n in names]


FAST = {"buildSeconds": 1, "deleteSeconds": 1, "retryAfter": 1}  # simulated operations that finish in a second


def pc(name: str, block: str, location: str = "westeurope", **extra: Any) -> dict[str, Any]:
    """One private cloud of an armsim fleet document; `extra` adds links and the like."""
    return {"name": name, "location": location, "networkBlock": block, **extra}


def fleet_document(
    sub: str, rg: str, clouds: Sequence[Mapping[str, Any]], *, faults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An armsim fleet of one subscription and resource group holding `clouds`, with fast operations."""
    document: dict[str, Any] = {
        "settings": FAST,
        "subscriptions": [{"id": sub, "resourceGroups": [{"name": rg, "privateClouds": list(clouds)}]}],
    }
    if faults is not None:
        document["faults"] = dict(faults)
    return document


def load_clouds(
    app: App,
    clouds: Sequence[Mapping[str, Any]],
    *,
    sub: str | None = None,
    rg: str | None = None,
    faults: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Load `clouds` into the ARM simulator (in a fresh subscription and resource group unless named) and clear
    its call log, so what a test then counts is its own traffic. Each cloud's id, by name."""
    sub = sub or str(uuid.uuid4())
    rg = rg or f"rg-{uuid.uuid4().hex[:6]}"
    app.arm.load_fleet(fleet_document(sub, rg, clouds, faults=faults))
    app.arm.clear_calls()
    names = [cloud["name"] for cloud in clouds]
    return dict(zip(names, cloud_ids(sub, rg, *names), strict=True))


@pytest.fixture
def fleet(app: App) -> dict[str, str]:
    """A fresh fleet of unique clouds: a, b (westeurope), far (eastus); fast simulated operations."""
    sub, rg = str(uuid.uuid4()), f"rg-{uuid.uuid4().hex[:6]}"
    clouds = [pc("a", "10.0.0.0/22"), pc("b", "10.0.4.0/22"), pc("far", "10.0.8.0/22", "eastus")]
    return {**load_clouds(app, clouds, sub=sub, rg=rg), "missing": cloud_ids(sub, rg, "missing")[0]}


def puts(app: App) -> int:
    return sum(1 for call in app.arm.calls("cloudLinks.put"))
