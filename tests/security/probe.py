"""Send hostile cases to the app on a local cloud and judge each answer against the rules every answer obeys.

The rules (issue 13): no 5xx (health may say 503 when a dependency is down, with its report), no hang, every
4xx the app gives has the error shape `{"error": {"code": "UPPER_SNAKE", "message": "..."}}`, and a 4xx
stores and queues nothing: the row count of every table and the queue's active, scheduled and dead-letter
counts are the same after it as before. Answers the Functions host gives without running the app (401 for a
missing function key, 404/405 for no route) carry no body, as in Azure; 414 and 431 (a request line or
headers over the HTTP server's limits) come before any routing and carry the server's own page.

A case is judged alone: after an answer that may have started work (any non-4xx), the probe waits until
the queue is empty before it takes the next baseline, so work a valid request started is never blamed on the
next hostile one. If the queue never empties (a request that never settles, itself a violation), the store
check cannot be made until it does: the probe counts the cases it could not check instead of waiting again
for each, so a broken app fails the tier in minutes rather than hours. Used by the security tier and by
bench/fuzz.py; it asserts nothing itself.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from azure.data.tables import TableServiceClient

from localdev.procs import wait_until
from localdev.servicebus import ServiceBusAdmin
from tests.security.hostile import Case, Target

HANG_SECONDS = 30.0  # a hang detector only; bench/fuzz.py reports the real latencies
ERROR_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
MAX_ERROR_BODY = 8 * 1024  # an error that echoes a 20 KB input back is not one a person can act on
QUIET_SECONDS = 30.0  # a valid connect settles in a few seconds on the local cloud


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no answer (hang or connection dropped)
    body: bytes
    latency: float
    error: str = ""


@dataclass(frozen=True)
class Violation:
    kind: str
    case: Case
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}\n    {self.case.describe()}"


@dataclass
class Probe:
    base_url: str  # http://127.0.0.1:port
    tables: TableServiceClient
    bus: ServiceBusAdmin
    queue: str
    statuses: Counter[int | None] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    cases: int = 0
    unchecked: int = 0  # 4xx answers whose store check could not be made (the app had not settled)
    _baseline: dict[str, int] | None = None
    _settled: bool = True

    # -- state ----------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, int]:
        """Row count per table and the queue's counts: what a 4xx must leave unchanged."""
        counts = {
            f"table {t.name}": sum(
                1 for _ in self.tables.get_table_client(t.name).list_entities(select=["PartitionKey"])
            )
            for t in self.tables.list_tables()
        }
        stats = self.bus.queue(self.queue)
        counts.update({f"queue {k}": int(stats[k]) for k in ("active", "scheduled", "deadLetter")})
        return counts

    def quiet(self) -> bool:
        """The worker has finished what earlier valid requests started: nothing active or scheduled."""
        stats = self.bus.queue(self.queue)
        return int(stats["active"]) == 0 and int(stats["scheduled"]) == 0

    def rebaseline(self, after: Case | None = None) -> None:
        """Wait for the app to settle (once: not again while it has not) and take the baseline."""
        try:
            wait_until(self.quiet, QUIET_SECONDS if self._settled else 0, interval=0.1, what="the queue to empty")
        except TimeoutError:
            if self._settled and after is not None:
                self.violations.append(
                    Violation(
                        "NEVER_SETTLED",
                        after,
                        f"the queue was not empty {QUIET_SECONDS:.0f}s after this answer: {self.bus.queue(self.queue)}",
                    )
                )
            self._settled, self._baseline = False, None
            return
        self._settled, self._baseline = True, self.snapshot()

    # -- one case -------------------------------------------------------------------------------------------

    def send(self, case: Case) -> Outcome:
        split = urllib.parse.urlsplit(self.base_url)
        connection = http.client.HTTPConnection(split.hostname, split.port, timeout=HANG_SECONDS)
        started = time.perf_counter()
        try:
            connection.putrequest(case.method, "/api/" + case.path, skip_accept_encoding=True)
            for name, value in case.headers.items():
                connection.putheader(name, value.encode("latin-1"))
            body = case.body or b""
            if case.body is not None or case.method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body if body else None)
            response = connection.getresponse()
            data = response.read()
            return Outcome(response.status, data, time.perf_counter() - started)
        except TimeoutError:
            return Outcome(None, b"", time.perf_counter() - started, f"no answer within {HANG_SECONDS:.0f}s")
        except (OSError, http.client.HTTPException) as error:
            return Outcome(None, b"", time.perf_counter() - started, f"no answer: {type(error).__name__}: {error}")
        finally:
            connection.close()

    def run(self, case: Case, *, keyed_route: bool = False) -> Outcome:
        """Send `case`, judge the answer, and record any violation; returns the outcome."""
        if self._baseline is None:
            self.rebaseline()
        before = self._baseline  # None: the app has not settled, the store check cannot be made
        outcome = self.send(case)
        self.cases += 1
        self.statuses[outcome.status] += 1
        self.latencies.append(outcome.latency)
        found = judge(case, outcome, keyed_route=keyed_route)
        if outcome.status is not None and 400 <= outcome.status < 500 and before is None:
            self.unchecked += 1
            self.rebaseline()
        elif outcome.status is not None and 400 <= outcome.status < 500:
            after = self.snapshot()
            changed = {
                k: (before.get(k, 0), after.get(k, 0))
                for k in sorted(set(before) | set(after))
                if before.get(k, 0) != after.get(k, 0)
            }
            if changed:
                found.append(Violation("STORED_FOR_4XX", case, f"{outcome.status} but {changed} (before, after)"))
            self._baseline = after
        else:
            self.rebaseline(after=case)
        self.violations.extend(found)
        return outcome

    def still_readable(self, case: Case, target: Target) -> list[Violation]:
        """What an accepted request must leave working: the listing, overall and for each cloud of the fleet
        (one signed Slack action once stored a row that made every later listing answer 400)."""
        found = []
        key = {"x-functions-key": target.function_key}
        paths = ["requests"] + [
            f"requests?cloud={urllib.parse.quote(target.cloud_id(n), safe='')}" for n in target.clouds
        ]
        for path in paths:
            answer = self.send(Case("list_requests", "GET", path, key, keyed=True))
            if answer.status != 200:
                found.append(
                    Violation(
                        "POISONED",
                        case,
                        f"afterwards GET /api/{path[:60]} answers {answer.status} {answer.body[:200]!r}",
                    )
                )
        self.violations.extend(found)
        return found

    # -- reporting ------------------------------------------------------------------------------------------

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0

    def summary(self, limit: int = 3) -> str:
        kinds = Counter(v.kind for v in self.violations)
        statuses = dict(sorted(self.statuses.items(), key=lambda kv: str(kv[0])))
        lines = [
            f"{self.cases} cases ({self.unchecked} 4xx unchecked for storage: the app had not settled); "
            f"statuses {statuses}; "
            f"violations {dict(kinds)}"
        ]
        for kind in kinds:
            shown = [v for v in self.violations if v.kind == kind][:limit]
            lines += [f"  {v}" for v in shown]
        return "\n".join(lines)


