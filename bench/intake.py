"""Acknowledgement latency of `POST /api/requests` at fixed arrival rates (open loop), against two baselines
measured in the same run, so the figures can be read as ratios on a noisy machine.

Starts its own local cloud and host unless `--url` names a running one. Every phase sends on a fixed
schedule (a slow answer does not delay the next send):

1. `Intake.submit` called in this process at `--slow-rate` (10/s), with the real Table store and Service Bus
   queue built against the same local cloud: what recording and queueing a request costs without the host.
2. The host at `--slow-rate`: its p50 is reported as a ratio to phase 1 (target at most 1.5x).
3. Requests the host answers without any I/O (a malformed body, 400) at `--rate` (50/s).
4. The host at `--rate`: p50, p99, max and the sustained rate (answers per second from the first send to the
   last answer; target p99 at most 100 ms and sustained = offered). The connects of phases 1, 2 and 4 keep
   the worker busy in its own process meanwhile: every one is validated against the ARM simulator.

    python -m bench.intake --rate 50 --count 500 --slow-rate 10 --slow-count 200
    python -m bench.intake --tracing     # also: phase 4 against a second host exporting traces, same run

With `--tracing` the local cloud also runs its telemetry sink (localdev/otlp) and a second host on it whose
processes export every span and metric there; the first host runs with INTERCONNECT_TELEMETRY=off. Phase 4 then
runs against each host in turn, untraced, traced, untraced, traced (half the count each time), and so does
phase 2 at the slow rate; the traced host's p50 and p99 are reported as ratios to the untraced one's, with each
host's CPU per request (the steadier figure on a shared machine): what tracing costs an acknowledgement. The two
hosts' workers take messages from the one queue, so only the HTTP instances' CPU is each host's own.

With `--url`, phase 1 needs the cloud's settings in the environment (INTERCONNECT_TABLES_CONNECTION_STRING,
ServiceBusConnection, INTERCONNECT_QUEUE_NAME) and is skipped without them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from interconnect.avs.ids import parse_cloud_id
from interconnect.errors import InterconnectError
from interconnect.linking.intake import Intake
from interconnect.linking.model import Action, Requester
from interconnect.linking.validation import Submit
from localdev import host, otlp
from localdev.chaos import cloud_id, pair_fleet
from localdev.cloud import LocalCloud
from localdev.procs import Service, free_port, wait_until


@dataclass
class Result:
    latencies: list[float]
    statuses: dict[int, int]
    elapsed: float  # from the first send to the last answer
    offered: float  # the arrival rate asked for

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def sustained(self) -> float:
        return len(self.latencies) / self.elapsed

    def line(self, label: str) -> str:
        return (
            f"{label:<22} n={len(self.latencies):<5} p50={self.pct(50) * 1000:7.1f} ms  "
            f"p99={self.pct(99) * 1000:7.1f} ms  max={max(self.latencies) * 1000:7.1f} ms  "
            f"mean={statistics.fmean(self.latencies) * 1000:7.1f} ms  "
            f"sustained={self.sustained:5.1f}/s of {self.offered:g}/s  statuses={self.statuses}"
        )


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as err:
        err.read()
        return err.code


def run(rate: float, count: int, call: Callable[[int], int]) -> Result:
    """Start `call(i)` for i in range(count) at `rate` per second on a fixed schedule; time each answer."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        started = time.perf_counter()
        status = call(i)
        latency = time.perf_counter() - started
        with lock:
            latencies.append(latency)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(count):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # the arrival schedule itself, not a wait for an effect
            pool.submit(one, i)
    return Result(latencies, statuses, time.perf_counter() - started, rate)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _niceness(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[16])


