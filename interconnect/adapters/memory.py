"""In-memory implementations of every port, with the semantics the real ones promise (ETags, duplicate
detection, link states), for fast unit tests of the services. Never used in the deployed app."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link, LinkStatus, PermissionEntry, Segment
from interconnect.errors import (
    ArmError,
    ConflictError,
    CorruptRecordError,
    MalformedAnswerError,
    NotFoundError,
    ValidationError,
)
from interconnect.estate.registry import RegisteredTopology, registration
from interconnect.estate.topology import Scope
from interconnect.linking.lifecycle import FIRST_VERSION, submitted
from interconnect.linking.model import AuditEvent, LinkRequest, Requester, RequestSummary, Status
from interconnect.linking.ports import Listing, RequestFilter, RequestStore
from interconnect.linking.quarantine import Quarantined
from interconnect.linking.queue import DeadLetter, WorkItem


class InMemoryRequestStore:
    def __init__(self) -> None:
        self.rows: dict[str, LinkRequest] = {}
        self.trails: dict[str, list[AuditEvent]] = {}
        self.notes: set[tuple[int, str]] = set()
        # Rows an older version stored that this one cannot read back: id -> why. Such a row is unfinished
        # and old, as the table store finds it: `get` refuses it, listings and `stale` skip and count it.
        self.corrupt: dict[str, str] = {}
        self._etags = itertools.count(1)
        self._lock = threading.Lock()

    def _stamp(self, request: LinkRequest) -> LinkRequest:
        stamped = request.with_changes(etag=f"e{next(self._etags)}")
        self.rows[request.id] = stamped
        return stamped

    def create(self, request: LinkRequest) -> LinkRequest:
        """The row alone, as the table store writes it: `events` derives event 1 from it."""
        with self._lock:
            if request.id in self.rows:
                raise ConflictError(f"request {request.id} exists", code="ALREADY_EXISTS")
            self.trails[request.id] = []
            return self._stamp(request)

    creating = RequestStore.creating  # create, then the block: nothing here to overlap

    def _refuse_corrupt(self, request_id: str) -> None:
        if request_id in self.corrupt:
            raise CorruptRecordError(
                f"request {request_id!r} is stored in a form this version cannot read ({self.corrupt[request_id]})",
                details={"reason": self.corrupt[request_id]},
            )

    def get(self, request_id: str) -> LinkRequest:
        with self._lock:
            self._refuse_corrupt(request_id)
            if request_id not in self.rows:
                raise NotFoundError(f"no request with id {request_id}", code="REQUEST_NOT_FOUND")
            return self.rows[request_id]

    def save(self, request: LinkRequest, event: AuditEvent | None) -> LinkRequest:
        with self._lock:
            current = self.rows.get(request.id)
            if current is None or current.etag != request.etag:
                raise ConflictError(f"request {request.id} changed concurrently")
            if event is not None:
                trail = self.trails[request.id]
                if event.sequence == FIRST_VERSION or any(e.sequence == event.sequence for e in trail):
                    raise ConflictError(f"event {event.sequence} of {request.id} exists")
                trail.append(event)
            return self._stamp(request)

    def events(self, request_id: str) -> list[AuditEvent]:
        """Event 1 derived from the row, as the table store does (this store has no rows of older versions, and
        `save` refuses event 1, so its trails never hold one)."""
        with self._lock:
            row = self.rows.get(request_id)
            return [submitted(row), *self.trails.get(request_id, [])] if row is not None else []

    def note(self, event: AuditEvent, suffix: str) -> None:
        with self._lock:
            key = (event.sequence, suffix)
            if key not in self.notes:
                self.notes.add(key)
                self.trails[event.request_id].append(event)

    def recent(self, filters: RequestFilter, *, limit: int, continuation: str | None) -> Listing[LinkRequest]:
        with self._lock:
            rows = sorted(self.rows.values(), key=lambda r: r.created_at, reverse=True)
            # Like the table store's "all" listing, whose first page meets the (old) unreadable rows.
            unfiltered = filters.requester is None and filters.since is None and filters.until is None
            skipped = len(self.corrupt) if filters.cloud is None and unfiltered and not continuation else 0
        rows = [
            r
            for r in rows
            if (filters.cloud is None or filters.cloud in (r.source, r.target))
            and (filters.status is None or r.status is filters.status)
            and (filters.requester is None or filters.requester.is_same(r.requester))
            and (filters.since is None or r.created_at >= filters.since)
            and (filters.until is None or r.created_at <= filters.until)
        ]
        if continuation and not continuation.isdigit():
            raise ValidationError("continuation token is not one this API issued", code="INVALID_CONTINUATION")
        start = int(continuation or 0)
        page = rows[start : start + limit]
        return Listing(page, str(start + limit) if start + limit < len(rows) else None, skipped)

    def unfinished(self, cloud: CloudId) -> list[RequestSummary]:
        with self._lock:
            return [
                r.summary() for r in self.rows.values() if cloud in (r.source, r.target) and not r.status.is_terminal
            ]

    def stale(self, before: datetime) -> Listing[RequestSummary]:
        with self._lock:
            return Listing(
                [r.summary() for r in self.rows.values() if not r.status.is_terminal and r.updated_at < before],
                skipped=len(self.corrupt),
            )

    def discard(self, request_id: str) -> None:
        with self._lock:
            self.rows.pop(request_id, None)
            self.trails.pop(request_id, None)

    def ping(self) -> None:
        pass


@dataclass
class InMemoryWorkQueue:
    """Drops a repeated message id, as Service Bus duplicate detection does."""

    sent: list[tuple[WorkItem, datetime | None]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    dead: list[DeadLetter] = field(default_factory=list)

    def send(self, item: WorkItem) -> None:
        self._put(item, None)

    def schedule(self, item: WorkItem, at: datetime) -> None:
        self._put(item, at)

    def _put(self, item: WorkItem, at: datetime | None) -> None:
        if item.message_id not in self.seen:
            self.seen.add(item.message_id)
            self.sent.append((item, at))

    def dead_letter_count(self) -> int:
        return len(self.dead)

    def drain_dead_letters(self, handle: Callable[[DeadLetter], bool], limit: int) -> int:
        looked = self.dead[:limit]
        self.dead = [d for d in looked if not handle(d)] + self.dead[limit:]
        return len(looked)

    def take(self) -> tuple[WorkItem, datetime | None]:
        return self.sent.pop(0)

    def ping(self) -> None:
        pass


@dataclass
class InMemoryQuarantine:
    """Keeps one record per message `key`, as the table's row key does; newest enqueued first."""

    kept: dict[str, Quarantined] = field(default_factory=dict)

    def put(self, message: Quarantined) -> None:
        self.kept.setdefault(message.key, message)

    def count(self) -> int:
        return len(self.kept)

    def recent(self, limit: int) -> list[Quarantined]:
        oldest = datetime.min.replace(tzinfo=UTC)
        return sorted(self.kept.values(), key=lambda m: m.enqueued_at or oldest, reverse=True)[:limit]


