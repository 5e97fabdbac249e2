"""The private clouds short names are resolved against: those of the configured subscriptions, listed and cached.

Chat (interconnect/channels/inbound.py) and `GET /api/clouds` both resolve what a person typed ('name',
'resource-group/name') against this one listing. It is cached because a chat command must answer within seconds
and listing every subscription is a paged ARM read each; a cloud made in the last few minutes may therefore
need its full id until the cache turns over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from interconnect.avs.gateway import AvsGateway
from interconnect.avs.ids import CloudId
from interconnect.errors import DependencyError, InterconnectError

log = logging.getLogger(__name__)
CLOUD_CACHE_SECONDS = 300


@dataclass
class KnownClouds:
    """`list()`: the clouds of `subscriptions`, read through `avs` at most once every `ttl` seconds. A
    subscription that cannot be listed is logged and left out, so one bad subscription leaves the others usable;
    when none can be, `list()` raises DependencyError and caches nothing."""

    avs: AvsGateway
    subscriptions: tuple[str, ...]
    now: Callable[[], float] = time.monotonic
    ttl: float = CLOUD_CACHE_SECONDS
    _cached: tuple[float, list[CloudId]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def list(self) -> list[CloudId]:
        cached = self._cached
        if cached is not None and self.now() - cached[0] < self.ttl:
            return cached[1]
        # One listing at a time: concurrent callers on a cold cache would each page through every subscription.
        with self._lock:
            cached = self._cached
            if cached is not None and self.now() - cached[0] < self.ttl:
                return cached[1]
            clouds: list[CloudId] = []
            failures: list[InterconnectError] = []
            for subscription in self.subscriptions:
                try:
                    clouds += [cloud.id for cloud in self.avs.list_clouds(subscription)]
                except InterconnectError as exc:
                    log.warning("cannot list clouds of %s: %s", subscription, exc.message)
                    failures.append(exc)
            if failures and len(failures) == len(self.subscriptions):
                # Nothing listed at all is an outage, not an empty estate: neither cached nor answered as "no
                # such cloud", which would send a person hunting for a typo while ARM is down.
                raise DependencyError(f"cannot list the private clouds of any subscription: {failures[-1].message}")
            self._cached = (self.now(), clouds)
            return clouds
