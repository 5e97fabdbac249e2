"""Request rows and audit trails in Azure Table Storage (azure-data-tables).

Layout (table names get an optional prefix):

    requests      PK = request id   RK = "request"          the request row, ETag-guarded
                  PK = request id   RK = "event-00000001"   its audit events, numbered by row version
    requestindex  PK = "all" | "cloud-<sha256 of cloud id>"  RK = <inverted ticks>-<request id>
                  newest first per cloud and overall; carries a copy of the status for filtering

A transition writes the row (If-Match) and its event in one entity-group transaction, so an audit trail
can never miss a transition or hold one twice. The index lives in other partitions, so it cannot join that
transaction: a create first writes its "all" index row marked `Recording`, then the request, then its
per-cloud index rows (the "all" row gets its real status at the first transition). `stale()` reads every
old unfinished or `Recording` index row back against its request and repairs what a crash between those
writes left (an index behind its row, a row never written, a repeat's stray key), so no request is ever
invisible to the sweeper. Keys never contain raw ARM ids (they hold `/`).
Azurite does not enforce every service limit (it accepts 253 properties and answers 500 for `/` in a
key), so the limits are checked here before writing.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from interconnect.armid import CloudId, parse_cloud_id
from interconnect.errors import ConflictError, DependencyError, InterconnectError, NotFoundError, ValidationError
from interconnect.model import (
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

ROW = "request"
# The "all" index row of a request from its create until its first transition. Only per-cloud rows are
# counted as unfinished work, so a create that died before writing its row counts nowhere.
RECORDING = "Recording"
_FORBIDDEN_KEY = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
MAX_STRING_CHARS = 32_000  # 64 KiB of UTF-16
MAX_PROPERTIES = 252
_MAX_TICKS = 3155378975999999999  # DateTime.MaxValue.Ticks
_EPOCH_TICKS = 621355968000000000


def inverted_ticks(at: datetime) -> str:
    """A key that sorts newest first (the log-tail pattern), from integer ticks (floats lose precision)."""
    micros = (at - datetime(1970, 1, 1, tzinfo=UTC)) // _ONE_MICRO
    return f"{_MAX_TICKS - (_EPOCH_TICKS + micros * 10):019d}"


_ONE_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)


def check_entity(entity: dict[str, Any]) -> dict[str, Any]:
    """Refuse what the real service would refuse, since Azurite lets some of it through."""
    for key in ("PartitionKey", "RowKey"):
        if _FORBIDDEN_KEY.search(entity[key]) or len(entity[key]) > 512:
            raise ValidationError(f"{key} {entity[key]!r} is not a valid table key", code="INVALID_KEY")
    if len(entity) - 2 > MAX_PROPERTIES:
        raise ValidationError(f"entity has {len(entity) - 2} properties; tables allow {MAX_PROPERTIES}",
                              code="ENTITY_TOO_LARGE")
    for name, value in entity.items():
        if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
            raise ValidationError(f"property {name} is {len(value)} characters; tables allow {MAX_STRING_CHARS}",
                                  code="ENTITY_TOO_LARGE")
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
    return check_entity({
        "PartitionKey": request.id, "RowKey": ROW,
        "action": request.action.value, "status": request.status.value,
        "source": str(request.source), "target": str(request.target),
        "sourceKey": request.source.key, "targetKey": request.target.key,
        "requesterChannel": request.requester.channel, "requesterId": request.requester.id,
        "requesterDisplay": request.requester.display,
        "createdAt": request.created_at, "updatedAt": request.updated_at,
        "reference": request.reference, "correlationId": request.correlation_id,
        "fingerprint": request.fingerprint, "outcome": request.outcome[:MAX_STRING_CHARS],
        "reasons": _reasons_json(request.reasons), "version": request.version,
        "callbacks": json.dumps([c.to_dict() for c in request.callbacks]),
        "approval": "" if request.approval is None else json.dumps({
            "deadline": request.approval.deadline.isoformat(), "decidedBy": request.approval.decided_by,
            "decidedAt": request.approval.decided_at.isoformat() if request.approval.decided_at else None}),
        "operation": "" if op is None else json.dumps({
            "verb": op.verb, "cloud": str(op.cloud), "linkName": op.link_name,
            "startedAt": op.started_at.isoformat(), "deadline": op.deadline.isoformat(), "checks": op.checks}),
    })


def _approval(raw: str | None) -> Approval | None:
    if not raw:
        return None
    data = json.loads(raw)
    decided_at = datetime.fromisoformat(data["decidedAt"]) if data.get("decidedAt") else None
    return Approval(datetime.fromisoformat(data["deadline"]), data.get("decidedBy", ""), decided_at)


def from_entity(entity: dict[str, Any]) -> LinkRequest:
    raw_op = json.loads(entity["operation"]) if entity.get("operation") else None
    operation = None if raw_op is None else Operation(
        raw_op["verb"], parse_cloud_id(raw_op["cloud"]), raw_op["linkName"],
        datetime.fromisoformat(raw_op["startedAt"]), datetime.fromisoformat(raw_op["deadline"]), raw_op["checks"])
    return LinkRequest(
        id=entity["PartitionKey"], action=Action(entity["action"]), status=Status(entity["status"]),
        source=parse_cloud_id(entity["source"]), target=parse_cloud_id(entity["target"]),
        requester=Requester(entity["requesterChannel"], entity["requesterId"], entity.get("requesterDisplay", "")),
        created_at=entity["createdAt"], updated_at=entity["updatedAt"], reference=entity.get("reference", ""),
        correlation_id=entity.get("correlationId", ""), fingerprint=entity.get("fingerprint", ""),
        outcome=entity.get("outcome", ""),
        reasons=tuple(Reason.from_dict(r) for r in json.loads(entity.get("reasons") or "[]")),
        operation=operation, approval=_approval(entity.get("approval")), version=entity["version"],
        callbacks=tuple(Callback(**c) for c in json.loads(entity.get("callbacks") or "[]")),
        etag=entity.metadata["etag"],
    )


def event_entity(event: AuditEvent, suffix: str = "") -> dict[str, Any]:
    """A status event is keyed by the version it made; a note by the version it follows plus a suffix."""
    return check_entity({
        "PartitionKey": event.request_id, "RowKey": f"event-{event.sequence:08d}" + (f"-{suffix}" if suffix else ""),
        "at": event.at, "actor": event.actor, "kind": event.kind, "status": event.status.value,
        "previous": event.previous.value if event.previous else "", "message": event.message[:MAX_STRING_CHARS],
        "correlationId": event.correlation_id, "reasons": _reasons_json(event.reasons),
    })


def event_from_entity(entity: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        request_id=entity["PartitionKey"], sequence=int(entity["RowKey"][6:14]), at=entity["at"],
        actor=entity["actor"], kind=entity["kind"], status=Status(entity["status"]),
        previous=Status(entity["previous"]) if entity.get("previous") else None, message=entity["message"],
        correlation_id=entity.get("correlationId", ""),
        reasons=tuple(Reason.from_dict(r) for r in json.loads(entity.get("reasons") or "[]")),
    )


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Map SDK errors to ours, keeping the cause."""
    try:
        yield
    except InterconnectError:
        raise
    except ResourceNotFoundError as exc:
        raise NotFoundError(f"{what}: not found") from exc
    except (ResourceExistsError, ResourceModifiedError) as exc:
        raise ConflictError(f"{what}: changed concurrently") from exc
    except HttpResponseError as exc:
        if exc.status_code in (409, 412):
            raise ConflictError(f"{what}: changed concurrently") from exc
        if exc.status_code == 404:
            raise NotFoundError(f"{what}: not found") from exc
        if exc.status_code is not None and exc.status_code < 500 and exc.status_code not in (408, 429):
            raise InterconnectError(f"{what}: Table Storage refused the call ({exc.status_code})") from exc
        raise DependencyError(f"{what}: Table Storage unavailable ({exc.status_code})", retry_after=5) from exc
    except AzureError as exc:
        raise DependencyError(f"{what}: Table Storage unreachable", retry_after=5) from exc


