"""The one place a work item is routed by its kind: a request's steps to the worker, `notify` to the channel
deliveries, `audit` to the audit, `changeset` to links as code's change sets. Each feature reads its own
explicit type from the wire item (Delivery, AuditJob), so no field changes meaning with the kind anywhere past
this table.

Transient failures of a delivery or an audit run are retried here as the worker retries its own steps: the
same item is scheduled again with backoff (its retry number in the message id), and after the last retry a
delivery is noted on the request and an audit run is logged; neither ever fails a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from interconnect.audit.service import AuditJob, Audits
from interconnect.channels.deliveries import Deliveries, Delivery
from interconnect.errors import DependencyError
from interconnect.estate.apply import ChangeSets
from interconnect.linking.ports import WorkQueue
from interconnect.linking.queue import WorkItem
from interconnect.linking.worker import MAX_RETRIES, Worker, retry_later

log = logging.getLogger(__name__)


@dataclass
class Dispatch:
    worker: Worker
    queue: WorkQueue
    clock: Callable[[], datetime]
    deliveries: Deliveries | None = None
    audits: Audits | None = None
    changesets: ChangeSets | None = None

    def handle(self, item: WorkItem) -> None:
        """Route one work item. Raises DependencyError only when not even a retry can be scheduled."""
        route: dict[str, Callable[[WorkItem], None]] = {
            "notify": self._deliver,
            "audit": self._audit,
            "changeset": self._advance,
        }
        route.get(item.kind, self.worker.handle)(item)

    def _deliver(self, item: WorkItem) -> None:
        if self.deliveries is None:
            return
        delivery = Delivery.from_item(item)
        try:
            self.deliveries.deliver(delivery, self.clock())
        except DependencyError as exc:
            if item.retry >= MAX_RETRIES:
                self.deliveries.give_up(delivery, exc, self.clock())
            else:
                retry_later(self.queue, item, exc, self.clock())

    def _audit(self, item: WorkItem) -> None:
        job = AuditJob.from_item(item)
        try:
            if self.audits is not None:
                self.audits.run(job.run_id)
        except DependencyError as exc:
            if item.retry >= MAX_RETRIES:
                log.error("audit run %s gave up: %s", job.run_id, exc.message)
            else:
                retry_later(self.queue, item, exc, self.clock())

    def _advance(self, item: WorkItem) -> None:
        """One pass over a change set (links as code); after the last retry it fails with the cause."""
        if self.changesets is None:
            return
        try:
            self.changesets.handle(item)
        except DependencyError as exc:
            if item.retry >= MAX_RETRIES:
                log.error("change set %s gave up: %s", item.request_id, exc.message)
                self.changesets.give_up(item.request_id, exc)
            else:
                retry_later(self.queue, item, exc, self.clock())
