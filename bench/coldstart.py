"""Cold start: from process start to the first acknowledged `POST /api/requests`, against a floor.

On Flex Consumption without always-ready instances, the first request after an idle spell waits for a process
to start, import the app and answer; a Slack command must still be acknowledged within 3 s. This measures that
wait on the local Functions host: each app run spawns `python -m localdev.host` (whatever it runs by default)
with the local cloud's settings on a free port, connects as soon as the port accepts, sends one connect request
and stops the clock at its 202.

The floor, measured in the same run, is a process that loads only what an acknowledgement must load
(`azure.functions`, `azure.data.tables`, `azure.servicebus`), opens a stdlib HTTP server and answers its first
POST with 202 after one Table insert and one Service Bus send against the same local cloud. App and floor runs
alternate, so a busy spell of the machine hits both alike; each kind runs once untimed first (tables made,
files in the page cache). The local cloud itself (Azurite, Service Bus, ARM simulator) is started once, before
any timing, and the queue is emptied between runs so a host never starts with a backlog to work through.

    python -m bench.coldstart --runs 7
    python -m bench.coldstart --runs 7 --host-arg=--instances --host-arg=single   # every function in one process
    python -m bench.coldstart --runs 7 --tracing   # a third kind: the app exporting its telemetry (OTLP)

With `--tracing` the local cloud runs its telemetry sink and a third kind of run joins the interleaving: the app
with OTEL_EXPORTER_OTLP_ENDPOINT set, so its first request imports the OpenTelemetry SDK and exports its spans;
the plain app runs with INTERCONNECT_TELEMETRY=off. Their ratio is what telemetry adds to a cold start.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from localdev import otlp
from localdev.chaos import cloud_id, pair_fleet
from localdev.cloud import QUEUES, LocalCloud
from localdev.procs import ROOT, free_port
from localdev.servicebus import ServiceBusAdmin

FLOOR_QUEUE = "coldstart-floor"
FLOOR_TABLE = "coldstartfloor"
START_TIMEOUT = 60.0  # seconds from spawn to the answer before a run counts as broken

# What the floor process runs: the acknowledgement's unavoidable work and nothing else. Clients are made at the
# first request, as the app makes its own; the sender stays open after the answer, as the app's does.
FLOOR_SCRIPT = r"""
import os, sys, uuid
import azure.functions, azure.data.tables, azure.servicebus
from http.server import BaseHTTPRequestHandler, HTTPServer
from azure.data.tables import TableClient
from azure.servicebus import ServiceBusClient, ServiceBusMessage

TABLE, QUEUE = sys.argv[2], sys.argv[3]
kept = []

class Ack(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = str(uuid.uuid4())
        table = TableClient.from_connection_string(os.environ["INTERCONNECT_TABLES_CONNECTION_STRING"], TABLE)
        table.create_entity({"PartitionKey": "floor", "RowKey": key, "body": body.decode()})
        client = ServiceBusClient.from_connection_string(os.environ["ServiceBusConnection"])
        sender = client.get_queue_sender(QUEUE)
        sender.send_messages(ServiceBusMessage(body, message_id=key))
        kept.append((client, sender))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Ack).serve_forever()
