"""One trace per request, across the local host's processes, exported to the local cloud's telemetry sink.

A connect is filed through a signed standard webhook whose source has a callback, so the request is told of its
progress: intake (an HTTP instance), its work items (the queue trigger's process), its ARM calls and its
notifications all land in the sink (localdev/otlp) as spans. The caller's W3C traceparent is continued, so the
whole request is found under the trace id the caller chose. No span attribute holds a key, token or secret, and
the app's JSON log lines carry the request's trace id.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interconnect.channels.signatures import sign_standard_webhook
from localdev import otlp
from localdev.cloud import LocalCloud
from localdev.procs import free_port, wait_until
from tests.e2e.conftest import FUNCTION_KEY, STARTED_SETTINGS, App, app_on, cloud_ids, cloud_log_dir, load_clouds, pc
from tests.e2e.sink import Sink, running_sink
from tests.security.test_log_secrets import TOKEN, configured_secrets

pytestmark = pytest.mark.e2e

SUB, RG = "77777777-7777-7777-7777-777777777777", "rg-telemetry"
A, B = cloud_ids(SUB, RG, "pc-a", "pc-b")
HOOK_SECRET = "whsec_" + base64.b64encode(b"telemetry-fake-signing-key-0123").decode()
CALLBACK_SECRET = "whsec_" + base64.b64encode(b"telemetry-fake-callback-key-012").decode()
CALLBACK_AUTH = "Basic dGVsZW1ldHJ5OmZha2U="
# A query string, or credentials before a host: neither may reach a span.
URL_WITH_SECRETS = ("?code=", "?sig=", "://user:", "AccountKey=", "SharedAccessKey=")


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    yield from running_sink()


@pytest.fixture(scope="module")
def traced(sink: Sink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Path]]:
    telemetry_dir = tmp_path_factory.mktemp("telemetry")
    settings = {
        "LOCALHOST_FUNCTION_KEYS": FUNCTION_KEY,
        "INTERCONNECT_APPROVALS": "off",
        "INTERCONNECT_SUBSCRIPTIONS": SUB,
        "INTERCONNECT_HOOKS": json.dumps(
            {"cmdb": {"type": "standard-webhooks", "callback": {"url": f"{sink.url}/events"}}}
        ),
        "INTERCONNECT_HOOK_SECRETS": json.dumps(
            {
                "cmdb": {
                    "signing": [HOOK_SECRET],
                    "callbackSigning": CALLBACK_SECRET,
                    "callbackAuthorization": CALLBACK_AUTH,
                }
            }
        ),
    }
    cloud = LocalCloud(
        host_port=free_port(), extra_settings=settings, log_dir=cloud_log_dir("telemetry"), telemetry_dir=telemetry_dir
    )
    STARTED_SETTINGS.append(cloud.app_settings())  # the log-secrets check reads this cloud's logs too
    with cloud:
        app = app_on(cloud)
        load_clouds(app, [pc("pc-a", "10.0.0.0/22"), pc("pc-b", "10.0.4.0/22")], sub=SUB, rg=RG)
        yield app, telemetry_dir


def file_connect(app: App, traceparent: str) -> str:
    reference = f"CHG-{uuid.uuid4().hex[:8]}"  # a new reference, a new request (the same one would be a replay)
    body = json.dumps({"action": "connect", "source": A, "target": B, "reference": reference}).encode()
    headers = {
        **sign_standard_webhook(HOOK_SECRET, f"msg_{uuid.uuid4().hex}", int(time.time()), body),
        "traceparent": traceparent,
        "Content-Type": "application/json",
    }
    answer = app.call("POST", "hooks/cmdb", raw=body, headers=headers, key=None)
    assert answer.status == 202, answer.body
    return str(answer.body["requestId"])


def by_trace(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    traces: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        traces.setdefault(span["traceId"], []).append(span)
    return traces


def roots(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {s["spanId"] for s in spans}
    return [s for s in spans if s["parentSpanId"] not in ids]


def test_one_trace_covers_intake_every_work_item_every_arm_call_and_the_notification(
    traced: tuple[App, Path], sink: Sink
) -> None:
    app, telemetry_dir = traced
    trace_id = uuid.uuid4().hex
    request_id = file_connect(app, f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01")
    assert app.wait(request_id)["status"] == "Succeeded"
    sink.wait_for(
        lambda r: (
            r.path == "/events" and r.body["type"] == "request.succeeded" and r.body["data"]["requestId"] == request_id
        ),
        what="the request.succeeded event",
    )
    notify_items = len(app.call("GET", f"requests/{request_id}").body["events"])  # a delivery per event, at most

    def exported() -> list[dict[str, Any]]:
        return otlp.spans(telemetry_dir)

    def complete() -> bool:
        mine = [s for s in exported() if s["traceId"] == trace_id]
        names = {s["name"] for s in mine}
        delivered = [
            s
            for s in mine
            if s["name"] == "notify hook" and s["attributes"].get("interconnect.request.status") == "Succeeded"
        ]
        return {"work process", "work check", "work notify", "ARM create_link"} <= names and bool(delivered)

    wait_until(complete, 30, interval=0.2, what="the request's spans in the sink")
    spans = exported()
    mine = [s for s in spans if s["traceId"] == trace_id]

    # Intake: the one root of the trace, a server span of an HTTP instance, continuing the caller's trace.
    (root,) = roots(mine)
    assert (root["name"], root["kind"]) == ("HTTP POST /api/hooks/cmdb", "server")
    assert root["attributes"]["http.response.status_code"] == 202
    assert root["attributes"]["interconnect.request.id"] == request_id  # whichever channel filed it
    assert root["attributes"]["interconnect.cloud.source"] == "pc-a"

    # Every worker invocation about this request is in the trace, each a consumer span under a producer span.
    about_request = [s for s in spans if s["attributes"].get("interconnect.request.id") == request_id]
    assert {s["traceId"] for s in about_request} == {trace_id}
    by_id = {s["spanId"]: s for s in mine}
    consumers = [s for s in mine if s["kind"] == "consumer"]
    assert consumers and all(by_id[s["parentSpanId"]]["kind"] == "producer" for s in consumers)
    assert {s["attributes"]["interconnect.work.kind"] for s in consumers} >= {"process", "check", "notify"}

    # Every ARM call this cloud's app made (outside a timer's own trace) is in the trace: there was one request.
    traces = by_trace(spans)
    untimed = [s for t in traces.values() if not any(r["name"].startswith("timer ") for r in roots(t)) for s in t]
    arm = [s for s in untimed if s["name"].startswith("ARM ")]
    assert arm and {s["traceId"] for s in arm} == {trace_id}
    assert all(s["kind"] == "client" for s in arm)
    assert app.arm.calls("cloudLinks.put") and any(s["name"] == "ARM create_link" for s in arm)

    # The notifications: client spans in the trace, their status and the callback's host, never its URL.
    notified = [s for s in mine if s["name"] == "notify hook"]
    assert notified and len(notified) <= notify_items * 4  # retried deliveries add spans, never unbounded
    assert all(s["attributes"]["server.address"] == "127.0.0.1" for s in notified)

    # Across the host's separate processes: intake in one, the work in another.
    pids = {s["resource"]["process.pid"] for s in mine}
    assert root["resource"]["process.pid"] != consumers[0]["resource"]["process.pid"] and len(pids) >= 2

    # The stored request keeps its trace, for a sweeper re-drive to continue it.
    row = app.tables.get_table_client("requests").get_entity(request_id, "request")
    assert row["traceparent"].split("-")[1] == trace_id

    # The app's log lines are JSON with the request's ids.
    log_lines = [json.loads(line) for line in host_log(app).splitlines() if line.startswith("{")]
    assert any(line.get("requestId") == request_id and line.get("traceId") == trace_id for line in log_lines)


def test_a_malformed_traceparent_is_not_continued_nor_echoed(traced: tuple[App, Path]) -> None:
    app, telemetry_dir = traced
    forged = "00-" + "Z" * 32 + "-" + "1" * 16 + "-01"
    request_id = file_connect(app, forged)
    wait_until(
        lambda: any(s["attributes"].get("interconnect.request.id") == request_id for s in otlp.spans(telemetry_dir)),
        30,
        interval=0.2,
        what="the request's spans",
    )
    spans = otlp.spans(telemetry_dir)
    ours = {s["traceId"] for s in spans if s["attributes"].get("interconnect.request.id") == request_id}
    assert len(ours) == 1 and "Z" * 32 not in json.dumps(spans)
    app.wait(request_id)


def test_no_span_attribute_holds_a_key_token_or_secret(traced: tuple[App, Path]) -> None:
    app, telemetry_dir = traced
    secrets = configured_secrets(app.cloud.app_settings())
    assert HOOK_SECRET in secrets and len(secrets) >= 3  # the check has something to find
    # A request of its own (signed, with a callback that carries credentials), so the check has spans to read
    # whichever tests ran before it.
    request_id = file_connect(app, f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01")
    app.wait(request_id)
    wait_until(
        lambda: any(
            s["name"] == "notify hook" and s["attributes"].get("interconnect.request.id") == request_id
            for s in otlp.spans(telemetry_dir)
        ),
        30,
        interval=0.2,
        what="the request's callback span",
    )
    spans = otlp.spans(telemetry_dir)
    found = []
    for span in spans:
        for name, value in span["attributes"].items():
            text = str(value)
            if TOKEN.search(text) or any(bad in text for bad in URL_WITH_SECRETS):
                found.append(f"{span['name']}: {name} looks like a credential")
            found += [f"{span['name']}: {name} holds {label}" for secret, label in secrets.items() if secret in text]
            if CALLBACK_AUTH in text or CALLBACK_SECRET in text:
                found.append(f"{span['name']}: {name} holds the callback's credentials")
    assert found == []


def host_log(app: App) -> str:
    assert app.cloud.log_dir is not None
    return (app.cloud.log_dir / "host.log").read_text(errors="replace")
