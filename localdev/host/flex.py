"""`--instances flex`: processes per instance group, supervised as Flex Consumption supervises instances.

The parent imports the app and validates it once (runtime.plan), then forks the instances (groups.py):
`--http-instances` processes of the HTTP group (`http#1` ...), all serving one port, and one for each
non-HTTP function. A forked child starts with the app already imported, so N instances cost one import,
and it imports only the machinery its group needs.

Several HTTP instances share the port with SO_REUSEPORT (Linux only): each binds its own socket, only when
it is about to serve, and the kernel spreads new connections among the sockets that listen. So the port
accepts once one HTTP instance serves and stays open while any does; a dead instance's socket closes with
it, and the kernel sends it nothing more (connections it had not yet accepted are reset, as a crash loses
its requests).

Why the parent creates no thread, socket or SDK client, before the first fork or ever: fork copies only
the calling thread. A thread created earlier (an SDK executor, a lock renewer, a server) would not exist
in the child, yet any lock it held stays locked there forever; a socket or SDK client (an AMQP link, a gRPC
channel, an HTTP connection pool) would be shared by two processes writing one byte stream. The parent
forks again whenever it replaces a failed instance, so it stays that bare for its whole life: it holds
only the pipes to its children. An app that starts threads at import cannot be forked safely and is
refused (use `--instances single`).

Talking to children, without signals: each child writes one byte on its *ready* pipe once it serves;
the parent closes the child's *control* pipe to make it drain (end of file also tells an orphan that its
parent is gone). Children ignore SIGTERM and SIGINT, because those reach the whole process group (Ctrl-C in
a terminal, `localdev.procs.Service.stop`), and the parent's request must not count as a second signal.
So the parent alone decides: the first signal drains every child, a second one kills them and exits.
Children stay in the parent's process group, so `Service.kill()` still crashes the whole host at once.

A child that dies unexpectedly is replaced on its own after a backoff, as Flex replaces a failed instance;
the others keep serving, so the port closes only while no HTTP instance serves. Restarts and their backoff
are counted per instance, not per group: `http#1` failing again and again does not delay `http#2`'s
replacement. A child that fails before it was first ready (a busy port) stops the whole host with status 2.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import NoReturn

from localdev.host.groups import (
    FlexInstance,
    InstanceGroup,
    default_http_instances,
    flex_groups,
    flex_instances,
    port_sharing_supported,
)
from localdev.host.runtime import (
    LISTENER_GRACE,
    SIGNAL_POLL,
    HostPlan,
    Instance,
    configure_logging,
    exit_now,
    install_signal_handlers,
)

log = logging.getLogger("localdev.host.flex")

_READY = b"r"
_RESTART_FIRST, _RESTART_MAX = 0.5, 10.0
# An instance that served this long before it died is a new failure, not the same one again.
_HEALTHY_AFTER = 30.0
_PARENT_GROUP = "host"
# Exit status of a child whose instance failed in an unexpected way (not a busy port).
_CHILD_FAILED = 70
# On Flex, instance groups run on separate machines, so a busy worker never takes CPU from an HTTP
# instance. On one machine the nearest thing is priority: non-HTTP instances yield the CPU to the HTTP
# instance whenever both want it (and get all of it otherwise).
_BACKGROUND_NICENESS = 10
_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
# How long the host waits, once its instances are gone, for processes they started to end.
_ORPHAN_GRACE = 2.0


@dataclass
class _Child:
    instance: FlexInstance
    pid: int
    ready_fd: int  # parent's read end of the ready pipe
    control_fd: int  # parent's write end of the control pipe; closing it drains the child
    started: float
    ready: bool = False

    def close_control(self) -> None:
        if self.control_fd >= 0:
            os.close(self.control_fd)
            self.control_fd = -1

    def close(self) -> None:
        os.close(self.ready_fd)
        self.close_control()


@dataclass
class _Pending:
    """A failed instance waiting for its replacement."""

    instance: FlexInstance
    due: float


@dataclass
class Supervisor:
    plan: HostPlan
    stop: threading.Event
    groups: list[InstanceGroup] = field(init=False)
    http_instances: int = field(init=False)  # processes serving the HTTP group's port
    # Every process to run, HTTP instances first; the keys below are their names (`http#2`).
    instances: list[FlexInstance] = field(init=False)
    _children: dict[int, _Child] = field(default_factory=dict)  # by pid
    _pending: list[_Pending] = field(default_factory=list)
    _failures: dict[str, int] = field(default_factory=dict)  # consecutive failures, by instance name
    _spawned: set[str] = field(default_factory=set)  # names of instances started at least once
    _ever_ready: set[str] = field(default_factory=set)  # names of instances that served at least once

    def __post_init__(self) -> None:
        self.groups = flex_groups(self.plan.functions)
        self.http_instances = self.plan.args.http_instances or default_http_instances()
        self.instances = flex_instances(self.groups, self.http_instances)

    def run(self) -> int:
        configure_logging(_PARENT_GROUP)
        install_signal_handlers(self.stop, at_once=lambda signum: self._kill_all())
        threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        if threads:
            log.error(
                "cannot start: the app started threads at import (%s); forking instances would copy them "
                "half (use --instances single)",
                ", ".join(threads),
            )
            return 2
        if self.http_instances > 1 and not port_sharing_supported():
            log.error("cannot start: several HTTP instances need Linux (SO_REUSEPORT); use --http-instances 1")
            return 2
        # The first HTTP instance first, alone: on two cores, forking and starting the others at the same
        # time would delay the first acknowledgement (cold start), and nothing waits for them.
        first, others = self.instances[0], self.instances[1:]
        self._spawn(first)
        _become_subreaper()  # while the HTTP instance starts: off the path to the first answer
        announced = False
        while not self.stop.is_set():
            if not self._watch(starting=not announced):
                status = self._drain_all()
                return status if self.stop.is_set() else 2
            if first.name in self._ever_ready and others and not any(i.name in self._spawned for i in others):
                for instance in others:
                    self._spawn(instance)
            if not announced and self._spawned == {i.name for i in self.instances} and self._all_ready():
                instances = ", ".join(f"{c.instance.name} pid {c.pid}" for c in self._in_order())
                print(self.plan.ready_line(f" [flex instances: {instances}]"), flush=True)
                announced = True
        return self._drain_all()

    # --- starting and replacing children ---------------------------------------------------------

    def _spawn(self, instance: FlexInstance) -> None:
        share_port = instance.group.serves_http and self.http_instances > 1
        # A sibling that holds the port already is no other host: join it rather than find the port busy.
        join_siblings = share_port and any(c.instance.group.serves_http for c in self._children.values())
        ready_r, ready_w = os.pipe()
        control_r, control_w = os.pipe()
        # Nothing buffered may be written twice, once by each process.
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            # The child must not hold the parent's ends of any pipe: a control pipe another child still
            # held open would never reach end of file.
            for child in self._children.values():
                os.close(child.ready_fd)
                os.close(child.control_fd)
            os.close(ready_r)
            os.close(control_w)
            _serve_child(instance, self.plan, ready_w, control_r, share_port, join_siblings)
        os.close(ready_w)
        os.close(control_r)
        self._children[pid] = _Child(instance, pid, ready_r, control_w, time.monotonic())
        self._spawned.add(instance.name)
        log.info("instance %s starting (pid %d)", instance.name, pid)

    def _all_ready(self) -> bool:
        return not self._pending and all(c.ready for c in self._children.values())

    def _watch(self, starting: bool) -> bool:
        """One supervision step: note readiness, replace instances that died, start due replacements.

        While the host is `starting`, an instance that dies before it ever served means the app cannot
        be served (a busy port, say): False then.
        """
        self._read_ready()
        for child, status in self._reap():
            name = child.instance.name
            if starting and name not in self._ever_ready:
                log.error(
                    "instance %s (pid %d) exited with status %d before it was ready; stopping",
                    name,
                    child.pid,
                    status,
                )
                return False
            failures = self._failures.get(name, 0)
            if child.ready and time.monotonic() - child.started >= _HEALTHY_AFTER:
                failures = 0
            delay = min(_RESTART_MAX, _RESTART_FIRST * 2**failures)
            self._failures[name] = failures + 1
            # Whether the port stays open meanwhile: the HTTP instances that still serve it.
            serving = [c.instance.name for c in self._in_order() if c.ready and c.instance.group.serves_http]
            still = f" ({', '.join(serving)} still serving)" if child.instance.group.serves_http and serving else ""
            log.warning(
                "instance %s (pid %d) exited unexpectedly with status %d; replacing it in %.1fs%s",
                name,
                child.pid,
                status,
                delay,
                still,
            )
            self._pending.append(_Pending(child.instance, time.monotonic() + delay))
        now = time.monotonic()
        for pending in [p for p in self._pending if p.due <= now]:
            self._pending.remove(pending)
            self._spawn(pending.instance)
        return True

    def _read_ready(self) -> None:
        waiting = {c.ready_fd: c for c in self._children.values() if not c.ready}
        if not waiting:
            time.sleep(SIGNAL_POLL)
            return
        readable, _, _ = select.select(list(waiting), [], [], SIGNAL_POLL)
        for fd in readable:
            child = waiting[fd]
            if os.read(fd, 1) == _READY:
                child.ready = True
                name = child.instance.name
                again = " again" if name in self._ever_ready else ""
                log.info("instance %s ready (pid %d)%s", name, child.pid, again)
                self._ever_ready.add(name)
            # End of file: the child died; _reap reports it.

    def _reap(self) -> list[tuple[_Child, int]]:
        """Children that have exited since the last call, with their exit status (128+N for signal N)."""
        exited = []
        while self._children:
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            child = self._children.pop(pid, None)
            if child is None:
                continue
            child.close()
            exited.append((child, _status(raw)))
        return exited

    def _in_order(self) -> list[_Child]:
        order = {instance.name: i for i, instance in enumerate(self.instances)}
        return sorted(self._children.values(), key=lambda c: order[c.instance.name])

    # --- stopping ----------------------------------------------------------------------------------

    def _drain_all(self) -> int:
        """Ask every instance to drain, wait for all, and return the worst exit status."""
        self._pending.clear()  # a replacement not yet started is not started any more
        log.info("shutting down: draining %d instance(s)", len(self._children))
        for child in self._children.values():
            child.close_control()
        # Each child bounds its own drain; this only guards against one that hangs anyway.
        deadline = time.monotonic() + self.plan.args.drain_timeout + 3 * LISTENER_GRACE
        worst = 0
        while self._children:
            for child, status in self._reap():
                if status:
                    log.warning("instance %s (pid %d) stopped with status %d", child.instance.name, child.pid, status)
                worst = max(worst, status)
            if self._children and time.monotonic() > deadline:
                log.warning("instances still running after the drain; killing them")
                self._kill_all()
                for child in self._children.values():
                    child.close()
                self._children.clear()
                worst = max(worst, 1)
            time.sleep(0.02)
        _reap_orphans(time.monotonic() + _ORPHAN_GRACE)
        log.info("stopped")
        return worst

    def _kill_all(self) -> None:
        """SIGKILL every instance and reap it (also from a signal handler: it only kills and waits)."""
        self._kill_now()
        for pid in list(self._children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def _kill_now(self) -> None:
        """SIGKILL every instance; safe inside a signal handler (it only sends signals)."""
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _become_subreaper() -> None:
    """Make orphans of the instances this process's children, so that the host reaps them.

    A subprocess an instance started (the SDKs run `uname` through `platform`) outlives it when the
    instance exits mid-call. It would be handed to PID 1, which in a container may never reap it, and
    the host's process group would then outlive the host. Linux only; elsewhere orphans go to init.
    """
    if sys.platform != "linux":
        return
    import ctypes  # only here: the import is not free, and other systems do not need it

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_orphans(deadline: float) -> None:
    """Reap what orphans are left (see _become_subreaper), waiting until `deadline` at most."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child of any kind is left
        if pid == 0:
            if time.monotonic() > deadline:
                log.warning("processes started by an instance are still running; leaving them")
                return
            time.sleep(0.02)


