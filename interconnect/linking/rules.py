"""Pre-flight rules and the decision they lead to. Pure: facts in, decision out.

Each rule returns the reasons it fails for (empty when it passes); `decide` runs them all, so a rejected
request lists every failing rule, not only the first. Messages name the clouds and prefixes involved;
details carry the same in structured form.

What ARM refused to show is a fact too (`Facts.refusals`): a rule that needs a refused read answers "cannot be
read" with the cloud and the read, so a refusal is a verdict on the first delivery, never an exception. A
malformed answer is such a refusal (code ARM_MALFORMED_ANSWER): what it said is not decided on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from interconnect.avs.cidr import Prefix, find_overlaps
from interconnect.avs.ids import CloudId, link_name
from interconnect.avs.permissions import DELETE_LINK, WRITE_LINK, is_granted
from interconnect.avs.resources import Link, LinkStatus, Refusal
from interconnect.linking.facts import CloudFacts, Facts
from interconnect.linking.model import Action, Reason

LINK_LIMIT = 10  # AVS interconnects per private cloud (docs/avs-api.md §3, DOC-LIM)
MAX_LISTED_PAIRS = 20


Rule = Callable[[Facts], list[Reason]]


# The questions every rule asks of the facts, kept beside the rules that ask them.
def _ends(facts: Facts) -> list[tuple[CloudId, CloudFacts | None]]:
    return [(facts.source_id, facts.source), (facts.target_id, facts.target)]


def _end(facts: Facts, cloud: CloudId) -> CloudFacts | None:
    return facts.source if cloud == facts.source_id else facts.target if cloud == facts.target_id else None


def _other_end(facts: Facts, cloud: CloudId) -> CloudFacts | None:
    return facts.target if cloud == facts.source_id else facts.source


def _refused(facts: Facts, cloud: CloudId, read: str) -> Refusal | None:
    return next((r for r in facts.refusals if r.cloud == cloud and r.read == read), None)


def same_cloud(facts: Facts) -> list[Reason]:
    if facts.source_id != facts.target_id:
        return []
    return [
        Reason(
            "SAME_CLOUD",
            f"source and target are the same private cloud ({facts.source_id})",
            {"cloud": str(facts.source_id)},
        )
    ]


def _may_hold_unseen_link(facts: Facts, cloud_id: CloudId) -> bool:
    """Whether `cloud_id`, an end that could not be read, may hold a link to the other end: yes unless the
    other end was read and does not name it among the clouds holding links to it (`externalCloudLinks`)."""
    other = _other_end(facts, cloud_id)
    return other is None or cloud_id in other.cloud.external_links


def _unreadable(facts: Facts, cloud_id: CloudId) -> Reason:
    refusal = _refused(facts, cloud_id, "privateClouds.get")
    if refusal is None:
        return Reason(
            "CLOUD_NOT_FOUND", f"private cloud {cloud_id} does not exist or cannot be read", {"cloud": str(cloud_id)}
        )
    if refusal.malformed:
        # Not "not found": ARM answered, with something that cannot be trusted; the person needs to know which.
        return Reason(
            f"ARM_{refusal.arm_code}", f"private cloud {cloud_id} cannot be read: {refusal.answer}", refusal.details()
        )
    return Reason("CLOUD_NOT_FOUND", f"private cloud {cloud_id} cannot be read: {refusal.answer}", refusal.details())


def cloud_found(facts: Facts) -> list[Reason]:
    """Both ends can be read. A disconnect can do without one end when the other end holds a link to be
    removed and shows that every link between the two is known, so a link to a cloud that is gone, or that
    the app may no longer read, can still be removed."""
    return [
        _unreadable(facts, cloud_id)
        for cloud_id, end in _ends(facts)
        if end is None
        and (facts.action is Action.CONNECT or not facts.pair_links or _may_hold_unseen_link(facts, cloud_id))
    ]


def _refused_read(refusal: Refusal) -> Reason:
    """A refused read of an end: not allowed (401/403), gone (404), or ARM's own code for any other 4xx."""
    if refusal.status in (401, 403):
        return Reason(
            "PERMISSION_DENIED",
            f"the app's identity may not read {refusal.what} ({refusal.answer}), so the request cannot be checked",
            refusal.details(),
        )
    if refusal.status == 404:
        return Reason(
            "CLOUD_NOT_FOUND",
            f"{refusal.what} cannot be read ({refusal.answer}); the private cloud may be gone",
            refusal.details(),
        )
    return Reason(f"ARM_{refusal.arm_code}", f"{refusal.what} cannot be read ({refusal.answer})", refusal.details())


