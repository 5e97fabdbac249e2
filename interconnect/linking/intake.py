"""Accept a request: record it, queue it, answer. All Azure management work happens in the worker."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from interconnect.errors import ConflictError, DependencyError
from interconnect.linking.lifecycle import FIRST_VERSION
from interconnect.linking.model import Callback, LinkRequest, Status
from interconnect.linking.ports import RequestStore, WorkQueue
from interconnect.linking.queue import WorkItem
from interconnect.linking.validation import Submit

log = logging.getLogger(__name__)

# Request ids derived from idempotency keys live in their own UUIDv5 namespace.
_KEY_NAMESPACE = uuid.UUID("6f1c1f3e-5a0e-4c55-9d0f-3b7a4c2e8d11")


def keyed_id(namespace: uuid.UUID, sender: str, idempotency_key: str | None) -> str:
    """The same key from the same sender always names the same thing (a UUIDv5 in `namespace`); no key, a new
    one each time."""
    if not idempotency_key:
        return str(uuid.uuid4())
    return str(uuid.uuid5(namespace, f"{sender}\n{idempotency_key}"))


def request_id_for(channel: str, idempotency_key: str | None) -> str:
    """The same key from the same channel always maps to the same request."""
    return keyed_id(_KEY_NAMESPACE, channel, idempotency_key)


@dataclass
class Intake:
    store: RequestStore
    queue: WorkQueue
    clock: Callable[[], datetime]

    def submit(
        self,
        command: Submit,
        *,
        idempotency_key: str | None = None,
        correlation_id: str = "",
        callbacks: tuple[Callback, ...] = (),
    ) -> tuple[LinkRequest, bool]:
        """Record and queue `command`; returns the request and whether it is new.

        Raises
        ------
        ConflictError
            IDEMPOTENCY_KEY_REUSED when the key was used before for a different request.
        DependencyError
            when Tables or Service Bus is unavailable; nothing is left half-written.
        """
        now = self.clock()
        request = LinkRequest(
            id=request_id_for(command.requester.channel, idempotency_key),
            action=command.action,
            source=command.source,
            target=command.target,
            requester=command.requester,
            created_at=now,
            updated_at=now,
            status=Status.ACCEPTED,
            reference=command.reference,
            correlation_id=correlation_id or str(uuid.uuid4()),
            fingerprint=command.fingerprint,
            version=FIRST_VERSION,
            callbacks=callbacks,
        )
        try:
            # The message goes out while the store writes the last of its index: one round trip saved. No
            # event is written: event 1 (`lifecycle.submitted`) is the store's to derive from the request.
            with self.store.creating(request) as stored:
                unqueued = self._send(stored)
        except ConflictError:
            existing = self.store.get(request.id)
            if existing.fingerprint != request.fingerprint:
                raise ConflictError(
                    "this Idempotency-Key was already used for a different request; use a new key",
                    code="IDEMPOTENCY_KEY_REUSED",
                    details={"requestId": existing.id},
                ) from None
            return existing, False
        if unqueued is not None:
            # Without a message nobody would ever process the row: take it back so the caller's retry
            # (503 + Retry-After) starts clean. If even that fails, the sweeper re-drives the row.
            try:
                self.store.discard(stored.id)
            except DependencyError:
                log.warning("request %s recorded but not queued; left for the sweeper", stored.id)
            raise unqueued
        return stored, True

    def _send(self, request: LinkRequest) -> DependencyError | None:
        """Queue `request`; the failure is returned, not raised, so that the store finishes its writes
        before intake takes the request back."""
        try:
            self.queue.send(WorkItem(request.id))
        except DependencyError as exc:
            return exc
        return None
