"""Fuzz every route of the app on its own local cloud, with signed hostile payloads on every channel (issue 13).

Starts a local cloud and host configured like the security tier (tests/security/conftest.py: every channel,
obviously fake secrets, approvals off, timers that never fire), then sends `--count` cases drawn from the
security tier's hypothesis generators (tests/security/hostile.py), seeded with `--seed`: hostile route values,
query strings, headers and bodies on every route the app registers, with and without a function key, and
hostile payloads on every channel, correctly signed or forged. One case at a time: each answer is judged by
the tier's probe (no 5xx, the error shape, nothing stored or queued for a 4xx, no bypass of a signature or
key, listings still readable after an accepted payload), and its latency is recorded. At the end, the host's
log is read for the function key, the configured secrets and bearer tokens.

    python -m bench.fuzz --count 10000 --seed 13

Prints counts by status, 5xx, hangs, max and p99 latency, answers slower than 2 s, and every kind of
violation with examples; exits 1 on any violation, hang, secret in the log or answer slower than 2 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from azure.data.tables import TableServiceClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from localdev import azurite
from localdev.armsim import ArmSimAdmin
from localdev.cloud import QUEUE_NAME, LocalCloud
from localdev.procs import free_port
from localdev.servicebus import ServiceBusAdmin
from tests.e2e.sink import start_sink
from tests.security.conftest import FLEET, TARGET, app_settings, http_routes
from tests.security.hostile import CHANNELS, Case, Route, channel_case, route_case
from tests.security.probe import Probe
from tests.security.test_log_secrets import configured_secrets, leaks

SLOW = 2.0  # seconds: the bound on any answer
# Each accepted POST /api/audits starts a whole audit run the probe waits out (seconds); other routes answer
# in milliseconds. Weights keep every route fuzzed without the audits taking most of the run.
WEIGHTS = {"start_audit": 1}
WEIGHT = 10
CHANNEL_WEIGHT = 12  # a channel case per route case, roughly: the signed payloads reach deepest


def cases(routes: tuple[Route, ...]) -> st.SearchStrategy[Case]:
    by_route = [r for r in routes for _ in range(WEIGHTS.get(r.name, WEIGHT))]
    by_channel = [c for c in CHANNELS for _ in range(CHANNEL_WEIGHT)]
    return st.one_of(
        st.sampled_from(by_route).flatmap(lambda r: route_case(r, TARGET)),
        st.sampled_from(by_channel).flatmap(lambda c: channel_case(c, TARGET)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="cases to send (default 10000)")
    parser.add_argument("--seed", type=int, default=13, help="hypothesis seed (default 13)")
    args = parser.parse_args()
    routes = http_routes()
    keyed = {r.name: r.keyed for r in routes}
    sink = start_sink()
    with tempfile.TemporaryDirectory() as tmp:
        cloud = LocalCloud(host_port=free_port(), extra_settings=app_settings(sink.url), log_dir=Path(tmp))
        try:
            cloud.start()
            tables = TableServiceClient.from_connection_string(azurite.connection_string(cloud.tables_port))
            ArmSimAdmin(cloud.arm_url).load_fleet(FLEET)
            probe = Probe(cloud.host_url, tables, ServiceBusAdmin(cloud.sb_admin_port), QUEUE_NAME)
            by_label: Counter[str] = Counter()
            started = time.monotonic()

            @settings(
                max_examples=args.count,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @seed(args.seed)
            @given(case=cases(routes))
            def run(case: Case) -> None:
                by_label[case.label] += 1
                outcome = probe.run(case, keyed_route=keyed.get(case.label, False))
                if case.method == "POST" and outcome.status is not None and outcome.status < 400:
                    probe.still_readable(case, TARGET)
                if probe.cases % 500 == 0:
                    print(
                        f"  {probe.cases} cases, {len(probe.violations)} violations, {time.monotonic() - started:.0f}s",
                        file=sys.stderr,
                        flush=True,
                    )

            run()
            elapsed = time.monotonic() - started
            secrets = configured_secrets(cloud.app_settings())
            in_logs = [hit for log in sorted(Path(tmp).glob("*.log")) for hit in leaks(log, secrets)]
        finally:
            cloud.stop()
            sink.server.shutdown()
            sink.server.server_close()
    return report(args, probe, by_label, elapsed, in_logs)


def report(args: argparse.Namespace, probe: Probe, by_label: Counter[str], elapsed: float, in_logs: list[str]) -> int:
    statuses = {str(k): v for k, v in sorted(probe.statuses.items(), key=lambda kv: kv[0] or 0)}
    kinds = Counter(v.kind for v in probe.violations)
    errors_5xx = sum(v for k, v in probe.statuses.items() if k is not None and k >= 500)
    slow = sum(1 for latency in probe.latencies if latency > SLOW)
    print(f"bench.fuzz --count {args.count} --seed {args.seed}: {probe.cases} requests in {elapsed:.0f}s")
    print(f"  by status: {statuses}")
    print(f"  by route or channel: {dict(sorted(by_label.items()))}")
    print(
        f"  5xx: {errors_5xx}  hangs: {kinds.get('HANG', 0)}  stored/queued for a 4xx: "
        f"{kinds.get('STORED_FOR_4XX', 0)}  signature bypasses: {kinds.get('SIGNATURE_BYPASS', 0)}"
    )
    print(
        f"  latency: p50 {probe.percentile(50) * 1000:.1f} ms  p99 {probe.percentile(99) * 1000:.1f} ms  "
        f"max {max(probe.latencies, default=0) * 1000:.1f} ms  slower than {SLOW:.0f} s: {slow}"
    )
    print(f"  secrets or whole values in the host's logs: {len(in_logs)}")
    print(f"  violations: {dict(kinds) or 'none'}")
    for kind in kinds:
        for violation in [v for v in probe.violations if v.kind == kind][:3]:
            print(f"    {violation}")
    for hit in in_logs[:10]:
        print(f"    log: {hit}")
    return 1 if probe.violations or slow or in_logs else 0


if __name__ == "__main__":
    sys.exit(main())
