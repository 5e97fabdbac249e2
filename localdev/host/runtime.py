"""Start the local Functions host for one app and stop it gracefully.

Startup validates everything (settings, bindings, connections) and claims the HTTP port before any
function can run, because callers treat a connectable port as "ready". Shutdown on SIGTERM/SIGINT
stops accepting work, lets in-flight invocations finish within a bound, closes Service Bus receivers
(releasing anything they hold) and exits; a second signal exits at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from localdev.host.bindings import load_app, read_functions
from localdev.host.http import FUNCTION_KEYS_SETTING, FunctionsHttpServer, parse_function_keys
from localdev.host.invocation import Invoker
from localdev.host.servicebus import ServiceBusPump
from localdev.host.settings import (
    DEFAULT_PORT,
    ConfigError,
    load_host_options,
    load_local_settings,
    merge_into_environment,
)
from localdev.host.settlement import Settlements, SettlementServer
from localdev.host.timers import TimerRunner

log = logging.getLogger("localdev.host")

# Receivers and timers notice the stop flag within about a second; this bounds the wait for them.
_LISTENER_GRACE = 3.0
_SIGNAL_POLL = 0.2


@dataclass(frozen=True)
class HostArgs:
    app: str = "function_app"
    host: str = "127.0.0.1"
    port: int | None = None
    settings: Path | None = None  # None: ./local.settings.json if present
    host_json: Path = Path("host.json")
    drain_timeout: float = 10.0


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The SDKs log every connection state change at INFO; the host reports what matters itself.
    logging.getLogger("azure").setLevel(logging.WARNING)
    # The AMQP layer warns about every failed reconnect and every session accept that times out; the
    # host reports broker trouble itself, once per backoff window.
    logging.getLogger("azure.servicebus._pyamqp").setLevel(logging.ERROR)


def run(args: HostArgs) -> int:
    """Serve the app until signalled; the exit status is 0 after a clean drain, 1 otherwise."""
    stop = threading.Event()
    _install_signal_handlers(stop)
    # The worker imports the app with the app root first on sys.path.
    sys.path.insert(0, os.getcwd())
    try:
        local = load_local_settings(args.settings or Path("local.settings.json"), required=args.settings is not None)
        settings = merge_into_environment(local.values, os.environ)
        options = load_host_options(args.host_json, settings)
        settlements = Settlements()
        # Before the app is imported: extensions read the worker command line (see SettlementServer).
        settlement_server = SettlementServer(settlements)
        sys.argv = settlement_server.worker_argv()
        functions = read_functions(load_app(args.app), settings)
        settles = any(f.settlement_arg for f in functions)
        invoker = Invoker()
        port = args.port or local.port or DEFAULT_PORT
        http = FunctionsHttpServer(
            args.host,
            port,
            functions,
            invoker,
            options.route_prefix,
            parse_function_keys(settings.get(FUNCTION_KEYS_SETTING)),
        )
        pump = ServiceBusPump(functions, invoker, settlements, options, settings, stop)
        timers = TimerRunner(functions, invoker, stop)
    except ConfigError as e:
        log.error("cannot start: %s", e)
        return 2
    try:
        http.bind()
    except OSError as e:
        log.error("cannot listen on %s:%d: %s", args.host, port, e)
        return 2
    if settles:  # only functions given message actions call it
        settlement_server.start()
    pump.start()
    timers.start()
    http.serve()
    keys = "keys required" if http.function_keys else "keys not checked"
    listing = "; ".join(http.describe() + pump.describe() + timers.describe()) or "no functions"
    print(f"Functions host ready on http://{args.host}:{port} ({keys}): {listing}", flush=True)

    # Poll rather than block: the kernel may deliver SIGTERM to any thread, and Python runs the handler
    # only when the main thread next executes bytecode, which a plain wait() would postpone forever.
    while not stop.wait(_SIGNAL_POLL):
        pass
    log.info("shutting down: draining in-flight invocations (up to %.0fs)", args.drain_timeout)
    http.stop_accepting()
    drained = invoker.drain(args.drain_timeout)
    if not drained:
        log.warning("invocations still running after %.0fs; exiting anyway", args.drain_timeout)
    pump.join(_LISTENER_GRACE)
    timers.join(_LISTENER_GRACE)
    if settles:
        settlement_server.stop(_LISTENER_GRACE)
    log.info("stopped")
    return 0 if drained else 1


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            # A second signal: the operator does not want to wait for the drain.
            os._exit(128 + signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def exit_now(status: int) -> None:
    """Exit without waiting for threads we do not own (user code, SDK executors) to finish.

    The drain above already bounded the wait for work that matters; a thread stuck in user code must
    not keep the process alive past it.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
