"""Start and stop the local cloud's child processes: free ports, readiness by condition, no leaks.

Every service runs in its own process group so that stopping it also stops anything it spawned
(Azurite runs under node; a shell wrapper would otherwise leave it behind).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# Ports this process has handed out. A port is chosen long before its service binds it (a cloud picks all of its
# ports, then starts its services one by one, the host last), and meanwhile the kernel may offer the same free
# port again: two services of one cloud then shared a port, and a test's HTTP call reached the AMQP broker.
_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()


def free_port() -> int:
    """A loopback TCP port that is free right now and that this process has never handed out before."""
    with _HANDED_OUT_LOCK:
        for _ in range(1000):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port
    raise RuntimeError("no loopback port left that this process has not handed out already")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02, what: str = "condition") -> None:
    """Poll `condition` until it holds; raise TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Service:
    """A child process listening on `port`, started in its own process group."""

    name: str
    argv: Sequence[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    log_path: Path | None = None
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 15.0) -> Service:
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - closed below
        try:
            self.proc = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdout=out or subprocess.DEVNULL,
                stderr=subprocess.STDOUT if out else subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if out is not None:
                out.close()  # the child holds its own copy of the descriptor
        try:
            wait_until(self._ready, ready_timeout, what=f"{self.name} on port {self.port}")
        except Exception:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.proc.returncode} before it was ready"
                + (f"; see {self.log_path}" if self.log_path else "")
            )
        return port_open(self.port)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, as the chaos tests need."""
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, grace: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._signal(signal.SIGKILL)  # reap anything left in the group
            return
        self._signal(self.stop_signal)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait()
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def __enter__(self) -> Service:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def python_module(module: str, *args: str) -> list[str]:
    """argv to run `python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]
