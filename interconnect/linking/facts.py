"""Read the facts a request is decided on: both clouds, every link at either end, the peers of each end
with their routed space, the app's permissions, and the connects we accepted but have not finished.

Shared by the worker (which then acts) and the dry run (which only reports). A read ARM refuses for good
(403, 404, another permanent 4xx) is recorded as a `Refusal` fact and the gathering goes on, so the rules
answer "cannot be read" as a verdict within one pass; transient errors (429, 5xx, network) still raise
DependencyError, which the worker retries with backoff.

A malformed answer (MalformedAnswerError) is recorded the same way, under the code MALFORMED_ANSWER. A link
listing with a malformed item keeps its well-formed links as facts (a person sees them in the dry run), but
the refusal stays on record, so the rules reject a connect touching that listing: a link we could not read
could hide an overlap or the limit, and is never simply left out of a count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from interconnect.avs.gateway import AvsGateway
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link, LinkStatus, PermissionEntry, Refusal
from interconnect.avs.routed import RoutedSpace, routed_space
from interconnect.errors import ArmError, MalformedAnswerError
from interconnect.linking.model import Action, Requester
from interconnect.linking.policy import DEFAULT, Policy
from interconnect.linking.ports import RequestStore

T = TypeVar("T")


@dataclass(frozen=True)
class CloudFacts:
    """One cloud as ARM described it, with its routed space and the app's permissions on it."""

    cloud: Cloud
    space: RoutedSpace = field(default_factory=lambda: RoutedSpace(()))
    permissions: tuple[PermissionEntry, ...] | None = None  # None: not read for this request

    id: CloudId = field(init=False)  # the cloud's id, held as data: the rules read it on every pass

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", self.cloud.id)


@dataclass(frozen=True)
class Pending:
    """A connect accepted before this request and not finished yet: its link may appear any moment."""

    request_id: str
    source: CloudId
    target: CloudId


@dataclass(frozen=True)
class Facts:
    """What ARM (and our own records) said at validation time. An end is None when it cannot be read."""

    action: Action
    source_id: CloudId
    target_id: CloudId
    requester: Requester
    source: CloudFacts | None
    target: CloudFacts | None
    links: tuple[Link, ...] = ()  # every link held by either end or pointing at it
    neighbors: tuple[CloudFacts, ...] = ()  # clouds linked (or about to be) to either end, other than the pair
    pending: tuple[Pending, ...] = ()
    policy: Policy = DEFAULT
    refusals: tuple[Refusal, ...] = ()  # reads ARM refused for good: what could not be learnt, and why

    def end(self, cloud: CloudId) -> CloudFacts | None:
        return self.source if cloud == self.source_id else self.target if cloud == self.target_id else None

    @property
    def pair_links(self) -> tuple[Link, ...]:
        """Links between the two clouds, in either direction."""
        return tuple(link for link in self.links if link.joins(self.source_id, self.target_id))

    def peers_of(self, cloud: CloudId) -> set[CloudId]:
        """Clouds linked to `cloud` in either direction, or about to be, excluding the pair itself.

        For an end, the clouds its `externalCloudLinks` names count too: they hold a link to it even when
        their links cannot be listed.
        """
        peers = {
            link.target if link.source == cloud else link.source
            for link in self.links
            if cloud in (link.source, link.target)
        }
        peers |= {p.target if p.source == cloud else p.source for p in self.pending if cloud in (p.source, p.target)}
        end = self.end(cloud)
        if end is not None:
            peers |= set(end.cloud.external_links)
        return peers - {self.source_id, self.target_id}


