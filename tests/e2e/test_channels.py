"""Requests from a Jira webhook, Slack and Teams, end to end, with the outcome told back to a local sink."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest

from interconnect.channels.signatures import (
    sign_jira,
    sign_servicenow,
    sign_slack,
    sign_standard_webhook,
    sign_teams,
    verify_standard_webhook,
)
from tests.e2e.conftest import App, cloud_ids, load_clouds, pc, running_app
from tests.e2e.sink import Sink, running_sink

pytestmark = pytest.mark.e2e

SUB, RG = "55555555-5555-5555-5555-555555555555", "rg-chat"
JIRA_SECRET = "jira-fake-secret-for-tests"
SLACK_SECRET = "slack-fake-signing-secret"
SNOW_SECRET = "servicenow-fake-shared-secret"
CMDB_SECRET = "whsec_" + base64.b64encode(b"cmdb-fake-signing-key-01234567").decode()
CMDB_CALLBACK_SECRET = "whsec_" + base64.b64encode(b"cmdb-fake-callback-key-0123456").decode()
TEAMS_SECRET = base64.b64encode(b"teams-fake-hmac-key-0123456789").decode()
A, B, C = cloud_ids(SUB, RG, "pc-a", "pc-b", "pc-c")


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    yield from running_sink()


@pytest.fixture(scope="module")
def chat_app(sink: Sink) -> Iterator[App]:
    yield from running_app(
        INTERCONNECT_APPROVALS="on",
        INTERCONNECT_POLICY=json.dumps(
            {
                "rules": [
                    {
                        "requesters": ["api:*", "slack:T1/*", "jira-prod:*", "snow:*", "cmdb:*"],
                        "actions": ["connect", "disconnect"],
                        "scopes": [f"/subscriptions/{SUB}"],
                    },
                    {"requesters": ["teams:*"], "actions": ["connect"], "scopes": ["*"]},
                ],
                "approvers": ["api:*", "slack:T1/*"],
            }
        ),
        INTERCONNECT_SUBSCRIPTIONS=SUB,
        INTERCONNECT_HOOKS=json.dumps(
            {
                "jira-prod": {"type": "jira", "callback": {"url": f"{sink.url}/jira"}},
                "snow": {"type": "servicenow", "callback": {"url": f"{sink.url}/snow", "table": "change_request"}},
                "cmdb": {"type": "standard-webhooks", "callback": {"url": f"{sink.url}/cmdb-events"}},
            }
        ),
        INTERCONNECT_HOOK_SECRETS=json.dumps(
            {
                "jira-prod": {"signing": [JIRA_SECRET], "callbackAuthorization": "Basic ZmFrZTpmYWtl"},
                "snow": {"signing": [SNOW_SECRET], "callbackAuthorization": "Basic c25vdzpmYWtl"},
                "cmdb": {"signing": [CMDB_SECRET], "callbackSigning": CMDB_CALLBACK_SECRET},
            }
        ),
        INTERCONNECT_SLACK_SIGNING_SECRETS=SLACK_SECRET,
        INTERCONNECT_TEAMS_SECRETS=TEAMS_SECRET,
        INTERCONNECT_TEAMS_WORKFLOW_URL=f"{sink.url}/teams-workflow",
    )


@pytest.fixture
def fleet(chat_app: App) -> None:
    load_clouds(
        chat_app, [pc("pc-a", "10.0.0.0/22"), pc("pc-b", "10.0.4.0/22"), pc("pc-c", "10.0.8.0/22")], sub=SUB, rg=RG
    )


def jira_payload(key: str, action: str, source: str, target: str) -> bytes:
    return json.dumps(
        {
            "webhookEvent": "jira:issue_updated",
            "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5"},
            "issue": {
                "key": key,
                "fields": {
                    "customfield_10052": {"value": action},
                    "customfield_10050": source,
                    "customfield_10051": target,
                },
            },
        }
    ).encode()


def post_raw(app: App, path: str, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return app.call("POST", path, raw=body, headers=headers, key=None)


def test_a_jira_ticket_links_two_clouds_and_is_told_in_a_comment(chat_app: App, sink: Sink, fleet: None) -> None:
    key = f"NET-{uuid.uuid4().hex[:4]}"
    body = jira_payload(key, "Connect", A, B)
    headers = {
        **sign_jira(JIRA_SECRET, body),
        "X-Atlassian-Webhook-Identifier": uuid.uuid4().hex,
        "Content-Type": "application/json",
    }
    first = post_raw(chat_app, "hooks/jira-prod", body, headers)
    assert first.status == 202, first.body
    retry = post_raw(chat_app, "hooks/jira-prod", body, {**headers, "X-Atlassian-Webhook-Retry": "1"})
    assert (retry.status, retry.body["requestId"]) == (200, first.body["requestId"])
    done = chat_app.wait(first.body["requestId"])
    assert done["status"] == "Succeeded" and done["reference"] == key
    assert done["requestedBy"]["channel"] == "jira-prod"
    comment = sink.wait_for(
        lambda r: r.path == f"/jira/rest/api/3/issue/{key}/comment" and "Succeeded" in json.dumps(r.body),
        what="the Jira comment",
    )
    assert comment.headers["authorization"] == "Basic ZmFrZTpmYWtl"
    assert comment.body["body"]["type"] == "doc"
    events = chat_app.call("GET", f"requests/{done['requestId']}").body["events"]
    assert any("told hook" in e["message"] for e in events)


def test_a_badly_signed_webhook_is_refused_and_nothing_is_kept(chat_app: App, fleet: None) -> None:
    body = jira_payload("NET-BAD", "Connect", A, B)
    rows = chat_app.request_rows()
    for headers in ({"X-Hub-Signature": "sha256=" + "0" * 64}, {}, sign_jira("wrong-secret", body)):
        answer = post_raw(chat_app, "hooks/jira-prod", body, headers)
        assert answer.status == 401 and answer.body["error"] == {
            "code": "BAD_SIGNATURE",
            "message": "signature verification failed",
        }
    tampered = post_raw(chat_app, "hooks/jira-prod", body.replace(b"NET-BAD", b"NET-BAE"), sign_jira(JIRA_SECRET, body))
    assert tampered.status == 401
    assert chat_app.request_rows() == rows


def test_a_ticket_that_does_not_map_gets_422_listing_what_is_missing(chat_app: App, fleet: None) -> None:
    body = json.dumps({"issue": {"key": "NET-9", "fields": {}}}).encode()
    answer = post_raw(chat_app, "hooks/jira-prod", body, sign_jira(JIRA_SECRET, body))
    assert answer.status == 422 and answer.body["error"]["code"] == "MAPPING_FAILED"
    assert "customfield_10050" in json.dumps(answer.body["error"])
    # An unconfigured source answers as a bad signature would, so source names cannot be enumerated.
    assert post_raw(chat_app, "hooks/unknown", body, sign_jira(JIRA_SECRET, body)).status == 401


def slack(app: App, path: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    body = urllib.parse.urlencode(form).encode()
    headers = {**sign_slack(SLACK_SECRET, int(time.time()), body), "Content-Type": "application/x-www-form-urlencoded"}
    return post_raw(app, path, body, headers)


def slash(app: App, sink: Sink, text: str, user: str = "U1"):  # type: ignore[no-untyped-def]
    return slack(
        app,
        "chat/slack",
        {
            "team_id": "T1",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/avs",
            "text": text,
            "trigger_id": uuid.uuid4().hex,
            "response_url": f"{sink.url}/slack/{uuid.uuid4().hex}",
        },
    )


def test_a_slack_command_is_acknowledged_at_once_and_the_outcome_posted_later(
    chat_app: App, sink: Sink, fleet: None
) -> None:
    # The acknowledgement answers before any ARM work; its latency is measured by bench/intake.py, not here.
    answer = slash(chat_app, sink, "connect pc-a rg-chat/pc-c CHG-42")
    assert answer.status == 200, answer.body
    text = answer.body["text"]
    assert text.startswith("Request ") and "accepted" in text
    request_id = text.split()[1]
    done = chat_app.wait(request_id)
    assert done["status"] == "Succeeded" and done["requestedBy"] == {"channel": "slack", "id": "T1/U1", "display": "u1"}
    posted = sink.wait_for(
        lambda r: (
            r.path.startswith("/slack/") and request_id in r.body.get("text", "") and "Succeeded" in r.body["text"]
        ),
        what="the Slack outcome",
    )
    assert posted.body["blocks"][0]["type"] == "header"


def test_slack_typos_and_unknown_clouds_get_help_not_errors(chat_app: App, sink: Sink, fleet: None) -> None:
    typo = slash(chat_app, sink, "conect pc-a pc-b")
    assert typo.status == 200 and "did you mean connect" in typo.body["text"]
    unknown = slash(chat_app, sink, "connect pc-a pc-zzz")
    assert unknown.status == 200 and "pc-zzz" in unknown.body["text"]
    plan = slash(chat_app, sink, "plan pc-a pc-b")
    assert plan.status == 200 and plan.body["text"].startswith("Would create")


def test_a_slack_disconnect_is_confirmed_then_approved_by_someone_else(chat_app: App, sink: Sink, fleet: None) -> None:
    chat_app.arm.add_link(A, B)
    ask = slash(chat_app, sink, "disconnect pc-a pc-b")
    button = ask.body["blocks"][1]["elements"][0]
    assert button["style"] == "danger" and button["confirm"]["style"] == "danger"

    def click(action_id: str, value: str, user: str, response_url: str):  # type: ignore[no-untyped-def]
        payload = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": user, "username": user.lower()},
            "trigger_id": uuid.uuid4().hex,
            "response_url": response_url,
            "actions": [{"action_id": action_id, "value": value}],
        }
        return slack(chat_app, "chat/slack/actions", {"payload": json.dumps(payload)})

    confirm_url = f"{sink.url}/slack/{uuid.uuid4().hex}"
    confirmed = click("confirm_disconnect", button["value"], "U1", confirm_url)
    request_id = confirmed.body["text"].split("request ")[1].split(")")[0]
    chat_app.wait_for(request_id, "AwaitingApproval")
    waiting = sink.wait_for(
        lambda r: r.path == confirm_url.removeprefix(sink.url) and "AwaitingApproval" in r.body.get("text", ""),
        what="the approval message",
    )
    # The approval prompt says what the disconnect cuts, as GET /api/requests/{id} does (linking/impact.py).
    cut = "What it cuts: pc-a and pc-b stop reaching each other ("
    assert cut in waiting.body["text"] and cut in waiting.body["blocks"][2]["text"]["text"]
    assert "pc-a: 10.0.0.0/22 networkBlock" in waiting.body["text"]
    assert "pc-b: 10.0.4.0/22 networkBlock" in waiting.body["text"]
    shown = chat_app.call("GET", f"requests/{request_id}").body
    assert shown["status"] == "AwaitingApproval" and shown["impact"]["linked"] == "yes", shown
    assert shown["impact"]["summary"] in waiting.body["text"]
    assert {"prefix": "10.0.0.0/22", "source": "networkBlock"} in shown["impact"]["source"]["routed"]
    assert {"prefix": "10.0.4.0/22", "source": "networkBlock"} in shown["impact"]["target"]["routed"]
    approve = next(e for e in waiting.body["blocks"][-1]["elements"] if e["action_id"] == "approve")
    own = click("approve", approve["value"], "U1", confirm_url)
    assert "Not done" in own.body["text"]
    approved = click("approve", approve["value"], "U2", confirm_url)
    assert approved.body["text"].startswith("Approved by <@U2>")
    done = chat_app.wait(request_id)
    assert done["status"] == "Succeeded" and chat_app.links() == []
    assert done["approval"]["decidedBy"] == "slack:T1/U2"


def test_a_teams_message_is_answered_and_replays_make_no_second_request(chat_app: App, sink: Sink, fleet: None) -> None:
    activity = {
        "type": "message",
        "id": uuid.uuid4().hex,
        "text": "<at>Interconnect</at> connect pc-b pc-c",
        "from": {"id": "29:abc", "name": "Dana", "aadObjectId": "00000000-0000-0000-0000-0000000000da"},
    }
    body = json.dumps(activity).encode()
    answer = post_raw(chat_app, "chat/teams", body, sign_teams(TEAMS_SECRET, body))
    assert answer.status == 200 and answer.body["type"] == "message"
    request_id = answer.body["text"].split()[1]
    replay = post_raw(chat_app, "chat/teams", body, sign_teams(TEAMS_SECRET, body))
    assert replay.body["text"].split()[1] == request_id
    assert post_raw(chat_app, "chat/teams", body, {"Authorization": "HMAC " + "A" * 44}).status == 401
    done = chat_app.wait(request_id)
    assert done["status"] == "Succeeded" and done["requestedBy"]["id"] == activity["from"]["aadObjectId"]
    card = sink.wait_for(
        lambda r: (
            r.path == "/teams-workflow" and request_id in json.dumps(r.body) and "Succeeded" in json.dumps(r.body)
        ),
        what="the Teams card",
    )
    assert card.body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"


def test_a_servicenow_change_is_linked_and_its_work_notes_patched(chat_app: App, sink: Sink, fleet: None) -> None:
    number, sys_id = f"CHG{uuid.uuid4().int % 10**7:07d}", uuid.uuid4().hex
    body = json.dumps(
        {
            "number": number,
            "sys_id": sys_id,
            "u_action": "connect",
            "u_source_cloud": A,
            "u_target_cloud": C,
            "sys_updated_by": "jdoe",
        }
    ).encode()
    answer = post_raw(chat_app, "hooks/snow", body, sign_servicenow(SNOW_SECRET, int(time.time()), body))
    assert answer.status == 202, answer.body
    assert chat_app.wait(answer.body["requestId"])["status"] == "Succeeded"
    patch = sink.wait_for(
        lambda r: (
            r.method == "PATCH"
            and r.path == f"/snow/api/now/table/change_request/{sys_id}"
            and "Succeeded" in r.body.get("work_notes", "")
        ),
        what="the ServiceNow work note",
    )
    assert patch.headers["authorization"] == "Basic c25vdzpmYWtl"


def test_a_standard_webhook_request_gets_signed_status_events(chat_app: App, sink: Sink, fleet: None) -> None:
    body = json.dumps(
        {"action": "connect", "source": B, "target": C, "reference": "CMDB-7", "requestedBy": "pipeline"}
    ).encode()
    headers = sign_standard_webhook(CMDB_SECRET, f"msg_{uuid.uuid4().hex}", int(time.time()), body)
    answer = post_raw(chat_app, "hooks/cmdb", body, headers)
    assert answer.status == 202, answer.body
    stale = sign_standard_webhook(CMDB_SECRET, f"msg_{uuid.uuid4().hex}", int(time.time()) - 600, body)
    assert post_raw(chat_app, "hooks/cmdb", body, stale).status == 401
    request_id = answer.body["requestId"]
    assert chat_app.wait(request_id)["status"] == "Succeeded"
    event = sink.wait_for(
        lambda r: (
            r.path == "/cmdb-events"
            and r.body["type"] == "request.succeeded"
            and r.body["data"]["requestId"] == request_id
        ),
        what="the signed event",
    )
    raw = json.dumps(event.body).encode()
    verify_standard_webhook(event.headers, raw, [CMDB_CALLBACK_SECRET], now=time.time())
