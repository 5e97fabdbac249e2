"""Start the local Functions host for one app and stop it gracefully.

Startup imports the app and validates everything (settings, bindings, connections) before any function
can run; a problem stops the host with status 2. Then the functions are served either all in this
process (`--instances single`) or, by default, one process per Flex instance group (`--instances flex`,
see groups.py and flex.py). Either way, callers treat a connectable HTTP port as "ready", so the port
opens only once the HTTP front end can answer.

Shutdown on SIGTERM/SIGINT stops accepting work, lets in-flight invocations finish within a bound,
closes Service Bus receivers (releasing anything they hold) and exits; a second signal exits at once.

Only what every instance needs is imported at module level: the HTTP server, the Service Bus SDK and
the timer machinery are imported by the instance that serves them, so the HTTP instance starts without
the Service Bus receiver stack (cold start) and a queue instance without the HTTP server.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from localdev.host.bindings import FunctionSpec, HttpTrigger, ServiceBusTrigger, TimerTrigger, load_app, read_functions
from localdev.host.groups import InstanceGroup, describe, single_group
from localdev.host.invocation import Invoker
from localdev.host.settings import (
    DEFAULT_PORT,
    FUNCTION_KEYS_SETTING,
    ConfigError,
    HostOptions,
    ServiceBusConnection,
    load_host_options,
    load_local_settings,
    merge_into_environment,
    parse_function_keys,
    service_bus_connection,
)

if TYPE_CHECKING:  # imported by the instance that serves them (see the module docstring)
    from localdev.host.http import FunctionsHttpServer
    from localdev.host.servicebus import ServiceBusPump
    from localdev.host.timers import TimerRunner

log = logging.getLogger("localdev.host")

INSTANCE_MODES = ("flex", "single")
# Receivers and timers notice the stop flag within about a second; this bounds the wait for them.
LISTENER_GRACE = 3.0
SIGNAL_POLL = 0.2


@dataclass(frozen=True)
class HostArgs:
    app: str = "function_app"
    host: str = "127.0.0.1"
    port: int | None = None
    settings: Path | None = None  # None: ./local.settings.json if present
    host_json: Path = Path("host.json")
    drain_timeout: float = 10.0
    instances: str = "flex"  # one of INSTANCE_MODES
    # With flex: processes serving the HTTP group on one port; None: groups.default_http_instances().
    http_instances: int | None = None


@dataclass(frozen=True)
class HostPlan:
    """Everything startup validated: what to serve, where, and with which settings."""

    args: HostArgs
    port: int
    settings: dict[str, str]
    options: HostOptions
    functions: list[FunctionSpec]
    # Each queue-triggered function's resolved connection, by function name.
    connections: dict[str, ServiceBusConnection]

    def function_keys(self) -> frozenset[str] | None:
        return parse_function_keys(self.settings.get(FUNCTION_KEYS_SETTING))

    def ready_line(self, extra: str = "") -> str:
        keys = "keys required" if self.function_keys() else "keys not checked"
        http_first = sorted(self.functions, key=lambda f: not isinstance(f.trigger, HttpTrigger))
        listing = "; ".join(describe(f, self.options, self.args.host, self.port) for f in http_first) or "no functions"
        return f"Functions host ready on http://{self.args.host}:{self.port} ({keys}): {listing}{extra}"


def configure_logging(group: str | None = None) -> None:
    """Log to stderr; with `group`, every line (tracebacks too) starts with `[group]`.

    All instances of one host write to one stderr, so the prefix keeps a shared log file readable.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_GroupFormatter(group))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The SDKs log every connection state change at INFO; the host reports what matters itself.
    logging.getLogger("azure").setLevel(logging.WARNING)
    # The AMQP layer warns about every failed reconnect and every session accept that times out; the
    # host reports broker trouble itself, once per backoff window.
    logging.getLogger("azure.servicebus._pyamqp").setLevel(logging.ERROR)


