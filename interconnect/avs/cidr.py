"""Routed prefixes and the overlap check between two sets of them, in O(n log n + k).

CIDR blocks either nest or are disjoint, so after sorting by (start, widest first) the blocks still open
at any start address form a chain of containers. Sweeping once with one such chain per side finds every
overlapping pair: a block overlaps exactly the other side's blocks that are open when it starts, plus
those that start inside it, which find it in their turn. Adjacent blocks (one ends where the next
begins) do not overlap. IPv4 and IPv6 are separate address spaces and are swept separately.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Prefix:
    """A routed prefix and where it came from (e.g. "networkBlock", "segment web-01")."""

    network: Network
    origin: str

    @property
    def first(self) -> int:
        return int(self.network.network_address)

    @property
    def last(self) -> int:
        return int(self.network.broadcast_address)

    def __str__(self) -> str:
        return f"{self.network} ({self.origin})"


def parse_prefix(text: str, origin: str, *, interface: bool = False) -> Prefix:
    """Parse a CIDR. `interface=True` accepts host bits (a gateway address like 10.1.2.1/24 → 10.1.2.0/24).

    Raises ValueError with a readable message for anything else.
    """
    if not isinstance(text, str) or "/" not in text:
        raise ValueError(f"{origin}: {text!r} is not a CIDR prefix")
    try:
        return Prefix(ipaddress.ip_network(text.strip(), strict=not interface), origin)
    except ValueError as exc:
        raise ValueError(f"{origin}: {text!r} is not a valid prefix ({exc})") from None


def find_overlaps(left: Iterable[Prefix], right: Iterable[Prefix]) -> list[tuple[Prefix, Prefix]]:
    """Every (l, r) with l from `left` and r from `right` whose address ranges intersect."""
    pairs: list[tuple[Prefix, Prefix]] = []
    for version in (4, 6):
        tagged = [(p, 0) for p in left if p.network.version == version]
        tagged += [(p, 1) for p in right if p.network.version == version]
        # Widest first at equal starts, so a container is open before what it contains.
        tagged.sort(key=lambda item: (item[0].first, -item[0].last, item[1]))
        open_chains: tuple[list[Prefix], list[Prefix]] = ([], [])
        for prefix, side in tagged:
            for chain in open_chains:
                while chain and chain[-1].last < prefix.first:
                    chain.pop()
            for other in open_chains[1 - side]:
                pairs.append((prefix, other) if side == 0 else (other, prefix))
            open_chains[side].append(prefix)
    return pairs


def find_overlaps_pairwise(left: Sequence[Prefix], right: Sequence[Prefix]) -> list[tuple[Prefix, Prefix]]:
    """The O(n·m) check, kept as the oracle for tests and the baseline for the benchmark."""
    return [
        (a, b)
        for a in left
        for b in right
        if a.network.version == b.network.version and a.first <= b.last and b.first <= a.last
    ]
