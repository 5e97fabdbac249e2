"""Completion lag at the production defaults: how long after ARM finishes building (or removing) a link the
request reaches its terminal state, against the promised bound max(Retry-After, poll interval).

Time is compressed in a simulation, not measured: the real Worker runs against the in-memory adapters and a
scripted AVS gateway whose link turns Active a given build time after the create call, on a simulated clock that
jumps to each scheduled message's due time. The lag is what the schedule the worker produces gives, to the
second, so a build of 60 minutes takes milliseconds to simulate. Where in a poll interval ARM finishes decides
the lag, so each build length is run with its end shifted by every `--step` seconds across one bound, and the
worst lag is reported.

    python -m bench.completion [--builds 1 10 60] [--retry-after none 10 60 120] [--step 1]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from interconnect.adapters.memory import InMemoryAvs, InMemoryRequestStore, InMemoryWorkQueue
from interconnect.app.settings import Settings
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.avs.resources import Cloud, Link, LinkStatus
from interconnect.linking.facts import Preflight
from interconnect.linking.intake import Intake
from interconnect.linking.model import Action, Requester
from interconnect.linking.queue import WorkItem
from interconnect.linking.validation import Submit
from interconnect.linking.worker import Worker

SUB = "11111111-1111-1111-1111-111111111111"
# Only the settings with no default need a value; everything the worker reads keeps its production default.
PRODUCTION = Settings.from_env({"INTERCONNECT_TABLES_CONNECTION_STRING": "sim", "ServiceBusConnection": "sim"})


def _cloud(name: str, block: str) -> Cloud:
    cid = parse_cloud_id(f"/subscriptions/{SUB}/resourceGroups/rg-sim/providers/Microsoft.AVS/privateClouds/{name}")
    return Cloud(id=cid, location="westeurope", provisioning_state="Succeeded", network_block=block)


class SimClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class ScriptedAvs(InMemoryAvs):
    """AVS whose create answers with a given Retry-After and whose link is Building until `build` has passed."""

    def __init__(self, clock: SimClock, build: timedelta, retry_after: float | None) -> None:
        super().__init__()
        self.clock, self.build, self.retry_after = clock, build, retry_after
        self.started: datetime | None = None
        self.reads = 0

    def create_link(self, cloud: CloudId, name: str, target: CloudId) -> float | None:
        super().create_link(cloud, name, target)
        self.started = self.started or self.clock()
        return self.retry_after

    def get_link(self, cloud: CloudId, name: str) -> Link | None:
        link = super().get_link(cloud, name)
        self.reads += 1
        if link is not None and self.started is not None and self.clock() >= self.started + self.build:
            return Link(link.source, link.name, link.target, LinkStatus.ACTIVE)
        return link


@dataclass(frozen=True)
class Outcome:
    status: str
    lag: timedelta  # from ARM finishing to the request's terminal state
    bound: timedelta  # max(Retry-After, poll interval)
    reads: int  # GETs of the link the follow-up made
    events: int  # entries the request's audit trail holds at its end


def simulate(build: timedelta, retry_after: float | None, settings: Settings = PRODUCTION) -> Outcome:
    """One connect whose link takes `build` to turn Active, followed by the real worker to its end."""
    clock = SimClock()
    store, queue = InMemoryRequestStore(), InMemoryWorkQueue()
    avs = ScriptedAvs(clock, build, retry_after)
    hub, spoke = _cloud("hub", "10.0.0.0/22"), _cloud("spoke", "10.0.4.0/22")
    avs.add(hub)
    avs.add(spoke)
    worker = Worker(
        store,
        queue,
        avs,
        Preflight(avs, store),
        clock,
        poll_interval=settings.poll_interval,
        operation_timeout=settings.operation_timeout,
        approvals=False,
    )
    requester = Requester("api", "bench", "Bench", roles=frozenset({"Links.Request"}), verified_person=True)
    request, _ = Intake(store, queue, clock).submit(Submit(Action.CONNECT, hub.id, spoke.id, requester))
    due: list[tuple[datetime, int, WorkItem]] = []
    order = itertools.count()
    while queue.sent or due:
        while queue.sent:  # what the worker sent or scheduled, in due order (the broker's)
            item, at = queue.take()
            heapq.heappush(due, (at or clock.now, next(order), item))
        at, _, item = heapq.heappop(due)
        clock.now = max(clock.now, at)  # the clock jumps to the next message: no time passes in between
        worker.handle(item)
    final = store.get(request.id)
    assert avs.started is not None, "the worker never started the create"
    return Outcome(
        final.status.value,
        final.updated_at - (avs.started + build),
        max(timedelta(seconds=retry_after or 0), settings.poll_interval),
        avs.reads,
        len(store.events(request.id)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", type=float, nargs="+", default=[1, 10, 60], help="simulated build minutes")
    parser.add_argument(
        "--retry-after", nargs="+", default=["none", "10", "60", "120"], help="seconds, or none for absent"
    )
    parser.add_argument("--step", type=float, default=1, help="seconds between the shifted build ends")
    args = parser.parse_args()
    print(
        f"production defaults: poll interval {PRODUCTION.poll_interval.total_seconds():.0f} s, "
        f"operation timeout {PRODUCTION.operation_timeout}; simulated time"
    )
    print(
        f"{'build':>8} {'Retry-After':>12} {'runs':>5} {'worst lag':>10} {'bound':>8} {'GETs':>5} {'events':>6}  within"
    )
    worst = 0.0
    for minutes in args.builds:
        for raw in args.retry_after:
            retry_after = None if raw == "none" else float(raw)
            bound = max(retry_after or 0, PRODUCTION.poll_interval.total_seconds())
            shifts = [args.step * k for k in range(int(bound // args.step) + 1)]
            runs = [simulate(timedelta(minutes=minutes, seconds=shift), retry_after) for shift in shifts]
            assert all(r.status == "Succeeded" for r in runs), [r.status for r in runs]
            out = max(runs, key=lambda r: r.lag)
            worst = max(worst, out.lag / out.bound)
            print(
                f"{minutes:>6g} m {raw:>12} {len(runs):>5} {out.lag.total_seconds():>8.0f} s "
                f"{out.bound.total_seconds():>6.0f} s {out.reads:>5} {out.events:>6}  "
                f"{'yes' if out.lag <= out.bound else 'NO'}"
            )
    print(f"worst lag/bound: {worst:.2f}")


if __name__ == "__main__":
    main()
