"""The plan: what a topology changes in an estate, in the order it is safe to change it, judged by the pre-flight.

Pure: the estate (the clouds as read, with their routed space, links, accepted connects and refused reads) and a
resolved topology in, the plan out; nothing is read or changed.

The change is every link the scope manages (both ends in scope) set against the declared ones: declared and
healthy *stays*; declared and missing is *connected*; declared but Failed, Disconnected or Deleting is
*repaired* (the PUT of that same link a connect request makes); present and not declared is *disconnected*
(one step per pair: a disconnect removes the links both ways). Links with an end outside the scope are listed
as *outside* and never touched.

Order. Connects go first whenever the state they would be made in allows them (make before break: a moved link
is added before the old one is cut); then the disconnects; then the connects that needed what a disconnect
frees (the 10-link limit, or a neighbour that stops being one). Removals never make a connect less safe (fewer
links, fewer neighbours) and the end state is the same whatever the order, so this finds an order within every
rule whenever one exists, and otherwise puts each refused connect where it is the least refused.

Verdicts. Each step is decided by `linking.rules.decide` itself on the facts a request would be decided on at
that point (the links left by the steps before it, their neighbours' routed space, the refused reads), so a
step carries exactly the reason codes the request it files would get: a second new link that makes a cloud
learn the same prefix from two peers is NEIGHBOR_OVERLAP, naming the first new link too. The end state is
judged again (every connect rule for every link the plan makes, against all the others): anything only it shows
is listed under `endState`.

The fingerprint is a digest of the ordered steps and the facts their verdicts rest on (each consulted cloud as
read, the links at it, accepted connects and refused reads), so an apply can refuse a plan whose estate moved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from interconnect.avs.ids import CloudId, link_name
from interconnect.avs.resources import Link, LinkStatus, Refusal
from interconnect.estate.document import Where
from interconnect.estate.topology import DeclaredLink, Scope, Topology
from interconnect.linking.facts import CloudFacts, Facts, Pending
from interconnect.linking.impact import impact
from interconnect.linking.model import Action, Reason, Requester
from interconnect.linking.policy import DEFAULT, Policy
from interconnect.linking.rules import Decision, decide, evaluate

HEALTHY = {LinkStatus.ACTIVE, LinkStatus.BUILDING}
Change = Literal["connect", "repair", "disconnect"]
FINGERPRINT_VERSION = 1
_NO_SCOPE = Scope(frozenset(), frozenset())


@dataclass(frozen=True)
class Estate:
    """What a plan is made on, in the pre-flight's own fact types.

    `clouds`: every cloud of the scope and every cloud linked to one of them, as read (a linked cloud missing
    here is taken to route nothing, as the pre-flight takes a peer that is not found: read it, or record why it
    could not be, in `refusals`; `unread_peers` names them). `links`: every link any of them holds. Only the
    clouds a verdict consults (`Plan.consulted`) need their routed space and only the clouds a step's rules check
    their permissions: a gatherer may leave the others' empty (estate/gather.py does, and plans again until the
    plan consults nothing it left empty).
    """

    clouds: Mapping[CloudId, CloudFacts]
    links: tuple[Link, ...]
    pending: tuple[Pending, ...] = ()  # connects accepted and not finished, which may add a link any moment
    refusals: tuple[Refusal, ...] = ()  # reads ARM refused for good or answered malformed


def unread_peers(estate: Estate) -> list[CloudId]:
    """Clouds linked (or being linked) to a cloud of the estate that it neither holds nor has a refusal for:
    the reads a gatherer still owes the planner."""
    named = {c for link in estate.links for c in (link.source, link.target)}
    named |= {c for facts in estate.clouds.values() for c in facts.cloud.external_links}
    named |= {c for p in estate.pending for c in (p.source, p.target)}
    refused = {r.cloud for r in estate.refusals}
    return sorted(named - set(estate.clouds) - refused, key=lambda c: c.normalized)


@dataclass(frozen=True)
class Step:
    """One request the apply files, in order, with the pre-flight's decision on the state it would meet."""

    number: int  # 1-based: the order requests are filed in
    change: Change
    source: CloudId
    target: CloudId
    decision: Decision
    declared_at: Where | None = None  # where the document asks for it; None for a removal
    impact: Mapping[str, Any] | None = None  # what a disconnect cuts (interconnect/linking/impact.py)

    @property
    def action(self) -> Action:
        return Action.DISCONNECT if self.change == "disconnect" else Action.CONNECT

    @property
    def allowed(self) -> bool:
        return self.decision.kind != "reject"

    def to_view(self) -> dict[str, Any]:
        return {
            "step": self.number,
            "change": self.change,
            "action": self.action.value,
            "source": str(self.source),
            "target": str(self.target),
            "allowed": self.allowed,
            "wouldDo": self.decision.kind,
            "holder": str(self.decision.holder) if self.decision.holder else None,
            "linkName": self.decision.link_name or None,
            "outcome": self.decision.outcome,
            "reasons": [r.to_dict() for r in self.decision.reasons],
            "declaredAt": _where_view(self.declared_at),
            "impact": dict(self.impact) if self.impact is not None else None,
        }


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    stay: tuple[Link, ...]  # managed, declared and healthy
    outside: tuple[Link, ...]  # an end outside the scope: never touched
    end_state: tuple[Reason, ...]  # what only the end state shows (every step's own reasons are on the step)
    notes: tuple[Reason, ...]  # worth a reviewer's eye, never a refusal (a declared direction not as built)
    fingerprint: str
    consulted: tuple[CloudId, ...] = field(default=(), compare=False)  # the clouds the verdicts rest on

    @property
    def allowed(self) -> bool:
        return all(step.allowed for step in self.steps) and not self.end_state

    @property
    def reasons(self) -> list[Reason]:
        """Every problem of the plan: each step's, then the end state's."""
        return [r for step in self.steps for r in step.decision.reasons] + list(self.end_state)

    def to_view(self) -> dict[str, Any]:
        counts = {change: sum(1 for s in self.steps if s.change == change) for change in ("connect", "repair")}
        return {
            "allowed": self.allowed,
            "fingerprint": self.fingerprint,
            "summary": {
                **counts,
                "disconnect": sum(1 for s in self.steps if s.change == "disconnect"),
                "stay": len(self.stay),
                "outside": len(self.outside),
                "problems": len(self.reasons),
            },
            "steps": [step.to_view() for step in self.steps],
            "stay": [_link_view(link) for link in self.stay],
            "outside": [_link_view(link) for link in self.outside],
            "endState": [r.to_dict() for r in self.end_state],
            "notes": [r.to_dict() for r in self.notes],
        }


