"""The channels' functions as the host calls them: a ticket hook, Slack commands and buttons, Teams messages.

Each is anonymous at the host and authenticated by its sender's signature over the raw body, signed here with
the obviously fake secrets the fake app is configured with.
"""

from __future__ import annotations

import json
import time

import azure.functions as func
import pytest

from interconnect.channels import signatures
from interconnect.channels.inbound import HOOK_BODY_LIMIT
from interconnect.linking.model import Status
from tests.functions.harness import (
    BASE,
    FakeApp,
    answer,
    error_of,
    request,
    slack_signed,
    standard_webhook,
    teams_signed,
)


def hook(app: FakeApp, source: str, raw: bytes, headers: dict[str, str]) -> func.HttpResponse:
    response: func.HttpResponse = app.call(
        "ticket_hook", request("POST", f"hooks/{source}", body=raw, headers=headers, route={"source": source})
    )
    return response


def ticket(app: FakeApp, **changes: str) -> dict[str, str]:
    return {
        "action": "connect",
        "source": str(app.a),
        "target": str(app.b),
        "reference": "CMDB-7",
        "requestedBy": "cmdb-bot",
    } | changes


# -- ticket_hook ------------------------------------------------------------------------------------------------


def test_a_signed_hook_is_accepted_with_202_and_a_repeat_answers_200(app: FakeApp) -> None:
    raw, headers = standard_webhook(ticket(app))
    first = hook(app, "cmdb", raw, headers)
    assert first.status_code == 202
    body = answer(first)
    assert body["status"] == "Accepted" and body["statusUrl"] == f"{BASE}/api/requests/{body['requestId']}"
    again = hook(app, "cmdb", raw, headers)
    assert again.status_code == 200 and answer(again)["requestId"] == body["requestId"]
    assert str(app.store.get(body["requestId"]).requester) == "cmdb:cmdb-bot"


