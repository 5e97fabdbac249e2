"""Host process lifecycle: startup validation, graceful shutdown, nothing left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from localdev.procs import ROOT, free_port, port_open, wait_until
from tests.localhost.conftest import APPS, SAMPLE_APP, StartHost


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("instances", ["flex", "single"])
def test_sigterm_lets_in_flight_requests_finish_then_exits_cleanly(
    start_host: StartHost, tmp_path: Path, instances: str
) -> None:
    host = start_host(instances=instances)
    proc = host.service.proc
    assert proc is not None
    gate = tmp_path / "open-gate"
    replies: list[tuple[int, bytes]] = []
    request = threading.Thread(target=lambda: replies.append(host.request("GET", f"/api/gate?open={gate}")[::2]))
    request.start()
    host.wait_for_records("gate", 1)

    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: not port_open(host.port), 10, what="the host to stop accepting connections")
    assert proc.poll() is None  # still draining the request in flight
    gate.touch()
    request.join(30)

    assert replies == [(200, b"released")]
    assert proc.wait(timeout=15) == 0
    assert group_gone(proc.pid)
    assert "shutting down" in host.log()


@pytest.mark.parametrize("instances", ["flex", "single"])
def test_stopping_leaves_no_process_behind(start_host: StartHost, instances: str) -> None:
    host = start_host(instances=instances)
    proc = host.service.proc
    assert proc is not None
    host.service.stop()
    assert proc.returncode == 0
    assert group_gone(proc.pid)


def run_host(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    settings = tmp_path / "local.settings.json"
    settings.write_text('{"Values": {}}')
    base = {
        "SAMPLE_RECORD_PATH": str(tmp_path / "records"),
        "SAMPLE_QUEUE": "q",
        "SAMPLE_SESSION_QUEUE": "s",
        "SAMPLE_SCHEDULE": "0 0 0 1 1 *",
        "ServiceBusConnection": "Endpoint=sb://127.0.0.1:1;"
        "SharedAccessKeyName=k;SharedAccessKey=s;UseDevelopmentEmulator=true",
    }
    environ = {k: v for k, v in os.environ.items() if k not in base} | base | env
    argv = [
        sys.executable,
        "-m",
        "localdev.host",
        "--app",
        SAMPLE_APP,
        "--settings",
        str(settings),
        "--host-json",
        str(APPS / "host.json"),
        *args,
    ]
    return subprocess.run(
        argv, cwd=ROOT, env={k: v for k, v in environ.items() if v}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("SAMPLE_QUEUE", "app setting 'SAMPLE_QUEUE'"),
        ("SAMPLE_SCHEDULE", "app setting 'SAMPLE_SCHEDULE'"),
        ("ServiceBusConnection", "set app setting 'ServiceBusConnection'"),
    ],
)
def test_a_missing_setting_stops_startup_naming_it(tmp_path: Path, unset: str, named: str) -> None:
    result = run_host(tmp_path, "--port", str(free_port()), **{unset: ""})
    assert result.returncode == 2
    assert named in result.stderr
    assert "ready" not in result.stdout


def test_a_busy_port_stops_startup(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_host(tmp_path, "--port", str(busy.getsockname()[1]))
    assert result.returncode == 2
    assert "cannot listen" in result.stderr


def test_an_unknown_app_module_stops_startup(tmp_path: Path) -> None:
    result = run_host(tmp_path, "--port", str(free_port()), "--app", "no_such_module_here")
    assert result.returncode == 2
    assert "cannot import app module 'no_such_module_here'" in result.stderr


def test_an_sdk_typed_service_bus_trigger_stops_startup(tmp_path: Path) -> None:
    result = run_host(tmp_path, "--port", str(free_port()), "--app", "tests.localhost.apps.sdk_typed_app")
    assert result.returncode == 2
    assert "function 'on_sdk_message': trigger parameter 'msg' is annotated azure.servicebus" in result.stderr
    assert "ready" not in result.stdout
