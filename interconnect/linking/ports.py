"""The ports the services talk to. Adapters implement them with Azure SDKs; tests use the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link, PermissionEntry, Segment
from interconnect.linking.model import AuditEvent, Callback, LinkRequest, RequestSummary, Status
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


class RequestStore(Protocol):
    """Request rows and their append-only audit trails."""

    def create(self, request: LinkRequest, event: AuditEvent) -> LinkRequest:
        """Insert a new request with its first event. Raises ConflictError if the id exists."""

    def get(self, request_id: str) -> LinkRequest:
        """Raises NotFoundError, or CorruptRecordError for a row that cannot be read back."""

    def save(self, request: LinkRequest, event: AuditEvent) -> LinkRequest:
        """Write `request` only if the stored row still has `request.etag`, together with `event`.

        Raises ConflictError when another writer got there first.
        """

    def events(self, request_id: str) -> list[AuditEvent]:
        """The audit trail, oldest first."""

    def note(self, event: AuditEvent, suffix: str) -> None:
        """Append a note (kind "note") after the status event it follows; the same suffix twice is one note."""

    def recent(self, *, cloud: CloudId | None, status: Status | None, limit: int,
               continuation: str | None) -> Listing[LinkRequest]:
        """Newest first; `continuation` pages on. Raises ValidationError (INVALID_CONTINUATION) for a token
        this listing did not issue."""

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


class Notifier(Protocol):
    """Tells a requester's channel how their request is going (ticket comment, chat message, signed event)."""

    def deliver(self, callback: Callback, request: LinkRequest, event: AuditEvent) -> None:
        """Raises DependencyError when a retry may help, InterconnectError when it cannot."""


class AvsGateway(Protocol):
    """Microsoft.AVS as the app needs it. Raises DependencyError/ThrottledError (retryable) or ArmError."""

    def get_cloud(self, cloud: CloudId) -> Cloud | None: ...

    def list_clouds(self, subscription: str) -> list[Cloud]:
        """Every private cloud of a subscription, in one paged read."""

    def list_links(self, cloud: CloudId) -> list[Link]: ...

    def get_link(self, cloud: CloudId, name: str) -> Link | None: ...

    def list_segments(self, cloud: CloudId) -> list[Segment]: ...

    def list_global_reach(self, cloud: CloudId) -> list[str]:
        """The Global Reach connections' address prefixes."""

    def permissions(self, cloud: CloudId) -> list[PermissionEntry]:
        """What the app's own identity may do on `cloud` (Microsoft.Authorization permissions)."""

    def create_link(self, cloud: CloudId, name: str, target: CloudId) -> float | None:
        """Start creating; returns the server's Retry-After in seconds when it gave one."""

    def delete_link(self, cloud: CloudId, name: str) -> float | None:
        """Start deleting; returns the server's Retry-After in seconds when it gave one."""

    def ping(self) -> None: ...
