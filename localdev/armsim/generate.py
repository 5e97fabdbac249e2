"""Generate large, valid fleets for benchmarks and scale tests (e.g. 1,000 clouds in 10 subscriptions).

Deterministic for a given set of arguments, so a benchmark run can be repeated. Address plan, chosen so
that overlaps happen only where asked for:
- network blocks: /22s from 10.0.0.0/10 (4,096 clouds at most)
- ExpressRoute /30 pairs: /29s from 100.64.0.0/10
- one routed NSX segment per cloud: /24s from 10.64.0.0/10; plus one unrouted 192.168.100.0/24
  segment on every cloud, overlapping everywhere as unrouted segments may
- Global Reach on every 4th cloud: /29s from 172.16.0.0/12
Also `python -m localdev.armsim.generate --clouds 1000 --subscriptions 10 > fleet.json`.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

_BLOCKS = ipaddress.IPv4Network("10.0.0.0/10")
_SEGMENTS = ipaddress.IPv4Network("10.64.0.0/10")
_CIRCUITS = ipaddress.IPv4Network("100.64.0.0/10")
_GLOBAL_REACH = ipaddress.IPv4Network("172.16.0.0/12")


def _nth(pool: ipaddress.IPv4Network, prefix: int, n: int) -> ipaddress.IPv4Network:
    size = 2 ** (32 - prefix)
    if (n + 1) * size > pool.num_addresses:
        raise ValueError(f"{pool} has no room for {n + 1} /{prefix} networks")
    return ipaddress.IPv4Network((int(pool.network_address) + n * size, prefix))


def subscription_id(n: int, seed: int = 0) -> str:
    return str(uuid.UUID(int=(seed << 64) | (n + 1)))


def generate_fleet(
    clouds: int,
    subscriptions: int = 1,
    *,
    regions: Sequence[str] = ("eastus", "westeurope", "southeastasia"),
    resource_groups_per_subscription: int = 2,
    linked_fraction: float = 0.3,
    overlapping: int = 0,
    read_only: int = 0,
    settings: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """A fleet document with `clouds` private clouds spread round-robin over subscriptions and regions.

    `linked_fraction` of same-region neighbour pairs start linked (each cloud in at most one link);
    the first `overlapping` clouds reuse the network block of another cloud in their region; the last
    `read_only` clouds are read-only to the app.
    """
    if overlapping > max(0, clouds - len(regions)):
        raise ValueError("overlapping needs another cloud in the same region for each overlapping cloud")
    rng = random.Random(seed)
    subs = [
        {
            "id": subscription_id(s, seed),
            "resourceGroups": [
                {"name": f"rg-avs-{g:02d}", "privateClouds": []} for g in range(resource_groups_per_subscription)
            ],
        }
        for s in range(subscriptions)
    ]
    docs: list[dict[str, Any]] = []
    ids: list[str] = []
    for i in range(clouds):
        s, g = i % subscriptions, (i // subscriptions) % resource_groups_per_subscription
        circuit = _nth(_CIRCUITS, 29, i)
        block_owner = i + len(regions) if i < overlapping else i  # same index modulo regions: same region
        doc: dict[str, Any] = {
            "name": f"pc-{i:04d}",
            "location": regions[i % len(regions)],
            "networkBlock": str(_nth(_BLOCKS, 22, block_owner)),
            "circuit": {"primarySubnet": str(_nth(circuit, 30, 0)), "secondarySubnet": str(_nth(circuit, 30, 1))},
            "segments": [
                {
                    "name": "workload",
                    "gatewayAddress": f"{_nth(_SEGMENTS, 24, i).network_address + 1}/24",
                    "connectedGateway": "/infra/tier-1s/TNT-T1",
                },
                {"name": "isolated", "gatewayAddress": "192.168.100.1/24"},
            ],
            "permissions": "read" if i >= clouds - read_only else "write",
            "links": [],
        }
        if i % 4 == 0:
            doc["globalReach"] = [{"name": "onprem", "addressPrefix": str(_nth(_GLOBAL_REACH, 29, i // 4))}]
        rg = subs[s]["resourceGroups"][g]
        rg["privateClouds"].append(doc)
        docs.append(doc)
        ids.append(
            f"/subscriptions/{subs[s]['id']}/resourceGroups/{rg['name']}"
            f"/providers/Microsoft.AVS/privateClouds/{doc['name']}"
        )
    for region in range(len(regions)):
        in_region = list(range(region, clouds, len(regions)))
        for a, b in zip(in_region[0::2], in_region[1::2], strict=False):
            if rng.random() < linked_fraction:
                docs[a]["links"].append({"target": ids[b]})
    return {
        "description": f"generated: {clouds} clouds, {subscriptions} subscriptions, seed {seed}",
        "settings": dict(settings or {}),
        "subscriptions": subs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.armsim.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--clouds", type=int, required=True)
    parser.add_argument("--subscriptions", type=int, default=1)
    parser.add_argument("--linked-fraction", type=float, default=0.3)
    parser.add_argument("--overlapping", type=int, default=0)
    parser.add_argument("--read-only", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    json.dump(
        generate_fleet(
            args.clouds,
            args.subscriptions,
            linked_fraction=args.linked_fraction,
            overlapping=args.overlapping,
            read_only=args.read_only,
            seed=args.seed,
        ),
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
