"""An estate to plan on, kept in the in-memory AVS so the pre-flight itself can replay every plan step by step."""

from __future__ import annotations

from dataclasses import dataclass, field

from interconnect.adapters.memory import InMemoryAvs, InMemoryRequestStore
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Link, LinkStatus
from interconnect.avs.routed import routed_space
from interconnect.estate.document import parse_document
from interconnect.estate.plan import Estate, Plan, plan
from interconnect.estate.topology import Topology, resolve
from interconnect.linking.facts import CloudFacts, Preflight
from interconnect.linking.model import Action, Requester
from interconnect.linking.rules import Decision, decide
from tests.factories import SUB_A, SUB_B, cloud, cloud_id

API = Requester("api", "key", "function key")  # may connect and disconnect under the default policy


@dataclass
class Fleet:
    avs: InMemoryAvs = field(default_factory=InMemoryAvs)

    def add(
        self, name: str, block: str, *, sub: str = SUB_A, rg: str = "rg-avs", location: str = "westeurope"
    ) -> CloudId:
        cid = cloud_id(name, sub=sub, rg=rg)
        self.avs.add(cloud(cid, block=block, location=location))
        return cid

    def link(self, source: CloudId, target: CloudId, status: str = LinkStatus.ACTIVE) -> Link:
        link = Link(source, f"l-{source.name}-{target.name}", target, status)
        self.avs.links[(source, link.name)] = link
        return link

    def estate(self) -> Estate:
        """Every cloud as the pre-flight reads one (with its incoming links, routed space and permissions)."""
        clouds = {}
        for cid in self.avs.clouds:
            read = self.avs.get_cloud(cid)
            assert read is not None
            space = routed_space(read, tuple(self.avs.list_segments(cid)), tuple(self.avs.list_global_reach(cid)))
            clouds[cid] = CloudFacts(read, space, tuple(self.avs.permissions(cid)))
        return Estate(clouds, tuple(self.avs.links.values()))

    def topology(self, text: str) -> Topology:
        return resolve(parse_document(text), list(self.avs.clouds))

    def plan(self, text: str, requester: Requester = API) -> Plan:
        return plan(self.topology(text), self.estate(), requester)

    def replay(self, planned: Plan, requester: Requester = API) -> list[Decision]:
        """Each step decided by the pre-flight on the in-memory AVS, then carried out there as planned."""
        decisions = []
        preflight = Preflight(self.avs, InMemoryRequestStore())
        for step in planned.steps:
            decisions.append(decide(preflight.gather(step.action, step.source, step.target, requester)))
            if step.action is Action.DISCONNECT:
                for key, link in list(self.avs.links.items()):
                    if link.joins(step.source, step.target):
                        del self.avs.links[key]
            else:
                decision = step.decision
                if decision.holder is not None and decision.target is not None:
                    held = Link(decision.holder, decision.link_name, decision.target, LinkStatus.ACTIVE)
                else:
                    existing = [link for link in self.avs.links.values() if link.joins(step.source, step.target)]
                    held = existing[0] if existing else Link(step.source, f"x-{step.target.name}", step.target, "")
                    held = Link(held.source, held.name, held.target, LinkStatus.ACTIVE)
                self.avs.links[(held.source, held.name)] = held
        return decisions


def document(*links: str, scope: str = f"subscriptions: [{SUB_A}]", extra: str = "") -> str:
    """A topology document: each of `links` is one YAML list item, e.g. "between: [a, b]"."""
    body = "".join(f"  - {link}\n" for link in links) if links else ""
    return f"apiVersion: interconnect/v1\nkind: Topology\nscope:\n  {scope}\n{extra}" + (
        "links:\n" + body if links else "links: []\n"
    )


__all__ = ["API", "SUB_A", "SUB_B", "Fleet", "document"]
