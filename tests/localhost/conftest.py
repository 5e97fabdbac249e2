"""Start the local Functions host as a child process with a test app, and observe what it runs."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localdev import host, servicebus
from localdev.procs import Service, free_port, wait_until

APPS = Path(__file__).parent / "apps"
SAMPLE_APP = "tests.localhost.apps.sample_app"
TIMER_APP = "tests.localhost.apps.timer_app"
FLEX_APP = "tests.localhost.apps.flex_app"
# A schedule that fires on 1 January only: present, but quiet during a test.
QUIET_SCHEDULE = "0 0 0 1 1 *"


@dataclass
class RunningHost:
    service: Service
    record_path: Path
    log_path: Path

    @property
    def port(self) -> int:
        return self.service.port

    def records(self, function: str | None = None) -> list[dict[str, Any]]:
        if not self.record_path.exists():
            return []
        lines = self.record_path.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        return [r for r in rows if function is None or r["function"] == function]

    def wait_for_records(self, function: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        wait_until(
            lambda: len(self.records(function)) >= count,
            timeout,
            what=f"{count} invocation(s) of {function} (log: {self.log_path})",
        )
        return self.records(function)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


StartHost = Callable[..., RunningHost]


def _start(
    tmp: Path,
    app_module: str,
    settings: Mapping[str, str],
    instances: str = "flex",
    http_instances: int | None = None,
) -> RunningHost:
    record_path, log_path = tmp / "records.jsonl", tmp / "host.log"
    empty_settings = tmp / "local.settings.json"
    empty_settings.write_text('{"IsEncrypted": false, "Values": {}}')
    env = {
        "SAMPLE_RECORD_PATH": str(record_path),
        "SAMPLE_QUEUE": "sample-queue",
        "SAMPLE_SESSION_QUEUE": "sample-sessions",
        "SAMPLE_SCHEDULE": QUIET_SCHEDULE,
        # Nothing listens here: the host must serve HTTP and timers without a broker.
        "ServiceBusConnection": f"Endpoint=sb://127.0.0.1:{free_port()};SharedAccessKeyName=k;"
        "SharedAccessKey=s;UseDevelopmentEmulator=true",
        **settings,
    }
    service = host.service(
        free_port(),
        env,
        app_module,
        log_path,
        settings=empty_settings,
        host_json=APPS / "host.json",
        instances=instances,
        http_instances=http_instances,
    )
    service.start(ready_timeout=30)
    return RunningHost(service, record_path, log_path)


@pytest.fixture
def start_host(tmp_path: Path) -> Iterator[StartHost]:
    """Start a host per call (`start_host(app_module, instances="flex", http_instances=None, **settings)`;
    None: the host's default); all are stopped after the test."""
    started: list[RunningHost] = []

    def start(
        app_module: str = SAMPLE_APP, instances: str = "flex", http_instances: int | None = None, **settings: str
    ) -> RunningHost:
        directory = tmp_path / f"host{len(started)}"
        directory.mkdir()
        running = _start(directory, app_module, settings, instances, http_instances)
        started.append(running)
        return running

    yield start
    for running in started:
        running.service.stop()


@pytest.fixture(scope="module")
def module_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningHost]]:
    """Like start_host, but the hosts live for the whole module (for read-only HTTP tests)."""
    started: list[RunningHost] = []

    def start(app_module: str = SAMPLE_APP, **settings: str) -> RunningHost:
        running = _start(tmp_path_factory.mktemp("host"), app_module, settings)
        started.append(running)
        return running

    yield start
    for running in started:
        running.service.stop()


# --- Service Bus stand-in ----------------------------------------------------------------------------

SAMPLE_QUEUE, SESSION_QUEUE, SHORT_LOCK_QUEUE = "sample-queue", "sample-sessions", "short-lock"
MAX_DELIVERY_COUNT = 3
SHORT_LOCK_SECONDS = 2
QUEUES = {
    "queues": [
        {
            "name": SAMPLE_QUEUE,
            "lockDuration": "PT30S",
            "maxDeliveryCount": MAX_DELIVERY_COUNT,
            "requiresSession": False,
        },
        {
            "name": SHORT_LOCK_QUEUE,
            "lockDuration": f"PT{SHORT_LOCK_SECONDS}S",
            "maxDeliveryCount": MAX_DELIVERY_COUNT,
            "requiresSession": False,
        },
        {
            "name": SESSION_QUEUE,
            "lockDuration": "PT30S",
            "maxDeliveryCount": MAX_DELIVERY_COUNT,
            "requiresSession": True,
        },
    ]
}


@dataclass
class Broker:
    port: int
    admin_port: int
    config_path: Path
    log_path: Path
    service: Service | None = None

    @property
    def connection_string(self) -> str:
        return servicebus.connection_string(self.port)

    @property
    def admin(self) -> servicebus.ServiceBusAdmin:
        return servicebus.ServiceBusAdmin(self.admin_port)

    def start(self) -> None:
        """Start (or restart, on the same ports) the broker; its queues start empty."""
        self.service = servicebus.service(self.port, self.admin_port, self.config_path, self.log_path)
        self.service.start(ready_timeout=30)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    config = tmp_path / "queues.json"
    config.write_text(json.dumps(QUEUES))
    running = Broker(free_port(), free_port(), config, tmp_path / "servicebus.log")
    running.start()
    yield running
    running.stop()
