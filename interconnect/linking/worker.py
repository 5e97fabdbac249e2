"""The worker: validate a request on facts read from ARM, start the ARM operation, and follow it up.

Nothing here blocks on ARM: the worker starts an operation, records it, and schedules a `check`
message; each check reads the link once and either finishes the request or schedules the next.
Every step can run twice (Service Bus delivers at least once) and a crash between any two steps loses
nothing: transitions are ETag-guarded, link names are deterministic, and follow-up messages carry
numbered ids that duplicate detection drops when re-sent.

Decisions touching the same cloud are taken one at a time, in acceptance order (created_at, id). A request
that must wait is not polled with backoff but woken: a request that stops holding others back sends a
`process` wake-up to the earliest later undecided request on each of its clouds (see `_wake_waiters` for why
that chain of successors reaches every waiter), and each waiter keeps one fallback chain, every
WAIT_FALLBACK, for a wake-up that was lost or a blocker that went stale.

A check follows an operation every poll interval, or after ARM's Retry-After when that is longer, so the
request ends at most max(Retry-After, poll interval) after ARM finished (bench/completion.py measures it). Every
check is counted on the row (`operation.checks`), but the audit trail gets one only when it saw something the
last recorded check did not, or as a heartbeat after lifecycle.CHECK_HEARTBEAT without an event: the trail is
what people read, and a two-hour build would otherwise bury its real steps under some 240 identical lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Unpack

from interconnect.avs.gateway import AvsGateway
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Link, LinkStatus
from interconnect.errors import (
    ArmError,
    ConflictError,
    DependencyError,
    InterconnectError,
    NotFoundError,
    usable_retry_after,
)
from interconnect.linking import lifecycle
from interconnect.linking.facts import Facts, Preflight
from interconnect.linking.impact import cut_line, impact, unread_line
from interconnect.linking.measures import Measures, Unmeasured
from interconnect.linking.model import Action, Approval, LinkRequest, Operation, Reason, Status, StepChanges
from interconnect.linking.ports import RequestStore, WorkQueue
from interconnect.linking.queue import WorkItem
from interconnect.linking.rules import Decision, decide, pair_unknown

log = logging.getLogger(__name__)
ACTOR = "worker"
MAX_RACES = 5
MAX_RETRIES = 8
STALE_UNDECIDED = timedelta(minutes=15)
# A waiting request is woken when what held it back is decided; this is only the safety net under that (a
# wake-up lost with a crash, a blocker gone stale, an index row lagging). Fixed, not growing: one message per
# waiter per period is cheap, and a lost wake-up then costs at most one period.
WAIT_FALLBACK = timedelta(seconds=30)
# Statuses in which a request still waits for its decision; while in one it holds back later requests.
UNDECIDED = (Status.ACCEPTED, Status.VALIDATING)


def retry_delay(retry: int, retry_after: float | None) -> timedelta:
    """Exponential backoff from 2 s, capped at 5 min; never sooner than the server's Retry-After."""
    backoff = timedelta(seconds=min(2 * 2**retry, 300))
    seconds = usable_retry_after(retry_after)  # what an adapter passed on is not trusted blindly
    return backoff if seconds is None else max(backoff, timedelta(seconds=seconds))


def retry_later(queue: WorkQueue, item: WorkItem, exc: DependencyError, now: datetime) -> None:
    """Schedule the same item again with backoff rather than raising: an abandoned message comes back at once,
    which would spin. The retry number is part of the message id, so duplicate detection still works."""
    delay = retry_delay(item.retry, exc.retry_after)
    log.warning(
        "request %s: %s; retry %d in %s", item.request_id, exc.message, item.retry + 1, delay, extra={"code": exc.code}
    )
    queue.schedule(replace(item, retry=item.retry + 1), now + delay)


