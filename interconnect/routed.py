"""A private cloud's routed address space: what AVS Interconnect would advertise to a linked cloud.

Per reference/avs-api.md §1.5: the management network block, extended network blocks, the ExpressRoute
circuit /30s (primary and secondary circuits), Global Reach prefixes, and NSX segments that have a
connected gateway (the network of the segment's gateway CIDR). Segments without a connected gateway are
not routed ("only routes between the NSX T0 on each private cloud") and are ignored. A prefix that does not
parse is reported, not raised: one bad value read from ARM must not crash the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from interconnect.cidr import Prefix, parse_prefix
from interconnect.facts import Cloud, Segment


@dataclass(frozen=True)
class RoutedSpace:
    prefixes: tuple[Prefix, ...]
    problems: tuple[str, ...] = ()  # one sentence per prefix that could not be read


def routed_space(cloud: Cloud, segments: tuple[Segment, ...], global_reach: tuple[str, ...]) -> RoutedSpace:
    candidates: list[tuple[str, str, bool]] = []  # (text, origin, is an interface address)
    if cloud.network_block:
        candidates.append((cloud.network_block, "networkBlock", False))
    candidates += [(block, "extendedNetworkBlocks", False) for block in cloud.extended_network_blocks]
    candidates += [(subnet, "ExpressRoute circuit", False) for subnet in cloud.circuit_subnets]
    candidates += [(prefix, "Global Reach", False) for prefix in global_reach]
    candidates += [(segment.gateway, f"segment {segment.name}", True)
                   for segment in segments if segment.connected_gateway]
    prefixes, problems = [], []
    for text, origin, interface in candidates:
        try:
            prefixes.append(parse_prefix(text, origin, interface=interface))
        except ValueError as exc:
            problems.append(f"{cloud.id.short}: {exc}")
    return RoutedSpace(tuple(prefixes), tuple(problems))
