"""Drift: every registered topology document (interconnect/estate/registry.py) against the links the audit read.

Each document is read again and resolved against the clouds of this run (interconnect/estate/topology.py, the
same resolution a plan uses), then compared with the inventory:

    TOPOLOGY_UNDECLARED_LINK  warning   a link with both ends in the document's scope that it does not declare:
                                        made by hand, or by a request filed outside the document
    TOPOLOGY_MISSING_LINK     critical  a declared link that does not exist: traffic the document promises
                                        does not flow
    TOPOLOGY_UNRESOLVABLE     warning   a document that can no longer be compared as a whole: it does not
                                        parse, a short name no longer names one cloud, or a declared cloud is
                                        gone from a subscription the audit reads

A pair with a request in progress that is moving it towards the document (a connect for a missing link, a
disconnect for an undeclared one, as `pending` says) is not reported: the drift is being dealt with. A change
set's later steps are requests only once filed, so while a change set is applying, its unfiled steps are
known here only when the app passes them in `pending` (see Audits.pending_changes).

What cannot be judged is said, not guessed: a declared link whose end's links could not be read is no
TOPOLOGY_MISSING_LINK, a cloud of a subscription whose listing was not read whole is not called gone, and a
scope the audit does not read (a subscription or resource group outside INTERCONNECT_SUBSCRIPTIONS) is named
among the run's problems, since links there are not compared.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from interconnect.audit.model import CRITICAL, WARNING, Finding, Inventory
from interconnect.avs.ids import CloudId
from interconnect.errors import InterconnectError, ValidationError
from interconnect.estate.registry import RegisteredTopology, describe_scope
from interconnect.estate.topology import DeclaredLink, Topology, resolve
from interconnect.linking.model import Action

UNDECLARED = "TOPOLOGY_UNDECLARED_LINK"
MISSING = "TOPOLOGY_MISSING_LINK"
UNRESOLVABLE = "TOPOLOGY_UNRESOLVABLE"
CODES = (UNDECLARED, MISSING, UNRESOLVABLE)
LISTED = 10  # problems named in an UNRESOLVABLE finding's message

# The id of a request (or change-set step) in progress that moves the pair by `action`, or None.
Pending = Callable[[CloudId, CloudId, Action], str | None]


def nothing_pending(a: CloudId, b: CloudId, action: Action) -> str | None:
    return None


@dataclass
class Drift:
    """What the comparison found, and what it could not compare (for the run's problems)."""

    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def drift(
    inventory: Inventory,
    registered: Sequence[RegisteredTopology],
    audited: Collection[str],
    pending: Pending = nothing_pending,
) -> Drift:
    """Every registered document compared with `inventory`. `audited`: the subscriptions the audit reads."""
    result = Drift()
    known = list(inventory.clouds)
    present = _present(inventory)
    listed_apart = _unlisted(inventory)
    subscriptions = {s.lower() for s in audited}
    for entry in sorted(registered, key=lambda r: (r.name, r.key)):
        about = _about(entry)
        unseen = sorted(s for s in entry.scope.subscriptions if s not in subscriptions)
        unseen += [f"{s}/{g}" for s, g in sorted(entry.scope.resource_groups) if s not in subscriptions]
        if unseen:
            result.problems.append(
                f"{entry.label} manages {', '.join(unseen)}, which this audit does not read "
                "(INTERCONNECT_SUBSCRIPTIONS): its links there are not compared"
            )
        unlisted = sorted(
            {s for s in entry.scope.subscriptions | {s for s, _ in entry.scope.resource_groups}} & inventory.unlisted
        )
        if unlisted:
            result.problems.append(
                f"{entry.label}: the clouds of {', '.join(unlisted)} could not all be listed, so a cloud it names "
                "that was not read is not reported as gone"
            )
        try:
            topology = resolve(entry.parsed(), known)
        except (ValidationError, InterconnectError) as exc:
            if unlisted:  # a short name may have missed a cloud that was not listed: not the document's fault
                result.problems.append(f"{entry.label} could not be compared: {'; '.join(_problems(exc)[:LISTED])}")
            else:
                result.findings.append(_unresolvable(entry, about, _problems(exc), ()))
            continue
        gone = sorted(
            {
                end
                for link in topology.links
                for end in (link.source, link.target)
                if end not in inventory.clouds
                and end.subscription.lower() in subscriptions
                and end.subscription.lower() not in inventory.unlisted
            },
            key=lambda c: c.normalized,
        )
        if gone:
            result.findings.append(
                _unresolvable(
                    entry,
                    about,
                    [f"{cloud.short} no longer exists (it is not among the clouds read)" for cloud in gone],
                    tuple(str(c) for c in gone),
                )
            )
        result.findings += _undeclared(inventory, topology, entry, about, pending)
        for link in topology.links:
            if link.source not in inventory.clouds or link.target not in inventory.clouds:
                continue  # gone (reported above) or outside the audited subscriptions (a problem above)
            if link.pair in present:
                continue
            if link.source in listed_apart or link.target in listed_apart:
                result.problems.append(
                    f"{entry.label} declares a link between {link.source.short} and {link.target.short}; "
                    "their links could not be read, so whether it exists is not known"
                )
                continue
            if pending(link.source, link.target, Action.CONNECT) is None:
                result.findings.append(_missing(link, entry, about))
    return result


def _about(entry: RegisteredTopology) -> dict[str, Any]:
    """What every finding of `entry` says of the document it comes from."""
    return {
        "topology": entry.name,
        "scope": entry.scope.to_view(),
        "scopeKey": entry.key,
        "registeredBy": entry.registered_by.describe(),
        "registeredAt": entry.registered_at.isoformat(),
    }


def _present(inventory: Inventory) -> set[frozenset[CloudId]]:
    """Every pair joined by a link: listed by its holder, or known from the other end's incoming links (its
    holder's listing may be unreadable, or in a subscription the audit does not read)."""
    pairs = {frozenset((link.source, link.target)) for link in inventory.links}
    for cloud, record in inventory.clouds.items():
        pairs |= {frozenset((holder, cloud)) for holder in record.cloud.external_links}
    return pairs


def _unlisted(inventory: Inventory) -> set[CloudId]:
    """Clouds whose own links could not be listed: a link they hold may exist unseen."""
    subjects = {read.subject.lower() for read in inventory.unreadable if read.read == "cloudLinks.list"}
    return {cloud for cloud in inventory.clouds if str(cloud).lower() in subjects}


def _undeclared(
    inventory: Inventory, topology: Topology, entry: RegisteredTopology, about: dict[str, Any], pending: Pending
) -> list[Finding]:
    declared = topology.declared()
    findings = []
    for link in sorted(inventory.links, key=lambda found: (found.source.normalized, found.name.lower())):
        if not topology.scope.manages(link.source, link.target) or frozenset((link.source, link.target)) in declared:
            continue
        if pending(link.source, link.target, Action.DISCONNECT) is not None:
            continue
        findings.append(
            Finding(
                UNDECLARED,
                WARNING,
                (str(link.source), str(link.target)),
                f"link {link.name} from {link.source.short} to {link.target.short} exists but {entry.label} does "
                "not declare it: declare it in the document, or apply the document to remove it",
                {**about, "link": link.name, "holder": str(link.source), "status": link.status},
            )
        )
    return findings


def _missing(link: DeclaredLink, entry: RegisteredTopology, about: dict[str, Any]) -> Finding:
    at = f" ({link.where})" if str(link.where) else ""
    return Finding(
        MISSING,
        CRITICAL,
        (str(link.source), str(link.target)),
        f"{entry.label} declares a link between {link.source.short} and {link.target.short}{at}, but none "
        "exists: apply the document to make it, or remove it from the document",
        {
            **about,
            "declared": {"path": link.where.path, "line": link.where.line},
            "from": str(link.source),
            "to": str(link.target),
            "directed": link.directed,
        },
    )


def _problems(error: InterconnectError) -> list[str]:
    problems = error.details.get("problems") if isinstance(error.details, dict) else None
    if isinstance(problems, list) and problems:
        return [str(p.get("message", p)) if isinstance(p, dict) else str(p) for p in problems]
    return [error.message]


def _unresolvable(
    entry: RegisteredTopology, about: dict[str, Any], problems: list[str], clouds: tuple[str, ...]
) -> Finding:
    shown = "; ".join(problems[:LISTED]) + (f" and {len(problems) - LISTED} more" if len(problems) > LISTED else "")
    scope = describe_scope(entry.scope)
    return Finding(
        UNRESOLVABLE,
        WARNING,
        clouds,
        f"{entry.label} (scope: {scope}) cannot be compared with the estate: {shown}. Fix the document and "
        "apply it again",
        {**about, "problems": problems[:LISTED], "count": len(problems)},
    )
