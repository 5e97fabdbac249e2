"""Fan-out from one cloud and bursts on one cloud, on the local cloud (Azurite, Service Bus stand-in, ARM
simulator, local Functions host).

(a) 9 connects from one hub to 9 spokes submitted at once: the time from the first acceptance to the last
    `Succeeded`, against one connect alone in the same run (each the median of `--repeat` runs on fresh clouds).
    Decisions touching the hub are taken one at a time, so the fan-out costs 8 extra decisions (preflight reads
    of ARM); the operations themselves overlap. Links build in 8 s by default, as in the demo fleet (a real
    AVS link takes minutes, which only shrinks the ratio).
(b) 50 requests on one pair (connect and disconnect alternating) and 50 connects from one hub, submitted back
    to back (each POST as soon as the one before is answered, about 50 in two seconds, all waiting at once):
    every request ends, nothing is overloaded (no 429/503 at intake, no dead letters), and decisions are taken
    in acceptance order. Past the 10 links AVS allows per cloud, the hub's connects are rejected (LINK_LIMIT):
    that is a decision too.

Acceptance order is (createdAt, requestId), and the worker orders what the request index shows it. Requests
whose POSTs overlap (as in (a)) have no order a caller could tell, and one whose intake is still writing its
index rows is not yet seen by a later one being decided, so (a) only reports how many such pairs were decided
the other way round; (b), whose acceptances do not overlap, must show none.

Times come from each request's audit trail (the app's own clock), so polling for completion adds nothing.
The ARM simulator meters reads as ARM does (a bucket of 250 per subscription, 25 back a second), and each run
of (a) starts with full buckets; `--no-throttle` takes the meter away, to tell the worker's cost from ARM's.

    python -m bench.fanout [--repeat 3] [--build 8] [--burst 50] [--burst-build 1] [--no-throttle]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from localdev.armsim import ArmSimAdmin
from localdev.chaos import CHAOS_SUB, TERMINAL, Api, cloud_id, trail_problems, wait_terminal
from localdev.cloud import QUEUE_NAME, LocalCloud
from localdev.procs import free_port
from localdev.servicebus import ServiceBusAdmin

SETTINGS = {"INTERCONNECT_APPROVALS": "off"}  # the pair's disconnects are decided by the worker alone


def fleet(names: list[str], build: float) -> dict[str, Any]:
    """One region, every cloud with its own /22 and no links."""
    clouds = [
        {"name": name, "location": "westeurope", "networkBlock": f"10.{(i * 4) // 256}.{(i * 4) % 256}.0/22"}
        for i, name in enumerate(names)
    ]
    return {
        "settings": {"buildSeconds": build, "deleteSeconds": build, "retryAfter": 1},
        "subscriptions": [
            {"id": CHAOS_SUB, "resourceGroups": [{"name": "rg-chaos", "privateClouds": clouds}]},
        ],
    }


def at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["at"])


def decided(view: dict[str, Any]) -> dict[str, Any] | None:
    """The event that took the request's decision: the one that left Validating."""
    return next((e for e in view["events"] if e["previous"] == "Validating"), None)


class Bench:
    def __init__(self, cloud: LocalCloud) -> None:
        self.api, self.arm = Api(cloud.host_url), ArmSimAdmin(cloud.arm_url)
        self.bus = ServiceBusAdmin(cloud.sb_admin_port)
        self.run = uuid.uuid4().hex[:8]
        self.intake: dict[int, int] = {}
        self.unmetered = False

    def fresh_buckets(self) -> None:
        """ARM's throttle buckets full again (loading faults resets them), as after a quiet spell."""
        self.arm.set_faults({"throttle": {"reads": None, "writes": None, "deletes": None}} if self.unmetered else {})

    def submit_all(self, bodies: list[dict[str, Any]], *, at_once: bool = True) -> list[str]:
        """POST every body, at once (one thread each) or back to back; any answer but 202 is counted and fails
        the run."""

        def one(n: int) -> str:
            status, answer = self.api.call(
                "POST", "requests", bodies[n], {"Idempotency-Key": f"{self.run}-{batch}-{n}"}
            )
            self.intake[status] = self.intake.get(status, 0) + 1
            if status != 202:
                raise AssertionError(f"POST answered {status}: {answer}")
            return str(answer["requestId"])

        batch = uuid.uuid4().hex[:8]
        if not at_once:
            return [one(n) for n in range(len(bodies))]
        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            return list(pool.map(one, range(len(bodies))))

    def finish(self, ids: list[str], timeout: float) -> list[dict[str, Any]]:
        views = wait_terminal(self.api, ids, timeout)
        problems = [p for v in views.values() for p in trail_problems(v)]
        assert not problems, problems[:5]
        return [views[i] for i in ids]


