"""Read the estate a topology is planned on, through the AVS port (and the request store, for accepted connects).

The reads are the pre-flight's, made once for the whole change instead of once per request, and only where a
verdict looks:

1. one paged listing per subscription of the scope, all in flight together: the clouds, each with its full
   properties (location, state, network block) and its incoming links, so no cloud of the scope needs a GET.
   One that cannot be listed stops the plan (its error is raised): without it, neither the links to remove nor
   the clouds to link could be told;
2. the links of each cloud in scope (which links exist, and their health, decide the change itself), and for
   each cloud linked to one of them that step 1 did not list, a GET and its links;
3. once the change is known: the routed space (NSX segments and Global Reach) of the clouds a verdict consults
   - the ends of every step and, for a connect, every cloud linked or about to be linked to either end. A cloud
   no step touches and that neighbours no connect is never judged on its routed space, so it is not read;
4. the permissions the rules check, once per cloud: both ends of a connect (cloudLinks/write on each), the
   cloud holding the link of a disconnect (cloudLinks/delete where it lives); and the connects accepted at
   every step's ends (our own store, not ARM).

`plan_document` plans, reads what the plan consulted and was not read yet, and plans again until the plan rests
only on what was read (a permission refused or an accepted connect can move a step, and so its neighbours); in
practice one round. Reads run `concurrency` (32) at a time. A read ARM refuses for good or answers malformed
is kept as a `Refusal` (the rules answer "cannot be read" for the steps that needed it, as they do for a
request); a read ARM throttles waits out its Retry-After (THROTTLED_ATTEMPTS tries); any other transient failure
raises DependencyError, as the pre-flight's do. `reads` counts the reads made (a read retried counts once; the
SDK's and our retries show in ARM's own log).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal, TypeVar

from interconnect.avs.gateway import AvsGateway
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link, PermissionEntry
from interconnect.avs.routed import RoutedSpace, routed_space
from interconnect.errors import ThrottledError
from interconnect.estate.document import ParsedDocument, parse_document
from interconnect.estate.plan import Estate, Plan, plan
from interconnect.estate.topology import Scope, Topology, resolve, scope_of
from interconnect.linking.facts import CloudFacts, Pending, ReadRecorder
from interconnect.linking.model import Action, Requester
from interconnect.linking.policy import DEFAULT, Policy
from interconnect.linking.ports import RequestStore

T = TypeVar("T")
# Tries of a read ARM keeps throttling, each after its Retry-After: with the SDK's own retries, a read waits out
# ~20 s of a drained bucket (a plan's share of it at 25 reads/s) before the plan answers 503 to try later.
THROTTLED_ATTEMPTS = 5
R = TypeVar("R")


@dataclass
class EstateReader:
    avs: AvsGateway
    store: RequestStore
    # Reads in flight at once: each waits on ARM far longer than it computes, so more overlap more. On the local
    # cloud 32 read a 100-cloud estate in ~1.4 s where 16 took ~1.8 s (bench/topology_plan.py --local).
    concurrency: int = 32
    reads: int = 0  # ARM calls made, for the plan's answer and the benchmark
    _recorder: ReadRecorder = field(default_factory=ReadRecorder, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)  # waits out a Retry-After
    _spaced: set[CloudId] = field(default_factory=set, repr=False)  # clouds whose routed space was read
    _permitted: set[CloudId] = field(default_factory=set, repr=False)  # clouds whose permissions were read
    _pending_of: set[CloudId] = field(default_factory=set, repr=False)  # clouds whose accepted connects were read

    def subscriptions(self, scope: Scope) -> list[str]:
        return sorted(scope.subscriptions | {subscription for subscription, _ in scope.resource_groups})

    def read(self, scope: Scope) -> Estate:
        """Steps 1-2: every cloud of the scope's subscriptions, the links of those in scope and of their peers.
        No routed space yet (`fill` reads it where a verdict needs it)."""
        self._recorder = ReadRecorder()
        self._spaced, self._permitted, self._pending_of = set(), set(), set()

        def listing(subscription: str) -> list[Cloud]:
            self._count()
            return self.avs.list_clouds(subscription)

        # The subscriptions' listings together: an estate spread over several waits for one round trip, not N.
        listed = {cloud.id: cloud for clouds in self._parallel(self.subscriptions(scope), listing) for cloud in clouds}
        in_scope = [cloud for cloud in listed.values() if scope.covers(cloud.id)]
        links = self._links(in_scope)
        peers = {c for link in links for c in (link.source, link.target)}
        peers |= {holder for cloud in in_scope for holder in cloud.external_links}
        unread = sorted(peers - {cloud.id for cloud in in_scope}, key=lambda c: c.normalized)
        outside = self._parallel(
            unread,
            lambda cid: listed.get(cid) or self._call(cid, "privateClouds.get", partial(self.avs.get_cloud, cid)),
        )
        more = [cloud for cloud in outside if cloud is not None]
        more_links = self._links(more)
        # Short names resolve among every cloud listed, so the ones not read in depth stay known too.
        clouds = {cloud.id: CloudFacts(cloud) for cloud in [*listed.values(), *more]}
        unique = {(link.source, link.name.lower()): link for link in [*links, *more_links]}
        return Estate(clouds, tuple(unique.values()), refusals=tuple(self._recorder.refusals))

    def fill(
        self,
        estate: Estate,
        space_of: Iterable[CloudId],
        permissions_of: Iterable[CloudId],
        pending_of: Iterable[CloudId],
    ) -> Estate:
        """Steps 3-4, all in flight together: the routed space of `space_of`, the permissions of
        `permissions_of`, the connects accepted at `pending_of`; each read at most once per estate read."""
        known = set(estate.clouds)
        spaces = sorted((set(space_of) & known) - self._spaced, key=lambda c: c.normalized)
        grants = sorted((set(permissions_of) & known) - self._permitted, key=lambda c: c.normalized)
        ends = sorted(set(pending_of) - self._pending_of, key=lambda c: c.normalized)
        self._spaced |= set(spaces)
        self._permitted |= set(grants)
        self._pending_of |= set(ends)

        def space(cid: CloudId) -> RoutedSpace:
            segments = self._listing(cid, "segments.list", partial(self.avs.list_segments, cid))
            reach = self._listing(cid, "globalReach.list", partial(self.avs.list_global_reach, cid))
            return routed_space(estate.clouds[cid].cloud, tuple(segments), tuple(reach))

        def permissions(cid: CloudId) -> list[PermissionEntry] | None:
            return self._call(cid, "permissions.list", partial(self.avs.permissions, cid))

        def accepted(cid: CloudId) -> list[Pending]:
            return [
                Pending(request.id, request.source, request.target)
                for request in self.store.unfinished(cid)
                if request.action is Action.CONNECT
            ]

        # One pool for all three, so the reads of one kind never wait for the last of another.
        with ThreadPoolExecutor(max(1, min(self.concurrency, len(spaces) + len(grants) + len(ends)))) as pool:
            routed = [pool.submit(space, cid) for cid in spaces]
            granted = [pool.submit(permissions, cid) for cid in grants]
            waiting = [pool.submit(accepted, cid) for cid in ends]
        clouds = dict(estate.clouds)
        for cid, space_read in zip(spaces, routed, strict=True):
            clouds[cid] = replace(clouds[cid], space=space_read.result())
        for cid, grant_read in zip(grants, granted, strict=True):
            entries = grant_read.result()
            if entries is not None:
                clouds[cid] = replace(clouds[cid], permissions=tuple(entries))
        pending = {p.request_id: p for p in estate.pending}
        for store_read in waiting:
            pending |= {p.request_id: p for p in store_read.result()}
        refusals = tuple(self._recorder.refusals)
        return replace(estate, clouds=clouds, pending=tuple(pending.values()), refusals=refusals)

    def owes(self, planned: Plan, estate: Estate) -> bool:
        """Whether `planned` rests on a read not made: a consulted cloud's routed space, a permission a step
        needs, the connects accepted at a step's end."""
        ends = {cloud for step in planned.steps for cloud in (step.source, step.target)}
        return (
            any(cid in estate.clouds and cid not in self._spaced for cid in planned.consulted)
            or not set(_permissions_needed(planned, estate)) & set(estate.clouds) <= self._permitted
            or not ends <= self._pending_of
        )

    def _links(self, clouds: Sequence[Cloud]) -> list[Link]:
        read = self._parallel(
            clouds, lambda cloud: self._listing(cloud.id, "cloudLinks.list", partial(self.avs.list_links, cloud.id))
        )
        return [link for links in read for link in links]

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
        return self._recorder(cloud, read, partial(self._patient, call))

    def _listing(self, cloud: CloudId, read: str, call: Callable[[], list[T]]) -> list[T]:
        self._count()
        return self._recorder.listing(cloud, read, partial(self._patient, call))

    def _patient(self, call: Callable[[], T]) -> T:
        """`call`, again after ARM's Retry-After while ARM throttles it (the SDK's own retries spent): a plan's
        reads past the subscription's read bucket come at its refill rate, and `concurrency` readers share it, so
        one may lose the race for a token several times over; the plan waits its turn instead of failing."""
        attempt = 1
        while True:
            try:
                return call()
            except ThrottledError as exc:
                if attempt >= THROTTLED_ATTEMPTS:
                    raise
                attempt += 1
                self.sleep(exc.retry_after if exc.retry_after is not None else 1.0)


