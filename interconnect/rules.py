"""Pre-flight rules and the decision they lead to. Pure: facts in, decision out.

Each rule returns the reasons it fails for (empty when it passes); `decide` runs them all so a rejected
request lists every failing rule, not only the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from interconnect.armid import CloudId, link_name
from interconnect.facts import Cloud, Link, LinkStatus
from interconnect.model import Action, Reason


@dataclass(frozen=True)
class Facts:
    """What ARM said at validation time. A cloud is None when it does not exist or cannot be read."""

    action: Action
    source_id: CloudId
    target_id: CloudId
    source: Cloud | None
    target: Cloud | None
    links: tuple[Link, ...] = ()  # every link held by either cloud

    def clouds(self) -> list[tuple[CloudId, Cloud | None]]:
        return [(self.source_id, self.source), (self.target_id, self.target)]

    @property
    def pair_links(self) -> tuple[Link, ...]:
        """Links between the two clouds, in either direction."""
        return tuple(link for link in self.links if link.joins(self.source_id, self.target_id))


Rule = Callable[[Facts], list[Reason]]


def same_cloud(facts: Facts) -> list[Reason]:
    if facts.source_id != facts.target_id:
        return []
    return [Reason("SAME_CLOUD", f"source and target are the same private cloud ({facts.source_id})",
                   {"cloud": str(facts.source_id)})]


def cloud_found(facts: Facts) -> list[Reason]:
    return [Reason("CLOUD_NOT_FOUND", f"private cloud {cloud_id} does not exist or cannot be read",
                   {"cloud": str(cloud_id)})
            for cloud_id, cloud in facts.clouds() if cloud is None]


def cloud_ready(facts: Facts) -> list[Reason]:
    return [Reason("CLOUD_NOT_READY",
                   f"private cloud {cloud.id.short} is {cloud.provisioning_state}, not Succeeded",
                   {"cloud": str(cloud.id), "provisioningState": cloud.provisioning_state})
            for _, cloud in facts.clouds() if cloud is not None and cloud.provisioning_state != "Succeeded"]


def same_region(facts: Facts) -> list[Reason]:
    if facts.source is None or facts.target is None or facts.source.region == facts.target.region:
        return []
    return [Reason("REGION_MISMATCH",
                   f"{facts.source.id.short} is in {facts.source.location} but {facts.target.id.short} is in "
                   f"{facts.target.location}; AVS Interconnect links clouds in the same region only",
                   {"source": {"cloud": str(facts.source.id), "location": facts.source.location},
                    "target": {"cloud": str(facts.target.id), "location": facts.target.location}})]


RULES: dict[Action, tuple[Rule, ...]] = {
    Action.CONNECT: (same_cloud, cloud_found, cloud_ready, same_region),
    # Removing a link must stay possible when a cloud is degraded or a link was made across regions
    # by hand, so disconnect checks only what it needs to find the link.
    Action.DISCONNECT: (same_cloud, cloud_found),
}


@dataclass(frozen=True)
class Decision:
    """`reject`: reasons say why. `noop`: nothing to change. `create`/`delete`: act on `link` of `holder`."""

    kind: Literal["reject", "noop", "create", "delete"]
    outcome: str
    reasons: tuple[Reason, ...] = ()
    holder: CloudId | None = None
    link_name: str = ""
    target: CloudId | None = None
    notes: tuple[str, ...] = field(default=())


def evaluate(facts: Facts) -> list[Reason]:
    return [reason for rule in RULES[facts.action] for reason in rule(facts)]


def decide(facts: Facts) -> Decision:
    """Decide what to do about a request given the facts."""
    reasons = evaluate(facts)
    if reasons:
        return Decision("reject", "; ".join(r.message for r in reasons), tuple(reasons))
    pair = facts.pair_links
    if facts.action is Action.CONNECT:
        return _connect(facts, pair)
    return _disconnect(facts, pair)


def _connect(facts: Facts, pair: tuple[Link, ...]) -> Decision:
    healthy = [link for link in pair if LinkStatus.normalize(link.status) in (LinkStatus.ACTIVE,
                                                                               LinkStatus.BUILDING)]
    if healthy:
        link = healthy[0]
        return Decision("noop", f"already linked: {link.source.short} → {link.target.short} "
                                f"({link.name}, {LinkStatus.normalize(link.status)})")
    if any(LinkStatus.normalize(link.status) == LinkStatus.DELETING for link in pair):
        link = next(link for link in pair if LinkStatus.normalize(link.status) == LinkStatus.DELETING)
        reason = Reason("LINK_BUSY", f"link {link.name} between the clouds is being deleted; ask again once "
                                     f"it is gone", {"link": link.name, "cloud": str(link.source)})
        return Decision("reject", reason.message, (reason,))
    if pair:
        # A Failed or Disconnected link: PUT it again where it lives rather than adding a second one.
        link = pair[0]
        return Decision("create", f"repairing {LinkStatus.normalize(link.status)} link {link.name}",
                        holder=link.source, link_name=link.name, target=link.target)
    return Decision("create", "link requested", holder=facts.source_id, link_name=link_name(facts.target_id),
                    target=facts.target_id)


def _disconnect(facts: Facts, pair: tuple[Link, ...]) -> Decision:
    if not pair:
        return Decision("noop", f"not linked: no link between {facts.source_id.short} and "
                                f"{facts.target_id.short}")
    link = pair[0]  # the others, if a link exists both ways, are removed once this one is gone
    return Decision("delete", f"unlinking {link.source.short} → {link.target.short}", holder=link.source,
                    link_name=link.name, target=link.target)