def test_an_unsigned_hook_and_an_unknown_source_answer_alike_401(app: FakeApp) -> None:
    raw, headers = standard_webhook(ticket(app), secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ==")
    bad = hook(app, "cmdb", raw, headers)
    unknown = hook(app, "jira-nowhere", *standard_webhook(ticket(app)))
    assert (
        error_of(bad, 401)
        == error_of(unknown, 401)
        == {"code": "BAD_SIGNATURE", "message": "signature verification failed"}
    )
    assert app.store.rows == {} and app.queue.sent == []


def test_a_ticket_that_maps_to_no_usable_request_is_422(app: FakeApp) -> None:
    raw, headers = standard_webhook(ticket(app, source="not-a-cloud"))
    error = error_of(hook(app, "cmdb", raw, headers), 422)
    assert error["code"] == "MAPPING_FAILED" and error["details"]["invalid"]
    assert app.store.rows == {}


def test_a_hook_body_over_its_limit_is_413_before_any_check(app: FakeApp) -> None:
    raw = b" " * (HOOK_BODY_LIMIT + 1)
    assert error_of(hook(app, "cmdb", raw, {}), 413)["code"] == "TOO_LARGE"


# -- slack_command, slack_action ------------------------------------------------------------------------------------


def slack_form(app: FakeApp, text: str) -> dict[str, str]:
    return {
        "team_id": "T01",
        "user_id": "U01",
        "user_name": "sam",
        "text": text,
        "trigger_id": "1.2.3",
        "response_url": "https://hooks.slack.test/commands/1",
    }


def test_a_signed_slack_command_is_answered_in_slack_s_shape(app: FakeApp) -> None:
    raw, headers = slack_signed(slack_form(app, f"connect {app.a.name} {app.b.name}"))
    response = app.call("slack_command", request("POST", "chat/slack", body=raw, headers=headers))
    assert response.status_code == 200
    reply = answer(response)
    assert "accepted" in reply["text"]
    (row,) = app.store.rows.values()
    assert (str(row.requester), row.status) == ("slack:T01/U01", Status.ACCEPTED)


def test_help_is_answered_without_touching_anything(app: FakeApp) -> None:
    raw, headers = slack_signed(slack_form(app, "help"))
    response = app.call("slack_command", request("POST", "chat/slack", body=raw, headers=headers))
    assert response.status_code == 200 and "status <request-id>" in answer(response)["text"]
    assert app.store.rows == {}


@pytest.mark.parametrize("name", ["slack_command", "slack_action"])
def test_an_unsigned_slack_call_is_401(app: FakeApp, name: str) -> None:
    raw, headers = slack_signed(slack_form(app, "help"), secret="not-the-configured-secret")
    response = app.call(name, request("POST", "chat/slack", body=raw, headers=headers))
    assert error_of(response, 401)["code"] == "BAD_SIGNATURE"


def action_form(payload: dict[str, object]) -> dict[str, str]:
    return {"payload": json.dumps(payload)}


def test_a_signed_slack_button_of_an_unknown_action_says_so(app: FakeApp) -> None:
    raw, headers = slack_signed(
        action_form(
            {
                "user": {"id": "U01", "username": "sam"},
                "team": {"id": "T01"},
                "actions": [{"action_id": "stale_button", "value": ""}],
            }
        )
    )
    response = app.call("slack_action", request("POST", "chat/slack/actions", body=raw, headers=headers))
    assert response.status_code == 200 and answer(response)["text"] == "That button is no longer valid."


def test_a_slack_approval_by_someone_the_policy_does_not_name_is_answered_not_done(app: FakeApp) -> None:
    request_id = answer(
        app.call(
            "submit_request",
            request("POST", "requests", json_body={"action": "disconnect", "source": str(app.a), "target": str(app.b)}),
        )
    )["requestId"]
    app.drain(wait=False)
    fingerprint = app.store.get(request_id).fingerprint
    raw, headers = slack_signed(
        action_form(
            {
                "user": {"id": "U01", "username": "sam"},
                "team": {"id": "T01"},
                "actions": [{"action_id": "approve", "value": f"{request_id}:{fingerprint}"}],
            }
        )
    )
    response = app.call("slack_action", request("POST", "chat/slack/actions", body=raw, headers=headers))
    assert response.status_code == 200
    assert answer(response)["text"].startswith("Not done:")
    assert app.store.get(request_id).status is Status.AWAITING_APPROVAL


@pytest.mark.parametrize("payload", ['{"user": {}}', "[1]", "{" * 40])
def test_a_signed_slack_payload_that_is_no_block_action_is_400(app: FakeApp, payload: str) -> None:
    raw, headers = slack_signed({"payload": payload})
    response = app.call("slack_action", request("POST", "chat/slack/actions", body=raw, headers=headers))
    assert error_of(response, 400)["code"] == "INVALID_PAYLOAD"


# -- teams_message ----------------------------------------------------------------------------------------------


def test_a_signed_teams_message_is_answered_as_a_message_activity(app: FakeApp) -> None:
    raw, headers = teams_signed(
        {
            "type": "message",
            "id": "act-1",
            "text": f"<at>interconnect</at> connect {app.a.name} {app.b.name}",
            "from": {"id": "29:1a", "aadObjectId": "aad-1", "name": "Tess"},
        }
    )
    response = app.call("teams_message", request("POST", "chat/teams", body=raw, headers=headers))
    assert response.status_code == 200
    reply = answer(response)
    assert reply["type"] == "message" and "accepted" in reply["text"]
    (row,) = app.store.rows.values()
    assert str(row.requester) == "teams:aad-1"


def test_an_unsigned_teams_message_is_401_and_does_nothing(app: FakeApp) -> None:
    raw = json.dumps({"type": "message", "text": "connect pc-a pc-b"}).encode()
    headers = signatures.sign_teams("QUFBQUFBQUFBQUFBQUFBQQ==", raw)
    response = app.call("teams_message", request("POST", "chat/teams", body=raw, headers=headers))
    assert error_of(response, 401)["code"] == "BAD_SIGNATURE"
    assert app.store.rows == {}


def test_a_signed_teams_body_that_is_no_activity_is_400(app: FakeApp) -> None:
    raw, headers = teams_signed({"type": "message", "text": ["not", "text"], "id": str(int(time.time()))})
    response = app.call("teams_message", request("POST", "chat/teams", body=raw, headers=headers))
    assert error_of(response, 400)["code"] == "INVALID_PAYLOAD"
