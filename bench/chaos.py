"""Full-size reliability runs on the local cloud (the test suite runs smaller ones).

    python -m bench.chaos faults  [--requests 200] [--rate 0.2]   200 connects, a fifth of ARM calls failing
    python -m bench.chaos crashes [--requests 200] [--kills 20]   the host SIGKILLed at random moments

Each prints what must hold (every request terminal and Succeeded, no link created twice, every audit trail
complete and in order), the time it took, and, for a baseline in the same process, the same run without
faults or crashes.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path

from localdev.armsim import ArmSimAdmin
from localdev.chaos import (
    Api,
    Report,
    arm_faults,
    chaos_cloud,
    check,
    cloud_id,
    crash_loop,
    pair_fleet,
    wait_terminal,
)
from localdev.cloud import LocalCloud


def run(
    cloud: LocalCloud, requests: int, *, faults: float = 0.0, kills: int = 0, seed: int = 1
) -> tuple[Report, float]:
    api, arm = Api(cloud.host_url), ArmSimAdmin(cloud.arm_url)
    arm.load_fleet(pair_fleet(requests, faults=arm_faults(faults, seed) if faults else None))
    run_id = uuid.uuid4().hex
    stop, done_kills = threading.Event(), []
    chaos = threading.Thread(
        target=lambda: done_kills.append(
            crash_loop(lambda: cloud.service("host").kill(), cloud.start_host, kills, random.Random(seed), stop)
        )
    )
    started = time.monotonic()
    if kills:
        chaos.start()
    try:
        ids = [
            api.submit({"action": "connect", "source": cloud_id(f"s{i}"), "target": cloud_id(f"t{i}")}, f"{run_id}-{i}")
            for i in range(requests)
        ]
        if kills:
            chaos.join(timeout=600)
    finally:
        stop.set()
        if kills:
            chaos.join()
    report = check(wait_terminal(api, ids, timeout=1800), arm)
    elapsed = time.monotonic() - started
    report.extra.update({"links": len(arm.state()["links"]), "distinct requests": len(set(ids))})
    if kills:
        report.extra["kills"] = done_kills[0] if done_kills else 0
    return report, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["faults", "crashes"])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.2, help="share of ARM calls that fail (faults)")
    parser.add_argument("--kills", type=int, default=20, help="host crashes (crashes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, chaos_cloud(Path(tmp)) as cloud:
        base, base_time = run(cloud, args.requests)
        if args.scenario == "faults":
            report, took = run(cloud, args.requests, faults=args.rate)
        else:
            report, took = run(cloud, args.requests, kills=args.kills)
    print(f"baseline ({args.requests} connects, no faults): {base_time:.1f} s; {base.summary()}")
    print(
        f"{args.scenario:<8} ({args.requests} connects): {took:.1f} s ({took / base_time:.1f}x baseline); "
        f"{report.summary()}"
    )
    verdict = report.ok and report.statuses == {"Succeeded": args.requests}
    print(
        "PASS: every request Succeeded, no link created twice, every audit trail complete and in order"
        if verdict
        else f"FAIL: {report.duplicate_creates or ''} {report.trail_problems[:5]}"
    )


if __name__ == "__main__":
    main()
