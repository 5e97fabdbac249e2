"""Read the estate a topology is planned on, through the AVS port (and the request store, for accepted connects).

The reads are the pre-flight's, made once for the whole change instead of once per request:

1. one paged listing per subscription of the scope (the clouds, with their incoming links). One that cannot be
   listed stops the plan (its error is raised): without it, neither the links to remove nor the clouds to link
   could be told;
2. for each cloud in scope: its links, NSX segments and Global Reach (its routed space);
3. for each cloud linked to one of them that step 1 did not list: the same three reads and a GET;
4. once the change is known: the permissions of the clouds its steps act on, and the connects accepted there.

Reads run `concurrency` (32) at a time. A read ARM refuses for good or answers malformed is kept as a `Refusal`
(the rules answer "cannot be read" for the steps that needed it, as they do for a request); a transient failure
raises DependencyError, as the pre-flight's do. `reads` counts the ARM calls made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal, TypeVar

from interconnect.avs.gateway import AvsGateway
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link
from interconnect.avs.routed import routed_space
from interconnect.estate.document import parse_document
from interconnect.estate.plan import Estate, Plan, plan
from interconnect.estate.topology import Scope, Topology, resolve, scope_of
from interconnect.linking.facts import CloudFacts, Pending, ReadRecorder
from interconnect.linking.model import Action, Requester
from interconnect.linking.policy import DEFAULT, Policy
from interconnect.linking.ports import RequestStore

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class EstateReader:
    avs: AvsGateway
    store: RequestStore
    # Reads in flight at once: each waits on ARM far longer than it computes, so more overlap more. On the local
    # cloud 32 read a 100-cloud estate (366 reads) in ~1.4 s where 16 took ~1.8 s (bench/topology_plan.py --local).
    concurrency: int = 32
    reads: int = 0  # ARM calls made, for the plan's answer and the benchmark
    _recorder: ReadRecorder = field(default_factory=ReadRecorder, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def subscriptions(self, scope: Scope) -> list[str]:
        return sorted(scope.subscriptions | {subscription for subscription, _ in scope.resource_groups})

    def read(self, scope: Scope) -> Estate:
        """Steps 1-3: every cloud of the scope's subscriptions, those in scope in depth, and their peers."""
        self._recorder = ReadRecorder()
        listed: dict[CloudId, Cloud] = {}
        for subscription in self.subscriptions(scope):
            self._count()
            for cloud in self.avs.list_clouds(subscription):
                listed[cloud.id] = cloud
        in_scope = [cloud for cloud in listed.values() if scope.covers(cloud.id)]
        clouds, links = self._deep(in_scope)
        peers = {c for link in links for c in (link.source, link.target)}
        peers |= {holder for facts in clouds.values() for holder in facts.cloud.external_links}
        unread = sorted(peers - set(clouds), key=lambda c: c.normalized)
        outside = [
            listed.get(cid) or self._call(cid, "privateClouds.get", partial(self.avs.get_cloud, cid)) for cid in unread
        ]
        more, more_links = self._deep([cloud for cloud in outside if cloud is not None])
        clouds |= more
        # Short names resolve among every cloud listed, so the ones not read in depth stay known too.
        for cid, cloud in listed.items():
            clouds.setdefault(cid, CloudFacts(cloud))
        unique = {(link.source, link.name.lower()): link for link in [*links, *more_links]}
        return Estate(clouds, tuple(unique.values()), refusals=tuple(self._recorder.refusals))

    def complete(self, estate: Estate, acting: Iterable[CloudId]) -> Estate:
        """Step 4: the permissions of the clouds `acting` (a plan's step ends) and the connects accepted there."""
        acting = sorted(set(acting) & set(estate.clouds), key=lambda c: c.normalized)
        found = self._parallel(
            acting, lambda cid: self._call(cid, "permissions.list", partial(self.avs.permissions, cid))
        )
        clouds = dict(estate.clouds)
        for cid, permissions in zip(acting, found, strict=True):
            if permissions is not None:
                clouds[cid] = replace(clouds[cid], permissions=tuple(permissions))
        pending = {
            request.id: Pending(request.id, request.source, request.target)
            for cid in acting
            for request in self.store.unfinished(cid)
            if request.action is Action.CONNECT
        }
        refusals = tuple(self._recorder.refusals)
        return replace(estate, clouds=clouds, pending=tuple(pending.values()), refusals=refusals)

    def _deep(self, clouds: Sequence[Cloud]) -> tuple[dict[CloudId, CloudFacts], list[Link]]:
        def one(cloud: Cloud) -> tuple[CloudFacts, list[Link]]:
            links = self._listing(cloud.id, "cloudLinks.list", partial(self.avs.list_links, cloud.id))
            segments = self._listing(cloud.id, "segments.list", partial(self.avs.list_segments, cloud.id))
            reach = self._listing(cloud.id, "globalReach.list", partial(self.avs.list_global_reach, cloud.id))
            return CloudFacts(cloud, routed_space(cloud, tuple(segments), tuple(reach))), links

        read = self._parallel(clouds, one)
        return {facts.id: facts for facts, _ in read}, [link for _, links in read for link in links]

    def _parallel(self, items: Sequence[T], work: Callable[[T], R]) -> list[R]:
        if len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(min(self.concurrency, len(items))) as pool:
            return list(pool.map(work, items))

    def _count(self) -> None:
        with self._lock:
            self.reads += 1

    def _call(self, cloud: CloudId, read: str, call: Callable[[], T]) -> T | None:
        self._count()
        return self._recorder(cloud, read, call)

    def _listing(self, cloud: CloudId, read: str, call: Callable[[], list[T]]) -> list[T]:
        self._count()
        return self._recorder.listing(cloud, read, call)


def plan_document(
    data: bytes | str,
    reader: EstateReader,
    requester: Requester,
    policy: Policy = DEFAULT,
    *,
    syntax: Literal["yaml", "json"] | None = None,
) -> tuple[Topology, Plan]:
    """Read a document, the estate of its scope, and plan it: a first plan tells which clouds the steps act on,
    whose permissions and accepted connects are then read for the plan answered (the steps are the same; only
    their verdicts may gain a reason). Changes nothing.

    Raises the document's ValidationError (TOPOLOGY_*, TOO_LARGE), or DependencyError when ARM or the store
    cannot answer for now.
    """
    parsed = parse_document(data, syntax=syntax)
    estate = reader.read(scope_of(parsed))
    topology = resolve(parsed, list(estate.clouds))
    draft = plan(topology, estate, requester, policy)
    acting = {cloud for step in draft.steps for cloud in (step.source, step.target)}
    if not acting:
        return topology, draft
    return topology, plan(topology, reader.complete(estate, acting), requester, policy)
