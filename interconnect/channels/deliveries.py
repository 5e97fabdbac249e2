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

from interconnect.channels.ports import Notifier
from interconnect.errors import DependencyError, InterconnectError
from interconnect.linking.model import AuditEvent, LinkRequest, Status
from interconnect.linking.ports import RequestStore, WorkQueue
from interconnect.linking.queue import WorkItem

log = logging.getLogger(__name__)


def worth_telling(event: AuditEvent) -> bool:
    """Waiting for approval, the operation starting, and the end; not every follow-up check."""
    if event.kind != "status":
        return False
    started = event.status is Status.IN_PROGRESS and event.previous is not Status.IN_PROGRESS
    return event.status is Status.AWAITING_APPROVAL or event.status.is_terminal or started


class AnnouncingStore:
    """A `RequestStore` that queues the notifications a saved transition calls for."""

    def __init__(self, store: RequestStore, queue: WorkQueue) -> None:
        self._store = store
        self._queue = queue

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def save(self, request: LinkRequest, event: AuditEvent) -> LinkRequest:
        saved = self._store.save(request, event)
        if saved.callbacks and worth_telling(event):
            for index in range(len(saved.callbacks)):
                try:
                    self._queue.send(WorkItem(saved.id, "notify", event.sequence, origin=f"cb{index}"))
                except DependencyError as exc:
                    # The transition stands; a lost notification is noted rather than failing the work.
                    log.warning("could not queue notification %d of %s: %s", index, saved.id, exc.message)
                    self._store.note(note(saved, event.sequence, event.at, f"notification not queued: {exc.message}"),
                                     f"n{index}-unqueued")
        return saved


def note(request: LinkRequest, sequence: int, at: datetime, message: str) -> AuditEvent:
    return AuditEvent(request.id, sequence, at, "notifier", "note", request.status, None, message,
                      request.correlation_id)


@dataclass
class Deliveries:
    store: RequestStore
    notifier: Notifier

    def deliver(self, item: WorkItem, now: datetime) -> None:
        """Deliver one notification. Raises DependencyError so the worker retries it later."""
        request = self.store.get(item.request_id)
        index = int(item.origin.removeprefix("cb") or 0)
        event = next((e for e in self.store.events(request.id) if e.kind == "status" and e.sequence == item.attempt),
                     None)
        if event is None or index >= len(request.callbacks):
            return
        callback = request.callbacks[index]
        where = callback.kind + (f" {callback.ticket}" if callback.ticket else "")
        try:
            self.notifier.deliver(callback, request, event)
        except DependencyError:
            raise
        except InterconnectError as exc:
            self.store.note(note(request, event.sequence, now, f"could not tell {where}: {exc.message}"),
                            f"n{index}-failed")
            return
        self.store.note(note(request, event.sequence, now, f"told {where}: {event.status.value}"), f"n{index}")

    def give_up(self, item: WorkItem, exc: DependencyError, now: datetime) -> None:
        request = self.store.get(item.request_id)
        self.store.note(note(request, item.attempt, now, f"gave up telling callback {item.origin}: {exc.message}"),
                        f"n{item.origin}-gave-up")
