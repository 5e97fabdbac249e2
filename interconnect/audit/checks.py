"""The audit's checks: pure functions from an inventory (and our own records) to findings.

Reuses the pre-flight pieces (routed space, the overlap sweep) so the audit judges existing links by the
same rules that would have refused them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from itertools import combinations

from interconnect.audit.model import (
    CRITICAL,
    INFO,
    WARNING,
    Finding,
    Inventory,
    ManagedLink,
    Thresholds,
    UnreadableRead,
    link_key,
)
from interconnect.avs.cidr import find_overlaps
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.avs.resources import Link, LinkStatus
from interconnect.errors import ValidationError
from interconnect.linking.model import RequestSummary
from interconnect.linking.rules import LINK_LIMIT, describe_overlaps

NOT_ACTIVE = {LinkStatus.FAILED, LinkStatus.DISCONNECTED}
MOVING = {LinkStatus.BUILDING, LinkStatus.DELETING}


LISTED = 10  # overlapping pairs named in a finding's message


def link_findings(
    inventory: Inventory, since: Mapping[str, tuple[str, datetime]], now: datetime, thresholds: Thresholds
) -> list[Finding]:
    """LINK_NOT_ACTIVE, LINK_STUCK, CROSS_REGION_LINK, OVERLAP_ON_LINK, DUPLICATE_LINK.

    `since` gives each link's status and since when it has had it (see audits.link_states).
    """
    findings = []
    for link in inventory.links:
        ends = (str(link.source), str(link.target))
        status = LinkStatus.normalize(link.status)
        details = {"link": link.name, "holder": str(link.source), "status": status}
        if status in NOT_ACTIVE:
            findings.append(
                Finding(
                    "LINK_NOT_ACTIVE",
                    CRITICAL,
                    ends,
                    f"link {link.name} from {link.source.short} to {link.target.short} is {status}",
                    details,
                )
            )
        if status in MOVING:
            started = since.get(link_key(str(link.source), link.name), (status, now))[1]
            if now - started >= timedelta(minutes=thresholds.stuck_minutes):
                findings.append(
                    Finding(
                        "LINK_STUCK",
                        WARNING,
                        ends,
                        f"link {link.name} from {link.source.short} has been {status} since {started.isoformat()}",
                        {**details, "since": started.isoformat()},
                    )
                )
        source, target = inventory.clouds.get(link.source), inventory.clouds.get(link.target)
        if source and target and source.cloud.region != target.cloud.region:
            findings.append(
                Finding(
                    "CROSS_REGION_LINK",
                    WARNING,
                    ends,
                    f"link {link.name} joins {source.cloud.location} and {target.cloud.location}",
                    details,
                )
            )
        if source and target:
            pairs = find_overlaps(source.space.prefixes, target.space.prefixes)
            if pairs:
                findings.append(
                    Finding(
                        "OVERLAP_ON_LINK",
                        CRITICAL,
                        ends,
                        f"{link.source.short} and {link.target.short} are linked but overlap: "
                        f"{describe_overlaps(pairs, LISTED)}",
                        {**details, "overlaps": [[str(a.network), str(b.network)] for a, b in pairs]},
                    )
                )
    by_pair: dict[frozenset[CloudId], list[Link]] = defaultdict(list)
    for link in inventory.links:
        by_pair[frozenset((link.source, link.target))].append(link)
    for pair, links in by_pair.items():
        if len({link.source for link in links}) > 1:
            a, b = sorted(pair, key=lambda c: c.normalized)
            findings.append(
                Finding(
                    "DUPLICATE_LINK",
                    WARNING,
                    (str(a), str(b)),
                    f"{a.short} and {b.short} are linked in both directions: "
                    + ", ".join(f"{link.name} on {link.source.short}" for link in links),
                    {"links": [link.name for link in links]},
                )
            )
    return findings


def cloud_findings(inventory: Inventory) -> list[Finding]:
    """NEIGHBOR_OVERLAP between two peers of one cloud, LINK_LIMIT_NEAR, and what the other checks could not
    see: UNREADABLE_PREFIX, UNREADABLE_CLOUD."""
    findings = unreadable_findings(inventory)
    for cloud_id, record in inventory.clouds.items():
        count = len({(link.source, link.name) for link in inventory.links_of(cloud_id)})
        if count >= LINK_LIMIT - 1:
            findings.append(
                Finding(
                    "LINK_LIMIT_NEAR",
                    WARNING if count < LINK_LIMIT else CRITICAL,
                    (str(cloud_id),),
                    f"{cloud_id.short} has {count} of {LINK_LIMIT} links",
                    {"links": count},
                )
            )
        peers = sorted((p for p in inventory.peers(cloud_id) if p in inventory.clouds), key=lambda c: c.normalized)
        for a, b in combinations(peers, 2):
            pairs = find_overlaps(inventory.clouds[a].space.prefixes, inventory.clouds[b].space.prefixes)
            if pairs:
                findings.append(
                    Finding(
                        "NEIGHBOR_OVERLAP",
                        CRITICAL,
                        (str(cloud_id), str(a), str(b)),
                        f"{a.short} and {b.short}, both linked to {record.cloud.id.short}, overlap: "
                        f"{describe_overlaps(pairs, LISTED)}",
                        {"via": str(cloud_id)},
                    )
                )
    return findings


def record_findings(
    inventory: Inventory,
    managed: Iterable[ManagedLink],
    stale: Iterable[RequestSummary],
    dead_letters: int,
    now: datetime,
    *,
    quarantined: int = 0,
) -> list[Finding]:
    """UNMANAGED_LINK, MISSING_LINK, STALE_REQUEST, DEAD_LETTERED, QUARANTINED: the inventory against our own
    records."""
    ours = {link_key(m.holder, m.name): m for m in managed}
    findings = []
    for link in inventory.links:
        if link_key(str(link.source), link.name) not in ours:
            findings.append(
                Finding(
                    "UNMANAGED_LINK",
                    INFO,
                    (str(link.source), str(link.target)),
                    f"link {link.name} from {link.source.short} to {link.target.short} was not made "
                    "by a request of ours",
                    {"link": link.name, "holder": str(link.source)},
                )
            )
    present = {link_key(str(link.source), link.name) for link in inventory.links}
    read = {str(c).lower() for c in inventory.clouds}
    for key, made in ours.items():
        if key not in present and made.holder.lower() in read:
            findings.append(
                Finding(
                    "MISSING_LINK",
                    CRITICAL,
                    (made.holder, made.other),
                    f"request {made.request_id} made link {made.name} on "
                    f"{made.holder.rsplit('/', 1)[-1]}, but it is gone",
                    {"link": made.name, "requestId": made.request_id},
                )
            )
    for request in stale:
        age = now - (request.updated_at or request.created_at)
        findings.append(
            Finding(
                "STALE_REQUEST",
                WARNING,
                (str(request.source), str(request.target)),
                f"request {request.id} ({request.action.value}) has been {request.status.value} for "
                f"{int(age.total_seconds() // 60)} min",
                {"requestId": request.id, "status": request.status.value},
            )
        )
    if dead_letters:
        findings.append(
            Finding(
                "DEAD_LETTERED",
                WARNING,
                (),
                f"{dead_letters} message(s) sit in the dead-letter queue",
                {"count": dead_letters},
            )
        )
    if quarantined:
        findings.append(
            Finding(
                "QUARANTINED",
                WARNING,
                (),
                f"{quarantined} message(s) sit in the quarantine, set aside by the worker as no work item or "
                "for a request that cannot be read back",
                {"count": quarantined},
            )
        )
    return findings


def unreadable_findings(inventory: Inventory) -> list[Finding]:
    """UNREADABLE_PREFIX: a cloud's routed space holds a prefix that is empty or does not parse, so no check
    can rule out an overlap with it (critical when the cloud is linked: an overlap on a live link may hide
    there). UNREADABLE_CLOUD: a read ARM refused or answered malformed, one finding per cloud (or subscription)
    naming each read, so what the other checks could not see is in front of a person, not only in a log."""
    findings = []
    for cloud_id, record in inventory.clouds.items():
        problems = record.space.problems
        if problems:
            # Its incoming links count even when their holder's listing could not be read.
            linked = bool(inventory.links_of(cloud_id) or record.cloud.external_links)
            findings.append(
                Finding(
                    "UNREADABLE_PREFIX",
                    CRITICAL if linked else WARNING,
                    (str(cloud_id),),
                    f"{len(problems)} address prefix(es) of {cloud_id.short} cannot be read, so overlap "
                    f"{'on its links ' if linked else ''}cannot be ruled out: "
                    + "; ".join(problems[:LISTED])
                    + (f" and {len(problems) - LISTED} more" if len(problems) > LISTED else ""),
                    {"problems": list(problems[:LISTED]), "count": len(problems)},
                )
            )
    by_subject: dict[str, list[UnreadableRead]] = defaultdict(list)
    for read in inventory.unreadable:
        by_subject[read.subject].append(read)
    for subject, reads in by_subject.items():
        short = _short(subject)
        findings.append(
            Finding(
                "UNREADABLE_CLOUD",
                WARNING,
                (subject,),
                f"{short}: "
                + "; ".join(
                    f"{r.read} {'is incomplete' if r.partial else 'was left out'} ({r.code}): {r.message}"
                    for r in reads
                ),
                {"reads": [{"read": r.read, "code": r.code, "partial": r.partial} for r in reads]},
            )
        )
    return findings


def _short(subject: str) -> str:
    """A cloud's `resource-group/name` as messages name it; a subscription's id as it is."""
    try:
        return parse_cloud_id(subject).short
    except ValidationError:
        return subject
