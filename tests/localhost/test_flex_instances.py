"""Instance groups: HTTP functions together, every other function in its own process, supervised as Flex does.

The functions of apps/flex_app.py report the process they run in, so these tests see which instance ran
what, and crash, replace and drain instances by their pids. Tests that count or name processes pin
`--http-instances` (its default is the machine's CPU count); test_http_instances.py covers several.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from localdev.procs import free_port, port_open, wait_until
from tests.localhost.conftest import FLEX_APP, SAMPLE_QUEUE, Broker, RunningHost, StartHost
from tests.localhost.test_lifecycle import group_gone, run_host

EVERY_SECOND = "* * * * * *"


@pytest.fixture
def client(broker: Broker) -> Iterator[ServiceBusClient]:
    with ServiceBusClient.from_connection_string(broker.connection_string) as sdk:
        yield sdk


def send(client: ServiceBusClient, body: str) -> None:
    with client.get_queue_sender(SAMPLE_QUEUE) as sender:
        sender.send_messages(ServiceBusMessage(body))


def whoami(host: RunningHost, which: str) -> dict[str, Any]:
    status, _, body = host.request("GET", f"/api/whoami/{which}")
    assert status == 200
    return dict(json.loads(body))


def host_pid(host: RunningHost) -> int:
    assert host.service.proc is not None
    return host.service.proc.pid


@pytest.mark.integration
def test_http_functions_share_an_instance_and_every_other_function_has_its_own(
    start_host: StartHost, broker: Broker, client: ServiceBusClient
) -> None:
    host = start_host(
        FLEX_APP, http_instances=1, ServiceBusConnection=broker.connection_string, SAMPLE_SCHEDULE=EVERY_SECOND
    )
    send(client, "hello")

    a, b = whoami(host, "a"), whoami(host, "b")
    queue = host.wait_for_records("on_message", 1)[0]
    tick_a, tick_b = host.wait_for_records("tick_a", 1)[0], host.wait_for_records("tick_b", 1)[0]

    assert a["pid"] == b["pid"]  # the HTTP group
    pids = [a["pid"], queue["pid"], tick_a["pid"], tick_b["pid"]]
    assert len(set(pids)) == 4  # HTTP, the queue function and each timer: four instances
    assert host_pid(host) not in pids  # the host process itself only supervises
    assert {a["ppid"], queue["ppid"], tick_a["ppid"], tick_b["ppid"]} == {host_pid(host)}
    # Non-HTTP instances yield the CPU to the HTTP instance, as separate machines would not compete for it.
    http_niceness = os.getpriority(os.PRIO_PROCESS, a["pid"])
    assert http_niceness == os.getpriority(os.PRIO_PROCESS, host_pid(host))
    assert {os.getpriority(os.PRIO_PROCESS, r["pid"]) for r in (queue, tick_a, tick_b)} == {min(19, http_niceness + 10)}
    ready = f"[flex instances: http#1 pid {a['pid']}, function:on_message pid {queue['pid']}, "
    wait_until(lambda: ready in host.log(), 15, what="the ready line naming every instance")
    log = host.log()
    assert "[function:on_message] " in log and "Executed 'Functions.on_message' (trigger=serviceBus, Succeeded" in log


def test_single_serves_every_function_in_the_host_process(start_host: StartHost) -> None:
    host = start_host(FLEX_APP, instances="single", SAMPLE_SCHEDULE=EVERY_SECOND)

    a = whoami(host, "a")
    tick_a, tick_b = host.wait_for_records("tick_a", 1)[0], host.wait_for_records("tick_b", 1)[0]

    assert {a["pid"], tick_a["pid"], tick_b["pid"]} == {host_pid(host)}
    assert "flex instances" not in host.log()


def test_a_crashed_instance_is_replaced_and_the_others_keep_running(start_host: StartHost) -> None:
    host = start_host(FLEX_APP, http_instances=1, SAMPLE_SCHEDULE=EVERY_SECOND)
    crashed = host.wait_for_records("tick_a", 1)[0]["pid"]
    http_pid = whoami(host, "a")["pid"]

    os.kill(crashed, signal.SIGKILL)
    wait_until(
        lambda: any(r["pid"] != crashed for r in host.records("tick_a")),
        15,
        what=f"a new tick_a instance (log: {host.log_path})",
    )

    assert f"instance function:tick_a (pid {crashed}) exited unexpectedly with status 137" in host.log()
    assert whoami(host, "a")["pid"] == http_pid  # the HTTP instance was not touched
    assert host.service.alive()


def test_the_port_is_closed_until_a_replaced_http_instance_is_ready(start_host: StartHost) -> None:
    host = start_host(FLEX_APP, http_instances=1)  # with one HTTP instance, nothing else serves the port
    crashed = whoami(host, "a")["pid"]
    parent = host_pid(host)

    # Hold the host process so that the replacement cannot start yet: the port must not be open meanwhile.
    os.kill(parent, signal.SIGSTOP)
    try:
        os.kill(crashed, signal.SIGKILL)
        wait_until(lambda: not port_open(host.port), 10, what="the port to close with its instance")
    finally:
        os.kill(parent, signal.SIGCONT)
    wait_until(lambda: port_open(host.port), 15, what=f"the replacement to listen (log: {host.log_path})")

    # Open means ready: the first request after the port opened is answered, by the new instance.
    assert whoami(host, "a")["pid"] != crashed
    wait_until(lambda: "instance http#1 ready (pid" in host.log() and " again" in host.log(), 15, what="the log")


@pytest.mark.integration
def test_sigterm_drains_every_instance_then_exits_0(
    start_host: StartHost, broker: Broker, client: ServiceBusClient, tmp_path: Path
) -> None:
    host = start_host(FLEX_APP, http_instances=2, ServiceBusConnection=broker.connection_string)
    proc = host.service.proc
    assert proc is not None
    http_gate, queue_gate = tmp_path / "http-open", tmp_path / "queue-open"
    send(client, f"gate:{queue_gate}")
    replies: list[tuple[int, bytes]] = []
    request = threading.Thread(target=lambda: replies.append(host.request("GET", f"/api/gate?open={http_gate}")[::2]))
    request.start()
    host.wait_for_records("gate", 1)
    host.wait_for_records("on_message", 1)

    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: not port_open(host.port), 10, what="the host to stop accepting connections")
    assert proc.poll() is None  # both instances are still draining their invocation
    http_gate.touch()
    queue_gate.touch()
    request.join(30)

    assert proc.wait(timeout=30) == 0
    assert replies == [(200, b"released")]
    assert [r["state"] for r in host.records("on_message")] == ["started", "finished"]
    stats = broker.admin.queue(SAMPLE_QUEUE)
    assert (stats["active"], stats["locked"]) == (0, 0)  # completed, not abandoned
    assert group_gone(proc.pid)
    log = host.log()
    assert "[http#1] " in log and "[http#2] " in log
    assert "[function:on_message] " in log and "[function:tick_a] " in log
    assert log.count("INFO localdev.host: stopped") == 5  # http#1, http#2, on_message, tick_a, tick_b


def test_a_second_signal_stops_every_instance_at_once(start_host: StartHost, tmp_path: Path) -> None:
    host = start_host(FLEX_APP)
    proc = host.service.proc
    assert proc is not None
    gate = tmp_path / "never-opened"
    request = threading.Thread(target=answers_gate, args=(host, gate), daemon=True)
    request.start()
    host.wait_for_records("gate", 1)

    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: not port_open(host.port), 10, what="the host to start draining")
    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=15) == 128 + signal.SIGTERM
    wait_until(lambda: group_gone(proc.pid), 10, what="every instance to be gone")
    request.join(30)


def answers_gate(host: RunningHost, gate: Path) -> None:
    with contextlib.suppress(OSError, http.client.HTTPException):  # the instance is killed under it, as intended
        host.request("GET", f"/api/gate?open={gate}")


def test_an_app_that_starts_threads_at_import_is_refused_in_flex(tmp_path: Path) -> None:
    refused = run_host(tmp_path, "--port", str(free_port()), "--app", "tests.localhost.apps.threaded_app")
    assert refused.returncode == 2
    assert "the app started threads at import (started-at-import)" in refused.stderr
    assert "--instances single" in refused.stderr
