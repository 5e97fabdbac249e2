"""The scheduled audit: read the inventory, judge it, compare with the last run, store it, tell people what changed.

A run is started by the timer or `POST /api/audits` and carried out by the worker (a queued `audit` item), so
an HTTP call never waits for hundreds of ARM reads. Runs are compared by finding key: new, still open, resolved.
Only new and resolved findings are posted to chat, so an unchanged fleet stays quiet.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from interconnect.audit.checks import cloud_findings, link_findings, record_findings
from interconnect.audit.drift import Pending, drift
from interconnect.audit.inventory import InventoryReader
from interconnect.audit.model import AuditRun, Inventory, ManagedLink, Thresholds, link_key
from interconnect.audit.ports import AuditStore, ChatPoster
from interconnect.avs.ids import CloudId
from interconnect.estate.registry import TopologyRegistry
from interconnect.linking.measures import Measures, Unmeasured
from interconnect.linking.model import Action, RequestSummary
from interconnect.linking.ports import RequestStore, WorkQueue
from interconnect.linking.quarantine import Quarantine
from interconnect.linking.queue import WorkItem

log = logging.getLogger(__name__)


def link_states(
    inventory: Inventory, before: dict[str, tuple[str, datetime]], now: datetime
) -> dict[str, tuple[str, datetime]]:
    """Each link's status and since when it has had it, carried over from the previous run."""
    states = {}
    for link in inventory.links:
        key = link_key(str(link.source), link.name)
        status, since = before.get(key, (link.status, now))
        states[key] = (link.status, since if status == link.status else now)
    return states


@dataclass(frozen=True)
class AuditJob:
    """Run audit `run_id`. On the wire it is an `audit` WorkItem whose `requestId` holds the run id, as it
    always has, so messages already queued decode and message ids stay the same."""

    run_id: str
    retry: int = 0

    @classmethod
    def from_item(cls, item: WorkItem) -> AuditJob:
        return cls(item.request_id, item.retry)

    def to_item(self) -> WorkItem:
        return WorkItem(self.run_id, "audit", retry=self.retry)


@dataclass
class Audits:
    reader: InventoryReader
    requests: RequestStore
    store: AuditStore
    queue: WorkQueue
    clock: Callable[[], datetime]
    subscriptions: tuple[str, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    redrive: Callable[[], object] | None = None  # the sweeper: re-drives stale requests where that is safe
    chat: ChatPoster | None = None
    quarantine: Quarantine | None = None  # the worker's set-aside messages, reported as the dead letters are
    measures: Measures = field(default_factory=Unmeasured)
    topologies: TopologyRegistry | None = None  # documents applied, compared with the inventory (drift)
    # The (source, target, action) of change-set steps in progress that are not filed as requests yet, so a pair
    # a change set is about to move is not reported as drift meanwhile. None: only filed requests are known.
    pending_changes: Callable[[], Iterable[tuple[CloudId, CloudId, Action]]] | None = None

    def start(self) -> str:
        run_id = str(uuid.uuid4())
        self.queue.send(AuditJob(run_id).to_item())
        return run_id

    def run(self, run_id: str) -> AuditRun:
        started = self.clock()
        previous = self.store.latest()
        inventory = self.reader.read(self.subscriptions, started)
        states = link_states(inventory, previous.link_states if previous else {}, started)
        stale_before = started - timedelta(minutes=self.thresholds.stale_minutes)
        stale = self.requests.stale(stale_before)
        problems = list(inventory.problems)
        if stale.skipped:
            problems.append(
                f"{stale.skipped} unfinished request row(s) could not be read back (CORRUPT_RECORD; "
                "the log names each): left out of STALE_REQUEST and never re-driven"
            )
        registered = self.topologies.registered() if self.topologies is not None else []
        drifted = drift(inventory, registered, self.subscriptions, self._pending())
        problems += drifted.problems
        findings = (
            link_findings(inventory, states, started, self.thresholds)
            + cloud_findings(inventory)
            + record_findings(
                inventory,
                self.requests_managed(),
                stale.items,
                self.queue.dead_letter_count(),
                started,
                quarantined=self.quarantine.count() if self.quarantine is not None else 0,
            )
            + drifted.findings
        )
        if self.redrive is not None:
            self.redrive()
        before = {f.key: f for f in previous.findings} if previous else {}
        now_keys = {f.key for f in findings}
        run = AuditRun(
            id=run_id,
            started_at=started,
            finished_at=self.clock(),
            findings=findings,
            new=[f.key for f in findings if f.key not in before],
            resolved=[f for key, f in before.items() if key not in now_keys],
            link_states=states,
            problems=problems,
            clouds=len(inventory.clouds),
            links=len(inventory.links),
        )
        self.store.save(run, inventory)
        self.measures.audit_findings((f.code, f.severity) for f in findings)
        self._tell(run)
        log.info("audit %s: %d findings (%d new, %d resolved)", run_id, len(findings), len(run.new), len(run.resolved))
        return run

    def _pending(self) -> Pending:
        """Which request (or change-set step) in progress moves a pair: read per cloud, only for the pairs
        that drifted, at most once per cloud in a run."""
        unfinished: dict[CloudId, list[RequestSummary]] = {}
        steps: list[tuple[CloudId, CloudId, Action]] = []
        read_steps = False

        def pending(a: CloudId, b: CloudId, action: Action) -> str | None:
            nonlocal read_steps
            pair = {a, b}
            if a not in unfinished:
                unfinished[a] = self.requests.unfinished(a)
            for request in unfinished[a]:
                if request.action is action and {request.source, request.target} == pair:
                    return request.id
            if not read_steps and self.pending_changes is not None:
                steps.extend(self.pending_changes())
                read_steps = True
            for source, target, step in steps:
                if step is action and {source, target} == pair:
                    return "change set"
            return None

        return pending

    def requests_managed(self) -> list[ManagedLink]:
        return self.store.managed_links()

    def _tell(self, run: AuditRun) -> None:
        if self.chat is None or not (run.new or run.resolved):
            return
        new = [f for f in run.findings if f.key in set(run.new)]
        lines = [f"AVS link audit {run.id}: {len(new)} new, {len(run.resolved)} resolved"]
        lines += [f"🆕 {f.code}: {f.message}" for f in new[:20]]
        lines += [f"✅ resolved {f.code}: {f.message}" for f in run.resolved[:20]]
        try:
            self.chat.post("\n".join(lines))
        except Exception as exc:
            log.warning("audit %s: could not post to chat: %s", run.id, exc)
