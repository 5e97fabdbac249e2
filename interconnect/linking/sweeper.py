"""The sweeper: nothing accepted is ever left without a way to finish.

Runs on a timer. It turns dead-lettered work items into `Failed` requests that say why, and re-drives
requests that have not moved for a while: recorded but never queued (intake crashed between the two),
or whose next message was lost. Re-driving is safe because every worker step is idempotent; each re-drive
carries a fresh origin so duplicate detection does not mistake it for the lost message. It also counts what
the worker set aside in the quarantine (messages that are no work item, or whose request cannot be read
back): those wait there for a person.

One bad record never stops a pass: a dead letter that is no work item (malformed, however deeply nested)
or whose request cannot be read back is logged with its code, counted, and left in the dead-letter queue for
a person; a stale request that cannot be read back is counted and skipped. Only an outage of Tables or
Service Bus ends a pass early, since then no later item could succeed either (the next timer tick retries).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from interconnect.errors import (
    ConflictError,
    CorruptRecordError,
    DependencyError,
    InterconnectError,
    NotFoundError,
    ValidationError,
)
from interconnect.linking import lifecycle
from interconnect.linking import queue as messages
from interconnect.linking.measures import Measures, Unmeasured
from interconnect.linking.model import Reason, Status
from interconnect.linking.ports import RequestFilter, RequestStore, WorkQueue
from interconnect.linking.quarantine import Quarantine
from interconnect.linking.queue import DeadLetter, Kind, WorkItem, loggable

log = logging.getLogger(__name__)
ACTOR = "sweeper"
MAX_DEAD_LETTERS = 500
MAX_APPROVALS_READ = 1000  # requests awaiting approval read per pass to measure them
# A dead letter's outcome as the metric names it (`deadLettered` there means: its request was failed).
METRIC_OUTCOME = {"deadLettered": "failed_request"}
# The step that re-drives a stale request, by its status; any other status is processed afresh.
REDRIVE: dict[Status, Kind] = {Status.IN_PROGRESS: "check", Status.AWAITING_APPROVAL: "expire"}


@dataclass
class Sweeper:
    store: RequestStore
    queue: WorkQueue
    clock: Callable[[], datetime]
    stale_after: timedelta = timedelta(minutes=10)
    quarantine: Quarantine | None = None
    measures: Measures = field(default_factory=Unmeasured)

    def sweep(self) -> dict[str, int]:
        """One pass. Returns counts of what it did: dead letters that failed their request, dead letters
        left for a person (`malformed`: no work item; `unreadable`: its request cannot be read back) or for
        the next pass (`deferred`: its request kept changing), stale requests re-driven, stale requests
        skipped as unreadable (also counted in `unreadable`), and messages sitting in the quarantine
        (`quarantined`, set aside by the worker for a person)."""
        report = {"deadLettered": 0, "malformed": 0, "unreadable": 0, "deferred": 0, "redriven": 0, "quarantined": 0}

        def on_dead_letter(letter: DeadLetter) -> bool:
            outcome = self._dead_letter(letter)
            report[outcome] += 1
            self.measures.dead_letter(METRIC_OUTCOME.get(outcome, outcome))
            # What could not be settled stays in the dead-letter queue for a person (the audit reports it).
            return outcome == "deadLettered"

        self.queue.drain_dead_letters(on_dead_letter, MAX_DEAD_LETTERS)
        now = self.clock()
        stale = self.store.stale(now - self.stale_after)
        report["unreadable"] += stale.skipped  # each already logged with its reason by the store
        for summary in stale.items:
            # A request awaiting approval waits on a person; the only message it needs is its expiry, which
            # is a no-op before the deadline.
            kind = REDRIVE.get(summary.status, "process")
            try:
                attempt = self._current_check(summary.id) if kind == "check" else 0
            except CorruptRecordError as exc:
                log.warning("request %s cannot be re-driven: %s", summary.id, exc.message, extra={"code": exc.code})
                report["unreadable"] += 1
                continue
            if attempt is None:
                continue
            origin = f"sweep-{int(now.timestamp())}"
            self.queue.send(WorkItem(summary.id, kind, attempt, origin=origin, trace=summary.traceparent))
            log.warning(
                "request %s has been %s since %s: re-driven", summary.id, summary.status.value, summary.updated_at
            )
            report["redriven"] += 1
        self._measure_approvals(now)
        if self.quarantine is not None:
            report["quarantined"] = self.quarantine.count()
            if report["quarantined"]:
                log.warning("%d message(s) sit in the quarantine, set aside for a person", report["quarantined"])
        return report

    def _measure_approvals(self, now: datetime) -> None:
        """Report what waits for a second person (count and ages), read page by page up to MAX_APPROVALS_READ;
        a store that cannot answer just now leaves the gauges at their last values."""
        if isinstance(self.measures, Unmeasured):
            return  # nothing would record them: no reads spent
        ages: list[timedelta] = []
        continuation: str | None = None
        try:
            while len(ages) < MAX_APPROVALS_READ:
                page = self.store.recent(
                    RequestFilter(status=Status.AWAITING_APPROVAL), limit=100, continuation=continuation
                )
                ages += [now - r.created_at for r in page.items]
                continuation = page.continuation
                if continuation is None:
                    break
        except DependencyError as exc:
            log.warning("approvals waiting not measured: %s", exc.message, extra={"code": exc.code})
            return
        self.measures.approvals_waiting(ages)

    def _current_check(self, request_id: str) -> int | None:
        """Raises CorruptRecordError when the request cannot be read back."""
        try:
            request = self.store.get(request_id)
        except NotFoundError:
            return None
        return request.operation.checks if request.operation is not None else None

    def _dead_letter(self, letter: DeadLetter) -> str:
        """What became of one dead letter: `deadLettered` (settled), or `malformed`, `unreadable`, `deferred` (left).

        Raises only what no later item could get past either: Tables or Service Bus being unavailable.
        """
        try:
            item = self._work_item(letter)
        except ValidationError as exc:
            log.error(
                "malformed message %s in the dead-letter queue (%s: %s): %s",
                loggable(letter.message_id),
                loggable(letter.reason),
                loggable(letter.description),
                exc.message,
                extra={"code": exc.code},
            )
            return "malformed"
        try:
            return self._fail_request(item, letter)
        except InterconnectError as exc:
            if exc.retryable:
                raise
            # A row this version cannot read, or a request id the store refuses.
            log.error(
                "dead-lettered work item %s for request %s left for a person: %s",
                loggable(letter.message_id),
                item.request_id,
                exc.message,
                extra={"code": exc.code},
            )
            return "unreadable"

    @staticmethod
    def _work_item(letter: DeadLetter) -> WorkItem:
        """Raises ValidationError (MALFORMED_MESSAGE) when the dead letter holds no work item."""
        if letter.body_type != "data":
            raise ValidationError(
                f"dead letter has an AMQP {letter.body_type} body, not data", code="MALFORMED_MESSAGE"
            )
        return messages.decode(letter.body)

    def _fail_request(self, item: WorkItem, letter: DeadLetter) -> str:
        why = f"{letter.reason}: {letter.description}".strip(": ")
        for _ in range(3):
            try:
                request = self.store.get(item.request_id)
            except NotFoundError:
                return "deadLettered"  # nothing left to fail
            if request.status.is_terminal:
                return "deadLettered"
            reason = Reason(
                "DEAD_LETTERED",
                f"Service Bus gave up on work item {letter.message_id}: {why}",
                {
                    "messageId": letter.message_id,
                    "deadLetterReason": letter.reason,
                    "deadLetterDescription": letter.description,
                },
            )
            try:
                saved = self.store.save(
                    *lifecycle.transition(
                        request,
                        Status.FAILED,
                        now=self.clock(),
                        actor=ACTOR,
                        reasons=(reason,),
                        outcome=f"its work item was dead-lettered ({why})",
                        message=reason.message,
                    )
                )
                self.measures.request_moved(request, saved)
                return "deadLettered"
            except ConflictError:
                continue
        log.warning(
            "request %s kept changing while the sweeper failed it; its dead letter waits for the next pass",
            item.request_id,
            extra={"code": ConflictError.code},
        )
        return "deferred"