def processes(cloud: LocalCloud | None) -> dict[str, list[int]]:
    """The processes of a local cloud by role, for CPU accounting: each stand-in, the host's HTTP instances
    together (they run at the host's niceness; localdev/host/flex.py starts every other instance at +10)
    and its other instances together, and this bench."""
    found: dict[str, list[int]] = {"bench": [os.getpid()]}
    if cloud is None:
        return found
    for svc in cloud.services:
        if svc.proc is None:
            continue
        if svc.name != "host":
            found[svc.name] = [svc.proc.pid, *_children(svc.proc.pid)]
            continue
        found |= {f"host {role}": pids for role, pids in host_processes(svc).items()}
    return found


def host_processes(svc: Service) -> dict[str, list[int]]:
    """A local host's processes: itself, its HTTP instances (at its niceness) and its other instances."""
    assert svc.proc is not None
    instances = _children(svc.proc.pid)
    host_niceness = _niceness(svc.proc.pid)
    return {
        "parent": [svc.proc.pid],
        "http": [pid for pid in instances if _niceness(pid) == host_niceness],
        "others": [pid for pid in instances if _niceness(pid) != host_niceness],
    }


def cpu_now(procs: dict[str, list[int]]) -> dict[str, float]:
    now = {}
    for role, pids in procs.items():
        total = 0.0
        for pid in pids:
            with suppress(OSError):  # gone: its CPU is no longer counted
                total += _cpu_seconds(pid)
        now[role] = total
    return now


def cpu_line(before: dict[str, float], after: dict[str, float], count: int) -> str:
    return "  CPU ms per request: " + "  ".join(
        f"{role} {(after[role] - before[role]) / count * 1000:.1f}" for role in before
    )


def in_process_intake(settings: Mapping[str, str]) -> Intake:
    """The intake the host builds, with the same adapters and settings, in this process."""
    from interconnect.adapters.servicebus import ServiceBusWorkQueue
    from interconnect.adapters.tables import TableRequestStore
    from interconnect.app.bootstrap import utcnow
    from interconnect.app.settings import Settings

    s = Settings.from_env(settings)
    store = TableRequestStore.from_settings(connection_string=s.tables_connection_string, prefix=s.table_prefix)
    queue = ServiceBusWorkQueue.from_settings(queue_name=s.queue_name, connection_string=s.servicebus_connection_string)
    return Intake(store, queue, utcnow)


# Each phase's connects get pairs of their own: requests on one pair would wait for each other (decisions per
# cloud are taken in order), which measures the worker, not the intake.
WARMUP = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="arrival rate of phases 3 and 4")
    parser.add_argument("--count", type=int, default=500, help="requests in phases 3 and 4")
    parser.add_argument("--slow-rate", type=float, default=10.0, help="arrival rate of phases 1 and 2")
    parser.add_argument("--slow-count", type=int, default=200, help="requests in phases 1 and 2")
    parser.add_argument("--url", help="base URL of a running host (default: start a local cloud)")
    parser.add_argument(
        "--tracing", action="store_true", help="also measure phase 4 on a second host exporting traces (local only)"
    )
    args = parser.parse_args()
    if args.tracing and args.url:
        parser.error("--tracing starts its own hosts; it cannot be used with --url")
    with tempfile.TemporaryDirectory() as tmp:
        fleet = Path(tmp) / "fleet.json"
        fleet.write_text(json.dumps(pair_fleet(3 * WARMUP + 3 * args.slow_count + 2 * args.count)))
        cloud = None
        traced: Service | None = None
        if not args.url:
            cloud = LocalCloud(
                fleet=fleet,
                host_port=free_port(),
                telemetry_dir=Path(tmp) / "telemetry" if args.tracing else None,
                extra_settings={"INTERCONNECT_TELEMETRY": "off"} if args.tracing else {},
            ).start()
        try:
            settings = dict(os.environ) if cloud is None else cloud.app_settings()
            traced_url = None
            procs = processes(cloud)
            if cloud is not None and args.tracing:
                port = free_port()
                traced = host.service(port, {**settings, "INTERCONNECT_TELEMETRY": "auto"}).start(ready_timeout=30)
                traced_url = f"http://127.0.0.1:{port}"
                # Ready when its port opens; its other instances start right after: wait for as many as the first.
                expected = len(procs["host http"]) + len(procs["host others"])
                assert traced.proc is not None
                wait_until(lambda: len(_children(traced.proc.pid)) >= expected, 30, what="the traced host's instances")
                procs |= {f"traced {role}": pids for role, pids in host_processes(traced).items()}
            measure(args, args.url or cloud.host_url, settings, procs, traced_url)  # type: ignore[union-attr]
            if traced is not None and cloud is not None and cloud.telemetry_dir is not None:
                exported = len(otlp.spans(cloud.telemetry_dir))
                print(f"traced host exported {exported} spans to {cloud.telemetry_dir} (checked it traced)")
        finally:
            if traced is not None:
                traced.stop()
            if cloud is not None:
                cloud.stop()


