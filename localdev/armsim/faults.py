"""Fault injection: latency, injected error responses, dropped connections, link outcomes, throttling.

Tests use these to make the simulated ARM misbehave the ways real ARM does, so each rule can be aimed
(by method, call kind, path glob, subscription), rationed (`rate` is a probability, `count` a budget),
and replayed (`seed` makes the draws deterministic for a given order of calls). The configuration is a
plain document, the `faults` section of a fleet or the body of `PUT/PATCH /admin/faults`; its format is
in localdev/ARMSIM.md.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from localdev.armsim.errors import ConfigError
from localdev.armsim.ids import parse_cloud_id
from localdev.armsim.routes import KINDS
from localdev.armsim.schema import Doc, compile_glob
from localdev.armsim.throttle import Throttle, ThrottleConfig, Verdict

METHODS = ("GET", "PUT", "DELETE", "PATCH", "POST")
OUTCOMES = ("Active", "Failed", "Disconnected", "Building")
_DEFAULT_CODES = {
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass(frozen=True)
class Call:
    """What a rule's scope is matched against."""

    method: str
    path: str
    kind: str
    subscription: str | None


@dataclass(frozen=True)
class Scope:
    methods: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    path: re.Pattern[str] | None = None
    subscriptions: frozenset[str] | None = None

    @classmethod
    def from_doc(cls, doc: Doc) -> Scope:
        methods = [m.upper() for m in doc.str_list("methods")]
        for m in methods:
            if m not in METHODS:
                raise ConfigError(f"{doc.at('methods')}: unknown method {m!r}")
        kinds = doc.str_list("kinds")
        for k in kinds:
            if k not in KINDS:
                raise ConfigError(f"{doc.at('kinds')}: unknown kind {k!r}; known: {sorted(KINDS)}")
        path = doc.opt_str("path")
        subs = doc.str_list("subscriptions")
        return cls(
            methods=frozenset(methods) or None,
            kinds=frozenset(kinds) or None,
            path=compile_glob(path) if path else None,
            subscriptions=frozenset(s.lower() for s in subs) or None,
        )

    def matches(self, call: Call) -> bool:
        return (
            (self.methods is None or call.method in self.methods)
            and (self.kinds is None or call.kind in self.kinds)
            and (self.path is None or bool(self.path.match(call.path)))
            and (self.subscriptions is None or (call.subscription or "").lower() in self.subscriptions)
        )


@dataclass
class Rule:
    """A fault that fires on matching calls with probability `rate`, at most `count` times."""

    scope: Scope = field(default_factory=Scope)
    rate: float = 1.0
    count: int | None = None
    fired: int = 0

    @staticmethod
    def common(doc: Doc) -> dict[str, Any]:
        """The fields every rule has: its scope, `rate` and `count`."""
        return {
            "scope": Scope.from_doc(doc),
            "rate": doc.number("rate", 1.0, maximum=1.0),
            "count": doc.opt_integer("count", minimum=1),
        }

    def fires(self, call: Call, rng: random.Random) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if not self.scope.matches(call):
            return False
        # Draw only for matching calls, so unrelated traffic does not shift a seeded sequence.
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        self.fired += 1
        return True


@dataclass
class LatencyRule(Rule):
    ms: float = 0.0

    @classmethod
    def from_doc(cls, doc: Doc) -> LatencyRule:
        rule = cls(ms=doc.number("ms"), **cls.common(doc))
        doc.done()
        return rule


@dataclass
class ErrorRule(Rule):
    status: int = 503
    code: str = "ServiceUnavailable"
    retry_after: float | None = None

    @classmethod
    def from_doc(cls, doc: Doc) -> ErrorRule:
        status = doc.integer("status", minimum=400)
        if status > 599:
            raise ConfigError(f"{doc.at('status')}: expected a 4xx or 5xx status, got {status}")
        retry_after = doc.raw("retryAfter", 1.0 if status == 429 else None)
        if retry_after is not None:
            retry_after = doc.number("retryAfter", retry_after)
        rule = cls(
            status=status,
            code=doc.str("code", _DEFAULT_CODES.get(status, "InjectedFault")),
            retry_after=retry_after,
            **cls.common(doc),
        )
        doc.done()
        return rule