@dataclass
class ReadRecorder:
    """Runs reads and keeps the refusals they met (the pre-flight's gathering, the links query)."""

    refusals: list[Refusal] = field(default_factory=list)

    def __call__(self, cloud: CloudId, read: str, call: Callable[[], T]) -> T | None:
        """What the read returned; else the refusal recorded, and None. Transient errors (DependencyError)
        are not caught: they are for a retry."""
        try:
            return call()
        except ArmError as exc:
            self._refused(cloud, read, exc)
            return None

    def listing(self, cloud: CloudId, read: str, call: Callable[[], list[T]]) -> list[T]:
        """What a listing returned; else the refusal recorded, and the well-formed part of a malformed
        listing (empty when there is none). Transient errors are not caught, as above."""
        try:
            return call()
        except ArmError as exc:
            self._refused(cloud, read, exc)
            well_formed: list[T] | None = exc.partial if isinstance(exc, MalformedAnswerError) else None
            return well_formed or []

    def _refused(self, cloud: CloudId, read: str, exc: ArmError) -> None:
        status = exc.details.get("status")
        self.refusals.append(
            Refusal(
                cloud,
                read,
                status if isinstance(status, int) else 0,
                str(exc.details.get("armCode") or exc.code),
                exc.message,
            )
        )


@dataclass
class Preflight:
    avs: AvsGateway
    store: RequestStore
    policy: Policy = DEFAULT

    def gather(
        self,
        action: Action,
        source: CloudId,
        target: CloudId,
        requester: Requester,
        *,
        request_id: str = "",
        accepted_at: datetime | None = None,
    ) -> Facts:
        connect = action is Action.CONNECT
        reads = ReadRecorder()
        ends = {cid: self._cloud(reads, cid, deep=connect) for cid in (source, target)}
        links = self._links(reads, [end for end in ends.values() if end is not None])
        pending = self._pending((source, target), request_id, accepted_at) if connect else ()
        facts = Facts(
            action,
            source,
            target,
            requester,
            ends[source],
            ends[target],
            tuple(links),
            pending=pending,
            policy=self.policy,
        )
        if connect:
            peers = sorted(facts.peers_of(source) | facts.peers_of(target), key=lambda c: c.normalized)
            # A peer that does not exist (404 on its GET) routes nothing and is left out; one that cannot be
            # read is a refusal the rules turn into NEIGHBOR_UNREADABLE.
            neighbors = tuple(n for n in (self._cloud(reads, p, deep=True) for p in peers) if n is not None)
            checked = [cid for cid, end in ends.items() if end is not None]
        else:
            neighbors, checked = (), sorted({link.source for link in facts.pair_links}, key=lambda c: c.normalized)
        permissions: dict[CloudId, tuple[PermissionEntry, ...]] = {}
        for cid in checked:
            found = reads(cid, "permissions.list", partial(self.avs.permissions, cid))
            if found is not None:
                permissions[cid] = tuple(found)

        def attach(end: CloudFacts | None) -> CloudFacts | None:
            if end is None or end.id not in permissions:
                return end
            return replace(end, permissions=permissions[end.id])

        return replace(
            facts,
            source=attach(facts.source),
            target=attach(facts.target),
            neighbors=neighbors,
            refusals=tuple(reads.refusals),
        )

    def routes(self, source: CloudId, target: CloudId, requester: Requester) -> Facts:
        """Both ends with their routed space, and every link at either end: what a link between them carries.

        For showing (what a disconnect cuts), never for deciding: no permissions, pending requests or neighbours
        are read, so the rules would miss what they need. Refused reads are in `refusals`, as in `gather`.
        """
        reads = ReadRecorder()
        ends = {cid: self._cloud(reads, cid, deep=True) for cid in (source, target)}
        links = self._links(reads, [end for end in ends.values() if end is not None])
        return Facts(
            Action.DISCONNECT,
            source,
            target,
            requester,
            ends[source],
            ends[target],
            tuple(links),
            policy=self.policy,
            refusals=tuple(reads.refusals),
        )

    def with_routes(self, facts: Facts) -> Facts:
        """A disconnect's `facts` with each readable end's routed space read too, and those reads' refusals added.

        For showing what the disconnect cuts next to its verdict. Decide on `facts` itself, not on this: a
        disconnect's rules never read the routed space, so a segment listing ARM refuses here must not change
        the verdict the worker will reach. A connect's ends already carry their space and are answered as given.
        """
        if facts.action is not Action.DISCONNECT:
            return facts
        reads = ReadRecorder()

        def deepen(end: CloudFacts | None) -> CloudFacts | None:
            return None if end is None else replace(end, space=self._space(reads, end.cloud))

        source, target = deepen(facts.source), deepen(facts.target)
        return replace(facts, source=source, target=target, refusals=facts.refusals + tuple(reads.refusals))

    def _cloud(self, reads: ReadRecorder, cloud_id: CloudId, *, deep: bool) -> CloudFacts | None:
        cloud = reads(cloud_id, "privateClouds.get", lambda: self.avs.get_cloud(cloud_id))
        if cloud is None:
            return None
        return CloudFacts(cloud, self._space(reads, cloud)) if deep else CloudFacts(cloud)

    def _space(self, reads: ReadRecorder, cloud: Cloud) -> RoutedSpace:
        # A refused read leaves its part of the space out; the refusal itself makes the rules refuse a
        # connect, so the partial space can only add true overlaps to the verdict, never hide one.
        segments = reads(cloud.id, "segments.list", lambda: self.avs.list_segments(cloud.id)) or []
        reach = reads(cloud.id, "globalReach.list", lambda: self.avs.list_global_reach(cloud.id)) or []
        return routed_space(cloud, tuple(segments), tuple(reach))

    def _links(self, reads: ReadRecorder, ends: list[CloudFacts]) -> list[Link]:
        """Outgoing links of each end, and the incoming ones read from the clouds that hold them."""
        found: dict[tuple[CloudId, str], Link] = {}
        listed: dict[CloudId, list[Link]] = {}

        def links_of(cloud: CloudId) -> list[Link]:
            if cloud not in listed:
                listed[cloud] = reads.listing(cloud, "cloudLinks.list", partial(self.avs.list_links, cloud))
            return listed[cloud]

        for end in ends:
            for link in links_of(end.id):
                found[(link.source, link.name)] = link
            for holder in end.cloud.external_links:
                for link in links_of(holder):
                    if link.target == end.id:
                        found[(link.source, link.name)] = link
        return list(found.values())

    def _pending(
        self, ends: tuple[CloudId, CloudId], request_id: str, accepted_at: datetime | None
    ) -> tuple[Pending, ...]:
        found = {
            r.id: Pending(r.id, r.source, r.target)
            for cloud in ends
            for r in self.store.unfinished(cloud)
            if r.id != request_id and r.action is Action.CONNECT and (accepted_at is None or r.created_at < accepted_at)
        }
        return tuple(found.values())


def facts_view(facts: Facts) -> dict[str, Any]:
    """The facts as the dry run shows them."""

    def cloud_view(end: CloudFacts) -> dict[str, Any]:
        return {
            "cloud": str(end.id),
            "location": end.cloud.location,
            "provisioningState": end.cloud.provisioning_state,
            "routedPrefixes": [{"prefix": str(p.network), "origin": p.origin} for p in end.space.prefixes],
            "unreadablePrefixes": list(end.space.problems),
        }

    return {
        "source": cloud_view(facts.source) if facts.source else None,
        "target": cloud_view(facts.target) if facts.target else None,
        "links": [
            {
                "holder": str(link.source),
                "name": link.name,
                "linkedCloud": str(link.target),
                "status": LinkStatus.normalize(link.status),
            }
            for link in facts.links
        ],
        "neighbors": [cloud_view(n) for n in facts.neighbors],
        "pendingRequests": [
            {"requestId": p.request_id, "source": str(p.source), "target": str(p.target)} for p in facts.pending
        ],
        "refusedReads": [r.details() for r in facts.refusals],
        "policy": facts.policy.source,
    }