def plan(topology: Topology, estate: Estate, requester: Requester, policy: Policy = DEFAULT) -> Plan:
    """The ordered change that makes `estate` hold what `topology` declares, every step decided by the
    pre-flight rules for `requester` under `policy` on the state it would meet (see the module docstring)."""
    return _Planner(topology, estate, requester, policy).run()


def evaluate_each(
    estate: Estate,
    requests: Iterable[tuple[Action, CloudId, CloudId]],
    requester: Requester,
    policy: Policy = DEFAULT,
) -> list[list[Reason]]:
    """Every pre-flight rule on each request against `estate` as it stands (no request changes it): what the
    plan's verdicts cost at least, and the check of single requests against an estate already read."""
    judge = _Planner(Topology(_NO_SCOPE, ()), estate, requester, policy)
    return [evaluate(judge.facts(action, source, target)) for action, source, target in requests]


# ------------------------------------------------------------------------------------------------- the state


def _key(link: Link) -> tuple[CloudId, str]:
    return (link.source, link.name.lower())  # ARM compares names case-insensitively


def _order(link: Link) -> tuple[str, str]:
    return (link.source.normalized, link.name.lower())


def _pair_order(pair: Iterable[CloudId]) -> tuple[str, ...]:
    return tuple(sorted(c.normalized for c in pair))


