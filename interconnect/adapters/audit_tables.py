"""Audit runs in Azure Table Storage: a row per run, its findings and its inventory as rows of their own.

    audits          PK = "run"     RK = <inverted ticks>-<run id>   newest first; counts and problems
    auditfindings   PK = run id    RK = f000001… (current) / r000001… (resolved since the previous run)
    auditinventory  PK = run id    RK = <cloud key>                 the cloud, its routed prefixes, its links

Findings and inventory are rows rather than one property because a large fleet's would pass the 64 KiB
property limit; they are written in entity-group transactions of at most 100 (the service's limit).

One row that cannot be read back (damaged, or written by an older version) never hides a run: the finding,
inventory or index row is logged, left out, and named among the run's problems, and `latest()` falls back to
the newest run that can be read.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from azure.data.tables import TableServiceClient

from interconnect import boundedjson
from interconnect.adapters.tables import (
    MAX_COLUMN_BYTES,
    check_entity,
    inverted_ticks,
    makes_tables,
    readable,
    shown,
    skip,
    translated,
)
from interconnect.audit.model import AuditRun, CloudRecord, Finding, Inventory, ManagedLink, link_key
from interconnect.avs.cidr import parse_prefix
from interconnect.avs.ids import parse_cloud_id
from interconnect.avs.resources import Cloud, Link
from interconnect.avs.routed import RoutedSpace
from interconnect.errors import CorruptRecordError, NotFoundError

BATCH = 100
# Run ids are UUIDs (Audits.start); anything else names no run, and is not sent to the service at all.
_RUN_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
LATEST_CANDIDATES = 10  # older runs tried when the newest cannot be read


def _column(entity: dict[str, Any], name: str, default: str = "") -> Any:
    return boundedjson.loads(
        entity.get(name) or default, max_bytes=MAX_COLUMN_BYTES, what=f"column {name}", code="INVALID_COLUMN"
    )


class TableAuditStore:
    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self.names = [f"{prefix}audits", f"{prefix}auditfindings", f"{prefix}auditinventory"]
        self._runs, self._findings, self._inventory = (service.get_table_client(n) for n in self.names)
        self._index = service.get_table_client(f"{prefix}requestindex")

    def ensure_tables(self) -> None:
        with translated("creating audit tables"):
            for name in self.names:
                self._service.create_table_if_not_exists(name)

    @makes_tables
    def save(self, run: AuditRun, inventory: Inventory) -> None:
        with translated(f"saving audit {run.id}"):
            findings = [("f", f, "new" if f.key in set(run.new) else "open") for f in run.findings]
            findings += [("r", f, "resolved") for f in run.resolved]
            self._batched(
                self._findings,
                [
                    check_entity(
                        {
                            "PartitionKey": run.id,
                            "RowKey": f"{kind}{i:06d}",
                            "state": state,
                            "finding": json.dumps(finding.to_dict())[:32_000],
                        }
                    )
                    for i, (kind, finding, state) in enumerate(findings)
                ],
            )
            self._batched(
                self._inventory, [check_entity(_cloud_entity(run, record)) for record in inventory.clouds.values()]
            )
            self._runs.upsert_entity(
                check_entity(
                    {
                        "PartitionKey": "run",
                        "RowKey": f"{inverted_ticks(run.started_at)}-{run.id}",
                        "runId": run.id,
                        "startedAt": run.started_at,
                        "finishedAt": run.finished_at,
                        "clouds": run.clouds,
                        "links": run.links,
                        "problems": json.dumps(run.problems)[:32_000],
                    }
                )
            )

    @staticmethod
    def _batched(table: Any, entities: list[dict[str, Any]]) -> None:
        for start in range(0, len(entities), BATCH):
            table.submit_transaction([("upsert", e) for e in entities[start : start + BATCH]])

    @makes_tables
    def latest(self) -> AuditRun | None:
        """The newest run that can be read back; an unreadable newer one is logged and passed over."""
        with translated("reading the latest audit"):
            rows = self._runs.query_entities("PartitionKey eq 'run'", results_per_page=LATEST_CANDIDATES)
            for _, row in zip(range(LATEST_CANDIDATES), rows, strict=False):
                try:
                    return self._run(row)
                except CorruptRecordError as exc:
                    skip(exc, "reading the latest audit")
        return None

    @makes_tables
    def get(self, run_id: str) -> AuditRun:
        """Raises NotFoundError (AUDIT_NOT_FOUND), or CorruptRecordError for a run row that cannot be read."""
        if not _RUN_ID.fullmatch(run_id):
            raise NotFoundError(f"no audit run with id {shown(run_id)}: run ids are UUIDs", code="AUDIT_NOT_FOUND")
        with translated(f"reading audit {run_id}"):
            row = next(
                iter(self._runs.query_entities("PartitionKey eq 'run' and runId eq @id", parameters={"id": run_id})),
                None,
            )
            if row is None:
                raise NotFoundError(f"no audit run with id {run_id}", code="AUDIT_NOT_FOUND")
            return self._run(row)

    def _run(self, row: dict[str, Any]) -> AuditRun:
        """The run with every finding and link state that can be read back; the rest named in its problems."""
        with readable("audit run", row.get("runId")):
            run_id = row["runId"]
            if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
                raise ValueError("runId is not a UUID")
            head = (
                row["startedAt"],
                row["finishedAt"],
                list(_column(row, "problems", "[]")),
                int(row.get("clouds", 0)),
                int(row.get("links", 0)),
            )
        current, new, resolved, unread = [], [], [], 0
        for entity in self._findings.query_entities("PartitionKey eq @pk", parameters={"pk": run_id}):
            try:
                with readable("audit finding", f"{run_id}/{entity.get('RowKey')}"):
                    finding = Finding.from_dict(_column(entity, "finding"))
                    state = entity["state"]
            except CorruptRecordError as exc:
                skip(exc, f"reading audit {run_id}")
                unread += 1
                continue
            if entity["RowKey"].startswith("r"):
                resolved.append(finding)
            else:
                current.append(finding)
                if state == "new":
                    new.append(finding.key)
        states = {}
        for entity in self._inventory.query_entities("PartitionKey eq @pk", parameters={"pk": run_id}):
            try:
                with readable("audit inventory row", f"{run_id}/{entity.get('RowKey')}"):
                    states.update(
                        {
                            link_key(entity["cloud"], link["name"]): (
                                link["status"],
                                datetime.fromisoformat(link["since"]),
                            )
                            for link in _column(entity, "links", "[]")
                        }
                    )
            except CorruptRecordError as exc:
                skip(exc, f"reading audit {run_id}")
                unread += 1
        started, finished, problems, clouds, links = head
        if unread:
            problems.append(f"{unread} stored row(s) of this run could not be read back (CORRUPT_RECORD)")
        return AuditRun(run_id, started, finished, current, new, resolved, states, problems, clouds, links)

    @makes_tables
    def inventory(self, run_id: str) -> Inventory:
        run = self.get(run_id)
        records = {}
        problems = list(run.problems)
        with translated(f"reading the inventory of audit {run_id}"):
            for entity in self._inventory.query_entities("PartitionKey eq @pk", parameters={"pk": run_id}):
                try:
                    with readable("audit inventory row", f"{run_id}/{entity.get('RowKey')}"):
                        record = _record(entity)
                except CorruptRecordError as exc:
                    skip(exc, f"reading the inventory of audit {run_id}")
                    problems.append(f"inventory row {entity.get('RowKey')} could not be read back (CORRUPT_RECORD)")
                    continue
                records[record.cloud.id] = record
        return Inventory(run.started_at, records, tuple(problems))

    @makes_tables
    def managed_links(self) -> list[ManagedLink]:
        """From the request index: the newest succeeded request per pair, when it is a connect that made a link.

        An index row that cannot be read is logged and left out (its link then shows as UNMANAGED_LINK)."""
        with translated("reading the links our requests made"):
            rows = self._index.query_entities("PartitionKey eq 'all' and status eq 'Succeeded'")
            newest: dict[frozenset[str], ManagedLink | None] = {}
            for row in rows:  # newest first: the index sorts by inverted ticks
                try:
                    with readable("index row of request", row.get("requestId")):
                        pair = frozenset((row["source"].lower(), row["target"].lower()))
                        holder, name = row.get("linkHolder") or "", row.get("linkName") or ""
                        made = (
                            None
                            if row["action"] != "connect" or not name
                            else ManagedLink(
                                holder,
                                name,
                                row["target"] if holder.lower() == row["source"].lower() else row["source"],
                                row["requestId"],
                            )
                        )
                except CorruptRecordError as exc:
                    skip(exc, "reading the links our requests made")
                    continue
                newest.setdefault(pair, made)
        return [made for made in newest.values() if made is not None]


def _cloud_entity(run: AuditRun, record: CloudRecord) -> dict[str, Any]:
    cloud = record.cloud
    return {
        "PartitionKey": run.id,
        "RowKey": cloud.id.key,
        "cloud": str(cloud.id),
        "facts": json.dumps(
            {
                "location": cloud.location,
                "provisioningState": cloud.provisioning_state,
                "networkBlock": cloud.network_block,
                "externalLinks": [str(c) for c in cloud.external_links],
            }
        ),
        "prefixes": json.dumps(
            [[str(p.network), p.origin] for p in record.space.prefixes]
            + [["!", problem] for problem in record.space.problems]
        )[:32_000],
        "links": json.dumps(
            [
                {
                    "name": link.name,
                    "target": str(link.target),
                    "status": link.status,
                    "since": run.link_states.get(link_key(str(cloud.id), link.name), (link.status, run.started_at))[
                        1
                    ].isoformat(),
                }
                for link in record.links
            ]
        ),
    }


def _record(entity: dict[str, Any]) -> CloudRecord:
    cloud_id = parse_cloud_id(entity["cloud"])
    facts = _column(entity, "facts")
    cloud = Cloud(
        cloud_id,
        facts["location"],
        facts["provisioningState"],
        facts.get("networkBlock", ""),
        external_links=tuple(parse_cloud_id(c) for c in facts.get("externalLinks", [])),
    )
    raw = _column(entity, "prefixes", "[]")
    space = RoutedSpace(
        tuple(parse_prefix(p, origin) for p, origin in raw if p != "!"), tuple(origin for p, origin in raw if p == "!")
    )
    links = tuple(
        Link(cloud_id, link["name"], parse_cloud_id(link["target"]), link["status"])
        for link in _column(entity, "links", "[]")
    )
    return CloudRecord(cloud, links, space)
