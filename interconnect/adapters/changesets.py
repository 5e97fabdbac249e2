"""Change sets (links as code) in Azure Table Storage, and in memory for tests.

Layout: one row per change set in the requests table, in a partition of its own:

    requests      PK = "changeset-<id>"   RK = "changeset"   the change set, ETag-guarded

Why the requests table and not a table of its own: a change set lives as long as the requests it files and is
read and written by the same identity, so it needs no infrastructure of its own (no Bicep table, no local
declaration, nothing a deployment could forget). Nothing that reads that table can mistake the row for a
request: every request read is by its own partition (a request id is a UUID, never `changeset-...`), and the
listings go through the request index, where change sets have no rows; the row key `changeset` is not
`request`, so a scan for request rows skips it too.

The steps are one JSON text, split over `steps0`, `steps1`, ... when it is longer than a property may be (a
plan of many disconnects carries what each cuts); past MAX_CHUNKS the impacts are left out (the plan showed
them) rather than refusing the apply.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, TableServiceClient, UpdateMode

from interconnect.adapters.tables import (
    MAX_STRING_CHARS,
    check_entity,
    makes_tables,
    readable,
    shown,
    skip,
    translated,
)
from interconnect.avs.ids import parse_cloud_id
from interconnect.errors import ConflictError, CorruptRecordError, NotFoundError, ValidationError
from interconnect.estate.changeset import ChangeSet, ChangeSetStatus, ChangeStep
from interconnect.linking.model import Action, Reason, Requester

ROW = "changeset"
MAX_CHUNKS = 12  # 12 x 32,000 characters (64 KB each as UTF-16): well within an entity's 1 MiB
CHANGESET_ID_PREFIX = "changeset-"


def partition(changeset_id: str) -> str:
    return f"{CHANGESET_ID_PREFIX}{changeset_id}"


def _steps_json(steps: tuple[ChangeStep, ...], *, impacts: bool) -> str:
    return json.dumps(
        [
            {
                "index": s.index,
                "action": s.action.value,
                "source": str(s.source),
                "target": str(s.target),
                "requestId": s.request_id,
                "status": s.status,
                "reasons": [r.to_dict() for r in s.reasons],
                **({"impact": dict(s.impact)} if impacts and s.impact is not None else {}),
            }
            for s in steps
        ],
        separators=(",", ":"),
    )


def to_entity(changeset: ChangeSet) -> dict[str, Any]:
    text = _steps_json(changeset.steps, impacts=True)
    if len(text) > MAX_CHUNKS * MAX_STRING_CHARS:
        text = _steps_json(changeset.steps, impacts=False)
    chunks = [text[i : i + MAX_STRING_CHARS] for i in range(0, len(text), MAX_STRING_CHARS)] or [""]
    if len(chunks) > MAX_CHUNKS:
        raise ValidationError(
            f"the change set has {len(changeset.steps)} steps, more than a change set row holds",
            code="CHANGESET_TOO_LARGE",
        )
    who = changeset.requested_by
    entity: dict[str, Any] = {
        "PartitionKey": partition(changeset.id),
        "RowKey": ROW,
        "fingerprint": changeset.fingerprint,
        "createdAt": changeset.created_at,
        "updatedAt": changeset.updated_at,
        # The apply's token's roles and groups: the policy judges each step filed by them (as tables.py keeps them).
        "requester": json.dumps(
            {
                "channel": who.channel,
                "id": who.id,
                "display": who.display,
                "roles": sorted(who.roles),
                "groups": sorted(who.groups),
            }
        ),
        "status": changeset.status.value,
        "reason": json.dumps(changeset.reason.to_dict()) if changeset.reason else "",
        "checks": changeset.checks,
        "keyDigest": changeset.key_digest,
        "stepChunks": len(chunks),
        **{f"steps{i}": chunk for i, chunk in enumerate(chunks)},
    }
    return check_entity(entity)


def _at(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError("not a time")
    return value


def from_entity(entity: TableEntity | dict[str, Any]) -> ChangeSet:
    """Raises CorruptRecordError for a row this version cannot read."""
    with readable("change set", entity.get("PartitionKey")):
        text = "".join(entity[f"steps{i}"] for i in range(int(entity["stepChunks"])))
        steps = tuple(
            ChangeStep(
                index=int(raw["index"]),
                action=Action(raw["action"]),
                source=parse_cloud_id(raw["source"]),
                target=parse_cloud_id(raw["target"]),
                request_id=raw["requestId"],
                status=str(raw["status"]),
                reasons=tuple(Reason.from_dict(r) for r in raw["reasons"]),
                impact=raw.get("impact"),
            )
            for raw in json.loads(text)
        )
        who = json.loads(entity["requester"])
        reason = json.loads(entity["reason"]) if entity.get("reason") else None
        return ChangeSet(
            id=str(entity["PartitionKey"]).removeprefix(CHANGESET_ID_PREFIX),
            fingerprint=str(entity["fingerprint"]),
            created_at=_at(entity["createdAt"]),
            updated_at=_at(entity["updatedAt"]),
            requested_by=Requester(
                who["channel"],
                who["id"],
                who.get("display", ""),
                roles=frozenset(who.get("roles", ())),
                groups=frozenset(who.get("groups", ())),
            ),
            steps=steps,
            status=ChangeSetStatus(entity["status"]),
            reason=Reason.from_dict(reason) if reason else None,
            checks=int(entity["checks"]),
            key_digest=str(entity.get("keyDigest", "")),
            etag=entity.metadata.get("etag") if isinstance(entity, TableEntity) else None,
        )


class TableChangeSetStore:
    """`ChangeSetStore` on Azure Table Storage, in the requests table (see the module docstring)."""

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self.table_name = f"{prefix}requests"
        self._table: TableClient = service.get_table_client(self.table_name)

    def ensure_tables(self) -> None:
        with translated("creating tables"):
            self._service.create_table_if_not_exists(self.table_name)

    @makes_tables
    def create(self, changeset: ChangeSet) -> ChangeSet:
        entity = to_entity(changeset)
        with translated(f"recording change set {changeset.id}"):
            try:
                written = self._table.create_entity(entity)
            except ResourceExistsError as exc:
                raise ConflictError(f"change set {changeset.id} exists", code="ALREADY_EXISTS") from exc
        return _with_etag(changeset, written)

    @makes_tables
    def get(self, changeset_id: str) -> ChangeSet:
        check_entity({"PartitionKey": partition(changeset_id), "RowKey": ROW})
        with translated(f"reading change set {shown(changeset_id)}"):
            try:
                return from_entity(self._table.get_entity(partition(changeset_id), ROW))
            except ResourceNotFoundError as exc:
                raise NotFoundError(f"no change set with id {shown(changeset_id)}", code="CHANGESET_NOT_FOUND") from exc

    @makes_tables
    def unfinished(self) -> list[ChangeSet]:
        # Change set partitions sort together: `changeset-` follows every request id (a UUID's second character
        # is a hex digit, below `h`), so this key range holds change sets only.
        query = "PartitionKey ge @lo and PartitionKey lt @hi and RowKey eq @row and status eq @status"
        parameters = {"lo": CHANGESET_ID_PREFIX, "hi": "changeset.", "row": ROW, "status": "InProgress"}
        found: list[ChangeSet] = []
        with translated("listing change sets in progress"):
            for entity in self._table.query_entities(query, parameters=parameters):
                try:
                    found.append(from_entity(entity))
                except CorruptRecordError as exc:
                    skip(exc, "listing change sets in progress")
        return found

    @makes_tables
    def save(self, changeset: ChangeSet) -> ChangeSet:
        if changeset.etag is None:
            raise ConflictError(f"change set {changeset.id} was not read from the store; cannot update it safely")
        with translated(f"updating change set {changeset.id}"):
            written = self._table.update_entity(
                to_entity(changeset),
                mode=UpdateMode.REPLACE,
                etag=changeset.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        return _with_etag(changeset, written)


def _with_etag(changeset: ChangeSet, written: dict[str, Any]) -> ChangeSet:
    return replace(changeset, etag=str(written["etag"]))


class InMemoryChangeSetStore:
    """`ChangeSetStore` in memory, with ETags as a counter: the same conflicts the table store raises."""

    def __init__(self) -> None:
        self.rows: dict[str, ChangeSet] = {}
        self._tag = 0

    def _stamp(self, changeset: ChangeSet) -> ChangeSet:
        self._tag += 1
        stamped = replace(changeset, etag=f"W/{self._tag}")
        self.rows[changeset.id] = stamped
        return stamped

    def create(self, changeset: ChangeSet) -> ChangeSet:
        if changeset.id in self.rows:
            raise ConflictError(f"change set {changeset.id} exists", code="ALREADY_EXISTS")
        return self._stamp(changeset)

    def get(self, changeset_id: str) -> ChangeSet:
        if changeset_id not in self.rows:
            raise NotFoundError(f"no change set with id {shown(changeset_id)}", code="CHANGESET_NOT_FOUND")
        return self.rows[changeset_id]

    def unfinished(self) -> list[ChangeSet]:
        return [c for c in self.rows.values() if c.status is ChangeSetStatus.IN_PROGRESS]

    def save(self, changeset: ChangeSet) -> ChangeSet:
        stored = self.rows.get(changeset.id)
        if stored is None or stored.etag != changeset.etag:
            raise ConflictError(f"change set {changeset.id} changed concurrently")
        return self._stamp(changeset)
