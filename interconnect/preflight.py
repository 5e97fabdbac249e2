"""Read the facts a request is decided on: both clouds, every link at either end, the peers of each end
with their routed space, the app's permissions, and the connects we accepted but have not finished.

Shared by the worker (which then acts) and the dry run (which only reports).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from interconnect.armid import CloudId
from interconnect.facts import Link, LinkStatus
from interconnect.model import Action, Requester
from interconnect.policy import DEFAULT, Policy
from interconnect.ports import AvsGateway, RequestStore
from interconnect.routed import routed_space
from interconnect.rules import CloudFacts, Facts, Pending


@dataclass
class Preflight:
    avs: AvsGateway
    store: RequestStore
    policy: Policy = DEFAULT

    def gather(self, action: Action, source: CloudId, target: CloudId, requester: Requester, *,
               request_id: str = "", accepted_at: datetime | None = None) -> Facts:
        connect = action is Action.CONNECT
        ends = {cid: self._cloud(cid, deep=connect) for cid in (source, target)}
        links = self._links([end for end in ends.values() if end is not None])
        pending = self._pending((source, target), request_id, accepted_at) if connect else ()
        facts = Facts(action, source, target, requester, ends[source], ends[target], tuple(links),
                      pending=pending, policy=self.policy)
        if connect:
            peers = sorted(facts.peers_of(source) | facts.peers_of(target), key=lambda c: c.normalized)
            neighbors = tuple(n for n in (self._cloud(p, deep=True) for p in peers) if n is not None)
            checked = [cid for cid, end in ends.items() if end is not None]
        else:
            neighbors, checked = (), sorted({link.source for link in facts.pair_links}, key=lambda c: c.normalized)
        permissions = {cid: tuple(self.avs.permissions(cid)) for cid in checked}

        def attach(end: CloudFacts | None) -> CloudFacts | None:
            if end is None or end.id not in permissions:
                return end
            return replace(end, permissions=permissions[end.id])

        return replace(facts, source=attach(facts.source), target=attach(facts.target), neighbors=neighbors)

    def _cloud(self, cloud_id: CloudId, *, deep: bool) -> CloudFacts | None:
        cloud = self.avs.get_cloud(cloud_id)
        if cloud is None:
            return None
        if not deep:
            return CloudFacts(cloud)
        space = routed_space(cloud, tuple(self.avs.list_segments(cloud_id)),
                             tuple(self.avs.list_global_reach(cloud_id)))
        return CloudFacts(cloud, space)

    def _links(self, ends: list[CloudFacts]) -> list[Link]:
        """Outgoing links of each end, and the incoming ones read from the clouds that hold them."""
        found: dict[tuple[CloudId, str], Link] = {}
        listed: dict[CloudId, list[Link]] = {}

        def links_of(cloud: CloudId) -> list[Link]:
            if cloud not in listed:
                listed[cloud] = self.avs.list_links(cloud)
            return listed[cloud]

        for end in ends:
            for link in links_of(end.id):
                found[(link.source, link.name)] = link
            for holder in end.cloud.external_links:
                for link in links_of(holder):
                    if link.target == end.id:
                        found[(link.source, link.name)] = link
        return list(found.values())

    def _pending(self, ends: tuple[CloudId, CloudId], request_id: str,
                 accepted_at: datetime | None) -> tuple[Pending, ...]:
        found = {r.id: Pending(r.id, r.source, r.target) for cloud in ends for r in self.store.unfinished(cloud)
                 if r.id != request_id and r.action is Action.CONNECT
                 and (accepted_at is None or r.created_at < accepted_at)}
        return tuple(found.values())


def facts_view(facts: Facts) -> dict[str, Any]:
    """The facts as the dry run shows them."""
    def cloud_view(end: CloudFacts) -> dict[str, Any]:
        return {"cloud": str(end.id), "location": end.cloud.location,
                "provisioningState": end.cloud.provisioning_state,
                "routedPrefixes": [{"prefix": str(p.network), "origin": p.origin} for p in end.space.prefixes],
                "unreadablePrefixes": list(end.space.problems)}

    return {
        "source": cloud_view(facts.source) if facts.source else None,
        "target": cloud_view(facts.target) if facts.target else None,
        "links": [{"holder": str(link.source), "name": link.name, "linkedCloud": str(link.target),
                   "status": LinkStatus.normalize(link.status)} for link in facts.links],
        "neighbors": [cloud_view(n) for n in facts.neighbors],
        "pendingRequests": [{"requestId": p.request_id, "source": str(p.source), "target": str(p.target)}
                            for p in facts.pending],
        "policy": facts.policy.source,
    }

