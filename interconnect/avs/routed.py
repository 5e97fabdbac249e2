"""A private cloud's routed address space: what AVS Interconnect would advertise to a linked cloud.

Per docs/avs-api.md §1.5: the management network block, extended network blocks, the ExpressRoute
circuit /30s (primary and secondary circuits), Global Reach prefixes, and NSX segments that have a
connected gateway (the network of the segment's gateway CIDR).

A value that does not parse, and an empty or missing one on an object that routes, is reported, not raised
and never dropped: one bad value read from ARM must not crash the worker, and a prefix we cannot read is a
prefix we cannot prove disjoint, so "overlap cannot be ruled out" must never turn into "no overlap".

Exempt only where the AVS docs establish that the object routes nothing in that state: a segment without a
connected gateway ("only routes between the NSX T0 on each private cloud", DOC-IC in docs/avs-api.md §1.5),
so its gateway address, empty or not, is ignored. Nothing in the docs says a Global Reach connection that is
not `Connected` routes nothing, so its prefix is required whatever its `circuitConnectionStatus`; a circuit
that ARM lists must have both subnets (an absent circuit is simply not there).
"""

from __future__ import annotations

from dataclasses import dataclass

from interconnect.avs.cidr import Prefix, parse_prefix
from interconnect.avs.resources import Cloud, Segment


@dataclass(frozen=True)
class RoutedSpace:
    prefixes: tuple[Prefix, ...]
    problems: tuple[str, ...] = ()  # one sentence per prefix that could not be read, naming its object


def routed_space(cloud: Cloud, segments: tuple[Segment, ...], global_reach: tuple[str, ...]) -> RoutedSpace:
    candidates: list[tuple[str, str, str, bool]] = []  # (text, origin, the object for people, interface address)
    candidates.append((cloud.network_block, "networkBlock", "networkBlock", False))
    candidates += [
        (block, "extendedNetworkBlocks", f"extendedNetworkBlocks[{i}]", False)
        for i, block in enumerate(cloud.extended_network_blocks)
    ]
    candidates += [
        (subnet, "ExpressRoute circuit", f"ExpressRoute circuit subnet {i + 1}", False)
        for i, subnet in enumerate(cloud.circuit_subnets)
    ]
    candidates += [
        (prefix, "Global Reach", f"Global Reach connection {i + 1} of {len(global_reach)}", False)
        for i, prefix in enumerate(global_reach)
    ]
    candidates += [
        (segment.gateway, f"segment {segment.name}", f"segment {segment.name}", True)
        for segment in segments
        if segment.connected_gateway
    ]
    prefixes, problems = [], []
    for text, origin, what, interface in candidates:
        if not (text or "").strip():
            problems.append(
                f"{cloud.id.short}: {what} has an empty or missing address prefix, so overlap cannot be ruled out"
            )
            continue
        try:
            prefixes.append(parse_prefix(text, origin, interface=interface))
        except ValueError as exc:
            problems.append(f"{cloud.id.short}: {exc}")
    return RoutedSpace(tuple(prefixes), tuple(problems))
