"""Value objects: what a link request is, the statuses it moves through, and the events it leaves behind."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypedDict, Unpack

from interconnect.avs.ids import CloudId
from interconnect.errors import InterconnectError


class Action(enum.StrEnum):
    CONNECT = "connect"
    DISCONNECT = "disconnect"


class Status(enum.StrEnum):
    ACCEPTED = "Accepted"
    AWAITING_APPROVAL = "AwaitingApproval"
    VALIDATING = "Validating"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    REJECTED = "Rejected"
    FAILED = "Failed"
    EXPIRED = "Expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({Status.SUCCEEDED, Status.REJECTED, Status.FAILED, Status.EXPIRED})
UNFINISHED = (Status.ACCEPTED, Status.AWAITING_APPROVAL, Status.VALIDATING, Status.IN_PROGRESS)


@dataclass(frozen=True)
class Reason:
    """Why a request ended as it did: a stable code, a sentence for people, and structured details."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Reason:
        return cls(raw["code"], raw["message"], raw.get("details") or {})

    @classmethod
    def of(cls, error: InterconnectError) -> Reason:
        """The reason an error gives: its code, message and details."""
        return cls(error.code, error.message, error.details)


@dataclass(frozen=True)
class Requester:
    """Who asked, per channel: `channel` (api, slack, teams, jira, ...) and an id stable within it."""

    channel: str
    id: str
    display: str = ""
    # What a verified Entra token said about the caller; never stored, only asked while the call lasts. Left out
    # of equality so a request read back from storage equals the one that was filed.
    roles: frozenset[str] = field(default=frozenset(), compare=False)
    groups: frozenset[str] = field(default=frozenset(), compare=False)
    verified_person: bool = field(default=False, compare=False)  # a person proven by a signed Entra token

    def __str__(self) -> str:
        return f"{self.channel}:{self.id}"

    def describe(self) -> str:
        """For the audit trail: the display name and the stable id, e.g. `Bob (api:1b2c…)`."""
        return f"{self.display} ({self})" if self.display else str(self)

    def is_same(self, other: Requester) -> bool:
        """The same principal? Case-insensitive, as the policy's globs match: Entra object ids, Slack and Teams
        ids are case-insensitive in their sources, so `API:ALICE` must not pass for someone other than `api:alice`."""
        return str(self).casefold() == str(other).casefold()


@dataclass(frozen=True)
class Operation:
    """An ARM operation we started and must follow: enough to resume it after any crash."""

    verb: str  # "create" | "delete"
    cloud: CloudId  # the cloud that holds the link resource
    link_name: str
    started_at: datetime
    deadline: datetime
    checks: int = 0
    # What the last check that went into the audit trail saw, and when the trail last heard of this operation
    # (None: not since it started). A check that sees the same again only counts itself (`checks`); see
    # lifecycle.checked.
    seen: str = ""
    recorded_at: datetime | None = None

    @property
    def last_recorded(self) -> datetime:
        """When the trail last got an event about this operation: its start, or the last recorded check."""
        return self.recorded_at or self.started_at


@dataclass(frozen=True)
class Callback:
    """Where to tell the requester how their request is going: `kind` names the channel (hook, slack, teams),
    `target` what that channel needs (a hook source and ticket, a Slack response_url)."""

    kind: str
    target: str = ""
    ticket: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target, "ticket": self.ticket}


@dataclass(frozen=True)
class Approval:
    """A disconnect waits for someone other than the requester to approve it before `deadline`."""

    deadline: datetime
    decided_by: str = ""
    decided_at: datetime | None = None


@dataclass(frozen=True)
class RequestSummary:
    """What the request index keeps about a request: enough to count it without reading its row."""

    id: str
    action: Action
    source: CloudId
    target: CloudId
    status: Status
    created_at: datetime
    updated_at: datetime | None = None
    traceparent: str = ""  # the W3C trace the request was accepted in (see LinkRequest.traceparent)


class StepChanges(TypedDict, total=False):
    """What a transition may change beside its status and outcome: the operation started, the approval asked."""

    operation: Operation | None
    approval: Approval | None


class RequestChanges(StepChanges, total=False):
    """Every field a LinkRequest changes after it is accepted; the rest (who asked what, when) never change."""

    status: Status
    updated_at: datetime
    version: int
    reasons: tuple[Reason, ...]
    outcome: str
    etag: str | None


@dataclass(frozen=True)
class LinkRequest:
    """One connect or disconnect request and where it stands. The table row is its source of truth."""

    id: str
    action: Action
    source: CloudId
    target: CloudId
    requester: Requester
    created_at: datetime
    updated_at: datetime
    status: Status = Status.ACCEPTED
    reference: str = ""
    correlation_id: str = ""
    fingerprint: str = ""  # digest of what was asked, to refuse a reused idempotency key with another body
    outcome: str = ""
    reasons: tuple[Reason, ...] = ()
    operation: Operation | None = None
    approval: Approval | None = None
    callbacks: tuple[Callback, ...] = ()
    version: int = 0  # bumped by every transition; numbers the audit events
    etag: str | None = None  # the store's concurrency token for this row, when read from a store
    # The W3C traceparent of the request's intake, stored with it when accepted (telemetry on), so work sent
    # later from the stored request (a sweeper re-drive) continues the same trace. Held to its grammar by the store.
    traceparent: str = ""

    def with_changes(self, **changes: Unpack[RequestChanges]) -> LinkRequest:
        return replace(self, **changes)

    def summary(self) -> RequestSummary:
        return RequestSummary(
            self.id,
            self.action,
            self.source,
            self.target,
            self.status,
            self.created_at,
            self.updated_at,
            self.traceparent,
        )

    def to_view(self) -> dict[str, Any]:
        """The request as the API shows it."""
        view: dict[str, Any] = {
            "requestId": self.id,
            "action": self.action.value,
            "status": self.status.value,
            "source": str(self.source),
            "target": str(self.target),
            "reference": self.reference,
            "requestedBy": {
                "channel": self.requester.channel,
                "id": self.requester.id,
                "display": self.requester.display,
            },
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
            "correlationId": self.correlation_id,
            "outcome": self.outcome,
            "reasons": [r.to_dict() for r in self.reasons],
        }
        if self.operation is not None:
            view["operation"] = {
                "verb": self.operation.verb,
                "cloud": str(self.operation.cloud),
                "linkName": self.operation.link_name,
                "startedAt": self.operation.started_at.isoformat(),
                "deadline": self.operation.deadline.isoformat(),
                "checks": self.operation.checks,
            }
        if self.approval is not None:
            view["approval"] = {
                "deadline": self.approval.deadline.isoformat(),
                "decidedBy": self.approval.decided_by,
                "decidedAt": self.approval.decided_at.isoformat() if self.approval.decided_at else None,
            }
        return view


@dataclass(frozen=True)
class AuditEvent:
    """One append-only entry in a request's audit trail: who did what, when, and with what result."""

    request_id: str
    sequence: int
    at: datetime
    actor: str
    kind: str  # "status" for a transition, "note" for anything else worth keeping
    status: Status
    previous: Status | None
    message: str
    correlation_id: str = ""
    reasons: tuple[Reason, ...] = ()

    def to_view(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "kind": self.kind,
            "status": self.status.value,
            "previous": self.previous.value if self.previous else None,
            "message": self.message,
            "correlationId": self.correlation_id,
            "reasons": [r.to_dict() for r in self.reasons],
        }
