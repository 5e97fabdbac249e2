"""The bindings function_app.py registers, asserted since `func start` cannot run here."""

from __future__ import annotations

import json
import typing
from types import SimpleNamespace

import azurefunctions.extensions.bindings.servicebus as servicebus
import pytest
from azurefunctions.extensions.base import get_binding_registry

from tests.functions.registered import INDEXED  # get_functions() works once, so it is called there only

FUNCTIONS = {name: json.loads(f.get_function_json()) for name, f in INDEXED.items()}


def trigger(name: str) -> dict:
    return next(b for b in FUNCTIONS[name]["bindings"] if b["direction"] == "IN")


@pytest.mark.parametrize(
    ("name", "route", "methods", "auth"),
    [
        ("submit_request", "requests", ["POST"], "FUNCTION"),
        ("get_request", "requests/{id}", ["GET"], "FUNCTION"),
        ("list_requests", "requests", ["GET"], "FUNCTION"),
        ("list_links", "links", ["GET"], "FUNCTION"),
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


def test_worker_settles_its_messages_itself() -> None:
    # Off, so that the function can dead-letter what it cannot decode; the SDK type is what lets it settle.
    assert trigger("process_work_item")["autoCompleteMessages"] is False
    hints = typing.get_type_hints(INDEXED["process_work_item"].get_user_function())
    assert hints["msg"] is servicebus.ServiceBusReceivedMessage
    assert hints["message_actions"] is servicebus.ServiceBusMessageActions


def test_the_worker_asks_the_host_for_the_raw_message_of_the_worker_trigger() -> None:
    # What the Python worker reports to the host at indexing: SupportsDeferredBinding makes the host send
    # the lock token and AMQP message (model binding data) that the extension turns into the SDK type.
    function = INDEXED["process_work_item"]
    pytypes = {
        name: SimpleNamespace(pytype=hint) for name, hint in typing.get_type_hints(function.get_user_function()).items()
    }
    raw, _ = get_binding_registry().get_raw_bindings(function, pytypes)
    (binding,) = [json.loads(b) for b in raw]
    assert binding["properties"] == {"SupportsDeferredBinding": True}


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
        "submit_request",
        "get_request",
        "list_requests",
        "list_links",
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
    }
