"""`python -m localdev.identity serve --port PORT`: run the Entra stand-in.
`python -m localdev.identity token --user alice [--url URL]`: print an access token for a demo user (or
`--app automation` for an application), from a running stand-in (`make run` prints its URL).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import urllib.error
from types import FrameType

from localdev.identity import APPS, USERS, serve, token

URL_VARIABLE = "INTERCONNECT_IDENTITY_URL"


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localdev.identity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the stand-in")
    run.add_argument("--port", type=int, required=True)
    mint = commands.add_parser("token", help="print an access token for a demo user or application")
    who = mint.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", choices=sorted(USERS))
    who.add_argument("--app", choices=sorted(APPS))
    mint.add_argument(
        "--url",
        default=os.environ.get(URL_VARIABLE, "http://127.0.0.1:7079"),
        help=f"the stand-in's URL (default: ${URL_VARIABLE} or http://127.0.0.1:7079)",
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        signal.signal(signal.SIGTERM, _stop)
        with contextlib.suppress(KeyboardInterrupt):
            serve(args.port)
        return 0
    try:
        print(token(args.url, **({"user": args.user} if args.user else {"app": args.app})))
    except (urllib.error.URLError, OSError) as exc:
        print(f"no identity stand-in at {args.url} ({exc}); start the local cloud with `make run`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