def measure(
    args: argparse.Namespace,
    base: str,
    settings: Mapping[str, str],
    procs: dict[str, list[int]],
    traced_base: str | None = None,
) -> None:
    endpoint = f"{base}/api/requests"
    run_id = uuid.uuid4().hex
    # Pair offsets per phase: warm-ups, in-process, host at the slow rate, host at the rate.
    offsets = {"warmup": 0, "inprocess": 2 * WARMUP, "slow": 2 * WARMUP + args.slow_count}
    offsets["fast"] = offsets["slow"] + args.slow_count
    offsets["traced"] = offsets["fast"] + args.count  # then WARMUP more for the traced host's own warm-up

    def connect_as(phase: str, offset: int, to: str | None = None) -> Callable[[int], int]:
        url = to or endpoint

        def connect(i: int) -> int:
            body = {
                "action": "connect",
                "source": cloud_id(f"s{i + offset}"),
                "target": cloud_id(f"t{i + offset}"),
                "reference": f"BENCH-{i}",
            }
            headers = {"Content-Type": "application/json", "Idempotency-Key": f"bench-{run_id}-{phase}-{i}"}
            return post(url, json.dumps(body).encode(), headers)

        return connect

    def malformed(i: int) -> int:
        return post(endpoint, b"{not json", {"Content-Type": "application/json"})

    intake = None
    if settings.get("INTERCONNECT_TABLES_CONNECTION_STRING") and settings.get("ServiceBusConnection"):
        intake = in_process_intake(settings)
    else:
        print("phase 1 skipped: no INTERCONNECT_TABLES_CONNECTION_STRING / ServiceBusConnection in the environment")

    def submit_as(offset: int) -> Callable[[int], int]:
        assert intake is not None
        requester = Requester("api", "bench", "bench")

        def submit(i: int) -> int:
            command = Submit(
                Action.CONNECT,
                parse_cloud_id(cloud_id(f"s{i + offset}")),
                parse_cloud_id(cloud_id(f"t{i + offset}")),
                requester,
                f"BENCH-{i}",
            )
            try:
                intake.submit(command, idempotency_key=f"bench-{run_id}-inprocess-{i + offset}")
            except InterconnectError as exc:
                print(f"in-process submit {i} failed: {exc.code}")
                return 0  # counted under status 0
            return 202

        return submit

    cpu: dict[str, str] = {}

    def phase(name: str, rate: float, count: int, call: Callable[[int], int]) -> Result:
        before = cpu_now(procs)
        result = run(rate, count, call)
        cpu[name] = cpu_line(before, cpu_now(procs), count)
        return result

    # Warm-ups: first connections, lazily built clients, the host's HTTP instance and the in-process adapters.
    run(args.slow_rate, WARMUP, connect_as("warmup", offsets["warmup"]))
    if intake is not None:
        run(args.slow_rate, WARMUP, submit_as(WARMUP))
        inprocess = phase("inprocess", args.slow_rate, args.slow_count, submit_as(offsets["inprocess"]))
    if traced_base is None:
        slow = phase("slow", args.slow_rate, args.slow_count, connect_as("slow", offsets["slow"]))
    baseline = phase("baseline", args.rate, args.count, malformed)
    if traced_base is None:
        fast = phase("fast", args.rate, args.count, connect_as("fast", offsets["fast"]))
    else:
        traced_endpoint = f"{traced_base}/api/requests"
        traced_offset = offsets["traced"] + args.count
        run(args.slow_rate, WARMUP, connect_as("traced-warmup", traced_offset, traced_endpoint))
        traced_slow_offset = traced_offset + WARMUP

        def alternated(rate: float, count: int, untraced_from: int, traced_from: int) -> tuple[Result, Result]:
            """Untraced, traced, untraced, traced: half the count each time, so a busy spell of the machine falls
            on both hosts alike. Prints each host's CPU per request."""
            half = count // 2
            results: dict[str, list[Result]] = {"off": [], "on": []}
            spent: dict[str, dict[str, float]] = {"off": {}, "on": {}}
            for n in range(2):
                for which, base_offset, url in (
                    ("off", untraced_from, endpoint),
                    ("on", traced_from, traced_endpoint),
                ):
                    before = cpu_now(procs)
                    results[which].append(
                        run(rate, half, connect_as(f"{which}{rate}-{n}", base_offset + n * half, url))
                    )
                    after = cpu_now(procs)
                    for role in before:
                        spent[which][role] = spent[which].get(role, 0.0) + after[role] - before[role]
            for which, label in (("off", "host "), ("on", "traced ")):
                roles = [r for r in spent[which] if r.startswith(label)]
                per = "  ".join(f"{r} {spent[which][r] / (2 * half) * 1000:.1f}" for r in roles)
                print(f"  at {rate:g}/s tracing {which}: CPU ms per request: {per}")
            return merged(results["off"]), merged(results["on"])

        slow, traced_slow = alternated(args.slow_rate, args.slow_count, offsets["slow"], traced_slow_offset)
        fast, traced = alternated(args.rate, args.count, offsets["fast"], offsets["traced"])
        cpu["fast"] = cpu["slow"] = "  (CPU per host above)"

    print(f"at {args.slow_rate:g}/s, {args.slow_count} requests each")
    if intake is not None:
        print(inprocess.line("Intake.submit in-proc"))
        print(cpu["inprocess"])
    print(slow.line("host"))
    print(cpu["slow"])
    if intake is not None:
        print(f"ratio host/in-process at {args.slow_rate:g}/s: p50 {slow.pct(50) / inprocess.pct(50):.2f}x")
    print(f"at {args.rate:g}/s, {args.count} requests each")
    print(baseline.line("host, 400 (no I/O)"))
    print(cpu["baseline"])
    print(fast.line("host"))
    print(cpu["fast"])
    print(
        f"ratio host/400 at {args.rate:g}/s: p50 {fast.pct(50) / baseline.pct(50):.1f}x  "
        f"p99 {fast.pct(99) / baseline.pct(99):.1f}x"
    )
    if traced_base is not None:
        for rate, off, on in ((args.slow_rate, slow, traced_slow), (args.rate, fast, traced)):
            print(on.line(f"tracing on, {rate:g}/s"))
            print(
                f"ratio tracing on/off at {rate:g}/s: p50 {on.pct(50) / off.pct(50):.2f}x  "
                f"p99 {on.pct(99) / off.pct(99):.2f}x"
            )


def merged(results: list[Result]) -> Result:
    """Several runs at one rate as one: latencies and statuses pooled, elapsed summed."""
    statuses: dict[int, int] = {}
    for result in results:
        for status, n in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    return Result(
        [x for r in results for x in r.latencies], statuses, sum(r.elapsed for r in results), results[0].offered
    )


if __name__ == "__main__":
    main()