@dataclass
class InMemoryAvs:
    """Clouds and links as AVS keeps them: a link lives on its source; creates start `Building`."""

    clouds: dict[CloudId, Cloud] = field(default_factory=dict)
    links: dict[tuple[CloudId, str], Link] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # call -> error to raise: "create", or a read ("get_cloud", "list_links", "list_segments",
    # "list_global_reach", "permissions", "get_link"), optionally for one cloud: "list_segments:<cloud name>";
    # or "list_clouds", for every subscription
    refuse: dict[str, ArmError] = field(default_factory=dict)
    segments: dict[CloudId, list[Segment]] = field(default_factory=dict)
    global_reach: dict[CloudId, list[str]] = field(default_factory=dict)
    grants: dict[CloudId, list[PermissionEntry]] = field(default_factory=dict)  # default: everything
    # Links ARM answers malformed (holder, name -> a reason), as the SDK adapter reports them: the holder's
    # listing raises MalformedAnswerError with the well-formed links as `partial`, a GET of the link raises it.
    garbled: dict[tuple[CloudId, str], str] = field(default_factory=dict)

    def add(self, cloud: Cloud) -> None:
        self.clouds[cloud.id] = cloud

    def _refused(self, call: str, cloud: CloudId) -> None:
        error = self.refuse.get(f"{call}:{cloud.name}") or self.refuse.get(call)
        if error is not None:
            raise error

    def get_cloud(self, cloud: CloudId) -> Cloud | None:
        self.calls.append("get_cloud")
        self._refused("get_cloud", cloud)
        found = self.clouds.get(cloud)
        return None if found is None else self._with_incoming(found)

    def _with_incoming(self, cloud: Cloud) -> Cloud:
        incoming = tuple(link.source for link in self.links.values() if link.target == cloud.id)
        return replace(cloud, external_links=incoming)

    def list_clouds(self, subscription: str) -> list[Cloud]:
        self.calls.append("list_clouds")
        if "list_clouds" in self.refuse:
            raise self.refuse["list_clouds"]
        return [self._with_incoming(c) for cid, c in self.clouds.items() if cid.subscription == subscription.lower()]

    def list_links(self, cloud: CloudId) -> list[Link]:
        self.calls.append("list_links")
        self._refused("list_links", cloud)
        held = [link for (holder, _), link in self.links.items() if holder == cloud]
        bad = [f"link {name!r}: {why}" for (holder, name), why in self.garbled.items() if holder == cloud]
        if bad:
            raise self._malformed(
                "cloudLinks.list", cloud, bad, [link for link in held if (cloud, link.name) not in self.garbled]
            )
        return held

    def get_link(self, cloud: CloudId, name: str) -> Link | None:
        self.calls.append("get_link")
        self._refused("get_link", cloud)
        if (cloud, name) in self.garbled:
            raise self._malformed("cloudLinks.get", cloud, [f"link {name!r}: {self.garbled[(cloud, name)]}"], None)
        return self.links.get((cloud, name))

    @staticmethod
    def _malformed(read: str, cloud: CloudId, bad: list[str], partial: list[Link] | None) -> MalformedAnswerError:
        return MalformedAnswerError(
            f"ARM's answer to {read} of {cloud.short} is malformed: {'; '.join(bad)}",
            partial=partial,
            details={"status": 200, "armCode": "MALFORMED_ANSWER", "read": read, "malformed": bad},
        )

    def list_segments(self, cloud: CloudId) -> list[Segment]:
        self.calls.append("list_segments")
        self._refused("list_segments", cloud)
        return self.segments.get(cloud, [])

    def list_global_reach(self, cloud: CloudId) -> list[str]:
        self.calls.append("list_global_reach")
        self._refused("list_global_reach", cloud)
        return self.global_reach.get(cloud, [])

    def permissions(self, cloud: CloudId) -> list[PermissionEntry]:
        self.calls.append("permissions")
        self._refused("permissions", cloud)
        return self.grants.get(cloud, [PermissionEntry(("*",))])

    def create_link(self, cloud: CloudId, name: str, target: CloudId) -> float | None:
        self.calls.append("create_link")
        if "create" in self.refuse:
            raise self.refuse["create"]
        existing = self.links.get((cloud, name))
        if existing is None or existing.status != LinkStatus.ACTIVE:
            self.links[(cloud, name)] = Link(cloud, name, target, LinkStatus.BUILDING)
        return None

    def delete_link(self, cloud: CloudId, name: str) -> float | None:
        self.calls.append("delete_link")
        if (cloud, name) in self.links:
            self.links[(cloud, name)] = Link(cloud, name, self.links[(cloud, name)].target, LinkStatus.DELETING)
        return None

    def settle(self) -> None:
        """Let AVS finish what it was doing: Building → Active, Deleting → gone."""
        for key, link in list(self.links.items()):
            if link.status == LinkStatus.BUILDING:
                self.links[key] = Link(link.source, link.name, link.target, LinkStatus.ACTIVE)
            elif link.status == LinkStatus.DELETING:
                del self.links[key]

    def ping(self) -> None:
        pass