@dataclass
class DropRule(Rule):
    after: bool = False  # close after the request took effect, so a retry meets the changed state

    @classmethod
    def from_doc(cls, doc: Doc) -> DropRule:
        rule = cls(after=doc.choice("when", ("before", "after"), "before") == "after", **cls.common(doc))
        doc.done()
        return rule


def _same_cloud(ref: str, cloud_id: str, cloud_name: str) -> bool:
    if "/" in ref:
        return parse_cloud_id(ref) == parse_cloud_id(cloud_id)
    return ref.lower() == cloud_name.lower()


@dataclass
class OutcomeRule:
    """How a link created by PUT ends: `Failed`, `Disconnected`, or stuck in `Building`."""

    status: str
    link: re.Pattern[str] | None = None
    source: str | None = None
    target: str | None = None
    count: int | None = None
    fired: int = 0

    @classmethod
    def from_doc(cls, doc: Doc) -> OutcomeRule:
        link = doc.opt_str("link")
        rule = cls(
            status=doc.choice("status", OUTCOMES),
            link=compile_glob(link) if link else None,
            source=doc.opt_str("source"),
            target=doc.opt_str("target"),
            count=doc.opt_integer("count", minimum=1),
        )
        doc.done()
        return rule

    def fires(self, link_name: str, source: tuple[str, str], target: tuple[str, str]) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if (
            (self.link is not None and not self.link.match(link_name))
            or (self.source is not None and not _same_cloud(self.source, *source))
            or (self.target is not None and not _same_cloud(self.target, *target))
        ):
            return False
        self.fired += 1
        return True


@dataclass
class FaultConfig:
    """Parsed faults; `source` is the document as given, served by GET /admin/faults and merged by PATCH."""

    source: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    latency: list[LatencyRule] = field(default_factory=list)
    errors: list[ErrorRule] = field(default_factory=list)
    drops: list[DropRule] = field(default_factory=list)
    link_outcomes: list[OutcomeRule] = field(default_factory=list)
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)

    @classmethod
    def from_dict(cls, data: object, where: str = "faults") -> FaultConfig:
        doc = Doc(data, where)
        config = cls(
            source=dict(cast(Mapping[str, Any], data)),  # Doc() has checked it is a mapping
            seed=doc.opt_integer("seed"),
            latency=[LatencyRule.from_doc(d) for d in doc.docs("latency")],
            errors=[ErrorRule.from_doc(d) for d in doc.docs("errors")],
            drops=[DropRule.from_doc(d) for d in doc.docs("drops")],
            link_outcomes=[OutcomeRule.from_doc(d) for d in doc.docs("linkOutcomes")],
            throttle=ThrottleConfig.from_doc(Doc(doc.raw("throttle", {}) or {}, doc.at("throttle"))),
        )
        doc.done()
        return config


@dataclass(frozen=True)
class Decision:
    delay: float = 0.0
    drop: DropRule | None = None
    error: ErrorRule | None = None


class Faults:
    """The live fault state: configuration, fire counters, seeded random draws and throttle buckets."""

    def __init__(self, config: FaultConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        """Replace every rule and reset counters, random sequence and buckets."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._throttle = Throttle(config.throttle)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            c = self._config
            return {
                "config": c.source,
                "fired": {
                    "latency": [r.fired for r in c.latency],
                    "errors": [r.fired for r in c.errors],
                    "drops": [r.fired for r in c.drops],
                    "linkOutcomes": [r.fired for r in c.link_outcomes],
                },
            }

    def decide(self, call: Call) -> Decision:
        with self._lock:
            c = self._config
            delay = sum(r.ms for r in c.latency if r.fires(call, self._rng)) / 1000.0
            drop = next((r for r in c.drops if r.fires(call, self._rng)), None)
            error = None if drop else next((r for r in c.errors if r.fires(call, self._rng)), None)
            return Decision(delay=delay, drop=drop, error=error)

    def meter(self, subscription: str, method: str) -> Verdict:
        with self._lock:
            return self._throttle.take(subscription, method, self._clock())

    def link_outcome(self, link_name: str, source: tuple[str, str], target: tuple[str, str]) -> str:
        """The status a new link settles in; `source`/`target` are (id, name)."""
        with self._lock:
            rule = next((r for r in self._config.link_outcomes if r.fires(link_name, source, target)), None)
            return rule.status if rule else "Active"
