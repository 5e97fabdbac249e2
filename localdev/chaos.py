"""Drive the app on the local cloud under faults, and check what must hold afterwards.

Shared by the reliability tests (small runs) and `bench/chaos.py` (full runs). The checks are the promises
the pipeline makes: every accepted request ends in a terminal state, no link is created twice, and every
audit trail is complete and in order.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interconnect.linking.lifecycle import ALLOWED
from interconnect.linking.model import Status
from localdev.armsim import ArmSimAdmin
from localdev.cloud import QUEUES, LocalCloud
from localdev.procs import free_port, wait_until

TERMINAL = {s.value for s in Status if s.is_terminal}
# What a call sees of a host that is down or was killed mid-answer (IncompleteRead is no ConnectionError).
HOST_GONE = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)
CHAOS_SUB = "44444444-4444-4444-4444-444444444444"


CHAOS_SETTINGS = {
    "INTERCONNECT_POLL_INTERVAL_SECONDS": "1",
    "INTERCONNECT_STALE_MINUTES": "0.5",
    "INTERCONNECT_SWEEP_SCHEDULE": "*/2 * * * * *",
    "INTERCONNECT_APPROVALS": "off",
}


def chaos_cloud(directory: Path) -> LocalCloud:
    """A local cloud fit for faults (not started): on-disk Azurite, which must survive restarts; a queue lock
    of 5 s, so a killed host's messages come back in seconds, not a minute; a sweeper every 2 s."""
    config = json.loads(QUEUES.read_text())
    for queue in config["queues"]:
        queue["lockDuration"] = "PT5S"
    queues = directory / "queues.json"
    queues.write_text(json.dumps(config))
    return LocalCloud(
        queues=queues,
        data_dir=directory,
        host_port=free_port(),
        extra_settings=CHAOS_SETTINGS,
        log_dir=directory / "logs",
    )


def cloud_id(name: str, sub: str = CHAOS_SUB, rg: str = "rg-chaos") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/{name}"


