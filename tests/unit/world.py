"""A small world of in-memory ports with a worker behind the work-kind dispatch, for service-level tests."""

from __future__ import annotations

from datetime import timedelta

from interconnect.adapters.memory import InMemoryAvs, InMemoryRequestStore, InMemoryWorkQueue
from interconnect.app.dispatch import Dispatch
from interconnect.linking.facts import Preflight
from interconnect.linking.intake import Intake
from interconnect.linking.model import Action, Requester, Status
from interconnect.linking.validation import Submit
from interconnect.linking.worker import Worker
from tests.factories import Clock, cloud, cloud_id

ALICE = Requester("api", "alice", "Alice", roles=frozenset({"Links.Request"}), verified_person=True)


class World:
    def __init__(self, approvals: bool = False) -> None:
        self.clock = Clock()
        self.store, self.queue, self.avs = InMemoryRequestStore(), InMemoryWorkQueue(), InMemoryAvs()
        self.intake = Intake(self.store, self.queue, self.clock)
        self.worker = Worker(
            self.store,
            self.queue,
            self.avs,
            Preflight(self.avs, self.store),
            self.clock,
            poll_interval=timedelta(seconds=10),
            approvals=approvals,
        )
        self.dispatch = Dispatch(self.worker, self.queue, self.clock)
        self.a, self.b, self.c = cloud_id("a"), cloud_id("b"), cloud_id("c")
        self.avs.add(cloud(self.a, block="10.0.0.0/22"))
        self.avs.add(cloud(self.b, block="10.0.4.0/22"))
        self.avs.add(cloud(self.c, location="eastus", block="10.0.8.0/22"))

    def submit(self, action: Action, source=None, target=None, key: str | None = None) -> str:
        request, _ = self.intake.submit(Submit(action, source or self.a, target or self.b, ALICE), idempotency_key=key)
        return request.id

    def drain(self, settle: bool = True) -> None:
        """Deliver every queued item, letting AVS finish operations between checks."""
        while self.queue.sent:
            item, at = self.queue.take()
            if at is not None:
                self.clock.now = max(self.clock.now, at)
                if settle:
                    self.avs.settle()
            self.dispatch.handle(item)

    def status(self, request_id: str) -> Status:
        return self.store.get(request_id).status