class _State:
    """The links as they would be after some of the steps, indexed by cloud; mutable, private to a planner."""

    def __init__(self, estate: Estate) -> None:
        self.links: dict[tuple[CloudId, str], Link] = {}
        self.at: dict[CloudId, set[tuple[CloudId, str]]] = {}
        self.external: dict[CloudId, set[CloudId]] = {
            cid: set(facts.cloud.external_links) for cid, facts in estate.clouds.items()
        }
        for link in estate.links:
            self._put(link)

    def _put(self, link: Link) -> None:
        key = _key(link)
        self.links[key] = link
        for end in (link.source, link.target):
            self.at.setdefault(end, set()).add(key)

    def links_at(self, *clouds: CloudId) -> tuple[Link, ...]:
        keys = set().union(*(self.at.get(c, set()) for c in clouds))
        return tuple(sorted((self.links[k] for k in keys), key=_order))

    def pair(self, a: CloudId, b: CloudId) -> tuple[Link, ...]:
        return tuple(link for link in self.links_at(a) if link.joins(a, b))

    def connect(self, holder: CloudId, name: str, target: CloudId) -> None:
        """The link as made (or repaired): Active, and named on the target as an incoming link."""
        self._put(Link(holder, name, target, LinkStatus.ACTIVE))
        self.external.setdefault(target, set()).add(holder)

    def disconnect(self, a: CloudId, b: CloudId) -> tuple[Link, ...]:
        """Remove every link between the pair (what a disconnect does); returns them, for `restore`."""
        removed = self.pair(a, b)
        for link in removed:
            key = _key(link)
            del self.links[key]
            for end in (link.source, link.target):
                self.at[end].discard(key)
            self.external.get(link.target, set()).discard(link.source)
        return removed

    def restore(self, links: Iterable[Link]) -> None:
        for link in links:
            self._put(link)
            self.external.setdefault(link.target, set()).add(link.source)


# ------------------------------------------------------------------------------------------------ the planner


@dataclass
class _Wanted:
    change: Change
    source: CloudId
    target: CloudId
    declared: DeclaredLink | None = None


