"""ARM request throttling: a token bucket per subscription and operation type.

ARM meters reads, writes and deletes separately per subscription (docs/avs-api.md §3.2), answers 429 with
Retry-After when a bucket is empty, and reports what is left in `x-ms-ratelimit-remaining-subscription-
{reads,writes,deletes}` on every response. The simulator does the same, with ARM's published sizes by
default, so an app that fans out over a big fleet meets the throttle it would meet in Azure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from localdev.armsim.schema import Doc

OP_TYPES = ("reads", "writes", "deletes")


def op_type(method: str) -> str:
    if method == "GET":
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


@dataclass(frozen=True)
class BucketSize:
    burst: int
    refill_per_second: float

    @classmethod
    def from_doc(cls, doc: Doc) -> BucketSize:
        size = cls(
            burst=doc.integer("burst", minimum=1), refill_per_second=doc.number("refillPerSecond", minimum=0.001)
        )
        doc.done()
        return size


ARM_DEFAULTS: dict[str, BucketSize | None] = {
    "reads": BucketSize(250, 25.0),
    "writes": BucketSize(200, 10.0),
    "deletes": BucketSize(200, 10.0),
}


def _sizes(doc: Doc, base: dict[str, BucketSize | None]) -> dict[str, BucketSize | None]:
    sizes = dict(base)
    for op in OP_TYPES:
        if doc.has(op):
            value = doc.raw(op)
            sizes[op] = None if value is None else BucketSize.from_doc(Doc(value, doc.at(op)))
    return sizes


@dataclass(frozen=True)
class ThrottleConfig:
    """Bucket sizes per operation type, overridable per subscription; `None` turns metering off."""

    defaults: dict[str, BucketSize | None] = field(default_factory=lambda: dict(ARM_DEFAULTS))
    per_subscription: dict[str, dict[str, BucketSize | None]] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: Doc) -> ThrottleConfig:
        defaults = _sizes(doc, ARM_DEFAULTS)
        subs = Doc(doc.raw("subscriptions", {}) or {}, doc.at("subscriptions"))
        per_sub = {}
        for sub in subs.fields():
            sub_doc = Doc(subs.raw(sub), subs.at(sub))
            per_sub[sub.lower()] = _sizes(sub_doc, defaults)
            sub_doc.done()
        doc.done()
        return cls(defaults=defaults, per_subscription=per_sub)

    def size(self, subscription: str, op: str) -> BucketSize | None:
        return self.per_subscription.get(subscription.lower(), self.defaults)[op]


class _Bucket:
    def __init__(self, size: BucketSize, now: float) -> None:
        self.size = size
        self.tokens = float(size.burst)
        self.last = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.size.burst, self.tokens + (now - self.last) * self.size.refill_per_second)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    op: str
    remaining: int | None  # None: this operation type is not metered, so no header
    retry_after: int = 0


class Throttle:
    """The buckets themselves. Not locked: its owner (the fault engine) serialises calls."""

    def __init__(self, config: ThrottleConfig) -> None:
        self.config = config
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, subscription: str, method: str, now: float) -> Verdict:
        op = op_type(method)
        size = self.config.size(subscription, op)
        if size is None:
            return Verdict(True, op, None)
        bucket = self._buckets.setdefault((subscription.lower(), op), _Bucket(size, now))
        if bucket.take(now):
            return Verdict(True, op, int(bucket.tokens))
        # ARM gives whole seconds; a bucket that refills faster than 1/s still says 1.
        wait = (1 - bucket.tokens) / size.refill_per_second
        return Verdict(False, op, 0, max(1, math.ceil(wait)))
