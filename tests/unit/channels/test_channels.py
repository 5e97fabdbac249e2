"""Channel settings: parsed once, refused with a message that names the setting and never a secret. And what
enters through a channel: held to the REST API's rules before anything is stored or queued."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters.memory import InMemoryAvs, InMemoryRequestStore, InMemoryWorkQueue
from interconnect.avs.known import KnownClouds
from interconnect.channels import signatures
from interconnect.channels.config import parse_channels, secret_list
from interconnect.channels.inbound import SLACK_ACTION_LIMIT, Inbound
from interconnect.errors import ArmError, SettingsError, TooLargeError, ValidationError
from interconnect.linking.approvals import Approvals
from interconnect.linking.facts import Preflight
from interconnect.linking.intake import Intake
from interconnect.linking.policy import DEFAULT
from interconnect.linking.queries import Queries
from tests.factories import SUB_A, cloud, cloud_id

HOOKS = json.dumps({"jira-prod": {"type": "jira", "callback": {"url": "https://acme.atlassian.net/"}}})
SECRETS = json.dumps({"jira-prod": {"signing": ["s3cr3t-one", "s3cr3t-two"], "callbackAuthorization": "Basic x"}})


def test_a_configured_source_carries_its_secrets_mapping_and_callback() -> None:
    channels = parse_channels(HOOKS, SECRETS, '["a", "b"]', "t1, t2", "https://example.invalid/flow")
    source = channels.hooks["jira-prod"]
    assert source.signing == ("s3cr3t-one", "s3cr3t-two") and source.callback_url == "https://acme.atlassian.net"
    assert source.mapping.fields["reference"] == "issue.key"
    assert channels.slack_secrets == ("a", "b") and channels.teams_secrets == ("t1", "t2")


def test_nothing_configured_means_no_channel_accepts() -> None:
    channels = parse_channels("", "", "", "", "")
    assert channels.hooks == {} and channels.slack_secrets == () and channels.teams_secrets == ()


@pytest.mark.parametrize(
    ("hooks", "secrets", "where"),
    [
        ('{"x": {"type": "gitlab"}}', "{}", "INTERCONNECT_HOOKS.x.type"),
        ('{"x": {"type": "jira"}}', "{}", "INTERCONNECT_HOOK_SECRETS.x.signing"),
        (
            '{"x": {"type": "jira", "mapping": {"fields": {}}}}',
            '{"x": {"signing": ["k"]}}',
            "INTERCONNECT_HOOKS.x.mapping",
        ),
        ("{not json", "{}", "INTERCONNECT_HOOKS"),
    ],
)
def test_bad_channel_settings_are_refused_naming_the_setting(hooks: str, secrets: str, where: str) -> None:
    with pytest.raises(SettingsError) as err:
        parse_channels(hooks, secrets, "", "", "")
    assert where in err.value.message


@pytest.mark.parametrize(
    ("hooks", "secrets", "message"),
    [
        ("[]", "{}", "INTERCONNECT_HOOKS: expected an object, got a list"),
        ("{}", '["k"]', "INTERCONNECT_HOOK_SECRETS: expected an object, got a list"),
        ('{"x": 5}', "{}", "INTERCONNECT_HOOKS.x: expected an object, got an integer"),
        ('{"x": {}}', "{}", "INTERCONNECT_HOOKS.x.type: required"),
        (
            '{"x": {"type": "gitlab"}}',
            "{}",
            "INTERCONNECT_HOOKS.x.type: expected one of jira, servicenow, standard-webhooks, not 'gitlab'",
        ),
        (
            '{"x": {"type": "jira", "callbak": {}}}',
            "{}",
            "INTERCONNECT_HOOKS.x.callbak: unknown field (allowed: callback, mapping, type)",
        ),
        (
            '{"x": {"type": "jira", "callback": {"url": 5}}}',
            "{}",
            "INTERCONNECT_HOOKS.x.callback.url: expected a string, got an integer",
        ),
        (
            '{"x": {"type": "jira"}}',
            '{"y": {"signing": ["k"]}}',
            "INTERCONNECT_HOOK_SECRETS.x.signing: required (every source in INTERCONNECT_HOOKS is verified with "
            "at least one secret)",
        ),
        ('{"x": {"type": "jira"}}', '{"x": {}}', "INTERCONNECT_HOOK_SECRETS.x.signing: required"),
        (
            '{"x": {"type": "jira"}}',
            '{"x": {"signing": []}}',
            "INTERCONNECT_HOOK_SECRETS.x.signing: expected a non-empty list",
        ),
        (
            '{"x": {"type": "jira"}}',
            '{"x": {"signing": ["k", ""]}}',
            "INTERCONNECT_HOOK_SECRETS.x.signing[1]: expected a non-empty string",
        ),
        (
            '{"x": {"type": "jira"}}',
            '{"x": {"signing": ["k"], "callbackauthorization": "Basic x"}}',
            "INTERCONNECT_HOOK_SECRETS.x.callbackauthorization: unknown field (allowed: callbackAuthorization, "
            "callbackSigning, signing)",
        ),
    ],
)
def test_a_bad_channel_setting_is_refused_naming_the_key_and_what_it_should_hold(
    hooks: str, secrets: str, message: str
) -> None:
    with pytest.raises(SettingsError) as err:
        parse_channels(hooks, secrets, "", "", "")
    assert err.value.code == "SETTINGS_INVALID" and err.value.message == message


def test_callback_and_mapping_may_be_null_or_absent_and_then_take_their_defaults() -> None:
    channels = parse_channels(
        '{"x": {"type": "servicenow", "callback": null, "mapping": null}}',
        '{"x": {"signing": ["k"]}, "unused": {"anything": 1}}',
        "",
        "",
        "",
    )
    source = channels.hooks["x"]
    assert (source.callback_url, source.callback_table) == ("", "change_request")
    assert source.mapping.fields["reference"] == "number" and "unused" not in channels.hooks


@pytest.mark.parametrize(
    "secrets",
    [
        '{"x": {"signing": "hunter2-secret"}}',
        '{"x": {"signing": ["hunter2-secret", 5]}}',
        '{"x": {"signing": ["k"], "callbackAuthorization": ["Basic hunter2-secret"]}}',
        '{"x": {"signing": ["k"], "callbackSigning": {"v": "whsec_hunter2"}}}',
        '{"x": "hunter2-secret"}',
    ],
)
def test_a_bad_secret_is_refused_naming_its_key_and_never_its_value(secrets: str) -> None:
    with pytest.raises(SettingsError) as err:
        parse_channels('{"x": {"type": "jira"}}', secrets, "", "", "")
    assert "INTERCONNECT_HOOK_SECRETS.x" in err.value.message and "hunter2" not in err.value.message
    assert "hunter2" not in json.dumps(err.value.details)


def test_a_malformed_secret_setting_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as err:
        parse_channels("", '{"x": "hunter2-secret', "", "", "")
    assert "hunter2" not in err.value.message
    with pytest.raises(SettingsError):
        secret_list("INTERCONNECT_SLACK_SIGNING_SECRETS", '["ok", 3]')


# -- what enters through a channel is held to the REST API's rules (interconnect/channels/inbound.py) ------------------

SLACK = "slack-fake-signing-secret"
TEAMS = "dGVhbXMtZmFrZS1obWFjLWtleS0wMTIzNDU2Nzg5"
A, B = cloud_id("pc-a"), cloud_id("pc-b")


class Channel:
    """An Inbound over in-memory ports, with what it stored and queued in plain sight."""

    def __init__(self) -> None:
        self.store, self.queue, self.avs = InMemoryRequestStore(), InMemoryWorkQueue(), InMemoryAvs()
        self.avs.add(cloud(A))
        self.avs.add(cloud(B, block="10.0.4.0/22"))
        clock = lambda: datetime.now(UTC)  # noqa: E731
        intake = Intake(self.store, self.queue, clock)
        preflight = Preflight(self.avs, self.store)
        self.inbound = Inbound(
            parse_channels(HOOKS, SECRETS, SLACK, TEAMS, ""),
            intake,
            Queries(self.store, self.avs, self.queue, preflight),
            Approvals(self.store, self.queue, clock, DEFAULT),
            KnownClouds(self.avs, (SUB_A,)),
        )

    def nothing_kept(self) -> bool:
        return not self.store.rows and not self.queue.sent

    def slack_action(self, action_id: str, value: str, **extra: object) -> dict:
        payload = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": "U1", "username": "u1"},
            "trigger_id": uuid.uuid4().hex,
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [{"action_id": action_id, "value": value}],
            **extra,
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.inbound.slack_action(signatures.sign_slack(SLACK, int(time.time()), body), body)


def confirmation(source: object, target: object, ticket: str = "") -> str:
    return json.dumps({"source": source, "target": target, "ticket": ticket})


def test_a_confirmed_disconnect_from_a_well_formed_button_is_accepted() -> None:
    channel = Channel()
    answer = channel.slack_action("confirm_disconnect", confirmation(str(A), str(B), "CHG-1"))
    assert answer["text"].startswith("Disconnect requested") and len(channel.store.rows) == 1
    (request,) = channel.store.rows.values()
    assert (request.source, request.target, request.reference) == (A, B, "CHG-1")


def test_a_button_posted_before_ids_were_sent_whole_still_works() -> None:
    channel = Channel()
    parts = {"subscription": A.subscription, "resource_group": A.resource_group, "name": A.name}
    channel.slack_action("confirm_disconnect", confirmation(parts, str(B)))
    assert len(channel.store.rows) == 1


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (confirmation({"subscription": "x/y", "resource_group": "rg", "name": "pc"}, str(B)), "INVALID_ID"),
        (confirmation({"subscription": SUB_A, "resource_group": "rg", "name": ".."}, str(B)), "INVALID_ID"),
        (
            confirmation({"subscription": SUB_A, "resource_group": "rg", "name": "pc", "extra": "1"}, str(B)),
            "INVALID_ID",
        ),
        (confirmation(str(A).replace("pc-a", "."), str(B)), "INVALID_ID"),
        (confirmation(str(A) + "/cloudLinks/x", str(B)), "INVALID_ID"),
        (confirmation(str(A), str(A).upper().replace("SUBSCRIPTIONS", "subscriptions")), "SAME_CLOUD"),
        (confirmation(str(A), str(B), "<!here> ticket"), "INVALID_FIELD"),
        (confirmation(str(A), 7), "INVALID_ID"),
        ("[" * 500 + "]" * 500, "INVALID_PAYLOAD"),
        ('{"source": "a"}', "INVALID_PAYLOAD"),
        ("x" * 2001, "INVALID_PAYLOAD"),
    ],
)
def test_a_signed_confirmation_with_bad_ids_is_refused_and_nothing_is_kept(value: str, code: str) -> None:
    channel = Channel()
    with pytest.raises(ValidationError) as err:
        channel.slack_action("confirm_disconnect", value)
    assert err.value.code == code and channel.nothing_kept()


@pytest.mark.parametrize("value", ["nope", f"{uuid.uuid4()}:", f"{uuid.uuid4()}:{'z' * 32}", "x" * 50_000])
def test_approval_buttons_must_carry_a_request_id_and_fingerprint(value: str) -> None:
    channel = Channel()
    with pytest.raises(ValidationError) as err:
        channel.slack_action("approve", value)
    assert err.value.code == "INVALID_PAYLOAD" and channel.nothing_kept()


@pytest.mark.parametrize(
    "extra",
    [
        {"user": {"id": "U1\n<!here>"}},
        {"user": {"id": "U1", "username": "x" * 500}},
        {"response_url": "file:///etc/passwd"},
        {"response_url": "https://u:p@x.test/"},
        {"trigger_id": "a b"},
        {"team": {"id": ["T1"]}},
        {"user": "U1"},
    ],
)
def test_sender_fields_of_a_signed_action_are_checked_before_anything_is_stored(extra: dict) -> None:
    channel = Channel()
    with pytest.raises(ValidationError):
        channel.slack_action("confirm_disconnect", confirmation(str(A), str(B)), **extra)
    assert channel.nothing_kept()


def test_a_deep_or_huge_slack_payload_is_refused_before_decoding() -> None:
    channel = Channel()
    deep = urllib.parse.urlencode({"payload": "[" * 5000 + "]" * 5000}).encode()
    with pytest.raises(ValidationError) as err:
        channel.inbound.slack_action(signatures.sign_slack(SLACK, int(time.time()), deep), deep)
    assert err.value.code == "INVALID_PAYLOAD"
    huge = b"payload=" + b"x" * SLACK_ACTION_LIMIT
    with pytest.raises(TooLargeError):
        channel.inbound.slack_action(signatures.sign_slack(SLACK, int(time.time()), huge), huge)
    assert channel.nothing_kept()


@pytest.mark.parametrize(
    "activity",
    [
        {"type": "message", "id": "1", "text": {"nested": "[" * 10}, "from": {"id": "29:a"}},
        {"type": "message", "id": "1 2", "text": "help", "from": {"id": "29:a"}},
        {"type": "message", "id": "1", "text": "help", "from": {"id": "29:a\n"}},
        {"type": "message", "id": "1", "text": "help", "from": "29:a"},
    ],
)
def test_a_signed_teams_activity_with_malformed_fields_is_refused(activity: dict) -> None:
    channel = Channel()
    body = json.dumps(activity).encode()
    with pytest.raises(ValidationError) as err:
        channel.inbound.teams(signatures.sign_teams(TEAMS, body), body)
    assert err.value.code == "INVALID_PAYLOAD" and channel.nothing_kept()


def test_a_deeply_nested_teams_activity_is_400_not_a_crash() -> None:
    channel = Channel()
    body = b'{"text": "help", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    with pytest.raises(ValidationError) as err:
        channel.inbound.teams(signatures.sign_teams(TEAMS, body), body)
    assert err.value.code == "INVALID_PAYLOAD"


def test_a_teams_connect_naming_a_dot_cloud_is_refused_in_the_reply_and_nothing_is_kept() -> None:
    channel = Channel()
    activity = {
        "type": "message",
        "id": "7",
        "text": f"connect {str(A).replace('pc-a', '..')} pc-b",
        "from": {"id": "29:a"},
    }
    body = json.dumps(activity).encode()
    answer = channel.inbound.teams(signatures.sign_teams(TEAMS, body), body)
    assert "INVALID_ID" in answer["text"] and "'..'" in answer["text"] and channel.nothing_kept()


def test_an_unknown_hook_source_fails_exactly_as_a_bad_signature() -> None:
    channel = Channel()
    body = b'{"issue": {"key": "NET-1"}}'
    with pytest.raises(signatures.SignatureError) as unknown:
        channel.inbound.hook("nope", signatures.sign_jira("s3cr3t-one", body), body)
    with pytest.raises(signatures.SignatureError) as forged:
        channel.inbound.hook("jira-prod", signatures.sign_jira("wrong", body), body)
    assert (unknown.value.code, unknown.value.message) == (forged.value.code, "signature verification failed")
    assert channel.nothing_kept()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from([str(A), str(B), "..", ".", SUB_A, "rg-avs"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["source", "target", "ticket", "subscription", "resource_group", "name", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_button_value_either_names_two_valid_clouds_or_is_refused_with_nothing_kept(value: object) -> None:
    channel = Channel()
    try:
        channel.slack_action("confirm_disconnect", json.dumps(value))
    except ValidationError as exc:
        assert exc.code in ("INVALID_PAYLOAD", "INVALID_ID", "INVALID_FIELD", "SAME_CLOUD")
        assert channel.nothing_kept()
    else:
        (request,) = channel.store.rows.values()
        assert {request.source, request.target} == {A, B}


def teams_says(channel: Channel, text: str) -> str:
    body = json.dumps({"type": "message", "id": uuid.uuid4().hex[:8], "text": text, "from": {"id": "29:a"}}).encode()
    return channel.inbound.teams(signatures.sign_teams(TEAMS, body), body)["text"]


def test_chat_links_says_a_refused_listing_is_incomplete_rather_than_that_there_are_no_links() -> None:
    channel = Channel()
    assert teams_says(channel, "links pc-a") == f"{A.short} has no links."
    channel.avs.refuse["list_links"] = ArmError("refused", code="ARM_AuthorizationFailed", details={"status": 403})
    answer = teams_says(channel, "links pc-a")
    assert "has no links" not in answer
    assert (
        answer.startswith(f"{A.short}: no links could be read.") and "⚠ Incomplete: cloudLinks.list of pc-a" in answer
    )
