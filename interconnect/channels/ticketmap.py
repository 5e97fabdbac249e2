"""Turn a ticket webhook's JSON into the fields of a link request, by a per-source mapping kept in config.

Every ticketing tool puts the two clouds and the action somewhere different (Jira in custom fields whose ids
differ per site, ServiceNow in custom columns), so where to find each field is configuration, not code. A bad
payload is answered with *every* missing or invalid field at once, because the person fixing a ticket form or a
webhook template should not have to discover the problems one retry at a time. No I/O; cloud ids are checked
later by the caller (`validation.parse_submit`), not here.

A mapping, as configured (JSON):

    {"fields": {"action":    "issue.fields.customfield_10052.value",   # dot path into the payload ...
                "source":    "issue.fields.customfield_10050",
                "target":    "issue.fields.customfield_10051",
                "reference": "issue.key",
                "requester": "user.accountId"},                         # optional
     "actions": {"connect": "connect", "link": "connect",               # optional: raw value -> action,
                 "disconnect": "disconnect", "unlink": "disconnect"}}   # matched case-insensitively

- A path is keys joined by dots; a decimal segment indexes a list ("items.0.value"). Keys containing a dot
  cannot be addressed.
- "$const:<value>" instead of a path sets the field to that value for every payload (e.g. a ServiceNow flow
  that only ever connects: "action": "$const:connect").
- With "actions" empty or absent the action value must already be "connect" or "disconnect" (any case).
  When given, only the listed raw values are accepted: the mapping says exactly what the ticket form offers.
- Values must be strings; only `reference` may be a JSON integer (ServiceNow and Jira ids sometimes are).
- `requester` is optional: when its path finds nothing the request just has no requester display name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from msgspec import Struct

from interconnect.errors import MappingError, ValidationError
from interconnect.linking.validation import MAX_REFERENCE, MAX_REQUESTER
from interconnect.schema import Invalid, convert, pattern

REQUIRED = ("action", "source", "target", "reference")
OPTIONAL = ("requester",)
ACTIONS = ("connect", "disconnect")
CONST = "$const:"
MAX_PATH = 500
MAX_CLOUD_REF = 1000  # far above any ARM id; the caller's id check gives the precise error
LIMITS = {
    "action": 100,
    "source": MAX_CLOUD_REF,
    "target": MAX_CLOUD_REF,
    "reference": MAX_REFERENCE,
    "requester": MAX_REQUESTER,
}

_INDEX = re.compile(r"[0-9]{1,9}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The mappings a source gets when config names none. Jira custom field ids are per site, so the three
# customfield_100xx below are placeholders to replace with the site's ids (Jira admin > Issues > Custom fields).
DEFAULT_MAPPINGS: dict[str, dict[str, Any]] = {
    # Jira admin webhook (jira:issue_created / jira:issue_updated); the action is a select list, whose value
    # arrives as {"value": "Connect", "id": ...}. `user` is who triggered the event.
    "jira": {
        "fields": {
            "action": "issue.fields.customfield_10052.value",
            "source": "issue.fields.customfield_10050",
            "target": "issue.fields.customfield_10051",
            "reference": "issue.key",
            "requester": "user.accountId",
        },
        "actions": {"connect": "connect", "link": "connect", "disconnect": "disconnect", "unlink": "disconnect"},
    },
    # ServiceNow scripted REST message sending the record's fields flat: number (CHG0012345 / RITM...), custom
    # u_* columns on the change or request item, and the user who last updated it.
    "servicenow": {
        "fields": {
            "action": "u_action",
            "source": "u_source_cloud",
            "target": "u_target_cloud",
            "reference": "number",
            "requester": "sys_updated_by",
        },
        "actions": {"connect": "connect", "link": "connect", "disconnect": "disconnect", "unlink": "disconnect"},
    },
    # Our generic intake (Standard Webhooks signed): the REST API's own body shape.
    "standard-webhooks": {
        "fields": {
            "action": "action",
            "source": "source",
            "target": "target",
            "reference": "reference",
            "requester": "requestedBy",
        },
        "actions": {},
    },
}


@dataclass(frozen=True)
class TicketFields:
    """What a ticket asks for, as plain strings; the clouds are not yet checked to be ARM ids."""

    action: str  # "connect" | "disconnect"
    source: str
    target: str
    reference: str
    requester: str = ""

    def as_request_body(self) -> dict[str, str]:
        """The REST API body for these fields, ready for `validation.parse_submit`."""
        return {
            "action": self.action,
            "source": self.source,
            "target": self.target,
            "reference": self.reference,
            "requestedBy": self.requester,
        }


@dataclass(frozen=True)
class TicketMapping:
    """Where each request field is found in a source's payload (see the module docstring)."""

    fields: dict[str, str]  # field -> dot path, or "$const:<value>"
    actions: dict[str, str]  # lower-cased raw value -> "connect" | "disconnect"; empty: values are already those


# A mapping's schema (interconnect/schema.py). Every problem of a bad mapping is named at once: shapes, unknown
# keys, missing fields and the syntax of each path and action word; the caller then fixes the config in one go.
_Spec = Annotated[
    str,
    pattern(
        rf"(?s)\A(?:\$const:\s*\S.*|(?!\$const:)(?=.{{1,{MAX_PATH}}}\Z)\s*[^.\s][^.]*(?:\.\s*[^.\s][^.]*)*)\Z",
        f"a dot path (keys joined by '.', none empty, at most {MAX_PATH} characters) or '$const:<value>'",
    ),
]
_RawValue = Annotated[str, pattern(r"\S", "a non-blank raw value")]
_ActionWord = Annotated[str, pattern(r"(?i)\A\s*(?:connect|disconnect)\s*\Z", "connect or disconnect")]


