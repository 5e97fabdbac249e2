"""The audit's functions as the host calls them: the timer and POST that queue a run, reading a run, the topology."""

from __future__ import annotations

import json

import pytest
from azure.functions.timer import TimerRequest  # what the host hands a timer function

from interconnect.errors import RenderError
from tests.functions.harness import BASE, FakeApp, answer, error_of, raising, request

UNKNOWN = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"


def audited(app: FakeApp) -> str:
    """Queue a run through the API and let the queue trigger carry it out; its run id."""
    run_id: str = answer(app.call("start_audit", request("POST", "audits")))["runId"]
    assert app.drain() == [f"{run_id}:audit"]
    return run_id


def test_the_audit_timer_only_queues_a_run(app: FakeApp) -> None:
    app.call("audit", TimerRequest(past_due=False))
    (item,) = app.queued()
    assert item.kind == "audit" and app.audit_store.runs == []


def test_start_audit_is_202_with_location_and_the_run_happens_in_the_worker(app: FakeApp) -> None:
    response = app.call("start_audit", request("POST", "audits"))
    assert response.status_code == 202
    body = answer(response)
    assert response.headers["Location"] == body["statusUrl"] == f"{BASE}/api/audits/{body['runId']}"
    assert [(i.request_id, i.kind) for i in app.queued()] == [(body["runId"], "audit")]
    app.drain()
    assert app.audit_store.latest().id == body["runId"]


@pytest.mark.parametrize("name", ["latest", "run"])
def test_get_audit_answers_a_run_by_id_or_the_latest(app: FakeApp, name: str) -> None:
    run_id = audited(app)
    given = run_id if name == "run" else "latest"
    response = app.call("get_audit", request("GET", f"audits/{given}", route={"id": given}))
    assert response.status_code == 200
    view = answer(response)
    assert view["runId"] == run_id and view["summary"]["clouds"] == 3


@pytest.mark.parametrize(
    ("given", "status", "code"),
    [
        ("latest", 404, "AUDIT_NOT_FOUND"),  # no run yet
        (UNKNOWN, 404, "AUDIT_NOT_FOUND"),
        ("../etc", 400, "INVALID_AUDIT_ID"),
    ],
)
def test_get_audit_refuses_bad_and_unknown_ids(app: FakeApp, given: str, status: int, code: str) -> None:
    response = app.call("get_audit", request("GET", "audits/x", route={"id": given}))
    assert error_of(response, status)["code"] == code


@pytest.mark.parametrize(
    ("fmt", "mimetype"),
    [("json", "application/json"), ("mermaid", "text/plain"), ("dot", "text/vnd.graphviz"), ("svg", "image/svg+xml")],
)
def test_topology_answers_each_format_with_its_media_type(app: FakeApp, fmt: str, mimetype: str) -> None:
    app.services.render_svg = lambda dot: b"<svg>" + dot.encode()[:20] + b"</svg>"  # the Graphviz adapter's seat
    audited(app)
    response = app.call("topology_view", request("GET", "topology", params={"format": fmt}))
    assert response.status_code == 200 and response.mimetype == mimetype
    text = response.get_body().decode()
    assert text.startswith("<svg>") if fmt == "svg" else app.a.name in text
    if fmt == "json":
        assert len(json.loads(text)["nodes"]) == 3


def test_topology_is_json_by_default(app: FakeApp) -> None:
    audited(app)
    response = app.call("topology_view", request("GET", "topology"))
    assert response.status_code == 200 and response.mimetype == "application/json"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"format": "png"}, "INVALID_FORMAT"),
        ({"format": ""}, "INVALID_FORMAT"),
        ({"format": "x" * 50}, "INVALID_QUERY"),
    ],
)
def test_topology_refuses_an_unknown_format(app: FakeApp, params: dict[str, str], code: str) -> None:
    audited(app)
    assert error_of(app.call("topology_view", request("GET", "topology", params=params)), 400)["code"] == code


def test_topology_before_any_audit_is_404(app: FakeApp) -> None:
    assert error_of(app.call("topology_view", request("GET", "topology")), 404)["code"] == "AUDIT_NOT_FOUND"


def test_an_svg_that_cannot_be_drawn_is_503(app: FakeApp) -> None:
    app.services.render_svg = raising(RenderError("no layout engine", code="RENDERER_UNAVAILABLE"))
    audited(app)
    response = app.call("topology_view", request("GET", "topology", params={"format": "svg"}))
    assert error_of(response, 503)["code"] == "RENDERER_UNAVAILABLE"


def test_without_an_audit_store_the_audit_routes_say_it_is_not_configured(app: FakeApp) -> None:
    app.services.audits = None
    response = app.call("start_audit", request("POST", "audits"))
    assert error_of(response, 500)["code"] == "AUDIT_UNAVAILABLE"
    assert app.queued() == []
