"""A change set: the requests an apply files for a plan, one after another, and where it stands. Pure.

The apply records the plan's steps in their planned order; the worker then advances the change set one move at a
time (`next_move`): file the first step not filed yet, wait while the step filed last is not terminal, stop as
Failed when it ended Rejected, Failed or Expired (naming the step and its reasons), and finish as Succeeded once
every step succeeded. A step is filed only after the one before it succeeded, so each request meets the state
the plan judged it on (a removal that frees the room ends before the connect that needs it is filed).

Every move is saved under the change set's ETag (ports.ChangeSetStore.save), and a step is filed with the
idempotency key `changeset:<id>:<index>`, so a redelivered work item that repeats a move files nothing twice:
intake answers the same request for the same key.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from interconnect.avs.ids import CloudId
from interconnect.linking.model import Action, Reason, Requester, Status

PENDING = "Pending"  # a step's status before its request is filed


class ChangeSetStatus(enum.StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


STOPS = frozenset({Status.REJECTED, Status.FAILED, Status.EXPIRED})  # a step ending so stops the change set


def idempotency_key(changeset_id: str, index: int) -> str:
    """The key step `index` is filed with: the same step of the same change set is always the same request."""
    return f"changeset:{changeset_id}:{index}"


@dataclass(frozen=True)
class ChangeStep:
    """One request of a change set. `index` is the plan's step number (1-based): the order it is filed in."""

    index: int
    action: Action
    source: CloudId
    target: CloudId
    request_id: str | None = None  # None until filed
    status: str = PENDING  # PENDING, or the filed request's status as last seen
    reasons: tuple[Reason, ...] = ()  # the request's, once it ended
    impact: Mapping[str, Any] | None = None  # what a disconnect cuts, as the plan said

    @property
    def filed(self) -> bool:
        return self.request_id is not None

    def to_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "index": self.index,
            "action": self.action.value,
            "source": str(self.source),
            "target": str(self.target),
            "requestId": self.request_id,
            "status": self.status,
        }
        if self.impact is not None:
            view["impact"] = dict(self.impact)
        return view


@dataclass(frozen=True)
class ChangeSet:
    """What an apply started: the plan's steps and their progress. The store's row is its source of truth."""

    id: str
    fingerprint: str  # the plan's, as reviewed
    created_at: datetime
    updated_at: datetime
    requested_by: Requester
    steps: tuple[ChangeStep, ...]
    status: ChangeSetStatus = ChangeSetStatus.IN_PROGRESS
    reason: Reason | None = None  # why it failed
    checks: int = 0  # work items scheduled so far: numbers the next one, so a re-sent one is dropped by the broker
    key_digest: str = ""  # what an Idempotency-Key asked for (the plan's fingerprint), to refuse a reused key
    etag: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status is not ChangeSetStatus.IN_PROGRESS

    def step(self, index: int) -> ChangeStep:
        return next(s for s in self.steps if s.index == index)

    def with_step(self, step: ChangeStep, now: datetime) -> ChangeSet:
        steps = tuple(step if s.index == step.index else s for s in self.steps)
        return replace(self, steps=steps, updated_at=now)

    def to_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "changeSetId": self.id,
            "status": self.status.value,
            "fingerprint": self.fingerprint,
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
            "requestedBy": {
                "channel": self.requested_by.channel,
                "id": self.requested_by.id,
                "display": self.requested_by.display,
            },
            "steps": [s.to_view() for s in self.steps],
        }
        if self.reason is not None:
            view["reason"] = self.reason.to_dict()
        return view


# -- what to do next ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    """File step `step` (its request does not exist yet, or was filed by a move whose save lost a race)."""

    step: ChangeStep


@dataclass(frozen=True)
class Wait:
    """Step `step` was filed and is not terminal: look again later."""

    step: ChangeStep


@dataclass(frozen=True)
class Done:
    """Every step succeeded."""


@dataclass(frozen=True)
class Stop:
    """Step `step` ended without succeeding: the change set fails with `reason`."""

    step: ChangeStep
    reason: Reason = field(compare=False)


Move = File | Wait | Done | Stop


def next_move(changeset: ChangeSet) -> Move:
    """What the change set needs next, from its steps' statuses as last seen (in order: the first step that has
    not succeeded decides)."""
    for step in changeset.steps:
        if not step.filed:
            return File(step)
        if step.status == Status.SUCCEEDED:
            continue
        if step.status in STOPS:
            return Stop(step, stop_reason(step))
        return Wait(step)
    return Done()


def stop_reason(step: ChangeStep) -> Reason:
    """CHANGESET_STEP_<STATUS>: which step, its request, and the request's own reasons."""
    reasons = [r.to_dict() for r in step.reasons]
    causes = "; ".join(f"{r.code}: {r.message}" for r in step.reasons) or "no reason given"
    return Reason(
        f"CHANGESET_STEP_{step.status.upper()}",
        f"step {step.index} ({step.action.value} {step.source.name} and {step.target.name}) ended {step.status}: "
        f"{causes}; the steps after it were not filed",
        {"step": step.index, "requestId": step.request_id, "status": step.status, "reasons": reasons},
    )


def observed(
    changeset: ChangeSet, index: int, request_id: str, status: Status, reasons: tuple[Reason, ...], now: datetime
) -> ChangeSet:
    """The change set with step `index` filed as `request_id` and last seen in `status` (with its reasons once
    it ended)."""
    step = changeset.step(index)
    seen = replace(step, request_id=request_id, status=status.value, reasons=reasons if status.is_terminal else ())
    return changeset.with_step(seen, now)


def settled(changeset: ChangeSet, move: Done | Stop, now: datetime) -> ChangeSet:
    """The change set ended: Succeeded (`Done`) or Failed with the stopped step's reason."""
    if isinstance(move, Done):
        return replace(changeset, status=ChangeSetStatus.SUCCEEDED, updated_at=now)
    return replace(changeset, status=ChangeSetStatus.FAILED, reason=move.reason, updated_at=now)
