"""How long each local stand-in takes from process start to accepting connections, against a floor.

These figures used to be asserted in contract tests (under 2 s), which failed on a busy 2-core machine: a
timing is a measurement, not a merge gate. The floor, measured in the same run, is a Python process that
does nothing but open a listening socket, so the ratios stay readable however loaded the machine is.

    python -m bench.startup --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from localdev import azurite
from localdev import servicebus as sb
from localdev.armsim import service as armsim_service
from localdev.cloud import DEMO_FLEET
from localdev.procs import Service, free_port

FLOOR_SCRIPT = (
    "import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
    " s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(600)"
)


def floor(port: int, _: Path) -> Service:
    return Service("floor", [sys.executable, "-c", FLOOR_SCRIPT, str(port)], port)


STARTERS: dict[str, Callable[[int, Path], Service]] = {
    "floor (python + listen)": floor,
    "azurite (tables, in memory)": lambda port, _: azurite.service(port),
    "service bus stand-in": lambda port, tmp: sb.service(port, free_port()),
    "arm simulator (demo fleet)": lambda port, _: armsim_service(port, DEMO_FLEET),
}


def time_start(make: Callable[[int, Path], Service], tmp: Path) -> float:
    service = make(free_port(), tmp)
    started = time.perf_counter()
    service.start(ready_timeout=60)
    took = time.perf_counter() - started
    service.stop()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in STARTERS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):  # interleaved, so a busy spell hits every service alike
            for name, make in STARTERS.items():
                samples[name].append(time_start(make, Path(tmp)))
    base = statistics.median(samples["floor (python + listen)"])
    print(f"{'service':30} {'min':>7} {'median':>7} {'max':>7}  median/floor   ({args.runs} runs)")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:30} {min(values):7.2f} {median:7.2f} {max(values):7.2f}  {median / base:6.1f}x")


if __name__ == "__main__":
    main()