def ends_readable(facts: Facts) -> list[Reason]:
    """Every read of an end that the decision needs was answered (the GET itself is `cloud_found`'s).

    A connect needs all of them: links (limit, peers), segments and Global Reach (overlap), permissions. A
    disconnect needs the permissions where a link lives and the links of each end that may hold one: an end
    the other end does not name in `externalCloudLinks` holds none (when that other end was read).
    """
    reasons = []
    for refusal in facts.refusals:
        if _end(facts, refusal.cloud) is None or refusal.read == "privateClouds.get":
            continue
        if facts.action is Action.DISCONNECT and refusal.read == "cloudLinks.list":
            other = _other_end(facts, refusal.cloud)
            if (
                other is not None
                and refusal.cloud not in other.cloud.external_links
                and not _refused(facts, other.id, "cloudLinks.list")
            ):
                continue
        reasons.append(_refused_read(refusal))
    return reasons


def pair_unknown(facts: Facts) -> list[Reason]:
    """Why the links between the pair cannot all be known (for a disconnect's follow-up), or nothing."""
    return [
        _unreadable(facts, cloud_id)
        for cloud_id, end in _ends(facts)
        if end is None and _may_hold_unseen_link(facts, cloud_id)
    ] + ends_readable(facts)


def cloud_ready(facts: Facts) -> list[Reason]:
    return [
        Reason(
            "CLOUD_NOT_READY",
            f"private cloud {end.id.short} is {end.cloud.provisioning_state or 'in no state'}, not Succeeded",
            {"cloud": str(end.id), "provisioningState": end.cloud.provisioning_state},
        )
        for _, end in _ends(facts)
        if end is not None and end.cloud.provisioning_state != "Succeeded"
    ]


def same_region(facts: Facts) -> list[Reason]:
    source, target = facts.source, facts.target
    if source is None or target is None or source.cloud.region == target.cloud.region:
        return []
    return [
        Reason(
            "REGION_MISMATCH",
            f"{source.id.short} is in {source.cloud.location} but {target.id.short} is in "
            f"{target.cloud.location}; AVS Interconnect links clouds in the same region only",
            {
                "source": {"cloud": str(source.id), "location": source.cloud.location},
                "target": {"cloud": str(target.id), "location": target.cloud.location},
            },
        )
    ]


def permission(facts: Facts) -> list[Reason]:
    """Connect needs cloudLinks/write on both clouds; disconnect needs cloudLinks/delete where links live."""
    if facts.action is Action.CONNECT:
        needed = [(end, WRITE_LINK) for _, end in _ends(facts) if end is not None]
    else:
        holders = {link.source for link in facts.pair_links}
        needed = [(end, DELETE_LINK) for _, end in _ends(facts) if end is not None and end.id in holders]
    return [
        Reason(
            "PERMISSION_DENIED",
            f"the app's identity lacks {action} on {end.id.short}",
            {"cloud": str(end.id), "action": action},
        )
        for end, action in needed
        if end.permissions is not None and not is_granted(end.permissions, action)
    ]


def link_count(facts: Facts, cloud: CloudId) -> int:
    """Links at `cloud`, outgoing and incoming (an end's `externalCloudLinks` included, whether or not the
    holder's links could be listed), plus accepted connects whose link is not visible yet."""
    visible = {(link.source, link.target) for link in facts.links if cloud in (link.source, link.target)}
    end = _end(facts, cloud)
    if end is not None:
        visible |= {(holder, cloud) for holder in end.cloud.external_links}
    coming = {(p.source, p.target) for p in facts.pending if cloud in (p.source, p.target)}
    coming = {(s, t) for s, t in coming if (s, t) not in visible and (t, s) not in visible}
    return len(visible) + len(coming)


def adds_a_link(facts: Facts) -> bool:
    """Whether this connect would add a link: not when one between the pair exists (a Failed or Disconnected
    one is repaired by a PUT of that same link) or an earlier accepted connect of the pair will make it."""
    if facts.pair_links:
        return False
    pair = {facts.source_id, facts.target_id}
    return not any({p.source, p.target} == pair for p in facts.pending)


def link_limit(facts: Facts) -> list[Reason]:
    reasons = []
    adding = adds_a_link(facts)
    for cloud_id, end in _ends(facts):
        count = link_count(facts, cloud_id)
        if end is not None and count + adding > LINK_LIMIT:
            reasons.append(
                Reason(
                    "LINK_LIMIT",
                    f"{cloud_id.short} already has {count} links (including "
                    f"accepted requests); AVS allows {LINK_LIMIT} per private cloud",
                    {"cloud": str(cloud_id), "links": count, "limit": LINK_LIMIT},
                )
            )
    return reasons


def describe_overlaps(pairs: list[tuple[Prefix, Prefix]], limit: int = MAX_LISTED_PAIRS) -> str:
    """The overlapping pairs as a person reads them, the first `limit` of them."""
    shown = ", ".join(f"{a.network} ({a.origin}) with {b.network} ({b.origin})" for a, b in pairs[:limit])
    return shown + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")


def _pairs(pairs: list[tuple[Prefix, Prefix]]) -> tuple[str, list[dict[str, str]]]:
    details = [
        {"left": str(a.network), "leftOrigin": a.origin, "right": str(b.network), "rightOrigin": b.origin}
        for a, b in pairs
    ]
    return describe_overlaps(pairs), details


