"""The ports a request's services talk to: the request store and the work queue. Adapters implement them with
Azure SDKs; tests use the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from interconnect.avs.ids import CloudId
from interconnect.linking.model import AuditEvent, LinkRequest, Requester, RequestSummary, Status
from interconnect.linking.queue import DeadLetter, WorkItem

T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    """What a pass over stored records found, and how many records it could not read back.

    A record that cannot be read (an older version wrote it, or it was damaged) is logged with its reason
    and skipped, so one bad row never hides the rest; `skipped` says how many there were.
    """

    items: list[T] = field(default_factory=list)
    continuation: str | None = None  # where the next page starts, for paged listings
    skipped: int = 0


@dataclass(frozen=True)
class RequestFilter:
    """What a request listing is narrowed to (None: any). `requester` matches as `Requester.is_same` does
    (case-insensitively); `since` and `until` bound the creation time, both inclusive, in UTC. A new filter is
    a field here: every layer from the edge to the stores passes this one value."""

    cloud: CloudId | None = None  # a request touching it, as source or target
    status: Status | None = None
    requester: Requester | None = None
    since: datetime | None = None
    until: datetime | None = None


class RequestStore(Protocol):
    """Request rows and their append-only audit trails."""

    def create(self, request: LinkRequest) -> LinkRequest:
        """Insert a new request. Raises ConflictError (ALREADY_EXISTS) if the id exists.

        Its trail starts with `lifecycle.submitted(request)`, which `events` answers from the stored request
        (nobody passes or writes it, so it cannot differ from the request it describes).

        Once it returns, the request is listed, counted by `unfinished()` of both its clouds (see `creating`
        for when that last write fails), and found by `stale()` once old. A crash part-way leaves either
        nothing or a trace `stale()` finds and repairs, never a request that `unfinished()` counts but that
        was not stored.
        """

    @contextmanager
    def creating(self, request: LinkRequest) -> Iterator[LinkRequest]:
        """`create`, with the block run while the store writes the last of its index (intake queues the
        request there). On entering, the request is stored and `stale()` will find it; on leaving, it is also
        counted by `unfinished()` (if that last write failed, it is logged and the request's first transition
        makes it). Raises ConflictError on entering if the id exists.

        This default creates first and then runs the block; the table store overlaps the two.
        """
        yield self.create(request)

    def get(self, request_id: str) -> LinkRequest:
        """Raises NotFoundError, or CorruptRecordError for a row that cannot be read back."""

    def save(self, request: LinkRequest, event: AuditEvent | None) -> LinkRequest:
        """Write `request` only if the stored row still has `request.etag`, together with `event` (atomically).
        Without an event (a follow-up check that saw nothing new) only the row is written, under the same ETag
        guard; its version is unchanged, so the next event still gets the next number.

        Raises ConflictError when another writer got there first, or when the trail holds `event.sequence`
        already (event 1 is always held: it is the request's `submitted` event).
        """

    def events(self, request_id: str) -> list[AuditEvent]:
        """The audit trail, oldest first: `lifecycle.submitted` of the request, then every saved transition and
        note. Empty for a request that is not stored."""

    def note(self, event: AuditEvent, suffix: str) -> None:
        """Append a note (kind "note") after the status event it follows; the same suffix twice is one note."""

    def recent(self, filters: RequestFilter, *, limit: int, continuation: str | None) -> Listing[LinkRequest]:
        """Newest first, those `filters` match; `continuation` pages on. Raises ValidationError
        (INVALID_CONTINUATION) for a token this listing (the same filters) did not issue.

        A page holds at most `limit` requests; it may hold fewer (even none) while `continuation` is set, when
        the filters matched little of what one call may look through: the listing has ended only when
        `continuation` is None.
        """

    def unfinished(self, cloud: CloudId) -> list[RequestSummary]:
        """Requests touching `cloud` that are not terminal yet (may lag the rows by one transition).

        One that cannot be read back is logged and left out: it can never move again, so nothing waits on it.
        """

    def stale(self, before: datetime) -> Listing[RequestSummary]:
        """Unfinished requests of any cloud whose last transition is older than `before`."""

    def discard(self, request_id: str) -> None:
        """Remove a request that was never queued (intake could not reach the queue)."""

    def ping(self) -> None: ...


class WorkQueue(Protocol):
    """The Service Bus queue that carries work items to the worker."""

    def send(self, item: WorkItem) -> None: ...

    def schedule(self, item: WorkItem, at: datetime) -> None: ...

    def dead_letter_count(self) -> int:
        """How many messages sit in the dead-letter queue (counted by peeking, nothing is received)."""

    def drain_dead_letters(self, handle: Callable[[DeadLetter], bool], limit: int) -> int:
        """Pass each dead-lettered message to `handle`; remove it when `handle` returns True, else leave it.

        Returns how many were looked at (each at most once per call).
        """

    def ping(self) -> None: ...
