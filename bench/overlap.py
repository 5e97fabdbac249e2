"""The overlap check at scale: two clouds with 10,000 routed prefixes each, sweep against pairwise.

Both run in the same process on the same inputs, so the ratio holds on a noisy machine. The prefixes are
/24s to /29s drawn inside 10.0.0.0/8 and fd00::/32 with a fixed seed, so a few hundred pairs overlap.

    python -m bench.overlap [--size 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time

from interconnect.avs.cidr import Prefix, find_overlaps, find_overlaps_pairwise


def prefixes(rng: random.Random, count: int, origin: str) -> list[Prefix]:
    out = []
    for _ in range(count):
        if rng.random() < 0.8:
            length = rng.randint(24, 29)
            address = ipaddress.IPv4Address((10 << 24) | rng.getrandbits(24))
            out.append(Prefix(ipaddress.ip_network(f"{address}/{length}", strict=False), origin))
        else:
            length = rng.randint(56, 64)
            address = ipaddress.IPv6Address((0xFD00 << 112) | (rng.getrandbits(32) << 64))
            out.append(Prefix(ipaddress.ip_network(f"{address}/{length}", strict=False), origin))
    return out


def best_of(repeat: int, fn, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10_000, help="prefixes per cloud")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args()
    rng = random.Random(20261125)
    left, right = prefixes(rng, args.size, "left"), prefixes(rng, args.size, "right")
    sweep_time, sweep = best_of(args.repeat, find_overlaps, left, right)
    pair_time, pairwise = best_of(max(1, args.repeat // 3), find_overlaps_pairwise, left, right)
    key = lambda p: (str(p[0].network), str(p[1].network))  # noqa: E731
    assert sorted(map(key, sweep)) == sorted(map(key, pairwise)), "sweep and pairwise disagree"  # type: ignore[arg-type]
    print(f"{args.size} x {args.size} prefixes, {len(sweep)} overlapping pairs")  # type: ignore[arg-type]
    print(f"sweep     {sweep_time * 1000:9.1f} ms")
    print(f"pairwise  {pair_time * 1000:9.1f} ms")
    print(f"ratio pairwise/sweep: {pair_time / sweep_time:.0f}x")


if __name__ == "__main__":
    main()
