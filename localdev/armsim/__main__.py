"""`python -m localdev.armsim --port PORT [--fleet PATH] [--log-level LEVEL] [--log-file PATH]`: run it."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from types import FrameType

from localdev.armsim.errors import ConfigError
from localdev.armsim.fleet import Fleet
from localdev.armsim.server import serve


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # unwinds serve_forever in the main thread, which closes the socket


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.armsim", description="Local ARM/AVS simulator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fleet", help="fleet file (.yaml/.yml or .json); default: an empty fleet")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-file", help="append the log here instead of writing it to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, filename=args.log_file, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        fleet = Fleet.load(args.fleet) if args.fleet else Fleet()
    except (ConfigError, OSError) as err:
        logging.getLogger("armsim").error("invalid fleet: %s", err)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, fleet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
