"""Request rows and audit trails in Azure Table Storage (azure-data-tables).

Layout (table names get an optional prefix):

    requests      PK = request id   RK = "request"             the request row, ETag-guarded
                  PK = request id   RK = "event-00000002"      its audit events from 2 on, numbered by row version
                  PK = request id   RK = "event-00000002-<s>"  a note, after the event it follows
    requestindex  PK = "all" | "cloud-<sha256 of cloud id>"  RK = <inverted ticks>-<request id>
                  newest first per cloud and overall (so a creation-time range is a key range); carries
                  copies of the status and the requester for filtering (rows of older versions lack the latter)
                  PK = "keys"  RK = "continuation"          the key continuation tokens are signed with

Event 1 (the request being filed) has no row: it is `lifecycle.submitted(request)`, built only from fields no
transition changes, so `events()` derives it from the request row, which its partition query returns anyway.
A create therefore writes its row with a plain insert rather than an entity-group transaction of row and
event: the same one call, but no multipart batch to build, send and parse, and no two-entity commit, on the
path intake's acknowledgement waits for. A row keyed exactly `event-00000001` (every create of an older
version wrote one) is read as stored instead; a note on version 1 is keyed `event-00000001-<s>`, not that.

A transition writes the row (If-Match) and its event in one entity-group transaction, so an audit trail
can never miss a transition or hold one twice. The index lives in other partitions, so it cannot join that
transaction. A create takes three steps, each waiting for the one before:

    1. the "all" index row, marked `Recording`    so a crash after step 2 leaves a trace stale() finds
    2. the request row, alone                      insert; a repeat ends here (409)
    3. the two per-cloud index rows, concurrently  insert-if-absent; intake queues the request meanwhile

The per-cloud rows are what `unfinished(cloud)` counts and what orders decisions, so they are never
written before the row exists: a per-cloud row of a request that was never stored would hold later requests
on that cloud back and, as an "earlier accepted connect" of its pair, could make the worker decide a later
connect of the same pair needs no link. They are inserted, not upserted, so the first transition's index
write (which the worker may make before step 3 lands) is never overwritten by the older status; the "all" row
gets its real status at that first transition. `stale()` reads every old unfinished or `Recording` index row
back against its request and repairs what a crash between the steps left (an index behind its row, a row
never written, a repeat's stray key), so no request is ever invisible to the sweeper. Keys never contain raw
ARM ids (they hold `/`).
Tables are made on first use: the first call that finds one missing creates both and is tried once more, so
no cold start pays for a create call (production tables come from infra/app/storage.bicep).
Azurite does not enforce every service limit (it accepts 253 properties and answers 500 for `/` in a
key), so the limits are checked here before writing; a 4xx the service answers anyway becomes a 4xx of ours
(`translated`, the one place SDK errors are mapped).

A row that cannot be read back (an older version stored ids it would refuse today, a column holds bad JSON)
raises `CorruptRecordError`; every pass over many rows (listings, `unfinished()`, `stale()`) logs it with its
reason and goes on. Continuation tokens are ours, not the SDK's: the service's next keys and the listing they
page, signed, and checked before the service sees them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableEntity, TableServiceClient, TableTransactionError, UpdateMode

from interconnect import boundedjson
from interconnect.adapters import telemetry
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.errors import (
    ConflictError,
    CorruptRecordError,
    DependencyError,
    InterconnectError,
    NotFoundError,
    TooLargeError,
    ValidationError,
)
from interconnect.linking.lifecycle import FIRST_VERSION, submitted
from interconnect.linking.model import (
    UNFINISHED,
    Action,
    Approval,
    AuditEvent,
    Callback,
    LinkRequest,
    Operation,
    Reason,
    Requester,
    RequestSummary,
    Status,
)
from interconnect.linking.ports import Listing, RequestFilter

if TYPE_CHECKING:
    from azure.core.pipeline.transport import RequestsTransport

log = logging.getLogger(__name__)
ROW = "request"
# The key event 1 had when every create wrote it; rows an older version wrote keep it (see events()).
FIRST_EVENT_ROW = f"event-{FIRST_VERSION:08d}"
KEY_PARTITION, CONTINUATION_KEY_ROW = "keys", "continuation"  # in the index table; see token_key()
# The "all" index row of a request from its create until its first transition. Only per-cloud rows are
# counted as unfinished work, so a create that died before writing its row counts nowhere.
RECORDING = "Recording"
_FORBIDDEN_KEY = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
MAX_STRING_CHARS = 32_000  # 64 KiB of UTF-16
MAX_PROPERTIES = 252
MAX_COLUMN_BYTES = 4 * MAX_STRING_CHARS  # a JSON column as UTF-8, at most 4 bytes per character
MAX_SHOWN = 64  # characters of a key or id quoted back in a message or a log line
_MAX_TICKS = 3155378975999999999  # DateTime.MaxValue.Ticks
_EPOCH_TICKS = 621355968000000000


def inverted_ticks(at: datetime) -> str:
    """A key that sorts newest first (the log-tail pattern), from integer ticks (floats lose precision)."""
    micros = (at - datetime(1970, 1, 1, tzinfo=UTC)) // _ONE_MICRO
    return f"{_MAX_TICKS - (_EPOCH_TICKS + micros * 10):019d}"


_ONE_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def shown(value: object) -> str:
    """`value` as quoted in messages and logs: its first characters only, so an oversized or hostile value
    is never echoed whole."""
    if not isinstance(value, str):
        return type(value).__name__
    return repr(value) if len(value) <= MAX_SHOWN else f"{value[:MAX_SHOWN]!r}… ({len(value)} characters)"


def check_entity(entity: dict[str, Any]) -> dict[str, Any]:
    """Refuse what the real service would refuse, since Azurite lets some of it through."""
    for key in ("PartitionKey", "RowKey"):
        if _FORBIDDEN_KEY.search(entity[key]) or len(entity[key]) > 512:
            raise ValidationError(f"{key} {shown(entity[key])} is not a valid table key", code="INVALID_KEY")
    if len(entity) - 2 > MAX_PROPERTIES:
        raise ValidationError(
            f"entity has {len(entity) - 2} properties; tables allow {MAX_PROPERTIES}", code="ENTITY_TOO_LARGE"
        )
    for name, value in entity.items():
        if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
            raise ValidationError(
                f"property {name} is {len(value)} characters; tables allow {MAX_STRING_CHARS}", code="ENTITY_TOO_LARGE"
            )
    return entity


def _reasons_json(reasons: tuple[Reason, ...]) -> str:
    text = json.dumps([r.to_dict() for r in reasons])
    if len(text) <= MAX_STRING_CHARS:
        return text
    # Keep every code and message; drop details until it fits, and say so.
    slim = [{"code": r.code, "message": r.message[:500], "details": {"truncated": True}} for r in reasons]
    return json.dumps(slim)[:MAX_STRING_CHARS]


def to_entity(request: LinkRequest) -> dict[str, Any]:
    op = request.operation
    return check_entity(
        {
            "PartitionKey": request.id,
            "RowKey": ROW,
            "action": request.action.value,
            "status": request.status.value,
            "source": str(request.source),
            "target": str(request.target),
            "sourceKey": request.source.key,
            "targetKey": request.target.key,
            "requesterChannel": request.requester.channel,
            "requesterId": request.requester.id,
            "requesterDisplay": request.requester.display,
            # The verified token's roles and groups when filed: the worker's policy check may name them.
            "requesterRoles": json.dumps(sorted(request.requester.roles)),
            "requesterGroups": json.dumps(sorted(request.requester.groups)),
            "createdAt": request.created_at,
            "updatedAt": request.updated_at,
            "reference": request.reference,
            "correlationId": request.correlation_id,
            "fingerprint": request.fingerprint,
            "outcome": request.outcome[:MAX_STRING_CHARS],
            "reasons": _reasons_json(request.reasons),
            "version": request.version,
            "callbacks": json.dumps([c.to_dict() for c in request.callbacks]),
            "traceparent": request.traceparent,
            "approval": ""
            if request.approval is None
            else json.dumps(
                {
                    "deadline": request.approval.deadline.isoformat(),
                    "decidedBy": request.approval.decided_by,
                    "decidedAt": request.approval.decided_at.isoformat() if request.approval.decided_at else None,
                }
            ),
            "operation": ""
            if op is None
            else json.dumps(
                {
                    "verb": op.verb,
                    "cloud": str(op.cloud),
                    "linkName": op.link_name,
                    "startedAt": op.started_at.isoformat(),
                    "deadline": op.deadline.isoformat(),
                    "checks": op.checks,
                    "seen": op.seen,
                    "recordedAt": op.recorded_at.isoformat() if op.recorded_at else None,
                }
            ),
        }
    )


def _column(entity: dict[str, Any], name: str, default: str = "") -> Any:
    """A JSON column, decoded within bounds: it was written by some version of this app, but a damaged or
    hand-edited one must not exhaust the stack (the standard decoder recurses once per nesting level)."""
    raw = entity.get(name) or default
    if not raw:
        return None
    try:
        return boundedjson.loads(raw, max_bytes=MAX_COLUMN_BYTES, what=f"column {name}", code="INVALID_COLUMN")
    except ValidationError as exc:
        raise ValidationError(exc.message, code="INVALID_COLUMN", details={"field": name}) from None


def _approval(data: Any) -> Approval | None:
    if not data:
        return None
    decided_at = datetime.fromisoformat(data["decidedAt"]) if data.get("decidedAt") else None
    return Approval(datetime.fromisoformat(data["deadline"]), data.get("decidedBy", ""), decided_at)


def _why(exc: Exception) -> str:
    """Why a row could not be read, from the error alone: the row's values are not repeated here."""
    if isinstance(exc, InterconnectError):
        where = exc.details.get("field", "")
        return f"{exc.code}{f' in {where}' if where else ''}"
    if isinstance(exc, KeyError):
        return f"missing column {exc.args[0]}" if exc.args and isinstance(exc.args[0], str) else "missing column"
    return f"{type(exc).__name__} in a column"


