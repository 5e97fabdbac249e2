"""Channel configuration: which ticketing sources may call us, how to check them and how to answer them.

Two settings, so secrets can live in Key Vault apart from the rest:

    INTERCONNECT_HOOKS         {"jira-prod": {"type": "jira", "callback": {"url": "https://acme.atlassian.net"},
                                              "mapping": {...optional, see interconnect/channels/ticketmap.py...}},
                                "snow": {"type": "servicenow", "callback": {"url": "https://acme.service-now.com",
                                                                            "table": "change_request"}},
                                "cmdb": {"type": "standard-webhooks", "callback": {"url": "https://…/events"}}}
    INTERCONNECT_HOOK_SECRETS  {"jira-prod": {"signing": ["<current>", "<previous>"],
                                              "callbackAuthorization": "Basic <base64 user:api-token>"},
                                "cmdb": {"signing": ["whsec_…"], "callbackSigning": "whsec_…"}}

Slack and Teams take lists of secrets (JSON lists, or comma-separated): INTERCONNECT_SLACK_SIGNING_SECRETS,
INTERCONNECT_TEAMS_SECRETS; INTERCONNECT_TEAMS_WORKFLOW_URL is the Teams Workflows webhook that hears outcomes.
Every list of signing secrets is a rotation window: any listed secret verifies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from interconnect.channels.ticketmap import DEFAULT_MAPPINGS, TicketMapping, parse_mapping
from interconnect.errors import SettingsError, ValidationError

HOOK_TYPES = ("jira", "servicenow", "standard-webhooks")


@dataclass(frozen=True)
class HookSource:
    name: str
    type: str
    signing: tuple[str, ...]
    mapping: TicketMapping
    callback_url: str = ""
    callback_table: str = "change_request"
    callback_authorization: str = ""
    callback_signing: str = ""


@dataclass(frozen=True)
class Channels:
    hooks: dict[str, HookSource] = field(default_factory=dict)
    slack_secrets: tuple[str, ...] = ()
    teams_secrets: tuple[str, ...] = ()
    teams_workflow_url: str = ""


def _json(name: str, text: str, default: Any) -> Any:
    if not text.strip():
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} is not valid JSON: {exc.msg}") from None  # never echo a secret


def secret_list(name: str, text: str) -> tuple[str, ...]:
    text = text.strip()
    values = _json(name, text, []) if text.startswith("[") else text.split(",")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SettingsError(f"{name} must be a JSON list of strings or a comma-separated list")
    return tuple(v.strip() for v in values if v.strip())


def parse_channels(hooks: str, hook_secrets: str, slack: str, teams: str, teams_workflow_url: str) -> Channels:
    """Raises SettingsError naming the setting and key at fault (never a secret value)."""
    raw_hooks = _json("INTERCONNECT_HOOKS", hooks, {})
    raw_secrets = _json("INTERCONNECT_HOOK_SECRETS", hook_secrets, {})
    if not isinstance(raw_hooks, dict) or not isinstance(raw_secrets, dict):
        raise SettingsError("INTERCONNECT_HOOKS and INTERCONNECT_HOOK_SECRETS must be JSON objects keyed by source")
    sources = {}
    for name, config in raw_hooks.items():
        where = f"INTERCONNECT_HOOKS.{name}"
        if not isinstance(config, dict) or config.get("type") not in HOOK_TYPES:
            raise SettingsError(f"{where}.type must be one of {', '.join(HOOK_TYPES)}")
        secrets = raw_secrets.get(name, {})
        signing = secrets.get("signing", []) if isinstance(secrets, dict) else None
        if not isinstance(signing, list) or not signing or not all(isinstance(s, str) and s for s in signing):
            raise SettingsError(f"INTERCONNECT_HOOK_SECRETS.{name}.signing must list at least one secret")
        callback = config.get("callback") or {}
        if not isinstance(callback, dict):
            raise SettingsError(f"{where}.callback must be an object")
        try:  # mappings are checked now, so a bad one stops the app at start rather than failing live traffic
            mapping = parse_mapping(config.get("mapping") or DEFAULT_MAPPINGS[config["type"]], f"{where}.mapping")
        except ValidationError as exc:
            raise SettingsError(exc.message, details=exc.details) from None
        sources[name] = HookSource(
            name=name, type=config["type"], signing=tuple(signing), mapping=mapping,
            callback_url=str(callback.get("url", "")).rstrip("/"),
            callback_table=str(callback.get("table", "change_request")),
            callback_authorization=str(secrets.get("callbackAuthorization", "")),
            callback_signing=str(secrets.get("callbackSigning", "")))
    return Channels(sources, secret_list("INTERCONNECT_SLACK_SIGNING_SECRETS", slack),
                    secret_list("INTERCONNECT_TEAMS_SECRETS", teams), teams_workflow_url.strip())