def error_body(body: bytes) -> dict[str, Any] | None:
    """The `error` object of an error answer, or None if the body is not the error shape."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    error = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(error, dict):
        return None
    code, message = error.get("code"), error.get("message")
    if not (isinstance(code, str) and ERROR_CODE.fullmatch(code) and isinstance(message, str) and message.strip()):
        return None
    return error


def judge(case: Case, outcome: Outcome, *, keyed_route: bool) -> list[Violation]:
    """Every rule the answer to `case` breaks (the store check is the probe's, as it needs the baseline)."""
    found: list[Violation] = []

    def violation(kind: str, detail: str) -> None:
        found.append(Violation(kind, case, detail))

    status, body = outcome.status, outcome.body
    if status is None:
        violation("HANG", outcome.error)
        return found
    shown = body[:300]
    if status >= 500:
        degraded = status == 503 and case.label == "health" and _json(body).get("status") == "degraded"
        if not degraded:
            violation("5XX", f"{status} {shown!r}")
    if 400 <= status < 500:
        # The HTTP server's own refusals: a request line or headers over its limits (414, 431, before any
        # routing; the local host's stdlib server answers them in HTML, as Azure's front end does in its own way).
        host_answer = status in (414, 431) or (
            not body and (status in (404, 405) or (status == 401 and keyed_route and not case.keyed))
        )
        if not host_answer and error_body(body) is None:
            violation("ERROR_SHAPE", f"{status} {shown!r}")
        if len(body) > MAX_ERROR_BODY:
            violation("ECHO", f"{status} with a {len(body)}-byte error body")
    if case.must_fail_signature and status not in (401, 413):
        kind = "SIGNATURE_BYPASS" if status < 400 else "SIGNATURE_NOT_CHECKED_FIRST"
        violation(kind, f"{status} for a badly signed payload: {shown!r}")
    if case.must_fail_signature and status == 401 and body and (error_body(body) or {}).get("code") != "BAD_SIGNATURE":
        violation("SIGNATURE_DETAIL", f"401 that is not BAD_SIGNATURE: {shown!r}")
    if case.must_reject and status < 400:
        violation("ACCEPTED_INVALID", f"{status} for an invalid request: {shown!r}")
    if keyed_route and not case.keyed and status < 400:
        violation("AUTH_BYPASS", f"{status} without a function key")
    return found


def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
