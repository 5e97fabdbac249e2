"""Acknowledgement latency of `POST /api/requests` at a fixed arrival rate (open loop).

Starts its own local cloud and host unless `--url` names a running one. Sends `--count` connect requests
at `--rate` per second on a fixed schedule (a slow answer does not delay the next send), and, in the same
run and at the same rate, a baseline of requests the host answers without any I/O (a malformed body → 400),
so the figures can be read as a ratio on a noisy machine.

    python -m bench.intake --rate 50 --count 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from localdev.chaos import cloud_id, pair_fleet
from localdev.cloud import LocalCloud
from localdev.procs import free_port


@dataclass
class Result:
    latencies: list[float]
    statuses: dict[int, int]
    elapsed: float

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def line(self, label: str) -> str:
        return (
            f"{label:<10} n={len(self.latencies):<5} p50={self.pct(50) * 1000:7.1f} ms  "
            f"p99={self.pct(99) * 1000:7.1f} ms  max={max(self.latencies) * 1000:7.1f} ms  "
            f"mean={statistics.fmean(self.latencies) * 1000:7.1f} ms  "
            f"rate={len(self.latencies) / self.elapsed:6.1f}/s  statuses={self.statuses}"
        )


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        err.read()
        status = err.code
    return status, time.perf_counter() - started


def run(url: str, rate: float, count: int, make_body: Callable[[int], tuple[bytes, dict[str, str]]]) -> Result:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        body, headers = make_body(i)
        status, latency = post(url, body, headers)
        with lock:
            latencies.append(latency)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(count):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # the arrival schedule itself, not a wait for an effect
            pool.submit(one, i)
    return Result(latencies, statuses, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--url", help="base URL of a running host (default: start a local cloud)")
    args = parser.parse_args()
    # A pair of clouds per request, as real traffic spreads over many clouds: requests on one pair would wait
    # for each other (decisions per cloud are taken in order), which measures the worker, not the intake.
    with tempfile.TemporaryDirectory() as tmp:
        fleet = Path(tmp) / "fleet.json"
        fleet.write_text(json.dumps(pair_fleet(args.count + 20)))
        cloud = None if args.url else LocalCloud(fleet=fleet, host_port=free_port()).start()
        try:
            measure(args, args.url or cloud.host_url)  # type: ignore[union-attr]
        finally:
            if cloud is not None:
                cloud.stop()


def measure(args: argparse.Namespace, base: str) -> None:
    endpoint = f"{base}/api/requests"
    run_id = uuid.uuid4().hex

    def connect_as(phase: str, offset: int) -> Callable[[int], tuple[bytes, dict[str, str]]]:
        def connect(i: int) -> tuple[bytes, dict[str, str]]:
            body = {
                "action": "connect",
                "source": cloud_id(f"s{i + offset}"),
                "target": cloud_id(f"t{i + offset}"),
                "reference": f"BENCH-{i}",
            }
            return json.dumps(body).encode(), {
                "Content-Type": "application/json",
                "Idempotency-Key": f"bench-{run_id}-{phase}-{i}",
            }

        return connect

    def malformed(i: int) -> tuple[bytes, dict[str, str]]:
        return b"{not json", {"Content-Type": "application/json"}

    run(endpoint, args.rate, min(20, args.count), connect_as("warmup", args.count))  # first connections, lazy clients
    baseline = run(endpoint, args.rate, args.count, malformed)
    intake = run(endpoint, args.rate, args.count, connect_as("measured", 0))
    print(f"target rate {args.rate}/s, {args.count} requests each")
    print(baseline.line("baseline"))
    print(intake.line("intake"))
    print(
        f"ratio intake/baseline: p50 {intake.pct(50) / baseline.pct(50):.1f}x  "
        f"p99 {intake.pct(99) / baseline.pct(99):.1f}x"
    )


if __name__ == "__main__":
    main()
