"""The edge's functions as the host calls them: the health probe, the queue trigger, and the 500 that any
function answers when a service fails in a way nobody planned for, which leaks nothing."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from interconnect.app.blueprints import apidoc
from interconnect.console import assets
from interconnect.errors import CorruptRecordError, DependencyError
from interconnect.linking.model import Status
from interconnect.linking.queue import WorkItem
from tests.functions.harness import FakeApp, answer, error_of, raising, request
from tests.trigger_messages import delivered

SECRETISH = "password=hunter2 at /srv/interconnect/secret.py line 7"


# -- health ---------------------------------------------------------------------------------------------------


def test_health_is_200_when_every_dependency_answers(app: FakeApp) -> None:
    response = app.call("health", request("GET", "health"))
    assert response.status_code == 200
    assert answer(response) == {
        "status": "ok",
        "checks": {"tables": {"ok": True}, "serviceBus": {"ok": True}, "arm": {"ok": True}},
    }


def test_health_is_503_naming_the_dependency_that_did_not_answer(app: FakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.queue, "ping", raising(DependencyError("Service Bus is unreachable")))
    response = app.call("health", request("GET", "health"))
    assert response.status_code == 503
    body = answer(response)
    assert body["status"] == "degraded" and body["checks"]["tables"] == {"ok": True}
    assert body["checks"]["serviceBus"] == {
        "ok": False,
        "code": "DEPENDENCY_UNAVAILABLE",
        "message": "Service Bus is unreachable",
    }


# -- process_work_item --------------------------------------------------------------------------------------------


def test_a_work_item_is_dispatched_and_the_function_returns(app: FakeApp) -> None:
    # Returning is what makes the host complete the message (autoCompleteMessages).
    request_id = answer(
        app.call(
            "submit_request",
            request("POST", "requests", json_body={"action": "connect", "source": str(app.a), "target": str(app.b)}),
        )
    )["requestId"]
    item, _ = app.queue.take()
    assert app.call("process_work_item", delivered(item.encode().encode(), message_id="m-7")) is None
    assert app.store.get(request_id).status is Status.IN_PROGRESS
    assert app.quarantine.count() == 0


@pytest.mark.parametrize("body", [b"\x80 not json", b'{"requestId": "../../x"}', b"[" * 2000 + b"]" * 2000])
def test_a_message_that_is_no_work_item_is_set_aside_at_once(app: FakeApp, body: bytes) -> None:
    app.call("process_work_item", delivered(body, message_id="m-bad", delivery_count=1))
    (kept,) = app.quarantine.recent(10)
    assert (kept.reason, kept.message_id, kept.delivery_count, kept.body) == ("MALFORMED_MESSAGE", "m-bad", 1, body)
    assert app.queue.sent == [] and app.store.rows == {}


def test_a_message_whose_request_cannot_be_read_back_is_set_aside(app: FakeApp) -> None:
    request_id = str(uuid.uuid4())
    app.store.corrupt[request_id] = "unknown status 'Paused'"
    app.call("process_work_item", delivered(WorkItem(request_id).encode().encode(), message_id="m-old"))
    (kept,) = app.quarantine.recent(10)
    assert (kept.reason, kept.message_id) == (CorruptRecordError.code, "m-old")
    assert "Paused" in kept.description


def test_a_transient_failure_raises_for_redelivery(app: FakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    # The host abandons a message whose function raised; Service Bus then delivers it again.
    monkeypatch.setattr(app.services.dispatch, "handle", raising(DependencyError("table storage is down")))
    with pytest.raises(DependencyError):
        app.call("process_work_item", delivered(WorkItem(str(uuid.uuid4())).encode().encode()))
    assert app.quarantine.count() == 0


def test_a_quarantine_that_cannot_be_written_raises_for_redelivery(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing is lost: abandoned, redelivered, and dead-lettered by the broker after maxDeliveryCount.
    monkeypatch.setattr(app.quarantine, "put", raising(DependencyError("Table Storage unavailable")))
    with pytest.raises(DependencyError):
        app.call("process_work_item", delivered(b"not a work item"))


# -- the 500 that leaks nothing ----------------------------------------------------------------------------------


def _break_everything(app: FakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every service an HTTP function calls raises an exception no code plans for, carrying text that must
    never reach a caller."""
    boom = raising(RuntimeError(SECRETISH))
    services = app.services
    audits = services.audits_or_fail()
    for target, name in [
        (services.intake, "submit"),
        (services.queries, "request"),
        (services.queries, "recent"),
        (services.queries, "links"),
        (services.queries, "health"),
        (services.known_clouds, "list"),
        (services.approvals, "decide"),
        (services.inbound, "hook"),
        (services.inbound, "slack_command"),
        (services.inbound, "slack_action"),
        (services.inbound, "teams"),
        (audits, "start"),
        (audits.store, "latest"),
        (services, "topology"),
        (apidoc, "document"),
        (services.store, "get"),
        (services, "estate_reader"),
        (services.changeset_store, "get"),
        (services, "sign_in"),
        (assets.ASSETS, "page"),
        (assets.ASSETS, "asset"),
    ]:
        monkeypatch.setattr(target, name, boom)
    monkeypatch.setattr(services, "policy", _Unplanned())  # the console's `me` and inbox ask it


