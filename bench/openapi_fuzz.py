"""Fuzz the API from its own OpenAPI document on a local cloud of its own (issue 17): many seeded cases per operation.

Starts a local cloud and host configured like the security tier (tests/security/conftest.py: every channel,
obviously fake secrets, approvals off, timers that never fire), reads the document the app serves at
GET /api/openapi.json, and for every operation sends the document's examples, then `--examples` cases that
fit its schemas and `--examples` that break them, drawn by schemathesis and seeded with `--seed`, each with
the credentials the operation documents (the function key, a bearer token from the identity stand-in, or
none for the signed channels). Each answer is judged by schemathesis' checks, sorted as
tests/security/schemafuzz.py says.

    python -m bench.openapi_fuzz --examples 200 --seed 17

Prints operations, cases, statuses by operation, 5xx, schema violations and other failures (each with a curl
line to replay it); exits 1 on any of them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from localdev import identity
from localdev.armsim import ArmSimAdmin
from localdev.cloud import LocalCloud
from localdev.procs import free_port
from tests.e2e.conftest import FUNCTION_KEY
from tests.e2e.sink import start_sink
from tests.security.conftest import FLEET, TARGET, app_settings
from tests.security.schemafuzz import DOCUMENT, SERVED_AT, Credentials, Fuzzer, Tally, fleet_values, load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=200, help="cases per operation and mode (default 200)")
    parser.add_argument("--seed", type=int, default=17, help="hypothesis seed (default 17)")
    parser.add_argument(
        "--document", type=Path, help=f"fuzz from this file rather than the served one ({DOCUMENT.name} in the repo)"
    )
    parser.add_argument("--operation", action="append", default=[], help="only this operation (label or id)")
    args = parser.parse_args()
    sink = start_sink()
    with tempfile.TemporaryDirectory() as tmp:
        cloud = LocalCloud(host_port=free_port(), extra_settings=app_settings(sink.url), log_dir=Path(tmp))
        try:
            cloud.start()
            ArmSimAdmin(cloud.arm_url).load_fleet(FLEET)
            schema = load(args.document or f"{cloud.host_url}{SERVED_AT}")
            credentials = Credentials(FUNCTION_KEY, identity.token(cloud.identity_url, user="bob"))
            started = time.monotonic()
            fuzzer = Fuzzer(schema, cloud.host_url, credentials, known=fleet_values(TARGET))
            tally = fuzzer.run(args.examples, args.seed, args.operation)
            elapsed = time.monotonic() - started
        finally:
            cloud.stop()
            sink.server.shutdown()
            sink.server.server_close()
    return report(args, tally, elapsed)


def report(args: argparse.Namespace, tally: Tally, elapsed: float) -> int:
    print(f"bench.openapi_fuzz --examples {args.examples} --seed {args.seed}: {elapsed:.0f}s")
    print(f"  operations: {len(tally.operations)}")
    print(
        f"  cases: {tally.total} ({tally.by_mode('example')} from the document's examples, "
        f"{tally.by_mode('positive')} positive, {tally.by_mode('negative')} negative, "
        f"{tally.by_mode('linked')} on requests and audit runs earlier answers made and on the fleet's clouds)"
    )
    for operation in tally.operations:
        statuses = dict(sorted(tally.by_operation.get(operation, {}).items()))
        cases = {mode: n for (op, mode), n in tally.cases.items() if op == operation}
        print(f"    {operation}: {cases} -> {statuses}")
    if tally.no_negative:
        print(f"  nothing to break (no parameter or body): {', '.join(tally.no_negative)}")
    print(f"  5xx: {tally.server_errors}")
    print(f"  schema violations: {tally.count('schema')}")
    print(f"  other failures: {tally.other}")
    if tally.findings:
        print(tally.report(limit=3))
    return 1 if tally.findings or tally.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
