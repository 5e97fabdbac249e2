"""The audit's inventory read at fleet scale: InventoryReader against a one-call-at-a-time script, same run.

    python -m bench.audit [--clouds 1000] [--subscriptions 10] [--latency-ms 50] [--burst B] [--refill R]
                          [--concurrency N] [--full-baseline]
    (also --retry-total 3, --baseline-subscriptions 2, --seed 7; defaults: --burst 100 --refill 10 --concurrency 2)

Starts its own ARM simulator on a seeded generated fleet, with `--latency-ms` added to every ARM call and a
per-subscription read throttle (token bucket of `--burst` tokens refilled at `--refill` per second; ARM's is
250 / 25 per second, scaled down here so the read is throttle-bound and the benchmark takes about a minute).
Both runs go through the same `AvsSdkGateway` (azure-mgmt-avs, same `retry_total`) and wait out throttling
the same way (the SDK honours Retry-After, then the caller waits out what is left); buckets are refilled and
the call log is emptied before each run.

- parallel: `InventoryReader.read` (subscriptions in parallel, `--concurrency` reads per subscription);
- baseline: a script's loop, strictly one request in flight: list the clouds of each subscription, then for
  each cloud its links, segments and Global Reach. It runs on the first `--baseline-subscriptions`
  subscriptions and is scaled linearly by reads (every subscription holds the same number of clouds), and
  says so; `--full-baseline` runs it on all of them;
- throttle-bound minimum (computed): per subscription max(0, reads - burst) / refill, plus one round of
  latency; the largest over subscriptions, since ARM throttles each subscription on its own.

Targets: parallel >= 8x faster than the baseline and <= 1.25x the minimum; exactly the reads the facts need
(3 per cloud plus the list pages) and no read repeated except after a 429. Exits 1 if any is missed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from interconnect.adapters.avs import AvsSdkGateway
from interconnect.audit.inventory import InventoryReader
from interconnect.audit.model import CloudRecord
from interconnect.avs.ids import CloudId
from interconnect.avs.routed import routed_space
from interconnect.errors import DependencyError
from localdev.armsim import ArmSimAdmin, service
from localdev.armsim.generate import generate_fleet
from localdev.procs import free_port

T = TypeVar("T")
PAGE_SIZE = 50  # items per list page in the simulated fleet (the simulator's default, set explicitly)
READ_KINDS = ("privateClouds.listInSubscription", "cloudLinks.list", "segments.list", "globalReach.list")
SPEEDUP_TARGET = 8.0
MINIMUM_TARGET = 1.25


@dataclass
class Run:
    seconds: float
    calls: list[dict[str, Any]]
    records: dict[CloudId, CloudRecord]
    problems: tuple[str, ...] = ()

    def statuses(self) -> Counter[int | None]:
        return Counter(call["status"] for call in self.calls)

    def by_kind(self) -> dict[str, Counter[int | None]]:
        out: dict[str, Counter[int | None]] = {}
        for call in self.calls:
            out.setdefault(call["kind"], Counter())[call["status"]] += 1
        return out

    def duplicates(self) -> tuple[int, int, int]:
        """Extra calls to an already-called (method, path, query): (total, of them 429s, repeated 200s)."""
        seen: dict[tuple[str, str, str], Counter[int | None]] = {}
        for call in self.calls:
            seen.setdefault((call["method"], call["path"], call["query"]), Counter())[call["status"]] += 1
        total = sum(sum(c.values()) - 1 for c in seen.values())
        throttled = sum(min(c[429], sum(c.values()) - 1) for c in seen.values())
        repeated_ok = sum(max(0, c[200] - 1) for c in seen.values())
        return total, throttled, repeated_ok


def waited_out(read: Callable[[], T]) -> T:
    """What a script does once the SDK's own retries are spent: wait as ARM says, try again."""
    while True:
        try:
            return read()
        except DependencyError as exc:
            time.sleep(exc.retry_after or 1)


def sequential(avs: AvsSdkGateway, subscriptions: list[str]) -> tuple[dict[CloudId, CloudRecord], float]:
    started = time.perf_counter()
    records: dict[CloudId, CloudRecord] = {}
    for subscription in subscriptions:
        for cloud in waited_out(lambda s=subscription: avs.list_clouds(s)):
            links = waited_out(lambda c=cloud.id: avs.list_links(c))
            segments = waited_out(lambda c=cloud.id: avs.list_segments(c))
            reach = waited_out(lambda c=cloud.id: avs.list_global_reach(c))
            records[cloud.id] = CloudRecord(cloud, tuple(links), routed_space(cloud, tuple(segments), tuple(reach)))
    return records, time.perf_counter() - started


def reads_needed(fleet: dict[str, Any]) -> dict[str, int]:
    """Per subscription: the list pages plus three reads per cloud."""
    out = {}
    for sub in fleet["subscriptions"]:
        clouds = sum(len(rg["privateClouds"]) for rg in sub["resourceGroups"])
        out[sub["id"].lower()] = max(1, math.ceil(clouds / PAGE_SIZE)) + 3 * clouds
    return out


