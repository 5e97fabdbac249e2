"""`python -m localdev.otlp serve|trace|metrics`: run the local telemetry sink, or read what it wrote.

serve --port 4318 --dir .localcloud/telemetry     the receiver (localdev/cloud.py starts it)
trace <request id> [--dir DIR]                    the request's trace(s) as span trees
metrics [name] [--dir DIR]                        the metric data points written, as JSON lines
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

from localdev.otlp import metrics, serve, spans, trace_ids_of, tree
from localdev.procs import ROOT

DEFAULT_DIR = ROOT / ".localcloud" / "telemetry"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localdev.otlp", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="receive OTLP/HTTP exports and write them as JSON lines")
    serving.add_argument("--port", type=int, default=4318)
    serving.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    tracing = commands.add_parser("trace", help="print the span tree of a request's trace")
    tracing.add_argument("request_id")
    tracing.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    metering = commands.add_parser("metrics", help="print metric data points (all, or those of one name)")
    metering.add_argument("name", nargs="?")
    metering.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)

    if args.command == "serve":
        server = serve(args.port, args.dir)

        def stop(signum: int, frame: FrameType | None) -> None:
            # shutdown() waits for serve_forever to return, so it runs off the signal handler's thread.
            import threading

            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(f"OTLP/HTTP receiver on http://127.0.0.1:{args.port}, writing to {args.dir}", flush=True)
        server.serve_forever()
        server.server_close()
        return 0
    if args.command == "trace":
        found = spans(args.dir)
        ids = trace_ids_of(args.request_id, found)
        if not ids:
            print(f"no span names request {args.request_id} in {args.dir} (yet)", file=sys.stderr)
            return 1
        for trace_id in ids:
            print(f"trace {trace_id}")
            for line in tree(trace_id, found):
                print("  " + line)
        return 0
    for point in metrics(args.dir):
        if args.name is None or point["name"] == args.name:
            print(json.dumps(point))
    return 0


if __name__ == "__main__":
    sys.exit(main())
