"""Requester policy: who may ask for which action on which clouds.

A policy is a JSON document (setting INTERCONNECT_POLICY: inline JSON, or the path of a JSON file):

    {"rules": [
      {"requesters": ["api:*"],            "actions": ["connect", "disconnect"], "scopes": ["*"]},
      {"requesters": ["slack:T01/U02", "jira:*"], "actions": ["connect"],
       "scopes": ["/subscriptions/<sub>/resourceGroups/rg-avs-prod"]}
    ]}

An optional `"approvers": ["role:Links.Approve", "slack:T01/U09"]` lists who may approve disconnects (default:
the `Links.Approve` and `Links.Admin` app roles); nobody may approve their own request, and a REST caller must
be a person signed in with Entra ID (interconnect/app/identity.py), never a function key or an application.

An entry in `requesters` or `approvers` is one of
- `<channel>:<id>`, a case-insensitive glob over the requester (api, slack, teams, jira, servicenow, webhook…):
  `api:<Entra object id>`, `api:sp:<application id>`, `api:key` (a function key), `slack:T01/*`;
- `role:<app role>`, held by an Entra caller whose verified token carries that app role (`role:Links.Request`);
- `group:<Entra group object id>`, held by a person whose verified token lists that group.
Roles and groups are those of the token the request was filed (or approved) with.

A scope is `*`, a subscription, a resource group or a private cloud id. A request is allowed when one rule
matches the requester and the action, and both clouds lie within that rule's scopes.

With no policy configured, DEFAULT applies: anyone may connect; a disconnect may be asked for by automation
holding a function key (`api:key`) or by an Entra caller with the `Links.Request` or `Links.Admin` role, and
approved by one with `Links.Approve` or `Links.Admin`. Chat and ticket requesters cannot disconnect until a
policy names them, because removing a link cuts traffic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from interconnect.avs.ids import CloudId
from interconnect.avs.permissions import matches
from interconnect.errors import PolicyError
from interconnect.linking.model import Action, Reason, Requester
from interconnect.schema import Invalid, convert, pattern

DEFAULT_APPROVERS = ("role:Links.Approve", "role:Links.Admin")


def names(entry: str, requester: Requester) -> bool:
    """Does a policy entry (a principal glob, `role:<name>` or `group:<id>`) name this requester?"""
    kind, _, value = entry.partition(":")
    if kind.lower() == "role":
        return value.casefold() in {role.casefold() for role in requester.roles}
    if kind.lower() == "group":
        return value.casefold() in {group.casefold() for group in requester.groups}
    return matches(entry, str(requester))


@dataclass(frozen=True)
class PolicyRule:
    requesters: tuple[str, ...]
    actions: frozenset[Action]
    scopes: tuple[str, ...]

    def covers(self, cloud: CloudId) -> bool:
        return any(
            scope == "*" or cloud.normalized == scope or cloud.normalized.startswith(scope + "/")
            for scope in self.scopes
        )

    def allows(self, requester: Requester, action: Action, clouds: tuple[CloudId, ...]) -> bool:
        return (
            action in self.actions
            and any(names(entry, requester) for entry in self.requesters)
            and all(self.covers(cloud) for cloud in clouds)
        )


@dataclass(frozen=True)
class Policy:
    rules: tuple[PolicyRule, ...]
    source: str = "default"
    approvers: tuple[str, ...] = DEFAULT_APPROVERS  # who may approve a disconnect (never the requester)

    def may_approve(self, approver: Requester) -> bool:
        return any(names(entry, approver) for entry in self.approvers)

    def may_request(self, requester: Requester) -> bool:
        """Does some rule name `requester`, for any action and scope? (What a console offers; each request is
        still checked against the rules for its action and clouds.)"""
        return any(names(entry, requester) for rule in self.rules for entry in rule.requesters)

    def check(self, requester: Requester, action: Action, clouds: tuple[CloudId, ...]) -> list[Reason]:
        if any(rule.allows(requester, action, clouds) for rule in self.rules):
            return []
        return [
            Reason(
                "REQUESTER_NOT_ALLOWED",
                f"{requester} may not {action.value} {' and '.join(c.short for c in clouds)} "
                f"under the {self.source} policy",
                {"requester": str(requester), "action": action.value, "policy": self.source},
            )
        ]


# The policy document's schema (interconnect/schema.py): shapes, unknown keys, non-empty lists and scope syntax.
_Entry = Annotated[str, Meta(min_length=1)]  # a requester glob, `role:<name>` or `group:<id>`
_Scope = Annotated[
    str, pattern(r"(?si)\A(?:\*/*|/subscriptions/.*[^/]/*)\Z", "'*' or an ARM id starting with /subscriptions/")
]


class _RuleDoc(Struct, forbid_unknown_fields=True):
    requesters: Annotated[list[_Entry], Meta(min_length=1)]
    actions: Annotated[list[Action], Meta(min_length=1)]
    scopes: Annotated[list[_Scope], Meta(min_length=1)]
    description: Any = None  # for the people reading the policy; never read here


class _PolicyDoc(Struct, forbid_unknown_fields=True):
    rules: list[_RuleDoc]
    approvers: list[_Entry] = msgspec.field(default_factory=lambda: list(DEFAULT_APPROVERS))


def parse_policy(raw: Any, source: str) -> Policy:
    """Raises PolicyError naming every offending key (e.g. "rules[1].scopes[0]") and what it should hold."""
    try:
        doc = convert(raw, _PolicyDoc)
    except Invalid as exc:
        raise PolicyError(f"policy {source}: " + "; ".join(exc.problems), details={"problems": exc.problems}) from None
    rules = tuple(
        PolicyRule(
            tuple(rule.requesters), frozenset(rule.actions), tuple(scope.rstrip("/").lower() for scope in rule.scopes)
        )
        for rule in doc.rules
    )
    return Policy(rules, source, tuple(doc.approvers))


DEFAULT = parse_policy(
    {
        "rules": [
            {"requesters": ["*"], "actions": ["connect"], "scopes": ["*"]},
            {
                "requesters": ["api:key", "role:Links.Request", "role:Links.Admin"],
                "actions": ["disconnect"],
                "scopes": ["*"],
            },
        ]
    },
    "default",
)


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