def connect(source: str, target: str) -> dict[str, Any]:
    return {"action": "connect", "source": cloud_id(source), "target": cloud_id(target)}


def span(views: list[dict[str, Any]]) -> float:
    """From the first acceptance to the last terminal state, in seconds."""
    first = min(at(v["events"][0]) for v in views)
    last = max(at(v["events"][-1]) for v in views)
    return (last - first).total_seconds()


def inversions(views: list[dict[str, Any]]) -> int:
    """Pairs of requests decided in the opposite order to their acceptance (every request must be decided)."""
    ordered = sorted(views, key=lambda v: (datetime.fromisoformat(v["createdAt"]), v["requestId"]))
    times = [at(e) for v in ordered if (e := decided(v)) is not None]
    assert len(times) == len(views), "a request ended without a decision"
    return sum(1 for i, t in enumerate(times) for later in times[i + 1 :] if later < t)


def profile(views: list[dict[str, Any]]) -> tuple[float, float]:
    """Where serial decisions' time goes, as means in seconds: the time in Validating (the preflight reads of
    ARM, and any wait for an earlier request found only after them), and the gap between one decision and the
    next (that, plus the wake-up through the queue and the index reads, or an operation on the same pair)."""
    ordered = sorted(views, key=lambda v: (datetime.fromisoformat(v["createdAt"]), v["requestId"]))
    preflight, gaps = [], []
    previous: datetime | None = None
    for v in ordered:
        entered = at(next(e for e in v["events"] if e["status"] == "Validating"))
        left = decided(v)
        assert left is not None
        preflight.append((at(left) - entered).total_seconds())
        if previous is not None:
            gaps.append((at(left) - previous).total_seconds())
        previous = at(left)
    return statistics.fmean(preflight), statistics.fmean(gaps) if gaps else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of (a), each on fresh clouds")
    parser.add_argument("--build", type=float, default=8, help="seconds the ARM simulator takes per link in (a)")
    parser.add_argument("--burst-build", type=float, default=1, help="seconds per link in (b)")
    parser.add_argument("--burst", type=int, default=50, help="requests in each burst of (b)")
    parser.add_argument("--spokes", type=int, default=9, help="connects from one hub in (a)")
    parser.add_argument("--no-throttle", action="store_true", help="the ARM simulator meters no reads or writes")
    args = parser.parse_args()
    names = ["warm-a", "warm-b"]
    for k in range(args.repeat):
        names += [f"solo{k}-hub", f"solo{k}-spoke", f"fan{k}-hub", *(f"fan{k}-s{i}" for i in range(args.spokes))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.json"
        path.write_text(json.dumps(fleet(names, args.build)))
        with LocalCloud(fleet=path, host_port=free_port(), extra_settings=SETTINGS) as cloud:
            bench = Bench(cloud)
            bench.unmetered = args.no_throttle
            bench.fresh_buckets()
            measure(bench, args)


def measure(bench: Bench, args: argparse.Namespace) -> None:
    bench.finish(bench.submit_all([connect("warm-a", "warm-b")]), 60)  # first connections, lazy clients
    solos, fans, decisions, reads, swapped, throttled = [], [], [], [], [], []
    for k in range(args.repeat):
        bench.fresh_buckets()
        solos.append(span(bench.finish(bench.submit_all([connect(f"solo{k}-hub", f"solo{k}-spoke")]), 120)))
        bench.fresh_buckets()
        bench.arm.clear_calls()
        views = bench.finish(
            bench.submit_all([connect(f"fan{k}-hub", f"fan{k}-s{i}") for i in range(args.spokes)]), 300
        )
        assert all(v["status"] == "Succeeded" for v in views), [v["status"] for v in views]
        fans.append(span(views))
        swapped.append(inversions(views))
        decisions.append(profile(views))
        calls = bench.arm.calls()
        reads.append(sum(1 for c in calls if c["method"] == "GET") / args.spokes)
        throttled.append(sum(1 for c in calls if c["status"] == 429))
    solo, fan = statistics.median(solos), statistics.median(fans)
    meter = "no ARM throttle" if args.no_throttle else "ARM's read/write throttle"
    print(f"ARM simulator build {args.build:g} s, {meter}, poll interval 1 s (local settings); {args.repeat} runs each")
    print(f"(a) one connect alone     {solo:6.2f} s   runs {', '.join(f'{s:.2f}' for s in solos)}")
    print(f"    {args.spokes} connects, one hub  {fan:6.2f} s   runs {', '.join(f'{s:.2f}' for s in fans)}")
    print(f"    ratio {fan / solo:.2f}x (target <= 1.5x); pairs decided against acceptance order {swapped}")
    print(
        f"    per decision: {statistics.fmean(p for p, _ in decisions) * 1000:.0f} ms in Validating (preflight), "
        f"{statistics.fmean(h for _, h in decisions) * 1000:.0f} ms from one decision to the next; "
        f"{statistics.fmean(reads):.1f} ARM GETs per request (preflight and checks); ARM 429s per run {throttled}"
    )

    burst = ["pair-a", "pair-b", "burst-hub", *(f"burst-s{i}" for i in range(args.burst))]
    bench.arm.load_fleet(fleet(burst, args.burst_build))  # the clouds of (b), with their own build time
    bench.fresh_buckets()
    bench.arm.clear_calls()
    started = time.monotonic()
    pair = [
        {
            "action": "connect" if n % 2 == 0 else "disconnect",
            "source": cloud_id("pair-a"),
            "target": cloud_id("pair-b"),
        }
        for n in range(args.burst)
    ]
    pair_views = bench.finish(bench.submit_all(pair, at_once=False), 900)
    pair_wall = time.monotonic() - started
    pair_calls = bench.arm.calls()
    bench.fresh_buckets()
    bench.arm.clear_calls()
    started = time.monotonic()
    hub = [connect("burst-hub", f"burst-s{i}") for i in range(args.burst)]
    hub_views = bench.finish(bench.submit_all(hub, at_once=False), 900)
    hub_wall = time.monotonic() - started
    hub_calls = bench.arm.calls()
    dead = bench.bus.dead_letter_depth(QUEUE_NAME)
    for label, views, wall, calls in (
        ("one pair", pair_views, pair_wall, pair_calls),
        ("one hub ", hub_views, hub_wall, hub_calls),
    ):
        statuses: dict[str, int] = {}
        for v in views:
            statuses[v["status"]] = statuses.get(v["status"], 0) + 1
        terminal = sum(1 for v in views if v["status"] in TERMINAL)
        print(
            f"(b) {args.burst} on {label}: {terminal}/{len(views)} terminal {statuses} in {span(views):.1f} s "
            f"(wall {wall:.1f} s); pairs decided against acceptance order: {inversions(views)}"
        )
        preflight, handoff = profile(views)
        print(
            f"    per decision: {preflight * 1000:.0f} ms in Validating, {handoff * 1000:.0f} ms to the next; "
            f"{sum(1 for c in calls if c['method'] == 'GET') / len(views):.1f} ARM GETs per request, "
            f"{sum(1 for c in calls if c['status'] == 429)} answered 429"
        )
    print(f"    links build in {args.burst_build:g} s; intake answers {bench.intake}; dead letters {dead}")


if __name__ == "__main__":
    main()
