"""The bindings function_app.py registers, asserted since `func start` cannot run here."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

import azure.functions as func
import pytest

from tests.functions.registered import INDEXED  # get_functions() works once, so it is called there only

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {name: json.loads(f.get_function_json()) for name, f in INDEXED.items()}


def trigger(name: str) -> dict:
    return next(b for b in FUNCTIONS[name]["bindings"] if b["direction"] == "IN")


@pytest.mark.parametrize(
    ("name", "route", "methods", "auth"),
    [
        ("submit_request", "requests", ["POST"], "FUNCTION"),
        ("get_request", "requests/{id}", ["GET"], "FUNCTION"),
        ("plan_topology", "topology/plan", ["POST"], "FUNCTION"),
        ("apply_topology", "topology/apply", ["POST"], "FUNCTION"),
        ("get_changeset", "changesets/{id}", ["GET"], "FUNCTION"),
        ("list_requests", "requests", ["GET"], "FUNCTION"),
        ("list_links", "links", ["GET"], "FUNCTION"),
        ("resolve_cloud_ref", "clouds", ["GET"], "FUNCTION"),
        # Anonymous at the host: the app itself demands a verified Entra token of a person
        # (interconnect/app/identity.py).
        ("approve_request", "requests/{id}/approve", ["POST"], "ANONYMOUS"),
        ("reject_request", "requests/{id}/reject", ["POST"], "ANONYMOUS"),
        ("ticket_hook", "hooks/{source}", ["POST"], "ANONYMOUS"),
        ("slack_command", "chat/slack", ["POST"], "ANONYMOUS"),
        ("slack_action", "chat/slack/actions", ["POST"], "ANONYMOUS"),
        ("teams_message", "chat/teams", ["POST"], "ANONYMOUS"),
        ("start_audit", "audits", ["POST"], "FUNCTION"),
        ("get_audit", "audits/{id}", ["GET"], "FUNCTION"),
        ("topology_view", "topology", ["GET"], "FUNCTION"),
        ("health", "health", ["GET"], "ANONYMOUS"),
        ("openapi_document", "openapi.json", ["GET"], "ANONYMOUS"),
        ("openapi_v2_document", "openapi-v2.json", ["GET"], "ANONYMOUS"),
        # The web console: a browser never holds a function key; its data routes demand a bearer token in the app.
        ("console_page", "console", ["GET"], "ANONYMOUS"),
        ("console_asset", "console/assets/{name}", ["GET"], "ANONYMOUS"),
        ("console_config", "console/config", ["GET"], "ANONYMOUS"),
        ("console_me", "console/me", ["GET"], "ANONYMOUS"),
        ("console_list_requests", "console/requests", ["GET"], "ANONYMOUS"),
        ("console_submit_request", "console/requests", ["POST"], "ANONYMOUS"),
        ("console_get_request", "console/requests/{id}", ["GET"], "ANONYMOUS"),
        ("console_approvals", "console/approvals", ["GET"], "ANONYMOUS"),
        ("console_clouds", "console/clouds", ["GET"], "ANONYMOUS"),
        ("console_cloud", "console/cloud", ["GET"], "ANONYMOUS"),
        ("console_get_audit", "console/audits/{id}", ["GET"], "ANONYMOUS"),
        ("console_start_audit", "console/audits", ["POST"], "ANONYMOUS"),
        ("console_topology", "console/topology", ["GET"], "ANONYMOUS"),
    ],
)
def test_http_routes(name: str, route: str, methods: list[str], auth: str) -> None:
    binding = trigger(name)
    assert binding["type"] == "httpTrigger"
    assert (binding["route"], binding["methods"], binding["authLevel"]) == (route, methods, auth)


def test_worker_is_triggered_by_the_queue_named_in_settings() -> None:
    binding = trigger("process_work_item")
    assert binding["type"] == "serviceBusTrigger"
    assert binding["queueName"] == "%INTERCONNECT_QUEUE_NAME%"
    assert binding["connection"] == "ServiceBusConnection"
    assert not binding.get("isSessionsEnabled")


def test_worker_takes_the_standard_message_and_lets_the_host_complete_it() -> None:
    # The standard (GA) binding: no extension package, no SDK type, no message actions; host.json's
    # autoCompleteMessages (true) applies, so returning completes the message and raising abandons it.
    binding = trigger("process_work_item")
    assert "autoCompleteMessages" not in binding and "properties" not in binding
    hints = typing.get_type_hints(INDEXED["process_work_item"].get_user_function())
    assert hints == {"msg": func.ServiceBusMessage, "return": type(None)}
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["serviceBus"]["autoCompleteMessages"] is True


def test_the_app_loads_no_preview_binding_package() -> None:
    # The pre-release Service Bus SDK-type binding brought uamqp, grpcio and protobuf into production.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, function_app; print(sorted(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("'")
    assert not [m for m in loaded if m.split(".")[0] in {"azurefunctions", "uamqp", "grpc", "google"}]
    assert "azurefunctions" not in (ROOT / "requirements.txt").read_text()


def test_sweeper_runs_on_the_schedule_named_in_settings() -> None:
    binding = trigger("sweep")
    assert binding["type"] == "timerTrigger"
    assert binding["schedule"] == "%INTERCONNECT_SWEEP_SCHEDULE%"
    assert binding["runOnStartup"] is False


def test_audit_runs_on_the_schedule_named_in_settings() -> None:
    binding = trigger("audit")
    assert (binding["type"], binding["schedule"], binding["runOnStartup"]) == (
        "timerTrigger",
        "%INTERCONNECT_AUDIT_SCHEDULE%",
        False,
    )


def test_no_other_functions_are_registered() -> None:
    assert set(FUNCTIONS) == {
        "console_page",
        "console_asset",
        "console_config",
        "console_me",
        "console_list_requests",
        "console_submit_request",
        "console_get_request",
        "console_approvals",
        "console_clouds",
        "console_cloud",
        "console_get_audit",
        "console_start_audit",
        "console_topology",
        "submit_request",
        "get_request",
        "plan_topology",
        "apply_topology",
        "get_changeset",
        "list_requests",
        "list_links",
        "resolve_cloud_ref",
        "health",
        "approve_request",
        "reject_request",
        "process_work_item",
        "sweep",
        "ticket_hook",
        "slack_command",
        "slack_action",
        "teams_message",
        "audit",
        "start_audit",
        "get_audit",
        "topology_view",
        "openapi_document",
        "openapi_v2_document",
    }