def address_overlap(facts: Facts) -> list[Reason]:
    source, target = facts.source, facts.target
    if source is None or target is None:
        return []
    pairs = find_overlaps(source.space.prefixes, target.space.prefixes)
    if not pairs:
        return []
    shown, details = _pairs(pairs)
    return [
        Reason(
            "ADDRESS_OVERLAP",
            f"routed address spaces of {source.id.short} and {target.id.short} overlap: {shown}",
            {"source": str(source.id), "target": str(target.id), "overlaps": details},
        )
    ]


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
                reasons.append(
                    Reason(
                        "NEIGHBOR_OVERLAP",
                        f"{peer.id.short}, already linked to {end.id.short}, overlaps {other.id.short}: {shown}",
                        {
                            "neighbor": str(peer.id),
                            "linkedTo": str(end.id),
                            "other": str(other.id),
                            "overlaps": details,
                        },
                    )
                )
    return reasons


def neighbors_readable(facts: Facts) -> list[Reason]:
    """A peer of one end whose cloud, segments or Global Reach cannot be read might overlap the other end.

    Its links are not needed (the end's `externalCloudLinks` already make it a peer), and a peer that does
    not exist (404 on its GET) routes nothing, so neither is a reason.
    """
    reasons = []
    for refusal in facts.refusals:
        if refusal.cloud in (facts.source_id, facts.target_id) or refusal.read == "cloudLinks.list":
            continue
        linked_to = [end for _, end in _ends(facts) if end is not None and refusal.cloud in facts.peers_of(end.id)]
        for end in linked_to:
            other = facts.target_id if end.id == facts.source_id else facts.source_id
            reasons.append(
                Reason(
                    "NEIGHBOR_UNREADABLE",
                    f"{refusal.cloud.short}, linked to {end.id.short}, cannot be read "
                    f"({refusal.what}: {refusal.answer}), so overlap with {other.short} cannot be ruled out",
                    {**refusal.details(), "neighbor": str(refusal.cloud), "linkedTo": str(end.id)},
                )
            )
    return reasons


def routed_space_readable(facts: Facts) -> list[Reason]:
    """A prefix we cannot parse is a prefix we cannot prove disjoint: refuse rather than guess."""
    ends = [end for _, end in _ends(facts) if end is not None]
    return [
        Reason("INVALID_PREFIX", problem, {"cloud": str(cloud.id)})
        for cloud in (*ends, *facts.neighbors)
        for problem in cloud.space.problems
    ]


def requester_allowed(facts: Facts) -> list[Reason]:
    return facts.policy.check(facts.requester, facts.action, (facts.source_id, facts.target_id))


RULES: dict[Action, tuple[Rule, ...]] = {
    Action.CONNECT: (
        same_cloud,
        requester_allowed,
        cloud_found,
        ends_readable,
        cloud_ready,
        same_region,
        permission,
        link_limit,
        routed_space_readable,
        address_overlap,
        neighbor_overlap,
        neighbors_readable,
    ),
    # Removing a link must stay possible when a cloud is degraded, overlaps, or was linked across regions by
    # hand, so disconnect checks only who asks, that the links between the clouds can be known, and that we
    # may delete.
    Action.DISCONNECT: (same_cloud, requester_allowed, cloud_found, ends_readable, permission),
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
        healthy = [
            link for link in pair if LinkStatus.normalize(link.status) in (LinkStatus.ACTIVE, LinkStatus.BUILDING)
        ]
        if healthy:
            link = healthy[0]
            return Decision(
                "noop",
                f"already linked: {link.source.short} → {link.target.short} "
                f"({link.name}, {LinkStatus.normalize(link.status)})",
            )
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
        reason = Reason(
            "LINK_BUSY",
            f"link {link.name} between the clouds is being deleted; ask again once it is gone",
            {"link": link.name, "cloud": str(link.source)},
        )
        return Decision("reject", reason.message, (reason,))
    if pair:
        # A Failed or Disconnected link: PUT it again where it lives rather than adding a second one.
        link = pair[0]
        return Decision(
            "create",
            f"repairing {LinkStatus.normalize(link.status)} link {link.name}",
            holder=link.source,
            link_name=link.name,
            target=link.target,
        )
    return Decision(
        "create", "link requested", holder=facts.source_id, link_name=link_name(facts.target_id), target=facts.target_id
    )


def _disconnect(facts: Facts, pair: tuple[Link, ...]) -> Decision:
    if not pair:
        return Decision("noop", f"not linked: no link between {facts.source_id.short} and {facts.target_id.short}")
    link = pair[0]  # the others, if a link exists both ways, are removed once this one is gone
    return Decision(
        "delete",
        f"unlinking {link.source.short} → {link.target.short}",
        holder=link.source,
        link_name=link.name,
        target=link.target,
    )
