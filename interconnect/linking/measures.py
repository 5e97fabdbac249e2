"""The measures port: what the request services tell the metrics, as facts, where each fact is known.

The services stay free of any telemetry library: they report a transition they have just saved, an operation seen
done, a dead letter read, the approvals waiting; `adapters/metrics.py` turns those facts into OpenTelemetry
instruments (names, units, attributes). `Unmeasured` is the default, so a service built without metrics (a unit
test, a tool) records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from interconnect.linking.model import LinkRequest


class Measures(Protocol):
    def request_moved(self, before: LinkRequest, after: LinkRequest) -> None:
        """`before` became `after` and that was saved (called once per saved transition, never for a lost race)."""

    def operation_done(self, after: LinkRequest, verb: str, since_last_look: timedelta) -> None:
        """A check saw the ARM operation `verb` (create, delete) done and recorded `after` as the result.

        ARM finished at some moment after the last look that saw the operation still running (or after it was
        started), so `since_last_look` is the most the request lagged behind ARM."""

    def dead_letter(self, outcome: str) -> None:
        """The sweeper read a dead letter: `failed_request` (its request failed), or `malformed`, `unreadable`,
        `deferred` (left in the dead-letter queue, so read again at the next pass)."""

    def approvals_waiting(self, ages: Iterable[timedelta]) -> None:
        """What waits for a second person now: one age (since acceptance) per request awaiting approval."""

    def audit_findings(self, findings: Iterable[tuple[str, str]]) -> None:
        """One audit run's findings, as (code, severity) pairs, one pair per finding."""


class Unmeasured:
    """Records nothing: the default wherever no meter is configured."""

    def request_moved(self, before: LinkRequest, after: LinkRequest) -> None:
        pass

    def operation_done(self, after: LinkRequest, verb: str, since_last_look: timedelta) -> None:
        pass

    def dead_letter(self, outcome: str) -> None:
        pass

    def approvals_waiting(self, ages: Iterable[timedelta]) -> None:
        pass

    def audit_findings(self, findings: Iterable[tuple[str, str]]) -> None:
        pass
