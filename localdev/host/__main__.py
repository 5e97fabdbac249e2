"""`python -m localdev.host`: run a v2 Python function app locally, as `func start` would."""

from __future__ import annotations

import argparse
from pathlib import Path

from localdev.host.runtime import INSTANCE_MODES, HostArgs, configure_logging, exit_now, run


def parse_args(argv: list[str] | None = None) -> HostArgs:
    parser = argparse.ArgumentParser(prog="python -m localdev.host", description=__doc__)
    parser.add_argument("--app", default="function_app", help="app module to import (default: function_app)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="HTTP port (default: Host.LocalHttpPort from the settings file, else 7071)",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        default=None,
        help="local.settings.json to read Values from (default: ./local.settings.json "
        "if it exists); environment variables win",
    )
    parser.add_argument(
        "--host-json",
        type=Path,
        default=Path("host.json"),
        help="host.json to read (default: ./host.json; absent: defaults)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        help="seconds to let in-flight invocations finish on shutdown (default: 10)",
    )
    parser.add_argument(
        "--instances",
        choices=INSTANCE_MODES,
        default="flex",
        help="flex: one process per Flex Consumption instance group (HTTP functions together, every other "
        "function on its own); single: every function in one process (default: flex)",
    )
    parser.add_argument(
        "--http-instances",
        type=_positive,
        default=None,
        metavar="N",
        help="with flex: N processes serve the HTTP functions on one port, as Flex scales the HTTP group "
        "out (Linux only; default: the number of CPUs this process may use, since more processes than "
        "cores only contend for them)",
    )
    ns = parser.parse_args(argv)
    if ns.http_instances is not None and ns.instances != "flex":
        parser.error("--http-instances applies to --instances flex only")
    return HostArgs(
        app=ns.app,
        host=ns.host,
        port=ns.port,
        settings=ns.settings,
        host_json=ns.host_json,
        drain_timeout=ns.drain_timeout,
        instances=ns.instances,
        http_instances=ns.http_instances,
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def main() -> None:
    configure_logging()
    exit_now(run(parse_args()))


if __name__ == "__main__":
    main()
