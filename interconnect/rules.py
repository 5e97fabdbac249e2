"""Pre-flight rules and the decision they lead to. Pure: facts in, decision out.

Each rule returns the reasons it fails for (empty when it passes); `decide` runs them all, so a rejected
request lists every failing rule, not only the first. Messages name the clouds and prefixes involved;
details carry the same in structured form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from interconnect.armid import CloudId, link_name
from interconnect.cidr import Prefix, find_overlaps
from interconnect.facts import Cloud, Link, LinkStatus, PermissionEntry
from interconnect.model import Action, Reason, Requester
from interconnect.permissions import DELETE_LINK, WRITE_LINK, is_granted
from interconnect.policy import DEFAULT, Policy
from interconnect.routed import RoutedSpace

LINK_LIMIT = 10  # AVS interconnects per private cloud (reference/avs-api.md §3, DOC-LIM)
MAX_LISTED_PAIRS = 20


@dataclass(frozen=True)
class CloudFacts:
    """One cloud as ARM described it, with its routed space and the app's permissions on it."""

    cloud: Cloud
    space: RoutedSpace = field(default_factory=lambda: RoutedSpace(()))
    permissions: tuple[PermissionEntry, ...] | None = None  # None: not read for this request

    @property
    def id(self) -> CloudId:
        return self.cloud.id


@dataclass(frozen=True)
class Pending:
    """A connect accepted before this request and not finished yet: its link may appear any moment."""

    request_id: str
    source: CloudId
    target: CloudId


@dataclass(frozen=True)
class Facts:
    """What ARM (and our own records) said at validation time. An end is None when it cannot be read."""

    action: Action
    source_id: CloudId
    target_id: CloudId
    requester: Requester
    source: CloudFacts | None
    target: CloudFacts | None
    links: tuple[Link, ...] = ()  # every link held by either end or pointing at it
    neighbors: tuple[CloudFacts, ...] = ()  # clouds linked (or about to be) to either end, other than the pair
    pending: tuple[Pending, ...] = ()
    policy: Policy = DEFAULT

    def ends(self) -> list[tuple[CloudId, CloudFacts | None]]:
        return [(self.source_id, self.source), (self.target_id, self.target)]

    @property
    def pair_links(self) -> tuple[Link, ...]:
        """Links between the two clouds, in either direction."""
        return tuple(link for link in self.links if link.joins(self.source_id, self.target_id))

    def peers_of(self, cloud: CloudId) -> set[CloudId]:
        """Clouds linked to `cloud` in either direction, or about to be, excluding the pair itself."""
        peers = {link.target if link.source == cloud else link.source for link in self.links
                 if cloud in (link.source, link.target)}
        peers |= {p.target if p.source == cloud else p.source for p in self.pending if cloud in (p.source, p.target)}
        return peers - {self.source_id, self.target_id}


Rule = Callable[[Facts], list[Reason]]


def same_cloud(facts: Facts) -> list[Reason]:
    if facts.source_id != facts.target_id:
        return []
    return [Reason("SAME_CLOUD", f"source and target are the same private cloud ({facts.source_id})",
                   {"cloud": str(facts.source_id)})]


def cloud_found(facts: Facts) -> list[Reason]:
    return [Reason("CLOUD_NOT_FOUND", f"private cloud {cloud_id} does not exist or cannot be read",
                   {"cloud": str(cloud_id)})
            for cloud_id, end in facts.ends() if end is None]


def cloud_ready(facts: Facts) -> list[Reason]:
    return [Reason("CLOUD_NOT_READY",
                   f"private cloud {end.id.short} is {end.cloud.provisioning_state or 'in no state'}, not Succeeded",
                   {"cloud": str(end.id), "provisioningState": end.cloud.provisioning_state})
            for _, end in facts.ends() if end is not None and end.cloud.provisioning_state != "Succeeded"]


