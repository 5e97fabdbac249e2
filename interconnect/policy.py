"""Requester policy: who may ask for which action on which clouds.

A policy is a JSON document (setting INTERCONNECT_POLICY: inline JSON, or the path of a JSON file):

    {"rules": [
      {"requesters": ["api:*"],            "actions": ["connect", "disconnect"], "scopes": ["*"]},
      {"requesters": ["slack:T01/U02", "jira:*"], "actions": ["connect"],
       "scopes": ["/subscriptions/<sub>/resourceGroups/rg-avs-prod"]}
    ]}

An optional `"approvers": ["api:*", "slack:T01/U09"]` lists who may approve disconnects (default `api:*`);
nobody may approve their own request.

A requester is `<channel>:<id>` (api, slack, teams, jira, servicenow, webhook…) matched by case-insensitive
globs. A scope is `*`, a subscription, a resource group or a private cloud id. A request is allowed when one
rule matches the requester and the action, and both clouds lie within that rule's scopes.

With no policy configured, DEFAULT applies: anyone may connect, and only REST API callers (function key or
Entra principal: the platform team's own automation) may disconnect. Chat and ticket requesters cannot
disconnect until a policy names them, because removing a link cuts traffic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interconnect.armid import CloudId
from interconnect.errors import InterconnectError
from interconnect.model import Action, Reason, Requester
from interconnect.permissions import matches


class PolicyError(InterconnectError):
    """The configured policy cannot be read."""

    code = "POLICY_INVALID"


@dataclass(frozen=True)
class PolicyRule:
    requesters: tuple[str, ...]
    actions: frozenset[Action]
    scopes: tuple[str, ...]

    def covers(self, cloud: CloudId) -> bool:
        return any(scope == "*" or cloud.normalized == scope or cloud.normalized.startswith(scope + "/")
                   for scope in self.scopes)

    def allows(self, requester: Requester, action: Action, clouds: tuple[CloudId, ...]) -> bool:
        return (action in self.actions and any(matches(glob, str(requester)) for glob in self.requesters)
                and all(self.covers(cloud) for cloud in clouds))


@dataclass(frozen=True)
class Policy:
    rules: tuple[PolicyRule, ...]
    source: str = "default"
    approvers: tuple[str, ...] = ("api:*",)  # who may approve a disconnect (never the requester)

    def may_approve(self, approver: Requester) -> bool:
        return any(matches(glob, str(approver)) for glob in self.approvers)

    def check(self, requester: Requester, action: Action, clouds: tuple[CloudId, ...]) -> list[Reason]:
        if any(rule.allows(requester, action, clouds) for rule in self.rules):
            return []
        return [Reason("REQUESTER_NOT_ALLOWED",
                       f"{requester} may not {action.value} {' and '.join(c.short for c in clouds)} "
                       f"under the {self.source} policy",
                       {"requester": str(requester), "action": action.value, "policy": self.source})]


def parse_policy(raw: Any, source: str) -> Policy:
    """Raises PolicyError naming the offending rule."""
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list) or set(raw) - {"rules", "approvers"}:
        raise PolicyError(f"policy {source}: expected an object with a 'rules' list and optional 'approvers'")
    approvers = raw.get("approvers", ["api:*"])
    if not isinstance(approvers, list) or not all(isinstance(a, str) and a for a in approvers):
        raise PolicyError(f"policy {source}: approvers must be a list of requester globs")
    rules = []
    for i, rule in enumerate(raw["rules"]):
        where = f"policy {source}: rules[{i}]"
        if not isinstance(rule, dict) or set(rule) - {"requesters", "actions", "scopes", "description"}:
            raise PolicyError(f"{where}: expected requesters, actions, scopes (and an optional description)")
        lists = {key: rule.get(key) for key in ("requesters", "actions", "scopes")}
        for key, value in lists.items():
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise PolicyError(f"{where}.{key}: expected a non-empty list of strings")
        try:
            actions = frozenset(Action(a) for a in lists["actions"])
        except ValueError:
            raise PolicyError(f"{where}.actions: only 'connect' and 'disconnect' exist") from None
        scopes = tuple(s.rstrip("/").lower() for s in lists["scopes"])
        if not all(s == "*" or s.startswith("/subscriptions/") for s in scopes):
            raise PolicyError(f"{where}.scopes: each scope is '*' or an ARM id starting with /subscriptions/")
        rules.append(PolicyRule(tuple(lists["requesters"]), actions, scopes))
    return Policy(tuple(rules), source, tuple(approvers))


DEFAULT = parse_policy({"rules": [
    {"requesters": ["*"], "actions": ["connect"], "scopes": ["*"]},
    {"requesters": ["api:*"], "actions": ["disconnect"], "scopes": ["*"]},
]}, "default")


def load_policy(setting: str) -> Policy:
    """The policy named by INTERCONNECT_POLICY: inline JSON, a JSON file path, or empty for DEFAULT."""
    setting = setting.strip()
    if not setting:
        return DEFAULT
    if setting.startswith("{"):
        text, source = setting, "INTERCONNECT_POLICY"
    else:
        try:
            text, source = Path(setting).read_text(encoding="utf-8"), setting
        except OSError as exc:
            raise PolicyError(f"policy file {setting} cannot be read: {exc}") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"policy {source} is not valid JSON: {exc}") from exc
    return parse_policy(raw, source)
