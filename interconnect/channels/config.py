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
from typing import Annotated, Any, Literal, TypeVar, get_args

from msgspec import Meta, Struct

from interconnect.channels.ticketmap import DEFAULT_MAPPINGS, TicketMapping, parse_mapping
from interconnect.errors import SettingsError, ValidationError
from interconnect.schema import Invalid, convert

T = TypeVar("T")

HookType = Literal["jira", "servicenow", "standard-webhooks"]
HOOK_TYPES: tuple[str, ...] = get_args(HookType)


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


# The two settings' schemas (interconnect/schema.py), checked source by source so an error names the source.
class _CallbackDoc(Struct, forbid_unknown_fields=True):
    url: str = ""
    table: str = "change_request"


class _HookDoc(Struct, forbid_unknown_fields=True):
    type: HookType
    callback: _CallbackDoc | None = None
    mapping: Any = None  # checked by parse_mapping, which names every problem at once; absent: the type's default


class _HookSecretsDoc(Struct, forbid_unknown_fields=True, rename="camel"):
    # No pattern nor Literal here: a problem with one of these never echoes the value (interconnect/schema.py).
    signing: Annotated[list[Annotated[str, Meta(min_length=1)]], Meta(min_length=1)]
    callback_authorization: str = ""
    callback_signing: str = ""


def _convert(where: str, raw: Any, schema: type[T]) -> T:
    try:
        return convert(raw, schema, where)
    except Invalid as exc:
        raise SettingsError("; ".join(exc.problems), details={"problems": exc.problems}) from None


def parse_channels(hooks: str, hook_secrets: str, slack: str, teams: str, teams_workflow_url: str) -> Channels:
    """Raises SettingsError naming the setting and key at fault (never a secret value)."""
    raw_hooks = _convert("INTERCONNECT_HOOKS", _json("INTERCONNECT_HOOKS", hooks, {}), dict[str, Any])
    raw_secrets = _convert(
        "INTERCONNECT_HOOK_SECRETS", _json("INTERCONNECT_HOOK_SECRETS", hook_secrets, {}), dict[str, Any]
    )
    sources = {}
    for name, raw_config in raw_hooks.items():
        where = f"INTERCONNECT_HOOKS.{name}"
        config = _convert(where, raw_config, _HookDoc)
        if name not in raw_secrets:  # every source is verified: no secret, no source
            raise SettingsError(
                f"INTERCONNECT_HOOK_SECRETS.{name}.signing: required (every source in "
                f"INTERCONNECT_HOOKS is verified with at least one secret)"
            )
        secrets = _convert(f"INTERCONNECT_HOOK_SECRETS.{name}", raw_secrets[name], _HookSecretsDoc)
        callback = config.callback or _CallbackDoc()
        try:  # mappings are checked now, so a bad one stops the app at start rather than failing live traffic
            mapping = parse_mapping(config.mapping or DEFAULT_MAPPINGS[config.type], f"{where}.mapping")
        except ValidationError as exc:
            raise SettingsError(exc.message, details=exc.details) from None
        sources[name] = HookSource(
            name=name,
            type=config.type,
            signing=tuple(secrets.signing),
            mapping=mapping,
            callback_url=callback.url.rstrip("/"),
            callback_table=callback.table,
            callback_authorization=secrets.callback_authorization,
            callback_signing=secrets.callback_signing,
        )
    return Channels(
        sources,
        secret_list("INTERCONNECT_SLACK_SIGNING_SECRETS", slack),
        secret_list("INTERCONNECT_TEAMS_SECRETS", teams),
        teams_workflow_url.strip(),
    )