def same_region(facts: Facts) -> list[Reason]:
    source, target = facts.source, facts.target
    if source is None or target is None or source.cloud.region == target.cloud.region:
        return []
    return [Reason("REGION_MISMATCH",
                   f"{source.id.short} is in {source.cloud.location} but {target.id.short} is in "
                   f"{target.cloud.location}; AVS Interconnect links clouds in the same region only",
                   {"source": {"cloud": str(source.id), "location": source.cloud.location},
                    "target": {"cloud": str(target.id), "location": target.cloud.location}})]


def permission(facts: Facts) -> list[Reason]:
    """Connect needs cloudLinks/write on both clouds; disconnect needs cloudLinks/delete where links live."""
    if facts.action is Action.CONNECT:
        needed = [(end, WRITE_LINK) for _, end in facts.ends() if end is not None]
    else:
        holders = {link.source for link in facts.pair_links}
        needed = [(end, DELETE_LINK) for _, end in facts.ends() if end is not None and end.id in holders]
    return [Reason("PERMISSION_DENIED", f"the app's identity lacks {action} on {end.id.short}",
                   {"cloud": str(end.id), "action": action})
            for end, action in needed
            if end.permissions is not None and not is_granted(end.permissions, action)]


def link_count(facts: Facts, cloud: CloudId) -> int:
    """Links at `cloud`, outgoing and incoming, plus accepted connects whose link is not visible yet."""
    visible = {(link.source, link.target) for link in facts.links if cloud in (link.source, link.target)}
    coming = {(p.source, p.target) for p in facts.pending if cloud in (p.source, p.target)}
    coming = {(s, t) for s, t in coming if (s, t) not in visible and (t, s) not in visible}
    return len(visible) + len(coming)


def link_limit(facts: Facts) -> list[Reason]:
    reasons = []
    for cloud_id, end in facts.ends():
        count = link_count(facts, cloud_id)
        if end is not None and count >= LINK_LIMIT:
            reasons.append(Reason("LINK_LIMIT", f"{cloud_id.short} already has {count} links (including "
                                                f"accepted requests); AVS allows {LINK_LIMIT} per private cloud",
                                  {"cloud": str(cloud_id), "links": count, "limit": LINK_LIMIT}))
    return reasons


def describe_overlaps(pairs: list[tuple[Prefix, Prefix]], limit: int = MAX_LISTED_PAIRS) -> str:
    """The overlapping pairs as a person reads them, the first `limit` of them."""
    shown = ", ".join(f"{a.network} ({a.origin}) with {b.network} ({b.origin})" for a, b in pairs[:limit])
    return shown + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")


def _pairs(pairs: list[tuple[Prefix, Prefix]]) -> tuple[str, list[dict[str, str]]]:
    details = [{"left": str(a.network), "leftOrigin": a.origin, "right": str(b.network), "rightOrigin": b.origin}
               for a, b in pairs]
    return describe_overlaps(pairs), details


def address_overlap(facts: Facts) -> list[Reason]:
    source, target = facts.source, facts.target
    if source is None or target is None:
        return []
    pairs = find_overlaps(source.space.prefixes, target.space.prefixes)
    if not pairs:
        return []
    shown, details = _pairs(pairs)
    return [Reason("ADDRESS_OVERLAP", f"routed address spaces of {source.id.short} and {target.id.short} overlap: "
                                      f"{shown}", {"source": str(source.id), "target": str(target.id),
                                                   "overlaps": details})]


def neighbor_overlap(facts: Facts) -> list[Reason]:
    """A peer of one end must not overlap the other end: that end would learn the prefix from two peers."""
    by_id = {n.id: n for n in facts.neighbors}
    reasons = []
    for end, other in ((facts.source, facts.target), (facts.target, facts.source)):
        if end is None or other is None:
            continue
        for peer_id in sorted(facts.peers_of(end.id), key=lambda c: c.normalized):
            peer = by_id.get(peer_id)
            if peer is None:
                continue
            pairs = find_overlaps(peer.space.prefixes, other.space.prefixes)
            if pairs:
                shown, details = _pairs(pairs)
                reasons.append(Reason(
                    "NEIGHBOR_OVERLAP",
                    f"{peer.id.short}, already linked to {end.id.short}, overlaps {other.id.short}: {shown}",
                    {"neighbor": str(peer.id), "linkedTo": str(end.id), "other": str(other.id), "overlaps": details}))
    return reasons


