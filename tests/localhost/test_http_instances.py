"""Several HTTP instances on one port (`--http-instances`), as Flex scales the HTTP group out.

Each request goes on a fresh connection (RunningHost.request), and the kernel picks the instance per
connection, so a test that needs every instance to answer sends requests until each has, with a deadline.
The functions of apps/flex_app.py answer with their pid, which tells the instances apart.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
from pathlib import Path

import pytest

from localdev.host.__main__ import parse_args
from localdev.host.groups import InstanceGroup, default_http_instances, flex_instances
from localdev.procs import port_open, wait_until
from tests.localhost.conftest import FLEX_APP, RunningHost, StartHost
from tests.localhost.test_flex_instances import host_pid, whoami
from tests.localhost.test_lifecycle import group_gone, run_host

_READY_ENTRY = re.compile(r"([\w:#]+) pid (\d+)")


def ready_instances(host: RunningHost) -> dict[str, int]:
    """The instances the ready line names, by name (`http#1`), with their pids."""
    wait_until(lambda: "[flex instances: " in host.log(), 15, what=f"the ready line (log: {host.log_path})")
    listing = host.log().split("[flex instances: ", 1)[1].split("]", 1)[0]
    return {name: int(pid) for name, pid in _READY_ENTRY.findall(listing)}


def answered_by(host: RunningHost, pids: set[int], seen: set[int]) -> bool:
    """Send one request; True once every pid in `pids` has answered one (collected in `seen`)."""
    seen.add(whoami(host, "a")["pid"])
    return pids <= seen


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def listening_sockets(port: int) -> int:
    """How many sockets listen on `port` (any address), from the kernel's table of TCP sockets.

    The sockets themselves, not the processes holding them, tell when a killed instance's socket is gone: its
    main thread shows as a zombie while its other threads are still exiting and the socket is still open, and a
    connection the kernel hands that socket then is reset."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port  # 0A: LISTEN
    return count


def test_two_http_instances_serve_one_port_and_both_answer(start_host: StartHost) -> None:
    host = start_host(FLEX_APP, http_instances=2)
    instances = ready_instances(host)
    http = {instances["http#1"], instances["http#2"]}

    seen: set[int] = set()
    wait_until(lambda: answered_by(host, http, seen), 15, what=f"both HTTP instances to answer (seen {seen})")

    assert len(http) == 2 and seen == http  # two processes, and nothing else answers
    assert host_pid(host) not in http
    for pid in http:  # both are the host's children, at the HTTP instances' priority
        assert parent_of(pid) == host_pid(host)
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, host_pid(host))
    log = host.log()
    assert "[http#1] " in log and "[http#2] " in log


def test_a_killed_http_instance_is_replaced_while_the_other_keeps_the_port_answering(start_host: StartHost) -> None:
    host = start_host(FLEX_APP, http_instances=2)
    instances = ready_instances(host)
    survivor, victim = instances["http#1"], instances["http#2"]
    parent = host_pid(host)

    # Hold the host process so that no replacement starts yet: whatever answers meanwhile is the survivor.
    os.kill(parent, signal.SIGSTOP)
    try:
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: listening_sockets(host.port) == 1, 10, what="the killed instance's socket to close")
        answered = {whoami(host, "a")["pid"] for _ in range(20)}
    finally:
        os.kill(parent, signal.SIGCONT)
    assert answered == {survivor}

    def replacement() -> int | None:
        started = [int(p) for p in re.findall(r"instance http#2 starting \(pid (\d+)\)", host.log())]
        return next((pid for pid in started if pid != victim), None)

    wait_until(lambda: replacement() is not None, 15, what=f"http#2 to be replaced (log: {host.log_path})")
    new = replacement()
    assert new is not None
    wait_until(lambda: f"instance http#2 ready (pid {new}) again" in host.log(), 15, what="the replacement")
    seen: set[int] = set()
    wait_until(lambda: answered_by(host, {new}, seen), 15, what=f"the replacement to answer (seen {seen})")
    assert seen <= {survivor, new}
    log = host.log()
    assert f"instance http#2 (pid {victim}) exited unexpectedly with status 137" in log
    assert "(http#1 still serving)" in log
    assert "instance http#1 (pid" not in log  # http#1 never exited: only exits are logged this way


