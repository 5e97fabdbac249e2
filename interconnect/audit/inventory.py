"""The link inventory: every private cloud of the configured subscriptions, its links and routed space.

Read once per audit run, at the speed ARM allows: one paged list per subscription (the list already carries
each cloud's properties, incoming links included), then exactly three reads per cloud (its cloud links, NSX
segments and Global Reach connections), with bounded concurrency per subscription. Throttling (429) is
waited out as the server's Retry-After says; nothing is read twice in one run.

A read ARM refuses or answers malformed does not stop the run: it is kept in `unreadable` (the audit turns it
into an UNREADABLE_CLOUD finding) and the rest is read on. A listing with malformed items keeps its
well-formed ones, so a subscription with one broken cloud is still audited; the finding says the part read
is not the whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from interconnect.audit.model import CloudRecord, Inventory, UnreadableRead
from interconnect.avs.gateway import AvsGateway
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud
from interconnect.avs.routed import routed_space
from interconnect.errors import ArmError, DependencyError, InterconnectError, MalformedAnswerError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class InventoryReader:
    avs: AvsGateway
    concurrency: int = 8  # parallel reads per subscription (ARM throttles per subscription)
    give_up_after: float = 600.0  # seconds a single read may keep being throttled before it is reported
    sleep: Callable[[float], None] = time.sleep
    _problems: list[str] = field(default_factory=list, repr=False)
    _unreadable: list[UnreadableRead] = field(default_factory=list, repr=False)
    _unlisted: set[str] = field(default_factory=set, repr=False)

    def read(self, subscriptions: Iterable[str], now: datetime) -> Inventory:
        self._problems, self._unreadable, self._unlisted = [], [], set()
        subscriptions = list(dict.fromkeys(s.lower() for s in subscriptions))
        records: dict[CloudId, CloudRecord] = {}
        if subscriptions:
            with ThreadPoolExecutor(len(subscriptions)) as pool:
                for found in pool.map(self._read_subscription, subscriptions):
                    records.update(found)
        return Inventory(now, records, tuple(self._problems), tuple(self._unreadable), frozenset(self._unlisted))

    def _read_subscription(self, subscription: str) -> dict[CloudId, CloudRecord]:
        clouds = self._patiently(
            lambda: self.avs.list_clouds(subscription),
            f"subscription {subscription}",
            f"/subscriptions/{subscription}",
            "privateClouds.list",
        )
        listing = f"/subscriptions/{subscription}"
        if clouds is None or any(r.subject == listing and r.read == "privateClouds.list" for r in self._unreadable):
            self._unlisted.add(subscription)  # not read whole: a cloud it does not list is unknown, not gone
        if clouds is None:
            return {}
        with ThreadPoolExecutor(self.concurrency) as pool:
            return {record.cloud.id: record for record in pool.map(self._read_cloud, clouds) if record is not None}

    def _read_cloud(self, cloud: Cloud) -> CloudRecord | None:
        subject = str(cloud.id)
        links = self._patiently(
            lambda: self.avs.list_links(cloud.id), f"links of {cloud.id.short}", subject, "cloudLinks.list"
        )
        segments = self._patiently(
            lambda: self.avs.list_segments(cloud.id), f"segments of {cloud.id.short}", subject, "segments.list"
        )
        reach = self._patiently(
            lambda: self.avs.list_global_reach(cloud.id),
            f"Global Reach of {cloud.id.short}",
            subject,
            "globalReach.list",
        )
        space = routed_space(cloud, tuple(segments or ()), tuple(reach or ()))
        return CloudRecord(cloud, tuple(links or ()), space)

    def _patiently(self, read: Callable[[], list[T]], what: str, subject: str, name: str) -> list[T] | None:
        """One read, waiting out throttling and blips (the SDK already retried a few times) until a deadline.

        A refusal or a malformed answer is kept (`unreadable`) and the run goes on; of a malformed listing,
        the well-formed part is returned.
        """
        deadline = time.monotonic() + self.give_up_after
        while True:
            try:
                return read()
            except DependencyError as exc:
                if time.monotonic() + (exc.retry_after or 1) > deadline:
                    self._problems.append(f"{what}: {exc.message}")
                    return None
                self.sleep(exc.retry_after or 1)
            except ArmError as exc:
                partial: list[T] | None = exc.partial if isinstance(exc, MalformedAnswerError) else None
                self._problems.append(f"{what}: {exc.message}")
                self._unreadable.append(UnreadableRead(subject, name, exc.code, exc.message, partial is not None))
                return partial
            except InterconnectError as exc:
                self._problems.append(f"{what}: {exc.message}")
                return None