"""


def first_ack(what: str, argv: list[str], env: dict[str, str], port: int, path: str, body: bytes, log: Path) -> float:
    """Seconds from spawning `argv` to the 202 of the first POST `path`, sent as soon as `port` accepts."""
    with open(log, "ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        sock = connect(proc, port, started + START_TIMEOUT, log)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=START_TIMEOUT)
        conn.sock = sock  # the connection the port first accepted: no second handshake
        conn.request("POST", path, body, {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
        response = conn.getresponse()
        answer = response.read()
        took = time.perf_counter() - started
        conn.close()
        if response.status != 202:
            raise RuntimeError(f"the {what} answered {response.status}, not 202: {answer[:300]!r}; see {log}")
        return took
    finally:
        stop(proc)


def connect(proc: subprocess.Popen[bytes], port: int, deadline: float, log: Path) -> socket.socket:
    # Polled every few milliseconds: the figure is the process's, not the poll interval's.
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT)
        except ConnectionRefusedError:
            if proc.poll() is not None:
                raise RuntimeError(f"the process exited with {proc.returncode} before listening; see {log}") from None
            if time.perf_counter() > deadline:
                raise TimeoutError(f"nothing listened on port {port} within {START_TIMEOUT:.0f}s; see {log}") from None
            time.sleep(0.003)


def stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything the process group left behind


def connect_body(i: int) -> bytes:
    """A fresh request per run, on its own pair of clouds (requests on one pair would wait for each other)."""
    reference = f"COLD-{uuid.uuid4().hex[:12]}"
    return json.dumps(
        {"action": "connect", "source": cloud_id(f"s{i}"), "target": cloud_id(f"t{i}"), "reference": reference}
    ).encode()


def summary(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default: 7)")
    parser.add_argument(
        "--host-arg",
        action="append",
        default=[],
        help="an argument for `python -m localdev.host`, e.g. --host-arg=--instances --host-arg=single",
    )
    parser.add_argument("--tracing", action="store_true", help="also time the app exporting telemetry (OTLP)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fleet, queues = work / "fleet.json", work / "queues.json"
        fleet.write_text(json.dumps(pair_fleet(2 * args.runs + 4)))
        config = json.loads(QUEUES.read_text())
        config["queues"].append({**config["queues"][0], "name": FLOOR_QUEUE})
        queues.write_text(json.dumps(config))
        telemetry_dir = work / "telemetry" if args.tracing else None
        with LocalCloud(fleet=fleet, queues=queues, log_dir=work / "logs", telemetry_dir=telemetry_dir) as cloud:
            measure(cloud, args.runs, work, args.host_arg, tracing=args.tracing)


def measure(cloud: LocalCloud, runs: int, work: Path, host_args: list[str], *, tracing: bool = False) -> None:
    from azure.data.tables import TableServiceClient

    settings = cloud.app_settings()
    TableServiceClient.from_connection_string(
        settings["INTERCONNECT_TABLES_CONNECTION_STRING"]
    ).create_table_if_not_exists(FLOOR_TABLE)
    env = {k: v for k, v in os.environ.items() if k != "LOCALHOST_FUNCTION_KEYS"} | settings
    traced_env = env | {"INTERCONNECT_TELEMETRY": "auto"}
    env = env | {"INTERCONNECT_TELEMETRY": "off"}  # without --tracing there is no exporter anyway
    admin = ServiceBusAdmin(cloud.sb_admin_port)

    def app(i: int, with_env: dict[str, str] = env, what: str = "app") -> float:
        port = free_port()
        argv = [sys.executable, "-m", "localdev.host", "--port", str(port), *host_args]
        try:
            return first_ack(what, argv, with_env, port, "/api/requests", connect_body(i), work / f"{what}.log")
        finally:
            admin.reset()  # the next host starts with an empty queue, as a cold instance after a quiet spell

    def traced_app(i: int) -> float:
        return app(runs + 1 + i, traced_env, "traced-app")  # pairs of its own: the plain app's are taken

    def floor(i: int) -> float:
        port = free_port()
        argv = [sys.executable, "-c", FLOOR_SCRIPT, str(port), FLOOR_TABLE, FLOOR_QUEUE]
        return first_ack("floor", argv, env, port, "/", connect_body(i), work / "floor.log")

    kinds: dict[str, Callable[[int], float]] = {"app (localdev.host)": app, "floor": floor}
    if tracing:
        kinds["app, tracing on"] = traced_app
    for make in kinds.values():
        make(runs)  # untimed: tables made, modules in the page cache
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for i in range(runs):
        for name, make in kinds.items():
            samples[name].append(make(i))
    print(f"first acknowledged POST, from process start ({runs} runs each, interleaved)")
    print(f"{'':22} {'min':>7} {'median':>7} {'max':>7}  (ms)")
    for name, values in samples.items():
        low, mid, high = summary(values)
        print(f"{name:22} {low * 1000:7.0f} {mid * 1000:7.0f} {high * 1000:7.0f}")
    app_mid, floor_mid = statistics.median(samples["app (localdev.host)"]), statistics.median(samples["floor"])
    ratios = [a / f for a, f in zip(samples["app (localdev.host)"], samples["floor"], strict=True)]
    low, mid, high = summary(ratios)
    print(f"ratio of medians app/floor: {app_mid / floor_mid:.2f}x")
    print(f"ratio per run (app run i / floor run i): min {low:.2f}x  median {mid:.2f}x  max {high:.2f}x")
    if tracing:
        traced_mid = statistics.median(samples["app, tracing on"])
        print(
            f"ratio of medians app tracing on/off: {traced_mid / app_mid:.2f}x "
            f"(+{(traced_mid - app_mid) * 1000:.0f} ms)"
        )
        assert cloud.telemetry_dir is not None
        print(f"spans the traced runs exported: {len(otlp.spans(cloud.telemetry_dir))}")


if __name__ == "__main__":
    main()