def plan_document(
    data: bytes | str,
    reader: EstateReader,
    requester: Requester,
    policy: Policy = DEFAULT,
    *,
    syntax: Literal["yaml", "json"] | None = None,
) -> tuple[Topology, Plan]:
    """Read a document, the estate of its scope, and plan it: a first plan on the links alone tells which steps
    there are and which clouds their verdicts consult; their routed space, the permissions the steps need and
    the connects accepted at their ends are read, and the plan made again until it consults nothing unread (see
    the module docstring). Changes nothing.

    Raises the document's ValidationError (TOPOLOGY_*, TOO_LARGE), or DependencyError when ARM or the store
    cannot answer for now.
    """
    parsed = parse_document(data, syntax=syntax)
    topology, _, planned = read_and_plan(parsed, reader, requester, policy)
    return topology, planned


def read_and_plan(
    parsed: ParsedDocument, reader: EstateReader, requester: Requester, policy: Policy = DEFAULT
) -> tuple[Topology, Estate, Plan]:
    """`plan_document` on a parsed document, with the estate as read (only as deep as the plan needed)."""
    estate = reader.read(scope_of(parsed))
    topology = resolve(parsed, list(estate.clouds))
    planned = plan(topology, estate, requester, policy)
    while reader.owes(planned, estate):
        ends = {cloud for step in planned.steps for cloud in (step.source, step.target)}
        estate = reader.fill(estate, _judged_on(planned, estate), _permissions_needed(planned, estate), ends)
        planned = plan(topology, estate, requester, policy)
    return topology, estate, planned