def pair_fleet(
    pairs: int, *, build_seconds: float = 1, faults: dict[str, Any] | None = None, extra: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    """`pairs` pairs (s<i>, t<i>) in one region, every cloud with its own /22, no links: each pair may be linked."""
    clouds = []
    for i in range(2 * pairs):
        clouds.append(
            {
                "name": f"{'st'[i % 2]}{i // 2}",
                "location": "westeurope",
                "networkBlock": f"10.{(i * 4) // 256}.{(i * 4) % 256}.0/22",
            }
        )
    return {
        "settings": {"buildSeconds": build_seconds, "deleteSeconds": build_seconds, "retryAfter": 1},
        "faults": faults or {},
        "subscriptions": [
            {"id": CHAOS_SUB, "resourceGroups": [{"name": "rg-chaos", "privateClouds": [*clouds, *extra]}]}
        ],
    }


def arm_faults(rate: float, seed: int = 7) -> dict[str, Any]:
    """`rate` of ARM calls fail, split evenly: 429 with Retry-After, 500, 503, dropped connection."""
    share = rate / 4
    # Each rule draws only for calls no earlier rule answered, so scale to make the shares add up.
    return {
        "seed": seed,
        "errors": [
            {"status": 429, "rate": share, "retryAfter": 1},
            {"status": 500, "rate": share / (1 - share)},
            {"status": 503, "rate": share / (1 - 2 * share)},
        ],
        "drops": [{"rate": share / (1 - 3 * share)}],
        # ARM's own throttle is not the fault under test here.
        "throttle": {"reads": None, "writes": None, "deletes": None},
    }


@dataclass
class Api:
    """A client of the app's REST API that retries as a well-behaved caller does: same Idempotency-Key."""

    base_url: str
    key: str = ""
    timeout: float = 120

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {
            "Content-Type": "application/json",
            **({"x-functions-key": self.key} if self.key else {}),
            **(headers or {}),
        }
        request = urllib.request.Request(f"{self.base_url}/api/{path}", data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            with err:
                return err.code, json.loads(err.read() or b"null")

    def submit(self, body: dict[str, Any], key: str) -> str:
        """POST until the app answers 2xx; a host that is down or a 503 is retried with the same key."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                status, answer = self.call("POST", "requests", body, {"Idempotency-Key": key})
                if status in (200, 202):
                    return str(answer["requestId"])
                if status != 503:
                    raise AssertionError(f"POST answered {status}: {answer}")
            except HOST_GONE:
                pass  # the host is down, or died mid-answer (a crash test); try again
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not submit {key}")
            time.sleep(0.2)  # a caller's retry interval, not a wait for an effect

    def view(self, request_id: str) -> dict[str, Any] | None:
        try:
            status, answer = self.call("GET", f"requests/{request_id}")
        except HOST_GONE:
            return None
        return answer if status == 200 else None


def wait_terminal(api: Api, ids: Iterable[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Every request's final view; raises TimeoutError naming the ones still open."""
    views: dict[str, dict[str, Any]] = {}
    pending = set(ids)

    def done() -> bool:
        for request_id in list(pending):
            view = api.view(request_id)
            if view is not None and view["status"] in TERMINAL:
                views[request_id] = view
                pending.discard(request_id)
        return not pending

    try:
        wait_until(done, timeout, interval=0.25, what="every request to finish")
    except TimeoutError:
        raise TimeoutError(f"{len(pending)} requests still open: {sorted(pending)[:5]}") from None
    return views


def trail_problems(view: dict[str, Any]) -> list[str]:
    """What is wrong with a request's audit trail: gaps, disorder, forbidden transitions, a wrong end."""
    events = [e for e in view["events"] if e["kind"] == "status"]  # notes sit between them
    problems = []
    if [e["sequence"] for e in events] != list(range(1, len(events) + 1)):
        problems.append("sequence numbers are not 1..n")
    if not events or events[0]["status"] != "Accepted" or events[0]["previous"] is not None:
        problems.append("does not start with Accepted")
    for before, after in itertools.pairwise(events):
        if after["previous"] != before["status"]:
            problems.append(f"event {after['sequence']} follows {before['status']} but says {after['previous']}")
        elif Status(after["status"]) not in ALLOWED[Status(before["status"])]:
            problems.append(f"{before['status']} → {after['status']} is not allowed")
    if events and events[-1]["status"] != view["status"]:
        problems.append(f"last event is {events[-1]['status']} but the request is {view['status']}")
    return [f"{view['requestId']}: {p}" for p in problems]


@dataclass
class Report:
    statuses: Counter[str]
    duplicate_creates: dict[str, int]
    trail_problems: list[str]
    puts: int
    calls: int
    faults_fired: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.duplicate_creates and not self.trail_problems

    def summary(self) -> str:
        return (
            f"statuses {dict(self.statuses)}; ARM calls {self.calls} ({self.faults_fired} faults injected), "
            f"PUTs {self.puts}; links created twice: {len(self.duplicate_creates)}; "
            f"audit trail problems: {len(self.trail_problems)}" + "".join(f"; {k} {v}" for k, v in self.extra.items())
        )


def check(views: dict[str, dict[str, Any]], arm: ArmSimAdmin) -> Report:
    puts = arm.calls("cloudLinks.put")
    created = Counter(call["path"].lower() for call in puts if call["status"] == 201)
    fired = arm.faults().get("fired", {})
    return Report(
        statuses=Counter(v["status"] for v in views.values()),
        duplicate_creates={path: n for path, n in created.items() if n > 1},
        trail_problems=[p for v in views.values() for p in trail_problems(v)],
        puts=len(puts),
        calls=len(arm.calls()),
        faults_fired=sum(sum(counts) for counts in fired.values() if isinstance(counts, list)),
    )


def crash_loop(
    kill: Callable[[], None],
    restart: Callable[[], None],
    times: int,
    rng: random.Random,
    stop: threading.Event,
    low: float = 0.5,
    high: float = 3.0,
) -> int:
    """Kill and restart the host `times` times at random moments until `stop` is set; returns the kills made."""
    kills = 0
    while kills < times and not stop.wait(rng.uniform(low, high)):
        kill()
        restart()
        kills += 1
    return kills
