"""The audit's data: a run's inventory of clouds and links as read, and the findings over it, as plain data with
stable codes. Checks, the reader, the store and the pictures all share these types, so none imports another's module
for a data class."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link
from interconnect.avs.routed import RoutedSpace

CRITICAL, WARNING, INFO = "critical", "warning", "info"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    clouds: tuple[str, ...]  # ARM ids involved
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable across runs, so a run can say which findings are new, still open or resolved."""
        subject = self.details.get("link") or self.details.get("requestId") or ""
        key = "|".join([self.code, *sorted(c.lower() for c in self.clouds), str(subject).lower()])
        # A drift finding is also the document's: two documents whose scopes overlap may both report one link.
        document = self.details.get("scopeKey")
        return f"{key}|{document}" if document else key

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "clouds": list(self.clouds),
            "message": self.message,
            "details": self.details,
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Finding:
        return cls(raw["code"], raw["severity"], tuple(raw["clouds"]), raw["message"], raw.get("details") or {})


# ---------------------------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class ManagedLink:
    """A link our requests made: where it lives, and which request made it."""

    holder: str  # ARM id of the cloud holding the link
    name: str
    other: str  # ARM id of the other end
    request_id: str


@dataclass(frozen=True)
class Thresholds:
    stuck_minutes: float = 60
    stale_minutes: float = 60


def link_key(holder: str, name: str) -> str:
    return f"{holder.lower()}|{name.lower()}"


@dataclass(frozen=True)
class CloudRecord:
    cloud: Cloud
    links: tuple[Link, ...]  # outgoing: the cloudLinks this cloud holds
    space: RoutedSpace


@dataclass(frozen=True)
class UnreadableRead:
    """A read of the inventory that ARM refused or answered malformed: what was left out, and why."""

    subject: str  # ARM id of the cloud, or of the subscription for its cloud listing
    read: str  # privateClouds.list, cloudLinks.list, segments.list, globalReach.list
    code: str  # the error's code, e.g. ARM_AuthorizationFailed, ARM_MALFORMED_ANSWER
    message: str  # already cut to size by the adapter
    partial: bool = False  # whether the well-formed part of the answer was kept


@dataclass(frozen=True)
class Inventory:
    taken_at: datetime
    clouds: dict[CloudId, CloudRecord]
    problems: tuple[str, ...] = ()  # what could not be read (a subscription, a cloud's links...)
    unreadable: tuple[UnreadableRead, ...] = ()  # the same reads ARM refused or answered malformed, structured
    # Subscriptions whose cloud listing was not read whole (refused, malformed or given up on): a cloud of theirs
    # that is not among `clouds` may still exist.
    unlisted: frozenset[str] = frozenset()

    @property
    def links(self) -> list[Link]:
        return [link for record in self.clouds.values() for link in record.links]

    def links_of(self, cloud: CloudId) -> list[Link]:
        """Outgoing and incoming links of `cloud` among the clouds read."""
        return [link for link in self.links if cloud in (link.source, link.target)]

    def peers(self, cloud: CloudId) -> set[CloudId]:
        return {link.target if link.source == cloud else link.source for link in self.links_of(cloud)}


@dataclass
class AuditRun:
    id: str
    started_at: datetime
    finished_at: datetime
    findings: list[Finding]
    new: list[str]  # keys of findings not in the previous run
    resolved: list[Finding]  # findings of the previous run that are gone
    link_states: dict[str, tuple[str, datetime]]  # link key -> (status, first seen in it), for LINK_STUCK
    problems: list[str] = field(default_factory=list)
    clouds: int = 0
    links: int = 0

    def to_view(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.code] = counts.get(finding.code, 0) + 1
        new = set(self.new)
        return {
            "runId": self.id,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
            "summary": {
                "clouds": self.clouds,
                "links": self.links,
                "findings": len(self.findings),
                "byCode": counts,
                "new": len(new),
                "resolved": len(self.resolved),
            },
            "findings": [{**f.to_dict(), "state": "new" if f.key in new else "open"} for f in self.findings],
            "resolved": [f.to_dict() for f in self.resolved],
            "problems": self.problems,
        }
