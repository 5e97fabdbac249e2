"""The request state machine: which status changes are allowed, and the one function that makes them.

    Accepted → [AwaitingApproval] → Validating → InProgress → Succeeded | Rejected | Failed | Expired

Every transition bumps the row's version and yields exactly one audit event numbered by it, so a
transition replayed after a lost race can never add a second event (the store refuses the number). Event 1,
the request being filed, is `submitted(request)`: built from fields that never change, so a store can answer
it from the request's row instead of writing a row of its own.
"""

from __future__ import annotations

from datetime import datetime
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
