"""Turn a raw API body into a command, or say precisely what is wrong with it. No I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from interconnect import boundedjson
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.errors import ValidationError
from interconnect.linking.model import Action, Requester

MAX_BODY = 64 * 1024  # an API body is a few hundred bytes; 64 KiB leaves room and no more
MAX_REFERENCE = 200
MAX_REQUESTER = 200
FIELDS = {"action", "source", "target", "reference", "requestedBy"}


@dataclass(frozen=True)
class Submit:
    """Ask for one link to be made or removed."""

    action: Action
    source: CloudId
    target: CloudId
    requester: Requester
    reference: str = ""

    @property
    def fingerprint(self) -> str:
        """What was asked, independent of id spelling: a repeat with the same key must ask the same."""
        material = json.dumps(
            [self.action.value, self.source.normalized, self.target.normalized, self.reference], separators=(",", ":")
        )
        return hashlib.sha256(material.encode()).hexdigest()[:32]


def parse_json(
    body: bytes, *, max_bytes: int = MAX_BODY, what: str = "the body", code: str = "INVALID_JSON"
) -> dict[str, Any]:
    """Decode a JSON object from outside, within a size and a nesting cap (see interconnect/boundedjson.py).

    Raises
    ------
    TooLargeError
        TOO_LARGE when it is over `max_bytes`.
    ValidationError
        `code` (INVALID_JSON) when it is not a JSON object, nests too deep or is not valid UTF-8 text.
    """
    value = boundedjson.loads(body, max_bytes=max_bytes, what=what, code=code)
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a JSON object", code=code)
    return value


def _text(raw: dict[str, Any], name: str, limit: int) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or any(ord(c) < 32 for c in value):
        raise ValidationError(
            f"{name} must be a single-line string of at most {limit} characters",
            code="INVALID_FIELD",
            details={"field": name},
        )
    return value.strip()


def parse_submit(raw: dict[str, Any], *, caller: Requester) -> Submit:
    """Validate an API request body.

    `caller` is who the platform says called (API principal); a `requestedBy` in the body is kept as the
    display name only, because a body can claim anything.

    Raises
    ------
    ValidationError
        MISSING_FIELD, UNKNOWN_FIELD, INVALID_ACTION, INVALID_ID, SAME_CLOUD or INVALID_FIELD.
    """
    missing = [name for name in ("action", "source", "target") if raw.get(name) in (None, "")]
    if missing:
        raise ValidationError(
            f"missing required field(s): {', '.join(missing)}", code="MISSING_FIELD", details={"fields": missing}
        )
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}",
            code="UNKNOWN_FIELD",
            details={"fields": unknown},
        )
    try:
        action = Action(raw["action"])
    except (ValueError, TypeError):
        raise ValidationError(
            f"action must be 'connect' or 'disconnect'; got {raw['action']!r}",
            code="INVALID_ACTION",
            details={"field": "action"},
        ) from None
    source = parse_cloud_id(raw["source"], field_name="source")
    target = parse_cloud_id(raw["target"], field_name="target")
    if source == target:
        raise ValidationError(
            f"source and target are the same private cloud ({source})",
            code="SAME_CLOUD",
            details={"source": str(source), "target": str(target)},
        )
    display = _text(raw, "requestedBy", MAX_REQUESTER)
    # A verified person's name comes from their token; the body may name a key caller only. Roles and groups stay.
    requester = caller if caller.verified_person else replace(caller, display=display or caller.display)
    return Submit(action, source, target, requester, _text(raw, "reference", MAX_REFERENCE))