class _Planner:
    def __init__(self, topology: Topology, estate: Estate, requester: Requester, policy: Policy) -> None:
        self.topology, self.estate, self.requester, self.policy = topology, estate, requester, policy
        self.state = _State(estate)
        self.consulted: set[CloudId] = set()
        self.refusals = tuple(
            sorted(estate.refusals, key=lambda r: (r.cloud.normalized, r.read, r.status, r.arm_code, r.message))
        )
        self.pending = tuple(sorted(estate.pending, key=lambda p: (p.request_id, p.source.normalized)))

    # -- the facts a request would be decided on, in the current state
    def _end(self, cloud: CloudId) -> CloudFacts | None:
        found = self.estate.clouds.get(cloud)
        if found is None:
            return None
        incoming = tuple(sorted(self.state.external.get(cloud, set()), key=lambda c: c.normalized))
        return replace(found, cloud=replace(found.cloud, external_links=incoming))

    def facts(self, action: Action, source: CloudId, target: CloudId) -> Facts:
        ends = {source, target}
        facts = Facts(
            action,
            source,
            target,
            self.requester,
            self._end(source),
            self._end(target),
            self.state.links_at(source, target),
            pending=tuple(p for p in self.pending if p.source in ends or p.target in ends),
            policy=self.policy,
        )
        consulted = set(ends)
        neighbors: tuple[CloudFacts, ...] = ()
        if action is Action.CONNECT:
            peers = sorted(facts.peers_of(source) | facts.peers_of(target), key=lambda c: c.normalized)
            neighbors = tuple(self.estate.clouds[p] for p in peers if p in self.estate.clouds)
            consulted |= set(peers)
        self.consulted |= consulted
        refusals = tuple(r for r in self.refusals if r.cloud in consulted)
        return replace(facts, neighbors=neighbors, refusals=refusals)

    # -- what the topology asks of the estate
    def wanted(self) -> tuple[list[_Wanted], list[_Wanted], list[Link], list[Link], list[Reason]]:
        scope, declared = self.topology.scope, self.topology.declared()
        by_pair: dict[frozenset[CloudId], list[Link]] = {}
        outside: list[Link] = []
        for link in sorted(self.state.links.values(), key=_order):
            if scope.manages(link.source, link.target):
                by_pair.setdefault(frozenset((link.source, link.target)), []).append(link)
            else:
                outside.append(link)
        connects, removals, stay, notes = [], [], [], []
        for pair, links in by_pair.items():
            want = declared.get(pair)
            if want is None:
                removals.append(_Wanted("disconnect", links[0].source, links[0].target))
                continue
            healthy = [link for link in links if LinkStatus.normalize(link.status) in HEALTHY]
            if not healthy:
                connects.append(_Wanted("repair", links[0].source, links[0].target, want))
                continue
            stay += links
            if want.directed and not any(link.source == want.source for link in healthy):
                notes.append(_turned(want, healthy[0]))
        for pair, want in declared.items():
            if pair not in by_pair:
                connects.append(_Wanted("connect", want.source, want.target, want))
        connects.sort(key=lambda w: _pair_order((w.source, w.target)))
        removals.sort(key=lambda w: _pair_order((w.source, w.target)))
        return connects, removals, stay, outside, notes

    def run(self) -> Plan:
        connects, removals, stay, outside, notes = self.wanted()
        placed: list[tuple[_Wanted, Facts, Decision]] = []
        deferred = []
        for want in connects:  # make before break: whatever may be made before anything is cut
            facts = self.facts(Action.CONNECT, want.source, want.target)
            decision = decide(facts)
            if decision.kind == "reject":
                deferred.append(want)
                continue
            placed.append((want, facts, decision))
            self._apply(want, decision)
        for want in [*removals, *deferred]:
            action = Action.DISCONNECT if want.change == "disconnect" else Action.CONNECT
            facts = self.facts(action, want.source, want.target)
            decision = decide(facts)
            placed.append((want, facts, decision))
            self._apply(want, decision)
        # Only the verdicts at the final places count towards what was consulted.
        self.consulted = set()
        steps = []
        for number, (want, facts, decision) in enumerate(placed, 1):
            self.consulted |= {facts.source_id, facts.target_id, *(n.id for n in facts.neighbors)}
            self.consulted |= {r.cloud for r in facts.refusals}
            steps.append(
                Step(
                    number,
                    want.change,
                    want.source,
                    want.target,
                    decision,
                    want.declared.where if want.declared else None,
                    impact(facts) if want.change == "disconnect" else None,
                )
            )
        steps = _name_planned_neighbors(steps)
        end_state = self._end_state(steps)
        consulted = tuple(sorted(self.consulted, key=lambda c: c.normalized))
        return Plan(
            tuple(steps),
            tuple(stay),
            tuple(outside),
            tuple(end_state),
            tuple(notes),
            self._fingerprint(steps, consulted),
            consulted,
        )

    def _apply(self, want: _Wanted, decision: Decision) -> None:
        """The state once the step is done. A refused step is taken as done too, so the steps after it are
        judged on the state the document asks for, and every problem of the plan is found in one pass."""
        if want.change == "disconnect":
            self.state.disconnect(want.source, want.target)
        elif decision.holder is not None and decision.target is not None:
            self.state.connect(decision.holder, decision.link_name, decision.target)
        else:
            existing = self.state.pair(want.source, want.target)
            if existing:
                self.state.connect(existing[0].source, existing[0].name, existing[0].target)
            else:
                self.state.connect(want.source, link_name(want.target), want.target)

    def _end_state(self, steps: list[Step]) -> list[Reason]:
        """Every connect rule again, for each link the plan makes, against the end state with all the others;
        what the steps' own verdicts have not said already."""
        said = {_reason_key(r) for step in steps for r in step.decision.reasons}
        found: list[Reason] = []
        for step in steps:
            if step.change == "disconnect":
                continue
            removed = self.state.disconnect(step.source, step.target) if step.change == "connect" else ()
            reasons = evaluate(self.facts(Action.CONNECT, step.source, step.target))
            self.state.restore(removed)
            for reason in reasons:
                key = _reason_key(reason)
                if key not in said:
                    said.add(key)
                    found.append(reason)
        return found

    def _fingerprint(self, steps: list[Step], consulted: tuple[CloudId, ...]) -> str:
        clouds = set(consulted)
        material = {
            "version": FINGERPRINT_VERSION,
            "steps": [
                [
                    s.change,
                    s.source.normalized,
                    s.target.normalized,
                    s.decision.kind,
                    s.decision.holder.normalized if s.decision.holder else "",
                    s.decision.link_name.lower(),
                ]
                for s in steps
            ],
            "clouds": [_cloud_material(c, self.estate.clouds.get(c)) for c in consulted],
            "links": sorted(
                [link.source.normalized, link.name.lower(), link.target.normalized, _health(link.status)]
                for link in self.estate.links
                if link.source in clouds or link.target in clouds
            ),
            "pending": sorted(
                [p.request_id, p.source.normalized, p.target.normalized]
                for p in self.pending
                if p.source in clouds or p.target in clouds
            ),
            "refusals": sorted(
                [r.cloud.normalized, r.read, str(r.status), r.arm_code] for r in self.refusals if r.cloud in clouds
            ),
        }
        digest = hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode())
        return f"v{FINGERPRINT_VERSION}:{digest.hexdigest()}"