class InMemoryAuditStore:
    """`AuditStore` in memory, for service tests."""

    def __init__(self, requests: InMemoryRequestStore) -> None:
        self.runs: list[tuple[Any, Any]] = []  # (AuditRun, Inventory), oldest first
        self._requests = requests

    def save(self, run: Any, inventory: Any) -> None:
        self.runs.append((run, inventory))

    def get(self, run_id: str) -> Any:
        for run, _ in self.runs:
            if run.id == run_id:
                return run
        raise NotFoundError(f"no audit run with id {run_id}", code="AUDIT_NOT_FOUND")

    def latest(self) -> Any:
        return self.runs[-1][0] if self.runs else None

    def inventory(self, run_id: str) -> Any:
        return next(inventory for run, inventory in self.runs if run.id == run_id)

    def managed_links(self) -> list[Any]:
        from interconnect.audit.model import ManagedLink

        newest: dict[frozenset[CloudId], LinkRequest] = {}
        for request in sorted(self._requests.rows.values(), key=lambda r: r.created_at, reverse=True):
            if request.status is Status.SUCCEEDED:
                newest.setdefault(frozenset((request.source, request.target)), request)
        return [
            ManagedLink(
                str(r.operation.cloud),
                r.operation.link_name,
                str(r.target if r.operation.cloud == r.source else r.source),
                r.id,
            )
            for r in newest.values()
            if r.action.value == "connect" and r.operation is not None
        ]


class InMemoryTopologyRegistry:
    """`TopologyRegistry` in memory: one registration per scope, validated as the table adapter validates."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.rows: dict[str, RegisteredTopology] = {}  # by scope key
        self._clock = clock
        self._lock = threading.Lock()

    def register(self, document: bytes, scope: Scope, *, by: Requester, fingerprint: str | None = None) -> None:
        registered = registration(document, scope, by=by, at=self._clock(), fingerprint=fingerprint)
        with self._lock:
            self.rows[registered.key] = registered

    def registered(self) -> list[RegisteredTopology]:
        with self._lock:
            return list(self.rows.values())
