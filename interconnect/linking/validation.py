"""Turn a raw API body into a command, or say precisely what is wrong with it. No I/O."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any

from interconnect import boundedjson
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.errors import ValidationError
from interconnect.linking.model import Action, Requester
from interconnect.linking.ports import RequestFilter

MAX_BODY = 64 * 1024  # an API body is a few hundred bytes; 64 KiB leaves room and no more
MAX_REFERENCE = 200
MAX_REQUESTER = 200
MAX_REQUESTER_FILTER = 300  # a channel, a colon and an id as stored: `api:<object id>`, `slack:T01/U02`, ...
MAX_DATE = 40  # the longest ISO 8601 date-time with fractions and an offset is 32
_CHANNEL = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")
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


def parse_requester_filter(text: str, *, caller: Callable[[], Requester] | None = None) -> Requester:
    """A requester as requests record it (`<channel>:<id>`: `api:<Entra object id>`, `api:sp:<app id>`,
    `slack:T01/U02`, ...), compared as `Requester.is_same` compares (case-insensitively). `me` is whom `caller`
    answers, where the route knows who signed in (asked only for `me`).

    Raises ValidationError INVALID_REQUESTER, saying the expected form (the value itself is not echoed).
    """
    value = text.strip()
    if value.lower() == "me":
        if caller is None:
            raise ValidationError(
                "requester=me needs a signed-in caller (the console); here name the requester, e.g. api:<object id>",
                code="INVALID_REQUESTER",
                details={"parameter": "requester"},
            )
        return caller()
    channel, colon, ident = value.partition(":")
    if (
        not colon
        or not _CHANNEL.fullmatch(channel)
        or not ident.strip()
        or len(value) > MAX_REQUESTER_FILTER
        or not value.isprintable()
    ):
        raise ValidationError(
            "requester must be a requester as requests record it: <channel>:<id>, e.g. api:<Entra object id> or "
            f"slack:T01/U02, at most {MAX_REQUESTER_FILTER} printable characters (a request's `requestedBy` "
            "channel and id)",
            code="INVALID_REQUESTER",
            details={"parameter": "requester"},
        )
    return Requester(channel.lower(), ident)


def parse_instant(text: str, *, name: str, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date (`2026-12-01`) or date-time (`2026-12-01T09:30:00Z`, `...+01:00`) as a UTC instant.

    A date-time without an offset is UTC. A date alone is its first instant, or with `end_of_day` its last
    (so `until=2026-12-01` takes in the whole of that day).

    Raises ValidationError INVALID_DATE naming the parameter and the forms it takes.
    """
    value = text.strip()
    refused = ValidationError(
        f"{name} must be an ISO 8601 date (2026-12-01) or date-time in UTC (2026-12-01T09:30:00Z, or with an "
        "offset such as +01:00)",
        code="INVALID_DATE",
        details={"parameter": name},
    )
    if len(value) > MAX_DATE or not value.isascii():
        raise refused
    try:
        # A date alone first: datetime.fromisoformat would read one as midnight, never as the end of its day.
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None:
        return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
    try:
        instant = datetime.fromisoformat(value)
        return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves it past year 1 or 9999
        raise refused from None


def parse_listing_filter(
    requester: str | None, since: str | None, until: str | None, *, caller: Callable[[], Requester] | None = None
) -> RequestFilter:
    """The `requester`, `since` and `until` query values of a request listing (None: absent), as a filter of
    any cloud and status.

    Raises ValidationError INVALID_REQUESTER or INVALID_DATE (also when `since` is after `until`).
    """
    found = RequestFilter(
        requester=parse_requester_filter(requester, caller=caller) if requester is not None else None,
        since=parse_instant(since, name="since") if since is not None else None,
        until=parse_instant(until, name="until", end_of_day=True) if until is not None else None,
    )
    if found.since is not None and found.until is not None and found.since > found.until:
        raise ValidationError(
            f"since ({found.since.isoformat()}) is after until ({found.until.isoformat()}): nothing can match; "
            "swap them, or leave one out",
            code="INVALID_DATE",
            details={"parameter": "since"},
        )
    return found
