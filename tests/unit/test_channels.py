"""Channel settings: parsed once, refused with a message that names the setting and never a secret."""

from __future__ import annotations

import json

import pytest

from interconnect.channels import parse_channels, secret_list
from interconnect.settings import SettingsError

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


@pytest.mark.parametrize(("hooks", "secrets", "where"), [
    ('{"x": {"type": "gitlab"}}', "{}", "INTERCONNECT_HOOKS.x.type"),
    ('{"x": {"type": "jira"}}', "{}", "INTERCONNECT_HOOK_SECRETS.x.signing"),
    ('{"x": {"type": "jira", "mapping": {"fields": {}}}}', '{"x": {"signing": ["k"]}}', "INTERCONNECT_HOOKS.x.mapping"),
    ("{not json", "{}", "INTERCONNECT_HOOKS"),
])
def test_bad_channel_settings_are_refused_naming_the_setting(hooks: str, secrets: str, where: str) -> None:
    with pytest.raises(SettingsError) as err:
        parse_channels(hooks, secrets, "", "", "")
    assert where in err.value.message


def test_a_malformed_secret_setting_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as err:
        parse_channels("", '{"x": "hunter2-secret', "", "", "")
    assert "hunter2" not in err.value.message
    with pytest.raises(SettingsError):
        secret_list("INTERCONNECT_SLACK_SIGNING_SECRETS", '["ok", 3]')
