"""The sweeper: nothing accepted is ever left without a way to finish.

Runs on a timer. It turns dead-lettered work items into `Failed` requests that say why, and re-drives
requests that have not moved for a while: recorded but never queued (intake crashed between the two),
or whose next message was lost. Re-driving is safe because every worker step is idempotent; each re-drive
carries a fresh origin so duplicate detection does not mistake it for the lost message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from interconnect import lifecycle, messages
from interconnect.errors import ConflictError, NotFoundError, ValidationError
from interconnect.messages import DeadLetter, WorkItem
from interconnect.model import Reason, Status
from interconnect.ports import RequestStore, WorkQueue

log = logging.getLogger(__name__)
ACTOR = "sweeper"
MAX_DEAD_LETTERS = 500


@dataclass
class Sweeper:
    store: RequestStore
    queue: WorkQueue
    clock: Callable[[], datetime]
    stale_after: timedelta = timedelta(minutes=10)

    def sweep(self) -> dict[str, int]:
        """One pass. Returns counts of what it did."""
        report = {"deadLettered": 0, "malformed": 0, "redriven": 0}

        def on_dead_letter(letter: DeadLetter) -> bool:
            outcome = self._dead_letter(letter)
            report[outcome] += 1
            # A malformed message stays in the dead-letter queue for a person to look at (the audit reports it).
            return outcome != "malformed"

        self.queue.drain_dead_letters(on_dead_letter, MAX_DEAD_LETTERS)
        now = self.clock()
        for summary in self.store.stale(now - self.stale_after):
            # A request awaiting approval waits on a person; the only message it needs is its expiry, which
            # is a no-op before the deadline.
            kind = {Status.IN_PROGRESS: "check", Status.AWAITING_APPROVAL: "expire"}.get(summary.status, "process")
            attempt = self._current_check(summary.id) if kind == "check" else 0
            if attempt is None:
                continue
            self.queue.send(WorkItem(summary.id, kind, attempt, origin=f"sweep-{int(now.timestamp())}"))
            log.warning("request %s has been %s since %s: re-driven", summary.id, summary.status.value,
                        summary.updated_at)
            report["redriven"] += 1
        return report

    def _current_check(self, request_id: str) -> int | None:
        try:
            request = self.store.get(request_id)
        except NotFoundError:
            return None
        return request.operation.checks if request.operation is not None else None

    def _dead_letter(self, letter: DeadLetter) -> str:
        try:
            item = messages.decode(letter.body)
        except ValidationError as exc:
            log.error("malformed message %s in the dead-letter queue (%s: %s): %s", letter.message_id,
                      letter.reason, letter.description, exc.message, extra={"code": exc.code})
            return "malformed"
        why = f"{letter.reason}: {letter.description}".strip(": ")
        for _ in range(3):
            try:
                request = self.store.get(item.request_id)
            except NotFoundError:
                return "deadLettered"  # nothing left to fail
            if request.status.is_terminal:
                return "deadLettered"
            reason = Reason("DEAD_LETTERED", f"Service Bus gave up on work item {letter.message_id}: {why}",
                            {"messageId": letter.message_id, "deadLetterReason": letter.reason,
                             "deadLetterDescription": letter.description})
            try:
                self.store.save(*lifecycle.transition(
                    request, Status.FAILED, now=self.clock(), actor=ACTOR, reasons=(reason,),
                    outcome=f"its work item was dead-lettered ({why})", message=reason.message))
                return "deadLettered"
            except ConflictError:
                continue
        raise ConflictError(f"request {item.request_id} kept changing while the sweeper failed it")