@contextmanager
def readable(what: str, record_id: object) -> Iterator[None]:
    """Turn any failure to read a stored record back into CorruptRecordError, naming the record and why."""
    try:
        yield
    except CorruptRecordError:
        raise
    except (InterconnectError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        why = _why(exc)
        raise CorruptRecordError(
            f"{what} {shown(record_id)} is stored in a form this version cannot read ({why})",
            details={"record": str(record_id)[:MAX_SHOWN], "reason": why},
        ) from exc


def from_entity(entity: TableEntity) -> LinkRequest:
    """Raises CorruptRecordError for a row this version cannot read."""
    with readable("request", entity.get("PartitionKey")):
        raw_op = _column(entity, "operation")
        operation = (
            None
            if raw_op is None
            else Operation(
                raw_op["verb"],
                parse_cloud_id(raw_op["cloud"], field_name="operation.cloud"),
                raw_op["linkName"],
                datetime.fromisoformat(raw_op["startedAt"]),
                datetime.fromisoformat(raw_op["deadline"]),
                raw_op["checks"],
                # Rows written before checks were recorded only when new have neither: the next check is recorded.
                raw_op.get("seen", ""),
                datetime.fromisoformat(raw_op["recordedAt"]) if raw_op.get("recordedAt") else None,
            )
        )
        return LinkRequest(
            id=entity["PartitionKey"],
            action=Action(entity["action"]),
            status=Status(entity["status"]),
            source=parse_cloud_id(entity["source"], field_name="source"),
            target=parse_cloud_id(entity["target"], field_name="target"),
            requester=Requester(
                entity["requesterChannel"],
                entity["requesterId"],
                entity.get("requesterDisplay", ""),
                roles=frozenset(_column(entity, "requesterRoles", "[]")),
                groups=frozenset(_column(entity, "requesterGroups", "[]")),
            ),
            created_at=entity["createdAt"],
            updated_at=entity["updatedAt"],
            reference=entity.get("reference", ""),
            correlation_id=entity.get("correlationId", ""),
            fingerprint=entity.get("fingerprint", ""),
            outcome=entity.get("outcome", ""),
            reasons=tuple(Reason.from_dict(r) for r in _column(entity, "reasons", "[]")),
            operation=operation,
            approval=_approval(_column(entity, "approval")),
            version=entity["version"],
            callbacks=tuple(Callback(**c) for c in _column(entity, "callbacks", "[]")),
            etag=entity.metadata["etag"],
            # Stored by this app, but a row is data: only a value in the W3C shape is continued.
            traceparent=telemetry.parse_traceparent(entity.get("traceparent")) or "",
        )


def event_entity(event: AuditEvent, suffix: str = "") -> dict[str, Any]:
    """A status event is keyed by the version it made; a note by the version it follows plus a suffix."""
    return check_entity(
        {
            "PartitionKey": event.request_id,
            "RowKey": f"event-{event.sequence:08d}" + (f"-{suffix}" if suffix else ""),
            "at": event.at,
            "actor": event.actor,
            "kind": event.kind,
            "status": event.status.value,
            "previous": event.previous.value if event.previous else "",
            "message": event.message[:MAX_STRING_CHARS],
            "correlationId": event.correlation_id,
            "reasons": _reasons_json(event.reasons),
        }
    )


def event_from_entity(entity: dict[str, Any]) -> AuditEvent:
    """Raises CorruptRecordError for a row this version cannot read."""
    with readable("event", f"{entity.get('PartitionKey')}/{entity.get('RowKey')}"):
        return AuditEvent(
            request_id=entity["PartitionKey"],
            sequence=int(entity["RowKey"][6:14]),
            at=entity["at"],
            actor=entity["actor"],
            kind=entity["kind"],
            status=Status(entity["status"]),
            previous=Status(entity["previous"]) if entity.get("previous") else None,
            message=entity["message"],
            correlation_id=entity.get("correlationId", ""),
            reasons=tuple(Reason.from_dict(r) for r in _column(entity, "reasons", "[]")),
        )


def skip(error: CorruptRecordError, during: str) -> None:
    """Report one unreadable record of a pass; the pass goes on without it."""
    log.warning("%s: skipped %s", during, error.message, extra={"code": error.code, **error.details})


# Table service error codes (x-ms-error-code) that mean "what you sent is too big".
_TOO_LARGE = {"EntityTooLarge", "PropertyValueTooLarge", "RequestBodyTooLarge", "KeyValueTooLarge", "TooManyProperties"}


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Map SDK errors to ours, keeping the cause. `what` names the call, never a whole value from outside.

    A 4xx about the input (bad key, entity or property too large, invalid input, request line or headers too
    long) becomes a 4xx of ours, since a retry cannot help and the caller can act on it; a 401/403 is our
    own identity lacking a role, which is an internal fault, not the caller's.
    """
    try:
        yield
    except InterconnectError:
        raise
    except ResourceNotFoundError as exc:
        raise NotFoundError(f"{what}: not found") from exc
    except (ResourceExistsError, ResourceModifiedError) as exc:
        raise ConflictError(f"{what}: changed concurrently") from exc
    except HttpResponseError as exc:
        # error_code is a TableErrorCode (a str enum) or a plain str; its value is the service's code. The
        # Tables SDK sets it on every error it decodes (azure.data.tables._error._decode_error), but azure-core
        # does not declare it on HttpResponseError.
        raw_code = exc.error_code  # type: ignore[attr-defined]
        status, error_code = exc.status_code, str(getattr(raw_code, "value", raw_code) or "")
        if status in (409, 412):
            raise ConflictError(f"{what}: changed concurrently") from exc
        if status == 404:
            raise NotFoundError(f"{what}: not found") from exc
        if status in (401, 403):
            raise InterconnectError(
                f"{what}: Table Storage refused this app's identity ({status})", code="STORAGE_FORBIDDEN"
            ) from exc
        if status in (413, 414, 431) or error_code in _TOO_LARGE:
            raise TooLargeError(
                f"{what}: Table Storage refused it as too large ({error_code or status}); send shorter ids and values",
                details={"storageCode": error_code or status},
            ) from exc
        if status is not None and status < 500 and status not in (408, 429):
            raise ValidationError(
                f"{what}: Table Storage refused the input ({error_code or status}); check the ids and values sent",
                code="STORAGE_REFUSED_INPUT",
                details={"storageCode": error_code or status},
            ) from exc
        raise DependencyError(f"{what}: Table Storage unavailable ({status})", retry_after=5) from exc
    except AzureError as exc:
        raise DependencyError(f"{what}: Table Storage unreachable", retry_after=5) from exc


def _summary(row: dict[str, Any]) -> RequestSummary:
    """Raises CorruptRecordError for an index row this version cannot read."""
    with readable("index row of request", row.get("requestId")):
        return RequestSummary(
            row["requestId"],
            Action(row["action"]),
            parse_cloud_id(row["source"], field_name="source"),
            parse_cloud_id(row["target"], field_name="target"),
            Status(row["status"]),
            row["createdAt"],
            row.get("updatedAt"),
        )


def _cloud_partition(stored_id: str) -> str:
    """The index partition of a cloud from the id as stored, without parsing it: the same digest as
    `CloudId.key`, so the index rows of a request whose ids no longer parse can still be found."""
    return "cloud-" + hashlib.sha256(stored_id.strip().lower().encode()).hexdigest()[:32]


# --- continuation tokens -------------------------------------------------------------------------------------
# A token is `<body>.<mac>`, both base64url: body = {"v": 1 | 2, "q": <digest of the listing>, "pk", "rk"}, mac =
# HMAC-SHA256 over the body's bytes with the store's continuation key. Version 1 holds the service's next keys
# (the page ended where a service page did: start at them); version 2 the partition and the last row key a page
# looked at (it ended within a service page, once it was full: start past that key, `RowKey gt`). The
# MAC is checked (in constant time) before the body is decoded, so nothing a caller wrote is parsed; the listing
# digest ties a token to the cloud and status it pages. The key is made once per storage account and kept in
# the index table (see `TableRequestStore.token_key`), so every Flex instance signs and checks alike without a
# setting to distribute. Even a token signed with a stolen key could only say where to resume within a query
# the caller may run anyway: the partition filter stays ours.
# Our keys are under 60 characters, so the service's next keys stay near 100 (Azurite base64s them; Azure
# writes "1!8!…"); these caps leave room and keep a token well inside the API's query string cap.
MAX_TOKEN_CHARS = 1024
MAC_BYTES = 16
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_NEXT_KEY = re.compile(r"[A-Za-z0-9!*+/=_.~-]{1,300}")
_TOKEN_FIELDS = {"v", "q", "pk", "rk"}
SERVICE_KEYS, AFTER_ROW = 1, 2  # the token versions: where the service said to go on, or past our own row key
_RESTART = (
    "pass the `continuation` value of the previous page of the same listing unchanged, or leave it out "
    "to start from the newest"
)


def _bad_token(problem: str) -> ValidationError:
    return ValidationError(f"continuation token {problem}; {_RESTART}", code="INVALID_CONTINUATION")


def _listing(partition: str, filters: RequestFilter) -> str:
    """The digest a token is tied to: every filter of the listing it pages (the cloud as its `partition`).
    Without the newer filters it is what earlier versions computed, so their tokens still page on."""
    status, requester, since, until = filters.status, filters.requester, filters.since, filters.until
    text = f"{partition}|{status.value if status else ''}"
    if requester is not None or since is not None or until is not None:
        text += "|" + "|".join(
            [
                str(requester).casefold() if requester is not None else "",
                since.isoformat() if since is not None else "",
                until.isoformat() if until is not None else "",
            ]
        )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Position:
    """Where a listing goes on: at the service's next keys, or (`after`) past a row key of its partition."""

    partition: str
    row: str
    after: bool = False

    def service_keys(self) -> dict[str, str]:
        return {"PartitionKey": self.partition, "RowKey": self.row}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    """Strict: only the canonical spelling of some bytes is accepted, so no two tokens mean the same."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _bad_token("is not base64url text") from None
    if _b64(raw) != text:
        raise _bad_token("is not base64url text")
    return raw


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:MAC_BYTES]


def encode_token(next_keys: dict[str, str] | None, listing: str, key: bytes, *, after: bool = False) -> str | None:
    """A token for `next_keys`: the service's next keys, or with `after` our partition and the last row key
    looked at."""
    if not next_keys:
        return None
    body = json.dumps(
        {
            "v": AFTER_ROW if after else SERVICE_KEYS,
            "q": listing,
            "pk": next_keys["PartitionKey"],
            "rk": next_keys["RowKey"],
        },
        separators=(",", ":"),
    ).encode()
    return f"{_b64(body)}.{_b64(_mac(key, body))}"


def decode_token(token: str | None, listing: str, key: Callable[[], bytes | None]) -> Position | None:
    """Where a token this listing issued says to go on. `key` is asked only for a well-formed token
    (it may cost a read) and answers None when no token was ever issued, so that none can be valid.

    Raises
    ------
    ValidationError
        INVALID_CONTINUATION for anything else: too long, not two base64url parts, a signature that does not
        match (tampered, or signed with another key), a body of the wrong shape, or issued for another listing.
    """
    if not token:
        return None
    if len(token) > MAX_TOKEN_CHARS:
        raise _bad_token(f"is {len(token)} characters; tokens this API issues are at most {MAX_TOKEN_CHARS}")
    if not _TOKEN_TEXT.fullmatch(token):
        raise _bad_token("is not two base64url parts joined by '.'")
    body_text, mac_text = token.split(".")
    body, mac = _unb64(body_text), _unb64(mac_text)
    secret = key()
    if secret is None or not hmac.compare_digest(mac, _mac(secret, body)):
        raise _bad_token("does not carry this API's signature (changed, or from another deployment)")
    # Signed by us, so well formed unless the format changed; still decoded within bounds and checked.
    try:
        data = boundedjson.loads(
            body, max_bytes=MAX_TOKEN_CHARS, max_depth=1, what="continuation token", code="INVALID_CONTINUATION"
        )
    except ValidationError:
        raise _bad_token("is not one this API issued (wrong shape)") from None
    if (
        not isinstance(data, dict)
        or set(data) != _TOKEN_FIELDS
        or data["v"] not in (SERVICE_KEYS, AFTER_ROW)
        or isinstance(data["v"], bool)
        or not all(isinstance(data[k], str) for k in ("q", "pk", "rk"))
        or not (_NEXT_KEY.fullmatch(data["pk"]) and _NEXT_KEY.fullmatch(data["rk"]))
    ):
        raise _bad_token("is not one this API issued (wrong shape)")
    if data["q"] != listing:
        raise _bad_token("was issued for another listing (another cloud or status filter)")
    return Position(data["pk"], data["rk"], after=data["v"] == AFTER_ROW)


def table_missing(error: BaseException | None) -> bool:
    """Whether the service answered that the table itself does not exist (not just the entity asked for)."""
    if not isinstance(error, HttpResponseError) or error.status_code != 404:
        return False
    raw = getattr(error, "error_code", None)  # see translated(); create_entity leaves it unset
    code = str(getattr(raw, "value", raw) or "")
    if not code:  # azure-core types `response` as its common base, which declares no headers
        code = str((getattr(error.response, "headers", None) or {}).get("x-ms-error-code", ""))
    return code == "TableNotFound"


_P = ParamSpec("_P")
_R = TypeVar("_R")


class MakesTables(Protocol):
    def ensure_tables(self) -> None: ...


_Store = TypeVar("_Store", bound=MakesTables)


def makes_tables(method: Callable[Concatenate[_Store, _P], _R]) -> Callable[Concatenate[_Store, _P], _R]:
    """Run `method`; if it found a table missing, create the store's tables and run it once more.

    Tables are made on first use rather than when a store is built, so a cold start pays no round trip for
    them and building a store can never fail on an outage (Bicep creates them in Azure anyway). Safe to
    repeat: every method so wrapped fails on a missing table before it has written anything, or repeats only
    upserts of its own rows.
    """

    operation = method.__name__.lstrip("_")
    attributes = {"db.system.name": "azure.tables", "db.operation.name": operation}

    @functools.wraps(method)
    def first_use(store: _Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with telemetry.span(f"table {operation}", "client", attributes):
            try:
                return method(store, *args, **kwargs)
            except InterconnectError as exc:
                if not table_missing(exc.__cause__):
                    raise
                log.info("%s: a table is missing; creating its tables", type(store).__name__)
            store.ensure_tables()
            return method(store, *args, **kwargs)

    return first_use


# Connections kept open to Table Storage: the calls in flight at once on one instance (its HTTP concurrency,
# the worker's, and the index writers below). The SDK's default keeps 10 and closes every connection beyond
# them after one call, so a burst pays a new connection (and a warning line) per call.
CONNECTIONS = 48


def pooled_transport(connections: int) -> RequestsTransport:
    """The SDK's requests transport, configured as it configures its own, but keeping `connections` open.

    Call `for_endpoint` once the endpoint is known: it settles the environment's proxy and CA settings.
    """
    import requests  # azure-core's dependency, imported by its transport anyway
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry

    session = requests.Session()
    # As azure-core's own session: retries are the pipeline's retry policy's, never urllib3's.
    adapter = requests.adapters.HTTPAdapter(
        pool_maxsize=connections, max_retries=Retry(total=False, redirect=False, raise_on_status=False)
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(session=session, session_owner=True)


def for_endpoint(transport: RequestsTransport, url: str) -> None:
    """Ask requests once what the environment says for `url` (proxies, honouring NO_PROXY; CA bundle), keep
    that, and stop it asking again: by default it re-reads the whole environment on every call (~0.5 ms of
    CPU, a quarter of a simple Table call, paid four times per accepted request), and a store talks to one
    endpoint, so the answer never changes."""
    session = transport.session
    assert session is not None
    found = session.merge_environment_settings(url, {}, False, None, None)
    session.proxies = found["proxies"]
    session.trust_env = False
    # azure-core passes `verify` with every call, so the bundle goes to the transport, not the session.
    transport.connection_config.verify = found["verify"]


# What one listing call may look through before it answers a page that is not full (with a token to go on):
# index rows, requests read back beyond the page's own, and service round trips. A filter the service cannot
# apply (the requester, or an index status that lags its row) can match little, and one call must stay short.
LISTING_BUDGET = {"rows": 1000, "extra_reads": 100, "pages": 10}
FILTERED_PAGE = 200  # index rows per service page when the requester is compared here


@dataclass
class _Budget:
    limit: int
    rows: int = 0
    reads: int = 0
    pages: int = 0

    def spent(self, found: int) -> bool:
        return (
            found >= self.limit
            or self.rows >= LISTING_BUDGET["rows"]
            or self.reads >= self.limit + LISTING_BUDGET["extra_reads"]
            or self.pages >= LISTING_BUDGET["pages"]
        )


# Index writes run on a pool the store owns, so the rows of one request go out together rather than one
# after another. Each task is one short HTTP call; 8 threads keep up with far more requests per instance
# than the host's HTTP concurrency lets in.
INDEX_WRITERS = 8


class TableRequestStore:
    """`RequestStore` on Azure Table Storage."""

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self.requests_table = f"{prefix}requests"
        self.index_table = f"{prefix}requestindex"
        self._requests: TableClient = service.get_table_client(self.requests_table)
        self._index: TableClient = service.get_table_client(self.index_table)
        self._token_key: bytes | None = None
        self._token_key_lock = threading.Lock()
        # Threads start on first use only; an idle store holds none.
        self._writers = ThreadPoolExecutor(INDEX_WRITERS, thread_name_prefix="table-index")

    @classmethod
    def from_settings(
        cls,
        *,
        connection_string: str = "",
        endpoint: str = "",
        credential: TokenCredential | None = None,
        prefix: str = "",
    ) -> TableRequestStore:
        transport = pooled_transport(CONNECTIONS)
        if connection_string:
            service = TableServiceClient.from_connection_string(connection_string, transport=transport)
        else:
            service = TableServiceClient(endpoint=endpoint, credential=credential, transport=transport)
        for_endpoint(transport, service.url)
        return cls(service, prefix)

    @property
    def service(self) -> TableServiceClient:
        return self._service

    @makes_tables
    def token_key(self, *, make: bool = False) -> bytes | None:
        """The key continuation tokens are signed with: one per storage account, so every instance signs and
        checks alike. Made by the first listing that issues a token (`make`; insert-if-absent, so racing
        instances end up with the same one), never by a check: a refused token writes nothing. Cached once
        found; None while no token was ever issued.

        Kept in the index table's `keys` partition, which no listing reads (each filters on its partition).
        Deleting the row rotates it: tokens already handed out then answer 400 INVALID_CONTINUATION.
        """
        with self._token_key_lock:
            if self._token_key is None:
                with translated("reading the continuation token key"):
                    try:
                        row = self._index.get_entity(KEY_PARTITION, CONTINUATION_KEY_ROW)
                    except ResourceNotFoundError:
                        if not make:
                            return None
                        with suppress(ResourceExistsError):  # another instance made it first: use theirs
                            self._index.create_entity(
                                {
                                    "PartitionKey": KEY_PARTITION,
                                    "RowKey": CONTINUATION_KEY_ROW,
                                    "key": _b64(secrets.token_bytes(32)),
                                }
                            )
                        row = self._index.get_entity(KEY_PARTITION, CONTINUATION_KEY_ROW)
                with readable("continuation token key", CONTINUATION_KEY_ROW):
                    key = base64.urlsafe_b64decode(row["key"] + "=" * (-len(row["key"]) % 4))
                    if len(key) < 32:
                        raise ValueError("key shorter than 32 bytes")
                self._token_key = key
            return self._token_key

    def _signing_key(self) -> bytes:
        key = self.token_key(make=True)
        if key is None:  # token_key(make=True) writes it when missing; never None unless that contract broke
            raise InterconnectError("the continuation token key could not be made", code="TOKEN_KEY_MISSING")
        return key

    def ensure_tables(self) -> None:
        """Create the store's tables if missing. Nothing needs to call it: every method makes them on the
        first call that finds one missing (see `makes_tables`)."""
        with translated("creating tables"):
            for name in (self.requests_table, self.index_table):
                self._service.create_table_if_not_exists(name)

    def create(self, request: LinkRequest) -> LinkRequest:
        with self.creating(request) as stored:
            return stored

    @contextmanager
    def creating(self, request: LinkRequest) -> Iterator[LinkRequest]:
        """Steps 1 and 2 of a create on entering (see the module docstring); step 3 runs while the block does
        and is waited for on leaving. A per-cloud row that could not be written is logged, not raised: the
        request is stored and found by stale(), and its first transition writes every index row."""
        if not request.traceparent:  # the intake's trace, for work later sent from the stored request
            request = replace(request, traceparent=telemetry.current_traceparent())
        # Whatever channel filed it (API, ticket hook, chat, a change set), its intake span and log lines name it.
        telemetry.note_request(
            request.id,
            request_action=request.action.value,
            cloud_source=request.source.name,
            cloud_target=request.target.name,
        )
        stored = self._record(request)
        rows = [
            self._writers.submit(self._add_index_row, stored, partition)
            for partition in self._index_keys(stored)[0][1:]
        ]
        try:
            yield stored
        finally:
            for row in rows:
                try:
                    with translated(f"indexing request {request.id}"):
                        row.result()
                except InterconnectError as exc:
                    log.warning(
                        "request %s stored but not yet indexed per cloud: %s",
                        request.id,
                        exc.message,
                        extra={"code": exc.code},
                    )

    @makes_tables
    def _record(self, request: LinkRequest) -> LinkRequest:
        """Steps 1 and 2: from here on the request is stored and stale() finds it."""
        with translated(f"creating request {request.id}"):
            # First, so that a crash after the row is written leaves a trace the sweeper finds (see stale()).
            self._write_index(request, partitions=["all"], status=RECORDING)
            try:
                # The row alone: event 1 is derived from it (see events()).
                written = self._requests.create_entity(to_entity(request))
            except ResourceExistsError as exc:
                # A repeat: the request is indexed under its first creation time, not this one.
                with suppress(AzureError):
                    self._index.delete_entity("all", self._index_keys(request)[1])
                raise ConflictError(f"request {request.id} exists", code="ALREADY_EXISTS") from exc
        return request.with_changes(etag=written["etag"])

    def _add_index_row(self, request: LinkRequest, partition: str) -> None:
        """Step 3 for one partition. Insert-if-absent: a row already there was written by the request's first
        transition (the worker got its message first), which knows better than this create."""
        with suppress(ResourceExistsError):
            self._index.create_entity(self._index_entity(request, partition))

    @makes_tables
    def get(self, request_id: str) -> LinkRequest:
        """Raises NotFoundError (REQUEST_NOT_FOUND), or CorruptRecordError for a row that cannot be read."""
        check_entity({"PartitionKey": request_id, "RowKey": ROW})
        with translated(f"reading request {shown(request_id)}"):
            try:
                return from_entity(self._requests.get_entity(request_id, ROW))
            except ResourceNotFoundError as exc:
                raise NotFoundError(f"no request with id {shown(request_id)}", code="REQUEST_NOT_FOUND") from exc

    @makes_tables
    def save(self, request: LinkRequest, event: AuditEvent | None) -> LinkRequest:
        if request.etag is None:
            raise ConflictError(f"request {request.id} was not read from the store; cannot update it safely")
        if event is not None and event.sequence == FIRST_VERSION:  # derived from the row, never written
            raise ConflictError(f"event {event.sequence} of {request.id} exists")
        # The `table save` span says which request moved to which status: a trace reads as the request's story.
        telemetry.annotate_current(
            {
                "interconnect.request.id": request.id,
                "interconnect.request.action": request.action.value,
                "interconnect.request.status": request.status.value,
                "interconnect.cloud.source": request.source.name,
                "interconnect.cloud.target": request.target.name,
            }
        )
        guarded = {"mode": UpdateMode.REPLACE, "etag": request.etag, "match_condition": MatchConditions.IfNotModified}
        operations: list[tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], Mapping[str, Any]]] = [
            ("update", to_entity(request), guarded)
        ]
        # Without an event (a check that saw nothing new) the row goes alone, in a transaction of one: the same
        # If-Match, the same 412 → ConflictError.
        if event is not None:
            operations.append(("create", event_entity(event)))
        with translated(f"updating request {request.id}"):
            try:
                result = self._requests.submit_transaction(operations)
            except TableTransactionError as exc:
                if exc.status_code in (409, 412):
                    raise ConflictError(f"request {request.id} changed concurrently") from exc
                raise
            # The row is the truth and is saved; a failed index write only lags until the next transition.
            with suppress(AzureError):
                self._write_index(request)
        return request.with_changes(etag=result[0]["etag"])

    @staticmethod
    def _index_keys(request: LinkRequest | RequestSummary) -> tuple[list[str], str]:
        partitions = ["all", f"cloud-{request.source.key}", f"cloud-{request.target.key}"]
        return partitions, f"{inverted_ticks(request.created_at)}-{request.id}"

    def _index_entity(self, request: LinkRequest, partition: str, status: str | None = None) -> dict[str, Any]:
        """The index row of `request` in `partition`, carrying its summary."""
        return {
            "PartitionKey": partition,
            "RowKey": self._index_keys(request)[1],
            "requestId": request.id,
            "status": status or request.status.value,
            "action": request.action.value,
            "source": str(request.source),
            "target": str(request.target),
            "createdAt": request.created_at,
            "updatedAt": request.updated_at,
            "requester": str(request.requester),  # for the requester filter; rows of older versions lack it
            "linkHolder": str(request.operation.cloud) if request.operation else "",
            "linkName": request.operation.link_name if request.operation else "",
        }

    def _write_index(
        self, request: LinkRequest, *, partitions: list[str] | None = None, status: str | None = None
    ) -> None:
        """One index row per place the request is looked up from; several go out together. Raises the
        first failure once every write has ended, so none is still in flight when the caller goes on."""
        wanted = partitions or self._index_keys(request)[0]
        if len(wanted) == 1:
            self._index.upsert_entity(self._index_entity(request, wanted[0], status))
            return
        writes: list[Future[Any]] = [
            self._writers.submit(self._index.upsert_entity, self._index_entity(request, partition, status))
            for partition in wanted
        ]
        for write in writes:
            write.exception()  # wait for all
        for write in writes:
            write.result()

    @makes_tables
    def events(self, request_id: str) -> list[AuditEvent]:
        """The trail, oldest first; an event that cannot be read back is logged and left out.

        One query reads the event rows and the request row (keys sort `event-…` before `request`). Event 1
        is derived from the request row unless a row keyed exactly `event-00000001` holds it (an older
        version wrote one with every create); a note on version 1 is keyed `event-00000001-<suffix>`, so a
        prefix would not do. A request that is not stored has no trail.
        """
        found, request_row, first_stored = [], None, False
        with translated(f"reading events of {shown(request_id)}"):
            for row in self._requests.query_entities(
                f"PartitionKey eq @pk and (RowKey eq '{ROW}' or (RowKey ge 'event-' and RowKey lt 'event.'))",
                parameters={"pk": request_id},
            ):
                if row["RowKey"] == ROW:
                    request_row = row
                    continue
                first_stored = first_stored or row["RowKey"] == FIRST_EVENT_ROW
                try:
                    found.append(event_from_entity(row))
                except CorruptRecordError as exc:
                    skip(exc, "reading an audit trail")
        if request_row is not None and not first_stored:
            try:
                found.insert(0, submitted(from_entity(request_row)))
            except CorruptRecordError as exc:
                skip(exc, "reading an audit trail")
        return found

    @makes_tables
    def note(self, event: AuditEvent, suffix: str) -> None:
        with translated(f"noting on {event.request_id}"), suppress(ResourceExistsError):
            self._requests.create_entity(event_entity(event, suffix))  # a repeat of the same note is dropped

    @makes_tables
    def recent(self, filters: RequestFilter, *, limit: int, continuation: str | None) -> Listing[LinkRequest]:
        """One partition of the index, newest first, each row read back against its request.

        The service filters what the index holds: the status (a copy, which may lag its row by a transition)
        and the creation time, a key range since row keys are inverted ticks of it. The requester is compared
        here, on the index row's copy where it has one, else on the request read back; so is the status, on
        the row. Service pages are read on until `limit` requests are found or one call's budget is spent
        (LISTING_BUDGET), and the token says where the next call goes on: at the service's next keys, or past
        the last row looked at when the page filled up part-way through a service page.
        """
        status, requester, since, until = filters.status, filters.requester, filters.since, filters.until
        partition = "all" if filters.cloud is None else f"cloud-{filters.cloud.key}"
        listing = _listing(partition, filters)
        position = decode_token(continuation, listing, self.token_key)
        # Our own keys are checked against the listing; the service's (version 1) are opaque, and the partition
        # filter below keeps them within it anyway.
        if position is not None and position.after and position.partition != partition:
            raise _bad_token("was issued for another listing (another cloud or status filter)")
        query, params = "PartitionKey eq @pk", {"pk": partition}
        if status is not None:  # a Recording row's request may have this status; its row tells
            query = query + f" and (status eq @status or status eq '{RECORDING}')"
            params = {**params, "status": status.value}
        # Newest first: a later creation time is a smaller key. `<ticks>-<id>` < `<ticks>.` for every id.
        if since is not None:
            query, params = query + " and RowKey lt @oldest", {**params, "oldest": f"{inverted_ticks(since)}."}
        if until is not None:
            query, params = query + " and RowKey ge @newest", {**params, "newest": inverted_ticks(until)}
        if position is not None and position.after:
            query, params = query + " and RowKey gt @after", {**params, "after": position.row}
        # A requester filter is checked here, so most rows may not match: fewer, larger service pages.
        per_page = limit if requester is None else max(limit, FILTERED_PAGE)
        budget = _Budget(limit)
        found: list[LinkRequest] = []
        skipped, last_row = 0, ""
        resume: tuple[dict[str, str], bool] | None = None
        with translated("listing requests"):
            # The Tables SDK's pager takes and gives its continuation token as a dict ({PartitionKey, RowKey}),
            # though azure-core's ItemPaged annotates it as a str, and by_page returns that pager typed as a
            # plain Iterator.
            entities = self._index.query_entities(query, parameters=params, results_per_page=per_page)
            start = position.service_keys() if position is not None and not position.after else None
            pages = entities.by_page(continuation_token=start)  # type: ignore[arg-type]
            while not budget.spent(len(found)) and budget.pages < LISTING_BUDGET["pages"]:
                page = next(pages, None)
                if page is None:
                    resume = None
                    break
                budget.pages += 1
                rows = list(page)
                next_page: dict[str, str] | None = pages.continuation_token  # type: ignore[attr-defined]
                # Where the next call goes on if this page is looked through: where the service said, or nowhere.
                resume = (next_page, False) if next_page else None
                for row in rows:
                    if budget.spent(len(found)):  # full part-way through: go on past the last row looked at
                        resume = ({"PartitionKey": partition, "RowKey": last_row}, True)
                        break
                    last_row = row["RowKey"]
                    budget.rows += 1
                    kept, bad = self._listed(row, status, requester, budget)
                    skipped += bad
                    if kept is not None:
                        found.append(kept)
                if resume is None or resume[1]:
                    break  # the listing is looked through, or this call is
        token = encode_token(resume[0], listing, self._signing_key(), after=resume[1]) if resume else None
        return Listing(found, token, skipped)

    def _listed(
        self, row: dict[str, Any], status: Status | None, requester: Requester | None, budget: _Budget
    ) -> tuple[LinkRequest | None, int]:
        """The request an index row lists if it passes the filters, and whether it was an unreadable one (1)."""
        copied = row.get("requester")
        if requester is not None and isinstance(copied, str) and copied.casefold() != str(requester).casefold():
            return None, 0  # the index row's copy is enough: a request's requester never changes
        budget.reads += 1
        try:
            request = self._request_of(row)
        except NotFoundError:
            return None, 0  # discarded by intake after a failed enqueue, or a create that never wrote its row
        except CorruptRecordError as exc:
            skip(exc, "listing requests")
            return None, 1
        if self._index_keys(request)[1] != row["RowKey"]:
            return None, 0  # a repeat's stray index row; the request is listed under its own
        if status is not None and request.status is not status:
            return None, 0
        if requester is not None and not requester.is_same(request.requester):
            return None, 0
        return request, 0

    @makes_tables
    def unfinished(self, cloud: CloudId) -> list[RequestSummary]:
        """From the index alone: no point reads, since preflight asks this for every validation."""
        states = " or ".join(f"status eq '{s.value}'" for s in UNFINISHED)
        found = []
        with translated("listing unfinished requests"):
            for row in self._index.query_entities(
                f"PartitionKey eq @pk and ({states})", parameters={"pk": f"cloud-{cloud.key}"}
            ):
                try:
                    found.append(_summary(row))
                except CorruptRecordError as exc:
                    skip(exc, "listing unfinished requests")  # it can never move again: nothing waits on it
        return found

    @makes_tables
    def stale(self, before: datetime) -> Listing[RequestSummary]:
        """Unfinished requests not updated since `before`, read from their rows; repairs the index on the way.

        An old index row is checked against its request: if the request was never written (a create or a
        discard interrupted), the index rows go; if it is a repeat's stray key, it goes; if it is behind its
        row (a crash between the two writes, or an index write that failed), it is rewritten from the row.
        """
        states = " or ".join(f"status eq '{s}'" for s in [*(u.value for u in UNFINISHED), RECORDING])
        found, skipped = [], 0
        with translated("listing stale requests"):
            rows = list(
                self._index.query_entities(
                    f"PartitionKey eq 'all' and updatedAt lt @before and ({states})", parameters={"before": before}
                )
            )
            for row in rows:
                try:
                    request = self._request_of(row)
                except NotFoundError:
                    self._drop_index_rows(row)
                    continue
                except CorruptRecordError as exc:
                    # Left in place for a person: its row still holds what was asked, and the audit reports it.
                    skip(exc, "looking for stale requests")
                    skipped += 1
                    continue
                if self._index_keys(request)[1] != row["RowKey"]:
                    self._drop_index_rows(row)
                    continue
                if row["status"] != request.status.value or row.get("updatedAt") != request.updated_at:
                    self._write_index(request)
                if request.status in UNFINISHED and request.updated_at < before:
                    found.append(request.summary())
        return Listing(found, skipped=skipped)

    def _request_of(self, row: dict[str, Any]) -> LinkRequest:
        """The request an index row points at. Raises NotFoundError, or CorruptRecordError when the row or
        its request cannot be read back."""
        damaged = CorruptRecordError(
            f"index row {shown(row.get('RowKey'))} names no valid request id",
            details={"record": str(row.get("RowKey"))[:MAX_SHOWN], "reason": "INVALID_KEY"},
        )
        request_id = row.get("requestId")
        if not isinstance(request_id, str) or not request_id:
            raise damaged
        try:
            return self.get(request_id)
        except ValidationError as exc:  # an id no request can have: the index row is damaged
            raise damaged from exc

    def _drop_index_rows(self, row: dict[str, Any]) -> None:
        partitions = ["all"] + [
            _cloud_partition(row[end]) for end in ("source", "target") if isinstance(row.get(end), str)
        ]
        for partition in partitions:
            with suppress(ResourceNotFoundError):
                self._index.delete_entity(partition, row["RowKey"])

    @makes_tables
    def discard(self, request_id: str) -> None:
        with translated(f"discarding request {request_id}"):
            request = self.get(request_id)
            for row in self._requests.query_entities("PartitionKey eq @pk", parameters={"pk": request_id}):
                self._requests.delete_entity(row["PartitionKey"], row["RowKey"])
            partitions, row_key = self._index_keys(request)
            for partition in partitions:
                with suppress(ResourceNotFoundError):  # a per-cloud row whose write failed
                    self._index.delete_entity(partition, row_key)

    @makes_tables
    def ping(self) -> None:
        with translated("reaching Table Storage"):
            next(iter(self._requests.query_entities("PartitionKey eq 'ping'", results_per_page=1)), None)
