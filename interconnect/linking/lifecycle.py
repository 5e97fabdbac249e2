"""The request state machine: which status changes are allowed, and the one function that makes them.

    Accepted → [AwaitingApproval] → Validating → InProgress → Succeeded | Rejected | Failed | Expired

Every transition bumps the row's version and yields exactly one audit event numbered by it, so a
transition replayed after a lost race can never add a second event (the store refuses the number). Event 1,
the request being filed, is `submitted(request)`: built from fields that never change, so a store can answer
it from the request's row instead of writing a row of its own.

A follow-up check of a running operation is the one step that may leave no event: `checked` records it only
when it saw something new or the trail has been quiet for CHECK_HEARTBEAT, and otherwise only counts it on the
row (ETag-guarded like any save, without a version of its own).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Unpack

from interconnect.errors import TransitionError
from interconnect.linking.model import AuditEvent, LinkRequest, Reason, Status, StepChanges

S = Status
ALLOWED: dict[Status, frozenset[Status]] = {
    S.ACCEPTED: frozenset({S.AWAITING_APPROVAL, S.VALIDATING, S.REJECTED, S.FAILED}),
    S.AWAITING_APPROVAL: frozenset({S.VALIDATING, S.REJECTED, S.EXPIRED, S.FAILED}),
    S.VALIDATING: frozenset({S.IN_PROGRESS, S.SUCCEEDED, S.REJECTED, S.FAILED}),
    # InProgress → InProgress records a follow-up check (the operation's counters change).
    S.IN_PROGRESS: frozenset({S.IN_PROGRESS, S.SUCCEEDED, S.FAILED}),
    S.SUCCEEDED: frozenset(),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
}


# A check that sees what the last recorded one saw is not written to the trail, but after this long without any
# event the next check is, so a reader of a long build's trail (an AVS link can take hours) sees it is still being
# watched and when it was last looked at. 10 minutes: at the 30 s production poll that is one line per 20 checks
# (12 for a 2-hour build instead of 240), and no gap long enough to make anyone wonder whether the worker died.
CHECK_HEARTBEAT = timedelta(minutes=10)

# The version a request is created with, and so the sequence of its first audit event; transitions number theirs
# from the next one on.
FIRST_VERSION = 1


def submitted(request: LinkRequest) -> AuditEvent:
    """Event 1 of every trail: who filed what, and when. Built here only, and only from fields no transition
    changes (none that `RequestChanges` lists), so a store that derives it from the request's row answers the
    same event at every later version of that row."""
    return AuditEvent(
        request_id=request.id,
        sequence=FIRST_VERSION,
        at=request.created_at,
        actor=str(request.requester),
        kind="status",
        status=Status.ACCEPTED,
        previous=None,
        message=f"{request.action.value} {request.source} ⇄ {request.target} requested"
        + (f" ({request.reference})" if request.reference else ""),
        correlation_id=request.correlation_id,
    )


def can_transition(current: Status, to: Status) -> bool:
    return to in ALLOWED[current]


def transition(
    request: LinkRequest,
    to: Status,
    *,
    now: datetime,
    actor: str,
    message: str,
    reasons: tuple[Reason, ...] = (),
    outcome: str | None = None,
    **changes: Unpack[StepChanges],
) -> tuple[LinkRequest, AuditEvent]:
    """Move `request` to `to`, returning the new request and its audit event.

    Raises
    ------
    TransitionError
        when the lifecycle does not allow `request.status` → `to`.
    """
    if not can_transition(request.status, to):
        raise TransitionError(
            f"request {request.id} cannot go from {request.status} to {to}",
            details={"from": request.status.value, "to": to.value},
        )
    updated = request.with_changes(
        status=to,
        updated_at=now,
        version=request.version + 1,
        reasons=reasons or request.reasons,
        outcome=request.outcome if outcome is None else outcome,
        **changes,
    )
    event = AuditEvent(
        request_id=request.id,
        sequence=updated.version,
        at=now,
        actor=actor,
        kind="status",
        status=to,
        previous=request.status,
        message=message,
        correlation_id=request.correlation_id,
        reasons=reasons,
    )
    return updated, event


def checked(
    request: LinkRequest, observation: str, *, now: datetime, actor: str
) -> tuple[LinkRequest, AuditEvent | None]:
    """Count one follow-up check of `request`'s running operation that saw `observation` (e.g. "link x is
    Building"), returning the request to save and the event to save with it, or None when the check adds nothing
    to the trail: it saw what the last recorded check saw, and an event was recorded less than CHECK_HEARTBEAT ago.

    Either way the row changes (`operation.checks` and `updated_at`), so the check's number, which the worker's
    redelivery guard reads, moves under the row's ETag as before. Only a recorded check bumps the version, so
    events stay numbered by the versions that made them and a replay still meets the number it already holds.

    Raises
    ------
    TransitionError
        when `request` has no running operation.
    """
    operation = request.operation
    if request.status is not Status.IN_PROGRESS or operation is None:
        raise TransitionError(
            f"request {request.id} has no running operation to check",
            details={"from": request.status.value, "to": Status.IN_PROGRESS.value},
        )
    counted = replace(operation, checks=operation.checks + 1)
    quiet_since = operation.last_recorded
    if observation == operation.seen and now - quiet_since < CHECK_HEARTBEAT:
        return request.with_changes(updated_at=now, operation=counted), None
    message = observation
    if observation == operation.seen:
        message = f"{observation}; still watched, unchanged since {quiet_since.isoformat()} (check {counted.checks})"
    return transition(
        request,
        Status.IN_PROGRESS,
        now=now,
        actor=actor,
        message=message,
        operation=replace(counted, seen=observation, recorded_at=now),
    )