def _judged_on(planned: Plan, estate: Estate) -> set[CloudId]:
    """Every cloud a verdict of `planned` may consult whatever the order: the ends of each step and, for a
    connect, every cloud linked to either end now, by an accepted connect, or by a connect of the plan."""
    ends = {cloud for step in planned.steps for cloud in (step.source, step.target)}
    connecting = {
        cloud for step in planned.steps if step.change != "disconnect" for cloud in (step.source, step.target)
    }
    joined = [(link.source, link.target) for link in estate.links]
    joined += [(p.source, p.target) for p in estate.pending]
    joined += [(s.source, s.target) for s in planned.steps if s.change != "disconnect"]
    near = {b if a in connecting else a for a, b in joined if a in connecting or b in connecting}
    near |= {c for cid in connecting if cid in estate.clouds for c in estate.clouds[cid].cloud.external_links}
    return ends | near | set(planned.consulted)


def _permissions_needed(planned: Plan, estate: Estate) -> list[CloudId]:
    """The clouds whose permissions a step's rules check: both ends of a connect or repair (cloudLinks/write on
    each), the holders of the links a disconnect deletes (cloudLinks/delete where they live)."""
    needed: set[CloudId] = set()
    for step in planned.steps:
        if step.change == "disconnect":
            needed |= {link.source for link in estate.links if link.joins(step.source, step.target)}
        else:
            needed |= {step.source, step.target}
    return sorted(needed, key=lambda c: c.normalized)
