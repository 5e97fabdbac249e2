"""Hostile payloads on each channel (Jira, ServiceNow, Standard Webhooks, Slack command and action, Teams).

Correctly signed with the secrets the app is configured with, a hostile payload (deep JSON, wrong shapes, ids
that are not ARM ids or would change a URL, `.`/`..` names in a Slack button value) must get a 4xx or a
verdict, never a 5xx, and nothing stored for a 4xx; whatever it was answered, the app must still list its
requests afterwards (one signed Slack action once poisoned every later listing). The same payloads badly
signed (unsigned, wrong secret, tampered, stale, unknown hook source) must all be refused like a bad
signature: 0 bypasses.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid

import pytest
from hypothesis import given

from tests.security.conftest import TARGET, Attacked, hypothesis_settings
from tests.security.hostile import CHANNELS, Case, channel_case, sign
from tests.security.probe import Outcome, error_body
from tests.security.test_fuzz_routes import summary

pytestmark = pytest.mark.security

SIGNED_EXAMPLES = 50
FORGED_EXAMPLES = 25


def attack(attacked: Attacked, case: Case) -> Outcome:
    outcome = attacked.probe.run(case)
    if outcome.status is not None and outcome.status < 400:
        attacked.probe.still_readable(case, TARGET)
    return outcome


@pytest.mark.parametrize("channel", CHANNELS)
def test_signed_hostile_payloads_get_a_4xx_or_a_verdict_and_poison_nothing(attacked: Attacked, channel: str) -> None:
    probe = attacked.probe
    start, seen, unchecked = probe.cases, len(probe.violations), probe.unchecked

    @hypothesis_settings(SIGNED_EXAMPLES)
    @given(case=channel_case(channel, TARGET, forged=False))
    def run(case: Case) -> None:
        attack(attacked, case)

    run()
    print(f"{channel} signed: {probe.cases - start} cases; {probe.summary(limit=0).splitlines()[0]}")
    assert probe.cases - start >= SIGNED_EXAMPLES * 0.9
    new = probe.violations[seen:]
    assert not new, f"{channel}:\n" + summary(new)
    assert probe.unchecked == unchecked, f"{probe.unchecked - unchecked} 4xx not checked: the app never settled"


@pytest.mark.parametrize("channel", CHANNELS)
def test_badly_signed_payloads_are_refused_like_a_bad_signature(attacked: Attacked, channel: str) -> None:
    probe = attacked.probe
    start, seen, unchecked = probe.cases, len(probe.violations), probe.unchecked

    @hypothesis_settings(FORGED_EXAMPLES)
    @given(case=channel_case(channel, TARGET, forged=True))
    def run(case: Case) -> None:
        attack(attacked, case)

    run()
    assert probe.cases - start >= FORGED_EXAMPLES * 0.9
    new = probe.violations[seen:]
    assert not new, f"{channel}:\n" + summary(new)
    assert probe.unchecked == unchecked, f"{probe.unchecked - unchecked} 4xx not checked: the app never settled"


def slack_action(value: str, action_id: str = "confirm_disconnect") -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U1", "username": "eve"},
        "trigger_id": uuid.uuid4().hex,
        "response_url": "http://127.0.0.1:9/x",
        "actions": [{"action_id": action_id, "value": value}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def part(name: str, rg: str | None = None, sub: str | None = None) -> dict[str, str]:
    return {"subscription": sub or TARGET.subscription, "resource_group": rg or TARGET.resource_group, "name": name}


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (part("pc-a"), part(".")),
        (part("pc-a"), part("..")),
        (part("pc-a"), part("")),
        (part("."), part("..")),
        (part("pc-a"), part("pc-b", rg="..")),
        (part("pc-a"), part("pc-b", sub="..")),
        (part("pc-a"), part("a/b")),
        (part("pc-a"), part("pc-b", rg="a%2Fb")),
        (part("pc-a"), part("x" * 20_000)),
    ],
)
def test_a_signed_slack_button_naming_a_bad_cloud_is_400_and_stores_nothing(
    attacked: Attacked, source: dict, target: dict
) -> None:
    seen = len(attacked.probe.violations)
    body = slack_action(json.dumps({"source": source, "target": target, "ticket": "T"}))
    case = Case(
        "slack_action",
        "POST",
        "chat/slack/actions",
        sign("slack_action", TARGET, body),
        body,
        note="signed confirm_disconnect with a bad cloud",
    )
    outcome = attack(attacked, case)
    attacked.probe.still_readable(case, TARGET)
    new = attacked.probe.violations[seen:]
    assert not new, summary(new)
    assert outcome.status == 400, (outcome.status, outcome.body[:300])
    assert (error_body(outcome.body) or {}).get("code"), outcome.body[:300]


@pytest.mark.parametrize("channel", ["jira", "servicenow", "webhook"])
def test_an_unknown_hook_source_answers_exactly_like_a_bad_signature(attacked: Attacked, channel: str) -> None:
    body = b'{"action":"connect"}'
    bad = attacked.probe.run(
        Case(
            channel,
            "POST",
            f"hooks/{getattr(TARGET, f'{channel_source(channel)}_source')}",
            {"Content-Type": "application/json"},
            body,
            must_fail_signature=True,
        )
    )
    unknown = attacked.probe.run(
        Case(channel, "POST", "hooks/no-such-source", sign(channel, TARGET, body), body, must_fail_signature=True)
    )
    assert (unknown.status, unknown.body) == (bad.status, bad.body) == (401, bad.body), (unknown, bad)


def channel_source(channel: str) -> str:
    return {"jira": "jira", "servicenow": "snow", "webhook": "webhook"}[channel]
