"""Approving or rejecting a disconnect: the two-person rule, bound to one exact request, before a deadline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from interconnect.errors import ConflictError, ForbiddenError, InterconnectError
from interconnect.linking import lifecycle
from interconnect.linking.measures import Measures, Unmeasured
from interconnect.linking.model import AuditEvent, LinkRequest, Reason, Requester, Status
from interconnect.linking.policy import Policy
from interconnect.linking.ports import RequestStore, WorkQueue
from interconnect.linking.queue import WorkItem


@dataclass
class Approvals:
    store: RequestStore
    queue: WorkQueue
    clock: Callable[[], datetime]
    policy: Policy
    measures: Measures = field(default_factory=Unmeasured)

    def may_decide(self, request: LinkRequest, approver: Requester) -> str | None:
        """None when `approver` may approve or reject `request` now; else the code `decide` would refuse with
        (APPROVER_NOT_VERIFIED, NOT_AWAITING_APPROVAL, APPROVAL_EXPIRED, SELF_APPROVAL, NOT_AN_APPROVER).

        For showing (a console offers the buttons only when this is None); `decide` applies the same rule."""
        refused = self.refusal(request, approver, now=self.clock())
        return None if refused is None else refused.code

    def refusal(
        self, request: LinkRequest, approver: Requester, *, now: datetime, fingerprint: str | None = None
    ) -> InterconnectError | None:
        """Why `approver` may not decide `request` at `now`, as the error `decide` raises; None when they may.

        The checks run in `decide`'s order, so both name the same first reason."""
        return decision_refusal(request, approver, now=now, policy=self.policy, fingerprint=fingerprint)

    def decide(
        self, request_id: str, approver: Requester, *, approve: bool, fingerprint: str | None = None
    ) -> LinkRequest:
        """Approve (the request goes on to validation) or reject it.

        `fingerprint`, when given (a chat button carries it), must match the request: an approval is bound to
        exactly what was asked, not to a request id that could be reused.

        Raises
        ------
        NotFoundError
            REQUEST_NOT_FOUND.
        ConflictError
            NOT_AWAITING_APPROVAL, APPROVAL_EXPIRED or APPROVAL_MISMATCH.
        ForbiddenError
            APPROVER_NOT_VERIFIED when a REST caller is not a person proven by an Entra token (a function key, an
            application); SELF_APPROVAL when the approver asked for it (object ids compared case-insensitively);
            NOT_AN_APPROVER when the policy names neither them, nor a role or group of theirs.
        """
        unverified = _unverified(approver)
        if unverified is not None:
            raise unverified  # before the request is read: a caller who can never approve learns nothing about it
        request = self.store.get(request_id)
        now = self.clock()
        refused = self.refusal(request, approver, now=now, fingerprint=fingerprint)
        if refused is not None:
            raise refused
        assert request.approval is not None  # refusal() answers NOT_AWAITING_APPROVAL without one
        decided = replace(request.approval, decided_by=str(approver), decided_at=now)
        if approve:
            updated = self._saved(
                request,
                lifecycle.transition(
                    request,
                    Status.VALIDATING,
                    now=now,
                    actor=str(approver),
                    message=f"approved by {approver.describe()}",
                    approval=decided,
                ),
            )
            # Its first message was used up when it went to wait; this one has a message id of its own.
            self.queue.send(WorkItem(request.id, "process", origin="approved"))
            return updated
        reason = Reason("APPROVAL_REJECTED", f"rejected by {approver.describe()}", {"approver": str(approver)})
        return self._saved(
            request,
            lifecycle.transition(
                request,
                Status.REJECTED,
                now=now,
                actor=str(approver),
                message=reason.message,
                reasons=(reason,),
                outcome=reason.message,
                approval=decided,
            ),
        )

    def _saved(self, before: LinkRequest, step: tuple[LinkRequest, AuditEvent]) -> LinkRequest:
        saved = self.store.save(*step)
        self.measures.request_moved(before, saved)
        return saved


def _unverified(approver: Requester) -> ForbiddenError | None:
    if approver.channel == "api" and not approver.verified_person:
        return ForbiddenError(
            f"{approver} cannot approve: approving needs a person signed in with Entra ID "
            f"(Authorization: Bearer <token>); a function key or an application never can",
            code="APPROVER_NOT_VERIFIED",
        )
    return None


def decision_refusal(
    request: LinkRequest, approver: Requester, *, now: datetime, policy: Policy, fingerprint: str | None = None
) -> InterconnectError | None:
    """The two-person rule for one request, pure: why `approver` may not decide it at `now`, or None.

    `fingerprint`, when given, must match the request's (APPROVAL_MISMATCH otherwise). The approver's
    verification (APPROVER_NOT_VERIFIED) is checked first, as `Approvals.decide` does before reading the request.
    """
    unverified = _unverified(approver)
    if unverified is not None:
        return unverified
    if request.status is not Status.AWAITING_APPROVAL or request.approval is None:
        return ConflictError(
            f"request {request.id} is {request.status.value}, not awaiting approval",
            code="NOT_AWAITING_APPROVAL",
            details={"status": request.status.value},
        )
    if fingerprint is not None and fingerprint != request.fingerprint:
        return ConflictError("this approval was issued for a different request", code="APPROVAL_MISMATCH")
    if now >= request.approval.deadline:
        return ConflictError(
            f"the approval window closed at {request.approval.deadline.isoformat()}", code="APPROVAL_EXPIRED"
        )
    if approver.is_same(request.requester):
        return ForbiddenError(
            "a request cannot be approved or rejected by the person who asked for it", code="SELF_APPROVAL"
        )
    if not policy.may_approve(approver):
        return ForbiddenError(f"{approver} is not an approver under the {policy.source} policy", code="NOT_AN_APPROVER")
    return None