class _GroupFormatter(logging.Formatter):
    def __init__(self, group: str | None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._prefix = f"[{group}] " if group else ""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if not self._prefix:
            return text
        return "\n".join(self._prefix + line for line in text.split("\n"))


def plan(args: HostArgs) -> HostPlan:
    """Import the app and validate it and its settings; raise ConfigError naming every problem."""
    # The worker imports the app with the app root first on sys.path.
    sys.path.insert(0, os.getcwd())
    local = load_local_settings(args.settings or Path("local.settings.json"), required=args.settings is not None)
    settings = merge_into_environment(local.values, os.environ)
    options = load_host_options(args.host_json, settings)
    functions = read_functions(load_app(args.app), settings)
    connections = {
        f.name: service_bus_connection(f.trigger.connection, settings)
        for f in functions
        if isinstance(f.trigger, ServiceBusTrigger)
    }
    return HostPlan(args, args.port or local.port or DEFAULT_PORT, settings, options, functions, connections)


class Instance:
    """One instance group served in this process: its HTTP front end, queue slots and timers.

    `share_port` and `join_siblings` say how an HTTP front end claims the port when several instances
    serve it (see FunctionsHttpServer.bind).
    """

    def __init__(
        self,
        group: InstanceGroup,
        host_plan: HostPlan,
        stop: threading.Event,
        *,
        share_port: bool = False,
        join_siblings: bool = False,
    ) -> None:
        self.group, self.plan, self.stop = group, host_plan, stop
        self.share_port, self.join_siblings = share_port, join_siblings
        self.invoker = Invoker()
        self._http: FunctionsHttpServer | None = None
        self._pump: ServiceBusPump | None = None
        self._timers: TimerRunner | None = None

    def start(self) -> None:
        """Start serving; raises OSError if the HTTP port cannot be claimed (nothing runs then)."""
        functions = self.group.functions
        queue_functions = [f for f in functions if isinstance(f.trigger, ServiceBusTrigger)]
        if self.group.serves_http:
            from localdev.host.http import FunctionsHttpServer

            http = FunctionsHttpServer(
                self.plan.args.host,
                self.plan.port,
                [f for f in functions if isinstance(f.trigger, HttpTrigger)],
                self.invoker,
                self.plan.options.route_prefix,
                self.plan.function_keys(),
            )
            http.bind(share_port=self.share_port, join_siblings=self.join_siblings)
            self._http = http
        if queue_functions:
            from localdev.host.servicebus import ServiceBusPump

            self._pump = ServiceBusPump(
                queue_functions, self.invoker, self.plan.options, self.plan.connections, self.stop
            )
            self._pump.start()
        if any(isinstance(f.trigger, TimerTrigger) for f in functions):
            from localdev.host.timers import TimerRunner

            self._timers = TimerRunner(functions, self.invoker, self.stop)
            self._timers.start()
        if self._http is not None:
            self._http.serve()

    def shutdown(self) -> int:
        """Drain and stop (after `stop` is set); 0 after a clean drain, 1 if invocations outlived it."""
        drain_timeout = self.plan.args.drain_timeout
        log.info("shutting down: draining in-flight invocations (up to %.0fs)", drain_timeout)
        if self._http is not None:
            self._http.stop_accepting()
        drained = self.invoker.drain(drain_timeout)
        if not drained:
            log.warning("invocations still running after %.0fs; exiting anyway", drain_timeout)
        elif self._http is not None:
            # A finished invocation may still be writing its reply; the process must not exit under it.
            self._http.wait_for_replies(LISTENER_GRACE)
        if self._pump is not None:
            self._pump.join(LISTENER_GRACE)
        if self._timers is not None:
            self._timers.join(LISTENER_GRACE)
        log.info("stopped")
        return 0 if drained else 1


def run(args: HostArgs) -> int:
    """Serve the app until signalled: 0 after a clean drain, 1 otherwise, 2 if it cannot be served."""
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        host_plan = plan(args)
    except ConfigError as e:
        log.error("cannot start: %s", e)
        return 2
    if args.instances == "single":
        return serve_single(host_plan, stop)
    from localdev.host.flex import Supervisor

    return Supervisor(host_plan, stop).run()


def serve_single(host_plan: HostPlan, stop: threading.Event) -> int:
    """Every function in this process, as the host ran before instance groups."""
    instance = Instance(single_group(host_plan.functions), host_plan, stop)
    try:
        instance.start()
    except OSError as e:
        log.error("cannot listen on %s:%d: %s", host_plan.args.host, host_plan.port, e)
        return 2
    print(host_plan.ready_line(), flush=True)
    wait_for(stop)
    return instance.shutdown()


def wait_for(stop: threading.Event) -> None:
    # Poll rather than block: the kernel may deliver SIGTERM to any thread, and Python runs the handler
    # only when the main thread next executes bytecode, which a plain wait() would postpone forever.
    while not stop.wait(SIGNAL_POLL):
        pass


def install_signal_handlers(stop: threading.Event, at_once: Callable[[int], None] | None = None) -> None:
    """First SIGTERM/SIGINT sets `stop`; a second one calls `at_once` (default: exit now)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            # A second signal: the operator does not want to wait for the drain.
            try:
                if at_once is not None:
                    at_once(signum)
            finally:
                os._exit(128 + signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def exit_now(status: int) -> NoReturn:
    """Exit without waiting for threads we do not own (user code, SDK executors) to finish.

    The drain above already bounded the wait for work that matters; a thread stuck in user code must
    not keep the process alive past it.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