def _status(raw: int) -> int:
    code = os.waitstatus_to_exitcode(raw)
    return 128 - code if code < 0 else code


def _serve_child(
    flex_instance: FlexInstance,
    host_plan: HostPlan,
    ready_fd: int,
    control_fd: int,
    share_port: bool,
    join_siblings: bool,
) -> NoReturn:
    """The body of one instance process; never returns into the parent's code."""
    status = 2  # until it serves, a failure means the app cannot be served
    group = flex_instance.group
    try:
        # Signals to the process group are the parent's to handle (see the module docstring).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if not group.serves_http:
            os.nice(_BACKGROUND_NICENESS)
        configure_logging(flex_instance.name)
        stop = threading.Event()
        instance = Instance(group, host_plan, stop, share_port=share_port, join_siblings=join_siblings)
        try:
            instance.start()
        except OSError as e:
            logging.getLogger("localdev.host").error(
                "cannot listen on %s:%d: %s", host_plan.args.host, host_plan.port, e
            )
            exit_now(2)
        os.write(ready_fd, _READY)
        os.close(ready_fd)
        status = _CHILD_FAILED
        # Blocks until the parent closes the pipe (drain) or dies (end of file either way).
        while os.read(control_fd, 64):
            pass
        stop.set()
        status = instance.shutdown()
    except BaseException:
        logging.getLogger("localdev.host").exception("instance %s failed", flex_instance.name)
    finally:
        exit_now(status)