def test_sigterm_drains_every_http_instance(start_host: StartHost, tmp_path: Path) -> None:
    host = start_host(FLEX_APP, http_instances=2)
    proc = host.service.proc
    assert proc is not None
    instances = ready_instances(host)
    http = {pid for name, pid in instances.items() if name.startswith("http#")}
    gate = tmp_path / "open-gate"
    replies: list[tuple[int, bytes]] = []
    requests: list[threading.Thread] = []

    def held_by_every_instance() -> bool:
        """Start one more held request; True once each HTTP instance holds at least one."""
        before = len(host.records("gate"))
        request = threading.Thread(target=lambda: replies.append(host.request("GET", f"/api/gate?open={gate}")[::2]))
        request.start()
        requests.append(request)
        host.wait_for_records("gate", before + 1)
        return {r["pid"] for r in host.records("gate")} == http

    wait_until(held_by_every_instance, 30, what="a held request in each HTTP instance")
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: not port_open(host.port), 10, what="every HTTP instance to stop accepting connections")
    assert proc.poll() is None  # both instances are still draining their requests
    gate.touch()
    for request in requests:
        request.join(30)

    assert proc.wait(timeout=30) == 0
    assert replies == [(200, b"released")] * len(requests)
    assert group_gone(proc.pid)
    assert host.log().count("INFO localdev.host: stopped") == len(instances)  # each instance drained


def test_a_port_another_sharing_process_holds_stops_startup(tmp_path: Path) -> None:
    """SO_REUSEPORT would let a second host on the same port share it unnoticed: the first instance checks."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        result = run_host(tmp_path, "--port", str(other.getsockname()[1]), "--http-instances", "2")
    assert result.returncode == 2
    assert "cannot listen" in result.stderr
    assert "ready" not in result.stdout


@pytest.mark.parametrize("http_instances", ["1", "2"])
def test_a_busy_port_stops_startup_whatever_the_http_instances(tmp_path: Path, http_instances: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_host(tmp_path, "--port", str(busy.getsockname()[1]), "--http-instances", http_instances)
    assert result.returncode == 2
    assert "cannot listen" in result.stderr


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--http-instances", "0"], "must be at least 1"),
        (["--http-instances", "two"], "not a whole number"),
        (["--instances", "single", "--http-instances", "2"], "applies to --instances flex only"),
    ],
)
def test_http_instances_argument_is_checked(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited_with:
        parse_args(argv)
    assert exited_with.value.code == 2
    assert complaint in capsys.readouterr().err


def test_http_instances_default_to_the_cpus_this_process_may_use() -> None:
    assert parse_args([]).http_instances is None  # decided by the host: one per CPU
    assert default_http_instances() == max(1, len(os.sched_getaffinity(0)))


def test_http_instances_are_numbered_and_every_other_group_has_one() -> None:
    http = InstanceGroup("http", (), True)
    queue = InstanceGroup("function:on_message", (), False)

    assert [i.name for i in flex_instances([http, queue], 3)] == ["http#1", "http#2", "http#3", "function:on_message"]
    assert [i.name for i in flex_instances([http, queue], 1)] == ["http#1", "function:on_message"]
    assert {i.group for i in flex_instances([http, queue], 2)} == {http, queue}


def test_the_port_is_free_again_once_a_sharing_host_stopped(start_host: StartHost) -> None:
    """Nothing of the HTTP instances keeps the port: a socket that shares nothing can claim it after them."""
    host = start_host(FLEX_APP, http_instances=2)
    ready_instances(host)
    host.service.stop()
    with socket.socket() as after:
        after.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as any server: TIME_WAIT is no claim
        after.bind(("127.0.0.1", host.port))  # OSError if a socket of the host were left