class _Unplanned:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(SECRETISH)


RID = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"
# Every HTTP function, called so that it reaches its service (approvals after a verified sign-in).
HTTP_CALLS = [
    ("submit_request", "POST", "requests", {}),
    ("get_request", "GET", f"requests/{RID}", {"id": RID}),
    ("plan_topology", "POST", "topology/plan", {}),
    ("apply_topology", "POST", "topology/apply", {}),
    ("get_changeset", "GET", f"changesets/{RID}", {"id": RID}),
    ("list_requests", "GET", "requests", {}),
    ("list_links", "GET", "links", {}),
    ("resolve_cloud_ref", "GET", "clouds", {}),
    ("approve_request", "POST", f"requests/{RID}/approve", {"id": RID}),
    ("reject_request", "POST", f"requests/{RID}/reject", {"id": RID}),
    ("ticket_hook", "POST", "hooks/cmdb", {"source": "cmdb"}),
    ("slack_command", "POST", "chat/slack", {}),
    ("slack_action", "POST", "chat/slack/actions", {}),
    ("teams_message", "POST", "chat/teams", {}),
    ("start_audit", "POST", "audits", {}),
    ("get_audit", "GET", "audits/latest", {"id": "latest"}),
    ("topology_view", "GET", "topology", {}),
    ("health", "GET", "health", {}),
    ("openapi_document", "GET", "openapi.json", {}),
    ("openapi_v2_document", "GET", "openapi-v2.json", {}),
    ("console_page", "GET", "console", {}),
    ("console_asset", "GET", "console/assets/app.js", {"name": "app.js"}),
    ("console_config", "GET", "console/config", {}),
    ("console_me", "GET", "console/me", {}),
    ("console_list_requests", "GET", "console/requests", {}),
    ("console_submit_request", "POST", "console/requests", {}),
    ("console_get_request", "GET", f"console/requests/{RID}", {"id": RID}),
    ("console_approvals", "GET", "console/approvals", {}),
    ("console_clouds", "GET", "console/clouds", {}),
    ("console_cloud", "GET", "console/cloud", {}),
    ("console_get_audit", "GET", "console/audits/latest", {"id": "latest"}),
    ("console_start_audit", "POST", "console/audits", {}),
    ("console_topology", "GET", "console/topology", {}),
]


@pytest.mark.parametrize(("name", "method", "path", "route"), HTTP_CALLS, ids=[c[0] for c in HTTP_CALLS])
def test_an_unexpected_failure_is_a_500_with_a_correlation_id_and_no_exception_text(
    app: FakeApp,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    name: str,
    method: str,
    path: str,
    route: dict[str, str],
) -> None:
    params = {"cloud": str(app.a)} if name in ("list_links", "list_requests") else {}
    if name == "resolve_cloud_ref":
        params = {"ref": "pc-a"}
    headers = {"x-correlation-id": "corr-500"}
    if name == "console_cloud":
        params = {"id": str(app.a)}
    if name in ("plan_topology", "apply_topology"):
        headers["Content-Type"] = "application/json"
        params = {"fingerprint": "v1:" + "0" * 64} if name == "apply_topology" else {}
    if name in ("approve_request", "reject_request") or name.startswith("console_"):
        headers["Authorization"] = f"Bearer {app.token(user='bob')}"
    body = (
        b'{"action": "connect", "source": "%s", "target": "%s"}' % (str(app.a).encode(), str(app.b).encode())
        if name in ("submit_request", "console_submit_request")
        else b'{"apiVersion": "interconnect/v1", "kind": "Topology", "scope": {"subscriptions": []}, "links": []}'
        if name in ("plan_topology", "apply_topology")
        else b""
    )
    _break_everything(app, monkeypatch)
    with caplog.at_level(logging.ERROR, logger="interconnect.http"):
        response = app.call(name, request(method, path, body=body, headers=headers, params=params, route=route))
    error = error_of(response, 500)
    assert error == {"code": "INTERNAL", "message": "internal error; quote correlation id corr-500"}
    assert response.headers["x-correlation-id"] == "corr-500"
    text = response.get_body().decode() + "".join(f"{k}: {v}" for k, v in response.headers.items())
    assert "hunter2" not in text and "RuntimeError" not in text and "secret.py" not in text
    # The operator's log has what the caller does not: the exception, tied to the same correlation id.
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None and record.correlationId == "corr-500"  # type: ignore[attr-defined]


def test_the_500s_cover_every_http_function() -> None:
    from tests.functions.registered import INDEXED

    http = {
        name
        for name, f in INDEXED.items()
        if (trigger := f.get_trigger()) is not None and trigger.get_binding_name() == "httpTrigger"
    }
    assert {c[0] for c in HTTP_CALLS} == http
