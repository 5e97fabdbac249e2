"""Following a request until it ends (Succeeded, Rejected, Failed, Expired), a change set until it ends
(Succeeded, Failed), or an audit run until it is stored.

The request is read every `interval` seconds; each audit-trail event not yet seen goes to `Progress.event` as it
appears. A read that fails for a reason that may pass (the app unreachable, a 5xx, a 429) is reported and
retried until the deadline; any other API error ends the wait. The clock and the sleep are parameters, so the
loop is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from interconnect_cli.api import Api, ApiError, Unreachable
from interconnect_cli.exits import TERMINAL

CHANGESET_TERMINAL = ("Succeeded", "Failed")


class Progress(Protocol):
    def event(self, event: dict[str, Any], elapsed: float) -> None:
        """An audit-trail event seen for the first time; `elapsed`: seconds since the request was made."""

    def status(self, status: str) -> None:
        """The status as last read (the spinner shows it)."""

    def problem(self, text: str, elapsed: float) -> None:
        """A read failed for a reason that may pass; the wait goes on."""


class Silent:
    """Progress for --output json: nothing is shown, only the end result is printed."""

    def event(self, event: dict[str, Any], elapsed: float) -> None:
        pass

    def status(self, status: str) -> None:
        pass

    def problem(self, text: str, elapsed: float) -> None:
        pass


@dataclass
class Outcome:
    view: dict[str, Any] | None  # the last answer read (None: never read)
    finished: bool  # False: the deadline passed first
    problem: Exception | None = None  # the last read's failure, when it failed


def _instant(value: object) -> float | None:
    """An ISO 8601 time the API answered, as epoch seconds (None: absent or unreadable)."""
    try:
        return datetime.fromisoformat(str(value)).timestamp() if value else None
    except ValueError:
        return None


def passing(exc: Exception) -> bool:
    """Whether a failed read may succeed if tried again."""
    return isinstance(exc, Unreachable) or (isinstance(exc, ApiError) and (exc.status >= 500 or exc.status == 429))


@dataclass
class Follower:
    api: Api
    progress: Progress = field(default_factory=Silent)
    interval: float = 1.0
    timeout: float | None = 3600.0  # None: no deadline
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def request(self, request_id: str) -> Outcome:
        shown: set[int] = set()

        def done(view: dict[str, Any], elapsed: float) -> bool:
            created = _instant(view.get("createdAt"))
            for event in sorted(view.get("events") or [], key=lambda e: int(e.get("sequence", 0))):
                if event.get("sequence") not in shown:
                    shown.add(int(event.get("sequence", 0)))
                    # When it happened, from the app's own clock: since the request was made (no clock skew).
                    at = _instant(event.get("at"))
                    self.progress.event(event, at - created if at is not None and created is not None else elapsed)
            status = str(view.get("status", ""))
            self.progress.status(status)
            return status in TERMINAL

        return self._until(lambda: self.api.request(request_id), done)

    def changeset(self, changeset_id: str, on_step: Callable[[dict[str, Any], dict[str, Any], float], None]) -> Outcome:
        """Until the change set is Succeeded or Failed; `on_step(step, change set, elapsed)` gets each step whenever
        its status changes, from the moment it is filed (a step not filed yet is only waiting its turn)."""
        seen: dict[object, tuple[str, object]] = {}

        def done(view: dict[str, Any], elapsed: float) -> bool:
            for step in view.get("steps") or []:
                state = (str(step.get("status", "")), step.get("requestId"))
                key = step.get("index")
                if seen.get(key) != state and (key in seen or step.get("requestId")):
                    on_step(step, view, elapsed)
                seen[key] = state
            status = str(view.get("status", ""))
            self.progress.status(status)
            return status in CHANGESET_TERMINAL

        return self._until(lambda: self.api.changeset(changeset_id), done)

    def audit(self, run_id: str) -> Outcome:
        """Until GET /api/audits/{id} answers (404 AUDIT_NOT_FOUND while the worker is still running it)."""

        def read() -> dict[str, Any] | None:
            try:
                return self.api.audit(run_id)
            except ApiError as exc:
                if exc.status == 404 and exc.code == "AUDIT_NOT_FOUND":
                    return None
                raise

        return self._until(read, lambda view, elapsed: True)

    def _until(
        self,
        read: Callable[[], dict[str, Any] | None],
        done: Callable[[dict[str, Any], float], bool],
    ) -> Outcome:
        started = self.clock()
        last: dict[str, Any] | None = None
        problem: Exception | None = None
        while True:
            elapsed = self.clock() - started
            try:
                view = read()
            except (Unreachable, ApiError) as exc:
                if not passing(exc):
                    raise
                self.progress.problem(str(exc), elapsed)
                view, problem = None, exc
            else:
                problem = None
            if view is not None:
                last = view
                if done(view, elapsed):
                    return Outcome(view, True)
            elapsed = self.clock() - started
            if self.timeout is not None and elapsed >= self.timeout:
                return Outcome(last, False, problem)
            pause = self.interval if self.timeout is None else min(self.interval, self.timeout - elapsed)
            self.sleep(max(pause, 0.0))