class _FieldsDoc(Struct, forbid_unknown_fields=True):
    action: _Spec
    source: _Spec
    target: _Spec
    reference: _Spec
    requester: _Spec = ""  # optional; "" (never valid when written) stands for absent


class _MappingDoc(Struct, forbid_unknown_fields=True):
    fields: _FieldsDoc
    actions: dict[_RawValue, _ActionWord] | None = None  # null or absent: values are already connect|disconnect


def parse_mapping(raw: Any, where: str) -> TicketMapping:
    """Check a mapping from config. `where` names it in errors (e.g. "INTERCONNECT_TICKET_MAPPINGS.jira").

    Raises
    ------
    ValidationError
        code MAPPING_CONFIG_INVALID, naming every bad key in the message and in details["problems"].
    """
    try:
        doc = convert(raw, _MappingDoc)
    except Invalid as exc:
        raise _config_error(where, exc.problems) from None
    fields = {name: spec for name in REQUIRED + OPTIONAL if (spec := getattr(doc.fields, name))}
    actions = {value.strip().lower(): action.strip().lower() for value, action in (doc.actions or {}).items()}
    # A constant action is known now: check it now rather than fail every delivery later.
    constant = fields["action"]
    if constant.startswith(CONST) and _action(constant[len(CONST) :], actions) is None:
        raise _config_error(where, [f"fields.action: {_short(constant)} does not map to connect or disconnect"])
    return TicketMapping(fields, actions)


def map_ticket(payload: Any, mapping: TicketMapping) -> TicketFields:
    """Read the request fields out of a parsed webhook payload.

    Raises
    ------
    MappingError
        listing every missing field (details["missing"]: field, path, found) and every invalid one
        (details["invalid"]: field, path, found, expected).
    """
    values: dict[str, str] = {}
    missing: list[dict[str, str]] = []
    invalid: list[dict[str, str]] = []
    for name in REQUIRED + OPTIONAL:
        spec = mapping.fields.get(name)
        if spec is None:
            continue
        value, absent = _read(payload, spec)
        if absent is not None:
            if name in REQUIRED:
                missing.append({"field": name, "path": spec, "found": absent})
            continue
        text, expected = _as_text(name, value)
        if text is not None and name == "action":
            text = _action(text, mapping.actions)
            expected = "one of " + ", ".join(sorted(mapping.actions) or ACTIONS)
        if text is None:
            invalid.append({"field": name, "path": spec, "found": _short(value), "expected": expected})
        else:
            values[name] = text
    if missing or invalid:
        parts = [f"missing {m['field']} ({m['path']}: {m['found']})" for m in missing]
        parts += [f"invalid {i['field']} ({i['path']}: {i['found']}, expected {i['expected']})" for i in invalid]
        raise MappingError(
            "the ticket does not map to a link request: " + "; ".join(parts),
            details={"missing": missing, "invalid": invalid},
        )
    return TicketFields(
        values["action"], values["source"], values["target"], values["reference"], values.get("requester", "")
    )


def _config_error(where: str, problems: list[str]) -> ValidationError:
    return ValidationError(
        f"ticket mapping {where} is invalid: " + "; ".join(problems),
        code="MAPPING_CONFIG_INVALID",
        details={"where": where, "problems": problems},
    )


def _read(payload: Any, spec: str) -> tuple[Any, str | None]:
    """The value at `spec`, or (None, what was found instead) when there is nothing usable there."""
    if spec.startswith(CONST):
        return spec[len(CONST) :].strip(), None
    node = payload
    segments = spec.split(".")
    for depth, segment in enumerate(segments):
        at = ".".join(segments[:depth]) or "the top level"
        if isinstance(node, Mapping):
            if segment not in node:
                return None, f"no {segment!r} in {at}"
            node = node[segment]
        elif isinstance(node, list):
            if not _INDEX.fullmatch(segment):
                return None, f"{at} is a list, and {segment!r} is not an index"
            if int(segment) >= len(node):
                return None, f"{at} has {len(node)} item(s), no index {segment}"
            node = node[int(segment)]
        else:
            return None, f"{at} is {_kind(node)}, not an object"
    if node is None:
        return None, "null"
    if isinstance(node, str) and not node.strip():
        return None, "an empty string"
    return node, None


def _as_text(name: str, value: Any) -> tuple[str | None, str]:
    """The value as a single-line string within the field's limit, or (None, what was expected)."""
    expected = f"a single-line string of at most {LIMITS[name]} characters"
    if name == "reference":
        expected += " or an integer"
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value), expected
    if not isinstance(value, str):
        return None, expected
    text = value.strip()
    if len(text) > LIMITS[name] or _CONTROL.search(text):
        return None, expected
    return text, expected


def _action(raw: str, actions: Mapping[str, str]) -> str | None:
    key = raw.strip().lower()
    if actions:
        return actions.get(key)
    return key if key in ACTIONS else None


def _kind(value: Any) -> str:
    return {
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 80) -> str:
    """A value as it appears in an error: its repr, cut short (payload values can be large)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