# ----------------------------------------------------------------------------------------------------- helpers


def _turned(want: DeclaredLink, link: Link) -> Reason:
    return Reason(
        "TOPOLOGY_DIRECTION_DIFFERS",
        want.where.said(
            f"the link between {want.source.short} and {want.target.short} is held by {link.source.short}, not "
            f"{want.source.short} as declared; it is left as it is (rebuilding it the other way round would cut "
            "traffic for the same route)"
        ),
        {
            "link": link.name,
            "holder": str(link.source),
            "declaredHolder": str(want.source),
            "path": want.where.path,
            "line": want.where.line,
        },
    )


def _name_planned_neighbors(steps: list[Step]) -> list[Step]:
    """NEIGHBOR_OVERLAP whose neighbour is linked by a link this plan makes names that step too: the overlap
    comes from the two new links together."""
    made = {frozenset((s.source.normalized, s.target.normalized)): s for s in steps if s.change != "disconnect"}
    named = []
    for step in steps:
        reasons = []
        for reason in step.decision.reasons:
            other = None
            if reason.code == "NEIGHBOR_OVERLAP":
                pair = frozenset(str(reason.details.get(k, "")).lower() for k in ("neighbor", "linkedTo"))
                other = made.get(pair)
            if other is None or other is step:
                reasons.append(reason)
                continue
            reasons.append(
                Reason(
                    reason.code,
                    f"{reason.message} (the link between {other.source.short} and {other.target.short} is step "
                    f"{other.number} of this plan: the two new links together make the overlap)",
                    {
                        **reason.details,
                        "plannedLink": {"step": other.number, "source": str(other.source), "target": str(other.target)},
                    },
                )
            )
        named.append(replace(step, decision=replace(step.decision, reasons=tuple(reasons))))
    return named


def _reason_key(reason: Reason) -> tuple[str, frozenset[str]]:
    """A reason's code and the clouds it names: the same problem, found at a step and again in the end state
    (with another count, or seen from the other end), is said once."""

    def ids(value: Any) -> Iterable[str]:
        if isinstance(value, str) and value.lower().startswith("/subscriptions/"):
            yield value.lower()
        elif isinstance(value, dict):
            for item in value.values():
                yield from ids(item)
        elif isinstance(value, list):
            for item in value:
                yield from ids(item)

    return reason.code, frozenset(ids(reason.details))


def _health(status: str) -> str:
    normalized = LinkStatus.normalize(status)
    return "healthy" if normalized in HEALTHY else "deleting" if normalized == LinkStatus.DELETING else "broken"


def _cloud_material(cloud_id: CloudId, facts: CloudFacts | None) -> list[Any]:
    if facts is None:
        return [cloud_id.normalized, None]
    cloud = facts.cloud
    return [
        cloud_id.normalized,
        cloud.region,
        cloud.provisioning_state,
        sorted(c.normalized for c in cloud.external_links),
        sorted([str(p.network), p.origin] for p in facts.space.prefixes),
        sorted(facts.space.problems),
        None
        if facts.permissions is None
        else sorted([sorted(p.actions), sorted(p.not_actions)] for p in facts.permissions),
    ]


def _where_view(where: Where | None) -> dict[str, Any] | None:
    return None if where is None else {"path": where.path, "line": where.line}


def _link_view(link: Link) -> dict[str, str]:
    return {
        "holder": str(link.source),
        "name": link.name,
        "linkedCloud": str(link.target),
        "status": LinkStatus.normalize(link.status),
    }
