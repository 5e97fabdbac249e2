"""Telling requesters how their requests are going, without ever holding up or failing the link operation.

Every saved transition worth telling (waiting for approval, started, finished) queues one `notify` work item
per callback of the request. The worker delivers each on its own, so a slow or failing channel is retried
with backoff on its own schedule, a channel that already heard is never told twice, and the outcome of each
delivery is noted in the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from interconnect.avs.ids import CloudId
from interconnect.channels.ports import Notifier
from interconnect.errors import DependencyError, InterconnectError
from interconnect.linking.model import AuditEvent, LinkRequest, RequestSummary, Status
from interconnect.linking.ports import Listing, RequestFilter, RequestStore, WorkQueue
from interconnect.linking.queue import WorkItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """Tell callback number `callback` of a request about its status event `event_sequence`.

    On the wire it is a `notify` WorkItem: the event sequence travels as `attempt`, the callback as `origin`
    ("cb<N>"), as it always has, so messages already queued decode and message ids stay the same.
    """

    request_id: str
    event_sequence: int
    callback: int
    retry: int = 0

    @classmethod
    def from_item(cls, item: WorkItem) -> Delivery:
        return cls(item.request_id, item.attempt, int(item.origin.removeprefix("cb") or 0), item.retry)

    def to_item(self) -> WorkItem:
        return WorkItem(self.request_id, "notify", self.event_sequence, self.retry, origin=f"cb{self.callback}")


def worth_telling(event: AuditEvent) -> bool:
    """Waiting for approval, the operation starting, and the end; not every follow-up check."""
    if event.kind != "status":
        return False
    started = event.status is Status.IN_PROGRESS and event.previous is not Status.IN_PROGRESS
    return event.status is Status.AWAITING_APPROVAL or event.status.is_terminal or started


class AnnouncingStore(RequestStore):
    """A `RequestStore` that queues the notifications a saved transition calls for.

    Every method but `save` is the wrapped store's, spelled out so the type checker sees a whole RequestStore.
    """

    def __init__(self, store: RequestStore, queue: WorkQueue) -> None:
        self._store = store
        self._queue = queue

    def create(self, request: LinkRequest) -> LinkRequest:
        return self._store.create(request)

    def get(self, request_id: str) -> LinkRequest:
        return self._store.get(request_id)

    def events(self, request_id: str) -> list[AuditEvent]:
        return self._store.events(request_id)

    def note(self, event: AuditEvent, suffix: str) -> None:
        self._store.note(event, suffix)

    def recent(self, filters: RequestFilter, *, limit: int, continuation: str | None) -> Listing[LinkRequest]:
        return self._store.recent(filters, limit=limit, continuation=continuation)

    def unfinished(self, cloud: CloudId) -> list[RequestSummary]:
        return self._store.unfinished(cloud)

    def stale(self, before: datetime) -> Listing[RequestSummary]:
        return self._store.stale(before)

    def discard(self, request_id: str) -> None:
        self._store.discard(request_id)

    def ping(self) -> None:
        self._store.ping()

    def save(self, request: LinkRequest, event: AuditEvent | None) -> LinkRequest:
        saved = self._store.save(request, event)
        if event is not None and saved.callbacks and worth_telling(event):
            for index in range(len(saved.callbacks)):
                try:
                    self._queue.send(Delivery(saved.id, event.sequence, index).to_item())
                except DependencyError as exc:
                    # The transition stands; a lost notification is noted rather than failing the work.
                    log.warning("could not queue notification %d of %s: %s", index, saved.id, exc.message)
                    self._store.note(
                        note(saved, event.sequence, event.at, f"notification not queued: {exc.message}"),
                        f"n{index}-unqueued",
                    )
        return saved


def note(request: LinkRequest, sequence: int, at: datetime, message: str) -> AuditEvent:
    return AuditEvent(
        request.id, sequence, at, "notifier", "note", request.status, None, message, request.correlation_id
    )


@dataclass
class Deliveries:
    store: RequestStore
    notifier: Notifier

    def deliver(self, delivery: Delivery, now: datetime) -> None:
        """Deliver one notification. Raises DependencyError so the dispatcher retries it later."""
        request = self.store.get(delivery.request_id)
        index = delivery.callback
        event = next(
            (e for e in self.store.events(request.id) if e.kind == "status" and e.sequence == delivery.event_sequence),
            None,
        )
        if event is None or index >= len(request.callbacks):
            return
        callback = request.callbacks[index]
        where = callback.kind + (f" {callback.ticket}" if callback.ticket else "")
        try:
            self.notifier.deliver(callback, request, event)
        except DependencyError:
            raise
        except InterconnectError as exc:
            self.store.note(
                note(request, event.sequence, now, f"could not tell {where}: {exc.message}"), f"n{index}-failed"
            )
            return
        self.store.note(note(request, event.sequence, now, f"told {where}: {event.status.value}"), f"n{index}")

    def give_up(self, delivery: Delivery, exc: DependencyError, now: datetime) -> None:
        """A channel never fails the request: after the last retry the request only notes it."""
        request = self.store.get(delivery.request_id)
        callback = f"cb{delivery.callback}"
        message = f"gave up telling callback {callback}: {exc.message}"
        self.store.note(note(request, delivery.event_sequence, now, message), f"n{callback}-gave-up")