def routed_space_readable(facts: Facts) -> list[Reason]:
    """A prefix we cannot parse is a prefix we cannot prove disjoint: refuse rather than guess."""
    ends = [end for _, end in facts.ends() if end is not None]
    return [Reason("INVALID_PREFIX", problem, {"cloud": str(cloud.id)})
            for cloud in (*ends, *facts.neighbors) for problem in cloud.space.problems]


def requester_allowed(facts: Facts) -> list[Reason]:
    return facts.policy.check(facts.requester, facts.action, (facts.source_id, facts.target_id))


RULES: dict[Action, tuple[Rule, ...]] = {
    Action.CONNECT: (same_cloud, requester_allowed, cloud_found, cloud_ready, same_region, permission, link_limit,
                     routed_space_readable, address_overlap, neighbor_overlap),
    # Removing a link must stay possible when a cloud is degraded, overlaps, or was linked across regions by
    # hand, so disconnect checks only who asks, that the clouds can be read, and that we may delete.
    Action.DISCONNECT: (same_cloud, requester_allowed, cloud_found, permission),
}


def evaluate(facts: Facts) -> list[Reason]:
    return [reason for rule in RULES[facts.action] for reason in rule(facts)]


@dataclass(frozen=True)
class Decision:
    """`reject`: reasons say why. `noop`: nothing to change. `create`/`delete`: act on `link_name` of `holder`."""

    kind: Literal["reject", "noop", "create", "delete"]
    outcome: str
    reasons: tuple[Reason, ...] = ()
    holder: CloudId | None = None
    link_name: str = ""
    target: CloudId | None = None


def decide(facts: Facts) -> Decision:
    """Decide what to do about a request given the facts."""
    pair = facts.pair_links
    if facts.action is Action.CONNECT:
        # Already linked is a no-op whatever the rules say now: nothing would change in Azure.
        healthy = [link for link in pair if LinkStatus.normalize(link.status) in (LinkStatus.ACTIVE,
                                                                                   LinkStatus.BUILDING)]
        if healthy:
            link = healthy[0]
            return Decision("noop", f"already linked: {link.source.short} → {link.target.short} "
                                    f"({link.name}, {LinkStatus.normalize(link.status)})")
    reasons = evaluate(facts)
    if reasons:
        return Decision("reject", "; ".join(r.message for r in reasons), tuple(reasons))
    if facts.action is Action.CONNECT:
        return _connect(facts, pair)
    return _disconnect(facts, pair)


def _connect(facts: Facts, pair: tuple[Link, ...]) -> Decision:
    deleting = [link for link in pair if LinkStatus.normalize(link.status) == LinkStatus.DELETING]
    if deleting:
        link = deleting[0]
        reason = Reason("LINK_BUSY", f"link {link.name} between the clouds is being deleted; ask again once "
                                     f"it is gone", {"link": link.name, "cloud": str(link.source)})
        return Decision("reject", reason.message, (reason,))
    if pair:
        # A Failed or Disconnected link: PUT it again where it lives rather than adding a second one.
        link = pair[0]
        return Decision("create", f"repairing {LinkStatus.normalize(link.status)} link {link.name}",
                        holder=link.source, link_name=link.name, target=link.target)
    return Decision("create", "link requested", holder=facts.source_id, link_name=link_name(facts.target_id),
                    target=facts.target_id)


def _disconnect(facts: Facts, pair: tuple[Link, ...]) -> Decision:
    if not pair:
        return Decision("noop", f"not linked: no link between {facts.source_id.short} and "
                                f"{facts.target_id.short}")
    link = pair[0]  # the others, if a link exists both ways, are removed once this one is gone
    return Decision("delete", f"unlinking {link.source.short} → {link.target.short}", holder=link.source,
                    link_name=link.name, target=link.target)