def fresh_run(admin: ArmSimAdmin, faults: dict[str, Any]) -> None:
    admin.set_faults(faults)  # full buckets again
    admin.clear_calls()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clouds", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--burst", type=int, default=100, help="read bucket size per subscription")
    parser.add_argument("--refill", type=float, default=10, help="read tokens per second per subscription")
    parser.add_argument("--concurrency", type=int, default=2, help="InventoryReader reads per subscription")
    parser.add_argument("--retry-total", type=int, default=3, help="the gateway's SDK retries")
    parser.add_argument("--baseline-subscriptions", type=int, default=2, help="baseline sample size")
    parser.add_argument("--full-baseline", action="store_true", help="run the baseline on every subscription")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    fleet = generate_fleet(args.clouds, args.subscriptions, settings={"pageSize": PAGE_SIZE}, seed=args.seed)
    subscriptions = [sub["id"].lower() for sub in fleet["subscriptions"]]
    needed = reads_needed(fleet)
    faults = {
        "latency": [{"ms": args.latency_ms}],
        "throttle": {"reads": {"burst": args.burst, "refillPerSecond": args.refill}, "writes": None, "deletes": None},
    }
    latency = args.latency_ms / 1000
    minimum = max(max(0, n - args.burst) / args.refill for n in needed.values()) + latency
    sample = subscriptions if args.full_baseline else subscriptions[: max(1, args.baseline_subscriptions)]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    svc = service(port, None).start()
    try:
        admin = ArmSimAdmin(url)
        admin.load_fleet(fleet)

        fresh_run(admin, faults)
        reader = InventoryReader(
            AvsSdkGateway(None, base_url=url, retry_total=args.retry_total), concurrency=args.concurrency
        )
        started = time.perf_counter()
        inventory = reader.read(subscriptions, datetime.now(UTC))
        parallel = Run(time.perf_counter() - started, admin.calls(), inventory.clouds, inventory.problems)

        fresh_run(admin, faults)
        records, seconds = sequential(AvsSdkGateway(None, base_url=url, retry_total=args.retry_total), sample)
        baseline = Run(seconds, admin.calls(), records)
    finally:
        svc.stop()
    return report(args, needed, sample, minimum, parallel, baseline)


def report(
    args: argparse.Namespace, needed: dict[str, int], sample: list[str], minimum: float, parallel: Run, baseline: Run
) -> int:
    clouds = args.clouds
    total_reads = sum(needed.values())
    sample_reads = sum(needed[s] for s in sample)
    scale = total_reads / sample_reads
    baseline_seconds = baseline.seconds * scale
    list_pages = total_reads - 3 * clouds
    ok = parallel.statuses()
    successes, throttled = ok[200], ok[429]
    others = sum(n for status, n in ok.items() if status not in (200, 429))
    per_cloud, expected_per_cloud = successes / clouds, 3 + list_pages / clouds
    dup_total, dup_throttled, dup_ok = parallel.duplicates()
    kinds = parallel.by_kind()
    exact = (
        all(kinds.get(k, Counter())[200] == clouds for k in READ_KINDS[1:])
        and kinds.get(READ_KINDS[0], Counter())[200] == list_pages
        and set(kinds) <= set(READ_KINDS)
        and successes == total_reads
    )
    speedup, over_minimum = baseline_seconds / parallel.seconds, parallel.seconds / minimum
    same = (
        len(parallel.records) == clouds
        and not parallel.problems
        and all(parallel.records.get(cid) == rec for cid, rec in baseline.records.items())
    )

    print(
        f"fleet: {clouds} clouds in {args.subscriptions} subscriptions (seed {args.seed}, {PAGE_SIZE} per page); "
        f"{args.latency_ms:g} ms latency on every ARM call; read bucket per subscription: burst {args.burst}, "
        f"refill {args.refill:g}/s (ARM: 250, 25/s)"
    )
    print(f"reader: concurrency {args.concurrency} per subscription, gateway retry_total {args.retry_total}")
    print(f"reads the facts need: {total_reads} ({list_pages} list pages + 3 x {clouds} clouds)")
    print()
    print(
        f"parallel (InventoryReader)   {parallel.seconds:7.2f} s   {len(parallel.calls)} calls, "
        f"{throttled} x 429, {others} other errors, {len(parallel.records)} clouds read, "
        f"{len(parallel.problems)} problems"
    )
    b = baseline.statuses()
    how = (
        "measured on all subscriptions"
        if len(sample) == len(needed)
        else f"EXTRAPOLATED from {len(sample)} of {len(needed)} subscriptions: measured {baseline.seconds:.2f} s "
        f"for {sample_reads} of {total_reads} reads, x {scale:.2f}"
    )
    print(
        f"sequential baseline          {baseline_seconds:7.2f} s   ({how}; {len(baseline.calls)} calls, {b[429]} x 429)"
    )
    print(
        f"throttle-bound minimum       {minimum:7.2f} s   (max over subscriptions of "
        f"max(0, {max(needed.values())} - {args.burst}) / {args.refill:g} + {args.latency_ms:g} ms)"
    )
    print()
    print(
        "ARM calls by kind (parallel run): "
        + ", ".join(f"{kind} {sum(c.values())} ({c[200]} ok, {c[429]} x 429)" for kind, c in sorted(kinds.items()))
    )
    print(
        f"calls per cloud: {per_cloud:.3f} successful reads (3 + {list_pages} list pages / {clouds} = "
        f"{expected_per_cloud:.3f}); {len(parallel.calls) / clouds:.3f} counting the 429s"
    )
    print(
        f"repeated (method, path, query): {dup_total} extra calls, {dup_throttled} after a 429, "
        f"{dup_total - dup_throttled} otherwise; duplicate successful reads: {dup_ok}"
    )
    print(f"baseline read the same facts as the parallel run for its {len(baseline.records)} clouds: {same}")
    print()
    checks = [
        (f"speedup over the baseline {speedup:.2f}x >= {SPEEDUP_TARGET:g}x", speedup >= SPEEDUP_TARGET),
        (f"parallel / minimum {over_minimum:.3f} <= {MINIMUM_TARGET:g}", over_minimum <= MINIMUM_TARGET),
        ("exactly the reads the facts need, no other errors", exact and others == 0),
        ("no duplicate reads apart from 429 retries", dup_ok == 0 and dup_total == dup_throttled),
        ("same facts, nothing unread", same),
    ]
    for what, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {what}")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
