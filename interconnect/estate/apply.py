"""Apply a plan: record its steps as a change set and advance it from the work queue, one request at a time.

`start` stores the change set and queues its first work item (kind `changeset`, the change set's id in
`requestId`). Each item runs one pass of `advance`: it files the next step through intake (the same rules,
approvals and audit trail as any request; idempotency key `changeset:<id>:<index>`, the apply's caller as the
requester), or looks at the step filed last and, while it is not terminal, schedules the next look one poll
interval on, as the worker follows an ARM operation. A step that ends Rejected, Failed or Expired stops the
change set as Failed with that step's cause (changeset.next_move).

Every write is conditional on the ETag read, so a redelivered item that raced another delivery re-reads and
decides again; filing again would answer the same request (same key), so no step is ever filed twice. The
scheduled looks are numbered (`checks`, in the message id), so one sent twice is dropped by the broker.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from interconnect.avs.ids import CloudId
from interconnect.errors import ConflictError, DependencyError, InterconnectError, NotFoundError
from interconnect.estate.changeset import (
    ChangeSet,
    ChangeSetStatus,
    ChangeStep,
    Done,
    File,
    Stop,
    Wait,
    idempotency_key,
    next_move,
    observed,
    settled,
)
from interconnect.estate.plan import Plan
from interconnect.estate.ports import ChangeSetStore
from interconnect.linking.intake import Intake, keyed_id
from interconnect.linking.model import Action, Reason, Requester
from interconnect.linking.ports import RequestStore, WorkQueue
from interconnect.linking.queue import WorkItem
from interconnect.linking.validation import Submit

log = logging.getLogger(__name__)
KIND: Final = "changeset"
MAX_RACES = 5
# Change set ids derived from an apply's Idempotency-Key live in their own UUIDv5 namespace (not intake's).
_KEY_NAMESPACE = uuid.UUID("0c1f9a52-3e7b-4d8a-b6f1-5d2e8c4a9b70")


def changeset_id_for(requester: Requester, key: str | None) -> str:
    """The same key from the same caller always names the same change set."""
    return keyed_id(_KEY_NAMESPACE, str(requester).casefold(), key)


@dataclass
class ChangeSets:
    store: ChangeSetStore
    requests: RequestStore
    intake: Intake
    queue: WorkQueue
    clock: Callable[[], datetime]
    poll_interval: timedelta = timedelta(seconds=30)

    def existing(self, requester: Requester, key: str, fingerprint: str) -> ChangeSet | None:
        """The change set an earlier apply with this Idempotency-Key started, if any (and its work item sent
        again: the broker drops it if the first went out). Raises ConflictError IDEMPOTENCY_KEY_REUSED when
        that apply was for another plan."""
        try:
            found = self.store.get(changeset_id_for(requester, key))
        except NotFoundError:
            return None
        if found.key_digest != fingerprint:
            raise ConflictError(
                "this Idempotency-Key was already used to apply a different plan; use a new key",
                code="IDEMPOTENCY_KEY_REUSED",
                details={"changeSetId": found.id},
            )
        if not found.is_terminal:
            self._send(found)
        return found

    def start(self, plan: Plan, requester: Requester, *, key: str | None = None) -> tuple[ChangeSet, bool]:
        """Record `plan`'s steps as a change set and queue its first move; returns it and whether it is new.
        Raises DependencyError when Tables or Service Bus cannot be reached (a retry with the same key resumes)."""
        now = self.clock()
        changeset = ChangeSet(
            id=changeset_id_for(requester, key),
            fingerprint=plan.fingerprint,
            created_at=now,
            updated_at=now,
            # Its roles and groups are kept: the policy judges each step by those of the token the apply came with,
            # as it judges a request by the token it was filed with.
            requested_by=replace(requester, verified_person=False),
            steps=tuple(ChangeStep(s.number, s.action, s.source, s.target, impact=s.impact) for s in plan.steps),
            key_digest=plan.fingerprint,
        )
        try:
            stored = self.store.create(changeset)
        except ConflictError:
            again = self.existing(requester, key, plan.fingerprint) if key else None
            if again is None:
                raise
            return again, False
        try:
            self._send(stored)
        except DependencyError as exc:
            # Without its work item nothing would ever advance it: a retry with the same key sends it again
            # (`existing`); without a key the caller's retry starts another, so this one ends here, saying why.
            if key is None:
                unqueued = Reason("CHANGESET_NOT_QUEUED", f"the change set could not be queued: {exc.message}")
                with suppress(InterconnectError):
                    self.store.save(
                        replace(stored, status=ChangeSetStatus.FAILED, reason=unqueued, updated_at=self.clock())
                    )
            raise
        return stored, True

    # -- the work item ----------------------------------------------------------------------------------------

    def handle(self, item: WorkItem) -> None:
        """One pass over change set `item.request_id`. Raises DependencyError when a store or the queue cannot
        be reached (app/dispatch.py schedules a retry)."""
        for _ in range(MAX_RACES):
            try:
                changeset = self.store.get(item.request_id)
            except NotFoundError:
                log.warning("work item for unknown change set %s dropped", item.request_id)
                return
            if changeset.is_terminal:
                return
            if item.attempt < changeset.checks:
                # A later look was scheduled already; send it again in case that send was lost with a crash
                # (same message id: the broker drops it if it went out).
                self._send(changeset)
                return
            try:
                self._advance(changeset)
                return
            except ConflictError:
                continue  # another delivery moved it on: re-read and decide again
        raise DependencyError(f"change set {item.request_id} kept changing under the worker; retrying later")

    def pending_steps(self) -> list[tuple[CloudId, CloudId, Action]]:
        """The steps of change sets in progress not filed yet: pairs about to move, which are not drift."""
        return [
            (step.source, step.target, step.action)
            for changeset in self.store.unfinished()
            for step in changeset.steps
            if not step.filed
        ]

    def redrive(self, stale_after: timedelta) -> int:
        """Send again the current work item of every change set in progress that has not moved for
        `stale_after` (each look of a waiting one moves it, so only a lost chain is this old); returns how many.
        The same message id as the one lost: if it was not lost after all, the broker drops the copy or the
        handler finds it stale."""
        before = self.clock() - stale_after
        stale = [c for c in self.store.unfinished() if c.updated_at < before]
        for changeset in stale:
            log.warning(
                "change set %s has not moved since %s; its work item is sent again", changeset.id, changeset.updated_at
            )
            self._send(changeset)
        return len(stale)

    def give_up(self, changeset_id: str, cause: DependencyError) -> None:
        """After the last retry: the change set fails with the cause (its filed requests go on by themselves)."""
        changeset = self.store.get(changeset_id)
        if changeset.is_terminal:
            return
        reason = Reason(
            "CHANGESET_GAVE_UP",
            f"the change set could not be advanced: {cause.message}; the steps not filed yet were not filed",
            {"cause": cause.code},
        )
        self.store.save(replace(changeset, status=ChangeSetStatus.FAILED, reason=reason, updated_at=self.clock()))

    def _advance(self, changeset: ChangeSet) -> None:
        now = self.clock()
        while True:
            move = next_move(changeset)
            if isinstance(move, File):
                changeset = self.store.save(self._file(changeset, move.step, now))
                continue  # the step just filed is not terminal: the next pass schedules the look
            if isinstance(move, Wait):
                assert move.step.request_id is not None
                request = self.requests.get(move.step.request_id)
                seen = observed(changeset, move.step.index, request.id, request.status, request.reasons, now)
                if request.status.is_terminal:
                    changeset = self.store.save(seen)
                    continue  # file the next step (or stop) now, not a poll interval later
                changeset = self.store.save(replace(seen, checks=changeset.checks + 1))
                self.queue.schedule(self._item(changeset), now + self.poll_interval)
                return
            assert isinstance(move, Done | Stop)
            ended = self.store.save(settled(changeset, move, now))
            log.info("change set %s %s", ended.id, ended.status.value)
            return

    def _file(self, changeset: ChangeSet, step: ChangeStep, now: datetime) -> ChangeSet:
        command = Submit(
            step.action,
            step.source,
            step.target,
            changeset.requested_by,
            reference=f"change set {changeset.id} step {step.index}",
        )
        request, _ = self.intake.submit(command, idempotency_key=idempotency_key(changeset.id, step.index))
        return observed(changeset, step.index, request.id, request.status, request.reasons, now)

    def _send(self, changeset: ChangeSet) -> None:
        self.queue.send(self._item(changeset))

    @staticmethod
    def _item(changeset: ChangeSet) -> WorkItem:
        return WorkItem(changeset.id, KIND, changeset.checks)