@dataclass
class Worker:
    store: RequestStore
    queue: WorkQueue
    avs: AvsGateway
    preflight: Preflight
    clock: Callable[[], datetime]
    poll_interval: timedelta = timedelta(seconds=30)
    operation_timeout: timedelta = timedelta(hours=2)
    approvals: bool = True
    approval_timeout: timedelta = timedelta(minutes=60)
    measures: Measures = field(default_factory=Unmeasured)

    def handle(self, item: WorkItem) -> None:
        """Process one step of a request (`process`, `check` or `expire`); app/dispatch.py routes it here.

        A transient failure (ARM, Tables or Service Bus unavailable) is retried by scheduling the same step
        again with backoff rather than by raising: an abandoned message comes back at once, which would
        spin. Raises DependencyError only when even that is impossible, so Service Bus redelivers.
        """
        try:
            self._handle(item)
        except DependencyError as exc:
            if item.retry >= MAX_RETRIES:
                self._give_up(item, exc)
                return
            retry_later(self.queue, item, exc, self.clock())

    def _refused(self, request_id: str, exc: ArmError) -> None:
        request = self.store.get(request_id)
        if request.status.is_terminal:
            return
        # Before the operation started nothing was changed in Azure: Rejected; after, Failed.
        to = Status.FAILED if request.status is Status.IN_PROGRESS else Status.REJECTED
        self._finish(request, to, f"ARM refused: {exc.message}", (Reason.of(exc),))

    def _give_up(self, item: WorkItem, exc: DependencyError) -> None:
        request = self.store.get(item.request_id)
        if not request.status.is_terminal:
            self._finish(
                request,
                Status.FAILED,
                f"gave up after {MAX_RETRIES} retries: {exc.message}",
                (Reason.of(exc),),
            )

    def _handle(self, item: WorkItem) -> None:
        for _ in range(MAX_RACES):
            try:
                request = self.store.get(item.request_id)
            except NotFoundError:
                # Intake takes a row back when it cannot queue; a message that got through anyway
                # refers to a request the caller was told failed. Nothing to do.
                log.warning("work item for unknown request %s dropped", item.request_id)
                return
            if request.status.is_terminal:
                if not item.is_wake_up:
                    # The step that ended it may have crashed before its wake-ups were sent: send them again
                    # (same ids, so the broker drops any that did go out).
                    self._wake_waiters(request)
                return
            try:
                if item.kind == "process":
                    self._process(request, item)
                elif item.kind == "check":
                    self._check(request, item.attempt)
                else:
                    self._expire(request)
                return
            except ConflictError:
                continue  # another delivery moved the row on: re-read and decide again
            except ArmError as exc:
                # ARM said no for good to a call the steps do not turn into a verdict themselves: end the
                # request with that cause. Raising would only have Service Bus redeliver a message that can
                # never succeed, until it is dead-lettered.
                try:
                    self._refused(item.request_id, exc)
                except ConflictError:
                    continue
                return
        raise DependencyError(f"request {item.request_id} kept changing under the worker; retrying later")

    # -- process --------------------------------------------------------------------------------------

    def _process(self, request: LinkRequest, item: WorkItem) -> None:
        if request.status is Status.ACCEPTED and request.action is Action.DISCONNECT and self.approvals:
            # Removing a link cuts traffic: a second person must approve it first (two-person rule).
            cuts = self._cuts(request)  # read before the deadline is set, so the reads never shorten the window
            deadline = self.clock() + self.approval_timeout
            self._move(
                request,
                Status.AWAITING_APPROVAL,
                f"waiting for approval by someone other than {request.requester} until {deadline.isoformat()}. " + cuts,
                approval=Approval(deadline),
            )
            self.queue.schedule(WorkItem(request.id, "expire"), deadline)
            return
        if request.status in (Status.AWAITING_APPROVAL, Status.IN_PROGRESS) and not item.is_wake_up:
            # A redelivered decision step: its wake-ups may not have gone out before a crash (same ids again).
            self._wake_waiters(request)
        if request.status is Status.AWAITING_APPROVAL:
            return  # an approval re-queues the request
        if request.status in UNDECIDED and self._held_back(request, item):
            return
        if request.status is Status.ACCEPTED:
            request = self._move(request, Status.VALIDATING, "validating on facts read from ARM")
        if request.status is Status.VALIDATING:
            self._validate_and_act(request, item)
        elif request.status is Status.IN_PROGRESS and request.operation is not None:
            # A redelivered first message after the operation started: make sure its check is queued
            # (the scheduled one keeps its message id, so the broker drops this if it is already there).
            self._schedule_check(request, self.poll_interval)

    def _cuts(self, request: LinkRequest) -> str:
        """What the disconnect cuts, as the line the approvers are told (impact.cut_line). Read once, here, as the
        request enters AwaitingApproval: the line travels in that transition's event, so every channel's
        announcement (and each redelivery of it) shows what was read without reading ARM again. A read that
        fails is said in the line and never holds the approval back: the approver decides knowing it."""
        try:
            return cut_line(impact(self.preflight.routes(request.source, request.target, request.requester)))
        except InterconnectError as exc:
            log.warning("request %s: what it cuts not read: %s", request.id, exc.message, extra={"code": exc.code})
            return unread_line(exc.message)

    def _held_back(self, request: LinkRequest, item: WorkItem) -> bool:
        """Decisions that touch the same cloud are taken one at a time, in the order the requests were
        accepted: while an earlier one is undecided this one waits, and is woken when that one is decided."""
        earlier = self._undecided_earlier(request)
        if not earlier:
            return False
        log.info("request %s waits for %s", request.id, ", ".join(earlier))
        if not item.is_wake_up:
            # A wake-up that finds the request still held back leaves it to the chain already running.
            self._schedule_fallback(request, item)
        return True

    def _schedule_fallback(self, request: LinkRequest, item: WorkItem) -> None:
        """Keep exactly one fallback chain per waiting request. Its messages sit on a fixed grid from the
        request's acceptance (slot k at created_at + k * WAIT_FALLBACK, id `<id>:wait:<k>`), so anything that
        starts a chain again (the first message redelivered, a sweeper re-drive, an approval) schedules the
        same next slot under the same id as the chain already running, and the broker drops it."""
        elapsed = max(self.clock() - request.created_at, timedelta(0))
        slot = max(item.attempt + 1, elapsed // WAIT_FALLBACK + 1)
        self.queue.schedule(WorkItem(request.id, "process", slot), request.created_at + WAIT_FALLBACK * slot)

    def _wake_waiters(self, request: LinkRequest) -> None:
        """Wake the earliest later undecided request on each cloud of `request`, which has just stopped holding
        others back (left Accepted/Validating, or ended after its operation ran).

        Why the earliest one on each cloud is enough: every undecided request accepted before a waiter W on a
        cloud of W holds W back. So when the last of W's blockers stops blocking, nothing undecided lies
        between it and W on the cloud they share, and its wake-up on that cloud goes to W. A request woken
        while something else still holds it back does nothing: whatever holds it will wake it in turn. Each
        transition sends at most two messages and a request makes at most three such transitions, so a burst
        of n requests on one hub costs O(n) wake-ups, not O(n²). The index is read after the transition was
        saved, so a waiter that read the old state is still found; where the index lags by one transition
        the wrong request may be woken (harmless: it re-checks), and the waiter's fallback chain covers it.
        """
        mine = (request.created_at, request.id)
        woken: set[str] = set()
        try:
            for cloud in dict.fromkeys((request.source, request.target)):
                later = [
                    r
                    for r in self.store.unfinished(cloud)
                    if r.id != request.id and r.status in UNDECIDED and (r.created_at, r.id) > mine
                ]
                if not later:
                    continue
                first = min(later, key=lambda r: (r.created_at, r.id))
                if first.id not in woken:
                    woken.add(first.id)
                    self.queue.send(WorkItem(first.id, "process", waker=request.id, waker_status=request.status.value))
        except DependencyError as exc:
            # The transition is saved and this step must go on (start the operation, queue its check): a waiter
            # not woken now is found by its fallback chain, or by this step when it runs again.
            log.warning(
                "request %s could not wake the requests waiting for it: %s",
                request.id,
                exc.message,
                extra={"code": exc.code},
            )

    def _undecided_earlier(self, request: LinkRequest) -> list[str]:
        """Requests accepted before this one that it must wait for: those touching either cloud that are not
        decided yet, and those on the same pair whose operation is still running (a disconnect must not
        remove a link an earlier connect is still building).

        One undecided for longer than STALE_UNDECIDED no longer holds others back; the sweeper re-drives it.
        """
        now = self.clock()
        pair = {request.source, request.target}
        return sorted(
            {
                r.id
                for cloud in pair
                for r in self.store.unfinished(cloud)
                if r.id != request.id
                and (r.created_at, r.id) < (request.created_at, request.id)
                and (
                    (r.status in UNDECIDED and now - r.created_at < STALE_UNDECIDED)
                    or (r.status is Status.IN_PROGRESS and {r.source, r.target} == pair)
                )
            }
        )

    def _validate_and_act(self, request: LinkRequest, item: WorkItem) -> None:
        facts = self._facts(request)
        # A request accepted just before this one shows in the index only once its intake has written it, which
        # can be after this one was picked up (concurrent POSTs). Look again now the facts are read: if one
        # turned up, it decides first (and wakes this one), so two decisions on a cloud never overlap on facts
        # that miss each other. Two index reads; the window left is the few milliseconds until the ARM call.
        if self._held_back(request, item):
            return
        decision = decide(facts)
        if decision.kind == "reject":
            self._finish(request, Status.REJECTED, decision.outcome, decision.reasons)
        elif decision.kind == "noop":
            self._finish(request, Status.SUCCEEDED, decision.outcome)
        else:
            self._start(request, decision)

    def _facts(self, request: LinkRequest) -> Facts:
        return self.preflight.gather(
            request.action,
            request.source,
            request.target,
            request.requester,
            request_id=request.id,
            accepted_at=request.created_at,
        )

    def _start(self, request: LinkRequest, decision: Decision) -> None:
        assert decision.holder is not None
        now = self.clock()
        operation = Operation(
            "create" if decision.kind == "create" else "delete",
            decision.holder,
            decision.link_name,
            now,
            now + self.operation_timeout,
        )
        # Record the intent before acting: a crash after the ARM call then resumes as a check, and
        # the deterministic link name makes a repeated PUT or DELETE land on the same resource.
        request = self._move(request, Status.IN_PROGRESS, decision.outcome, operation=operation)
        self._act(request, operation, decision.target)

    def _act(self, request: LinkRequest, operation: Operation, target: CloudId | None = None) -> None:
        try:
            if operation.verb == "create":
                retry_after = self.avs.create_link(
                    operation.cloud, operation.link_name, target or self._other_end(request, operation.cloud)
                )
            else:
                retry_after = self.avs.delete_link(operation.cloud, operation.link_name)
        except ArmError as exc:
            self._finish(
                request,
                Status.FAILED,
                f"ARM refused to {operation.verb} link {operation.link_name}: {exc.message}",
                (Reason.of(exc),),
            )
            return
        self._schedule_check(request, self._delay(operation, retry_after))

    @staticmethod
    def _other_end(request: LinkRequest, holder: CloudId) -> CloudId:
        return request.target if holder == request.source else request.source

    def _expire(self, request: LinkRequest) -> None:
        approval = request.approval
        if request.status is not Status.AWAITING_APPROVAL or approval is None or self.clock() < approval.deadline:
            return
        self._finish(
            request,
            Status.EXPIRED,
            f"nobody approved it by {approval.deadline.isoformat()}",
            (
                Reason(
                    "APPROVAL_EXPIRED",
                    f"no approval before {approval.deadline.isoformat()}",
                    {"deadline": approval.deadline.isoformat()},
                ),
            ),
        )

    # -- check ----------------------------------------------------------------------------------------

    def _check(self, request: LinkRequest, attempt: int) -> None:
        operation = request.operation
        if request.status is not Status.IN_PROGRESS or operation is None:
            return
        if attempt != operation.checks:
            if attempt == operation.checks - 1:
                # This check ran already, but a crash may have come before its successor was queued;
                # re-queueing is safe because the broker drops a repeated message id.
                self._schedule_check(request, self.poll_interval)
            return  # otherwise a stale duplicate: a newer check already ran
        # The link is read before the deadline is judged, so an operation that finished by its deadline
        # succeeds even when the check that sees it runs at the deadline.
        try:
            link = self.avs.get_link(operation.cloud, operation.link_name)
        except ArmError as exc:
            self._finish(
                request,
                Status.FAILED,
                f"ARM refused to show link {operation.link_name} of "
                f"{operation.cloud.short} while following the {operation.verb}: {exc.message}",
                (Reason.of(exc),),
            )
            return
        if operation.verb == "create":
            self._check_create(request, operation, link)
        else:
            self._check_delete(request, operation, link)

    def _check_create(self, request: LinkRequest, operation: Operation, link: Link | None) -> None:
        status = LinkStatus.normalize(link.status) if link else None
        if link is not None and status == LinkStatus.ACTIVE:
            self._done(
                request,
                operation,
                self._finish(
                    request, Status.SUCCEEDED, f"linked: {operation.cloud.short} → {link.target.short} is Active"
                ),
            )
        elif status in (LinkStatus.FAILED, LinkStatus.DISCONNECTED, LinkStatus.DELETING):
            code = {
                LinkStatus.FAILED: "LINK_FAILED",
                LinkStatus.DISCONNECTED: "LINK_DISCONNECTED",
                LinkStatus.DELETING: "LINK_DELETED",
            }[status]
            ended = self._finish(
                request,
                Status.FAILED,
                f"link {operation.link_name} ended {status}",
                (
                    Reason(
                        code,
                        f"AVS reports link {operation.link_name} on {operation.cloud.short} as {status}",
                        {"link": operation.link_name, "cloud": str(operation.cloud), "status": status},
                    ),
                ),
            )
            self._done(request, operation, ended)
        elif not self._timed_out(request, operation):
            request = self._next_check(request, f"link {operation.link_name} is {status or 'absent'}")
            if link is None:
                # The PUT never landed (a crash between recording and acting): send it again.
                self._act(request, self._operation(request))
            else:
                self._schedule_check(request, self._delay(operation, None))

    def _check_delete(self, request: LinkRequest, operation: Operation, link: Link | None) -> None:
        if link is not None:
            if self._timed_out(request, operation):
                return
            status = LinkStatus.normalize(link.status)
            request = self._next_check(request, f"link {operation.link_name} is {status}")
            if status == LinkStatus.DELETING:
                self._schedule_check(request, self._delay(operation, None))
            else:
                # The DELETE never landed (a crash between recording and acting): send it again.
                self._act(request, self._operation(request))
            return
        facts = self._facts(request)
        unknown = pair_unknown(facts)
        if unknown:
            # The link asked for is gone, but whether one remains the other way cannot be read.
            self._finish(
                request,
                Status.FAILED,
                f"link {operation.link_name} removed, but the links left between "
                f"{request.source.short} and {request.target.short} cannot be read: "
                f"{'; '.join(r.message for r in unknown)}",
                tuple(unknown),
            )
            return
        remaining = facts.pair_links
        if remaining:
            # A link existed in both directions: remove the other one too.
            nxt = remaining[0]
            now = self.clock()
            follow = Operation("delete", nxt.source, nxt.name, now, operation.deadline, operation.checks + 1)
            request = self._move(
                request,
                Status.IN_PROGRESS,
                f"link {operation.link_name} removed; also removing {nxt.name} on {nxt.source.short}",
                operation=follow,
            )
            self._act(request, follow)
            return
        self._done(
            request,
            operation,
            self._finish(
                request,
                Status.SUCCEEDED,
                f"unlinked: {request.source.short} and {request.target.short} no longer linked",
            ),
        )

    def _done(self, looked: LinkRequest, operation: Operation, after: LinkRequest) -> None:
        """Measure how long the request may have lagged ARM: the operation finished after the last look that saw
        it running (`looked.updated_at`: that check, or the operation's start) and is recorded now."""
        self.measures.operation_done(after, operation.verb, self.clock() - looked.updated_at)

    def _timed_out(self, request: LinkRequest, operation: Operation) -> bool:
        """End the request as timed out when its operation is still going at its deadline."""
        if self.clock() < operation.deadline:
            return False
        self._finish(
            request,
            Status.FAILED,
            f"{operation.verb} of link {operation.link_name} did not finish by {operation.deadline.isoformat()}",
            (
                Reason(
                    "OPERATION_TIMEOUT",
                    f"gave up after {self.operation_timeout}",
                    {"link": operation.link_name, "cloud": str(operation.cloud)},
                ),
            ),
        )
        return True

    def _next_check(self, request: LinkRequest, observation: str) -> LinkRequest:
        """Count this check on the row; the trail hears of it only when it saw something new, or as a heartbeat
        (lifecycle.checked). The row is saved under its ETag either way, so a duplicate delivery of this check
        loses the race, re-reads, and finds its number taken: it appends nothing."""
        updated, event = lifecycle.checked(request, observation, now=self.clock(), actor=ACTOR)
        return self.store.save(updated, event)

    @staticmethod
    def _operation(request: LinkRequest) -> Operation:
        assert request.operation is not None
        return request.operation

    # -- helpers --------------------------------------------------------------------------------------

    def _delay(self, operation: Operation, retry_after: float | None) -> timedelta:
        """When to look at the operation next: after the poll interval, or after ARM's Retry-After when that is
        longer (never sooner than ARM asked), and never after the deadline, so the last check is the one that
        judges it. No backoff: the request then ends at most max(Retry-After, poll interval) after ARM
        finished, at the cost of one GET per interval on a long build."""
        wait = max(self.poll_interval.total_seconds(), usable_retry_after(retry_after) or 0.0)
        left = (operation.deadline - self.clock()).total_seconds()
        return timedelta(seconds=max(0.0, min(wait, left)))

    def _schedule_check(self, request: LinkRequest, delay: timedelta) -> None:
        assert request.operation is not None
        self.queue.schedule(WorkItem(request.id, "check", request.operation.checks), self.clock() + delay)

    def _move(
        self,
        request: LinkRequest,
        to: Status,
        message: str,
        *,
        reasons: tuple[Reason, ...] = (),
        outcome: str | None = None,
        **changes: Unpack[StepChanges],
    ) -> LinkRequest:
        updated, event = lifecycle.transition(
            request, to, now=self.clock(), actor=ACTOR, message=message, reasons=reasons, outcome=outcome, **changes
        )
        saved = self.store.save(updated, event)
        self.measures.request_moved(request, saved)
        if (request.status in UNDECIDED and to not in UNDECIDED) or (
            request.status is Status.IN_PROGRESS and to.is_terminal
        ):
            self._wake_waiters(saved)
        return saved

    def _finish(self, request: LinkRequest, to: Status, outcome: str, reasons: tuple[Reason, ...] = ()) -> LinkRequest:
        saved = self._move(request, to, outcome, reasons=reasons, outcome=outcome)
        log.info("request %s %s: %s", request.id, to.value, outcome)
        return saved
