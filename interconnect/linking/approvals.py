"""Approving or rejecting a disconnect: the two-person rule, bound to one exact request, before a deadline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from interconnect.errors import ConflictError, ForbiddenError
from interconnect.linking import lifecycle
from interconnect.linking.model import LinkRequest, Reason, Requester, Status
from interconnect.linking.policy import Policy
from interconnect.linking.ports import RequestStore, WorkQueue
from interconnect.linking.queue import WorkItem


@dataclass
class Approvals:
    store: RequestStore
    queue: WorkQueue
    clock: Callable[[], datetime]
    policy: Policy

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
        if approver.channel == "api" and not approver.verified_person:
            # Checked before the request is read: a caller who can never approve learns nothing about it.
            raise ForbiddenError(
                f"{approver} cannot approve: approving needs a person signed in with Entra ID "
                f"(Authorization: Bearer <token>); a function key or an application never can",
                code="APPROVER_NOT_VERIFIED",
            )
        request = self.store.get(request_id)
        if request.status is not Status.AWAITING_APPROVAL or request.approval is None:
            raise ConflictError(
                f"request {request_id} is {request.status.value}, not awaiting approval",
                code="NOT_AWAITING_APPROVAL",
                details={"status": request.status.value},
            )
        if fingerprint is not None and fingerprint != request.fingerprint:
            raise ConflictError("this approval was issued for a different request", code="APPROVAL_MISMATCH")
        now = self.clock()
        if now >= request.approval.deadline:
            raise ConflictError(
                f"the approval window closed at {request.approval.deadline.isoformat()}", code="APPROVAL_EXPIRED"
            )
        if approver.is_same(request.requester):
            raise ForbiddenError(
                "a request cannot be approved or rejected by the person who asked for it", code="SELF_APPROVAL"
            )
        if not self.policy.may_approve(approver):
            raise ForbiddenError(
                f"{approver} is not an approver under the {self.policy.source} policy", code="NOT_AN_APPROVER"
            )
        decided = replace(request.approval, decided_by=str(approver), decided_at=now)
        if approve:
            updated = self.store.save(
                *lifecycle.transition(
                    request,
                    Status.VALIDATING,
                    now=now,
                    actor=str(approver),
                    message=f"approved by {approver.describe()}",
                    approval=decided,
                )
            )
            # Its first message was used up when it went to wait; this one has a message id of its own.
            self.queue.send(WorkItem(request.id, "process", origin="approved"))
            return updated
        reason = Reason("APPROVAL_REJECTED", f"rejected by {approver.describe()}", {"approver": str(approver)})
        return self.store.save(
            *lifecycle.transition(
                request,
                Status.REJECTED,
                now=now,
                actor=str(approver),
                message=reason.message,
                reasons=(reason,),
                outcome=reason.message,
                approval=decided,
            )
        )