def _summary(row: dict[str, Any]) -> RequestSummary:
    return RequestSummary(row["requestId"], Action(row["action"]), parse_cloud_id(row["source"]),
                          parse_cloud_id(row["target"]), Status(row["status"]), row["createdAt"], row.get("updatedAt"))


def _encode_token(token: Any) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode() if token else None


def _decode_token(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError as exc:
        raise ValidationError("continuation token is not one this API issued", code="INVALID_CONTINUATION") from exc


class TableRequestStore:
    """`RequestStore` on Azure Table Storage."""

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self.requests_table = f"{prefix}requests"
        self.index_table = f"{prefix}requestindex"
        self._requests: TableClient = service.get_table_client(self.requests_table)
        self._index: TableClient = service.get_table_client(self.index_table)

    @classmethod
    def from_settings(cls, *, connection_string: str = "", endpoint: str = "",
                      credential: TokenCredential | None = None, prefix: str = "") -> TableRequestStore:
        if connection_string:
            service = TableServiceClient.from_connection_string(connection_string)
        else:
            service = TableServiceClient(endpoint=endpoint, credential=credential)  # type: ignore[arg-type]
        return cls(service, prefix)

    @property
    def service(self) -> TableServiceClient:
        return self._service

    def ensure_tables(self) -> None:
        with translated("creating tables"):
            for name in (self.requests_table, self.index_table):
                self._service.create_table_if_not_exists(name)

    def create(self, request: LinkRequest, event: AuditEvent) -> LinkRequest:
        with translated(f"creating request {request.id}"):
            # First, so that a crash after the row is written leaves a trace the sweeper finds (see stale()).
            self._write_index(request, partitions=["all"], status=RECORDING)
            try:
                result = self._requests.submit_transaction([("create", to_entity(request)),
                                                            ("create", event_entity(event))])
            except TableTransactionError as exc:
                if exc.status_code == 409:
                    # A repeat: the request is indexed under its first creation time, not this one.
                    with suppress(AzureError):
                        self._index.delete_entity("all", self._index_keys(request)[1])
                    raise ConflictError(f"request {request.id} exists", code="ALREADY_EXISTS") from exc
                raise
            self._write_index(request, partitions=self._index_keys(request)[0][1:])  # the per-cloud rows
        return request.with_changes(etag=result[0]["etag"])

    def get(self, request_id: str) -> LinkRequest:
        check_entity({"PartitionKey": request_id, "RowKey": ROW})
        with translated(f"reading request {request_id}"):
            try:
                return from_entity(self._requests.get_entity(request_id, ROW))
            except ResourceNotFoundError as exc:
                raise NotFoundError(f"no request with id {request_id}", code="REQUEST_NOT_FOUND") from exc

    def save(self, request: LinkRequest, event: AuditEvent) -> LinkRequest:
        if request.etag is None:
            raise ConflictError(f"request {request.id} was not read from the store; cannot update it safely")
        with translated(f"updating request {request.id}"):
            try:
                result = self._requests.submit_transaction([
                    ("update", to_entity(request), {"mode": UpdateMode.REPLACE, "etag": request.etag,
                                                    "match_condition": MatchConditions.IfNotModified}),
                    ("create", event_entity(event)),
                ])
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

    def _write_index(self, request: LinkRequest, *, partitions: list[str] | None = None,
                     status: str | None = None) -> None:
        """One index row per place the request is looked up from, each carrying its summary."""
        every, row_key = self._index_keys(request)
        for partition in partitions or every:
            self._index.upsert_entity({
                "PartitionKey": partition, "RowKey": row_key, "requestId": request.id,
                "status": status or request.status.value, "action": request.action.value,
                "source": str(request.source), "target": str(request.target),
                "createdAt": request.created_at, "updatedAt": request.updated_at,
                "linkHolder": str(request.operation.cloud) if request.operation else "",
                "linkName": request.operation.link_name if request.operation else ""})

    def events(self, request_id: str) -> list[AuditEvent]:
        with translated(f"reading events of {request_id}"):
            rows = self._requests.query_entities(
                "PartitionKey eq @pk and RowKey ge 'event-' and RowKey lt 'event.'", parameters={"pk": request_id})
            return [event_from_entity(row) for row in rows]

    def note(self, event: AuditEvent, suffix: str) -> None:
        with translated(f"noting on {event.request_id}"), suppress(ResourceExistsError):
            self._requests.create_entity(event_entity(event, suffix))  # a repeat of the same note is dropped

    def recent(self, *, cloud: CloudId | None, status: Status | None, limit: int,
               continuation: str | None) -> tuple[list[LinkRequest], str | None]:
        partition = "all" if cloud is None else f"cloud-{cloud.key}"
        query, params = "PartitionKey eq @pk", {"pk": partition}
        if status is not None:  # a Recording row's request may have this status; its row tells
            query = query + f" and (status eq @status or status eq '{RECORDING}')"
            params = {**params, "status": status.value}
        with translated("listing requests"):
            pages = self._index.query_entities(query, parameters=params, results_per_page=limit).by_page(
                continuation_token=_decode_token(continuation))
            page = list(next(pages, []))
            token = _encode_token(pages.continuation_token)  # type: ignore[attr-defined]
        found = []
        for row in page:
            try:
                request = self.get(row["requestId"])
            except NotFoundError:
                continue  # discarded by intake after a failed enqueue, or a create that never wrote its row
            if self._index_keys(request)[1] != row["RowKey"]:
                continue  # a repeat's stray index row; the request is listed under its own
            if status is None or request.status is status:
                found.append(request)
        return found, token

    def unfinished(self, cloud: CloudId) -> list[RequestSummary]:
        """From the index alone: no point reads, since preflight asks this for every validation."""
        states = " or ".join(f"status eq '{s.value}'" for s in UNFINISHED)
        with translated("listing unfinished requests"):
            rows = self._index.query_entities(f"PartitionKey eq @pk and ({states})",
                                              parameters={"pk": f"cloud-{cloud.key}"})
            return [_summary(row) for row in rows]

    def stale(self, before: datetime) -> list[RequestSummary]:
        """Unfinished requests not updated since `before`, read from their rows; repairs the index on the way.

        An old index row is checked against its request: if the request was never written (a create or a
        discard interrupted), the index rows go; if it is a repeat's stray key, it goes; if it is behind its
        row (a crash between the two writes, or an index write that failed), it is rewritten from the row.
        """
        states = " or ".join(f"status eq '{s}'" for s in [*(u.value for u in UNFINISHED), RECORDING])
        found = []
        with translated("listing stale requests"):
            rows = list(self._index.query_entities(
                f"PartitionKey eq 'all' and updatedAt lt @before and ({states})", parameters={"before": before}))
            for row in rows:
                try:
                    request = self.get(row["requestId"])
                except NotFoundError:
                    self._drop_index_rows(row)
                    continue
                if self._index_keys(request)[1] != row["RowKey"]:
                    self._drop_index_rows(row)
                    continue
                if row["status"] != request.status.value or row.get("updatedAt") != request.updated_at:
                    self._write_index(request)
                if request.status in UNFINISHED and request.updated_at < before:
                    found.append(request.summary())
        return found

    def _drop_index_rows(self, row: dict[str, Any]) -> None:
        for partition in ("all", f"cloud-{parse_cloud_id(row['source']).key}",
                          f"cloud-{parse_cloud_id(row['target']).key}"):
            with suppress(ResourceNotFoundError):
                self._index.delete_entity(partition, row["RowKey"])

    def discard(self, request_id: str) -> None:
        with translated(f"discarding request {request_id}"):
            request = self.get(request_id)
            for row in self._requests.query_entities("PartitionKey eq @pk", parameters={"pk": request_id}):
                self._requests.delete_entity(row["PartitionKey"], row["RowKey"])
            partitions, row_key = self._index_keys(request)
            for partition in partitions:
                self._index.delete_entity(partition, row_key)

    def ping(self) -> None:
        with translated("reaching Table Storage"):
            next(iter(self._requests.query_entities("PartitionKey eq 'ping'", results_per_page=1)), None)
