"""Audit runs in Azure Table Storage: a row per run, its findings and its inventory as rows of their own.

    audits          PK = "run"     RK = <inverted ticks>-<run id>   newest first; counts and problems
    auditfindings   PK = run id    RK = f000001… (current) / r000001… (resolved since the previous run)
    auditinventory  PK = run id    RK = <cloud key>                 the cloud, its routed prefixes, its links

Findings and inventory are rows rather than one property because a large fleet's would pass the 64 KiB
property limit; they are written in entity-group transactions of at most 100 (the service's limit).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from azure.data.tables import TableServiceClient

from interconnect.adapters.tables import check_entity, inverted_ticks, translated
from interconnect.armid import parse_cloud_id
from interconnect.audits import AuditRun
from interconnect.cidr import parse_prefix
from interconnect.errors import NotFoundError
from interconnect.facts import Cloud, Link
from interconnect.findings import Finding, ManagedLink, link_key
from interconnect.inventory import CloudRecord, Inventory
from interconnect.routed import RoutedSpace

BATCH = 100


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

    def save(self, run: AuditRun, inventory: Inventory) -> None:
        with translated(f"saving audit {run.id}"):
            findings = [("f", f, "new" if f.key in set(run.new) else "open") for f in run.findings]
            findings += [("r", f, "resolved") for f in run.resolved]
            self._batched(self._findings, [
                check_entity({"PartitionKey": run.id, "RowKey": f"{kind}{i:06d}", "state": state,
                              "finding": json.dumps(finding.to_dict())[:32_000]})
                for i, (kind, finding, state) in enumerate(findings)])
            self._batched(self._inventory, [check_entity(_cloud_entity(run, record)) for record in
                                            inventory.clouds.values()])
            self._runs.upsert_entity(check_entity({
                "PartitionKey": "run", "RowKey": f"{inverted_ticks(run.started_at)}-{run.id}", "runId": run.id,
                "startedAt": run.started_at, "finishedAt": run.finished_at, "clouds": run.clouds, "links": run.links,
                "problems": json.dumps(run.problems)[:32_000]}))

    @staticmethod
    def _batched(table: Any, entities: list[dict[str, Any]]) -> None:
        for start in range(0, len(entities), BATCH):
            table.submit_transaction([("upsert", e) for e in entities[start:start + BATCH]])

    def latest(self) -> AuditRun | None:
        with translated("reading the latest audit"):
            row = next(iter(self._runs.query_entities("PartitionKey eq 'run'", results_per_page=1)), None)
        return None if row is None else self._run(row)

    def get(self, run_id: str) -> AuditRun:
        with translated(f"reading audit {run_id}"):
            row = next(iter(self._runs.query_entities("PartitionKey eq 'run' and runId eq @id",
                                                      parameters={"id": run_id})), None)
        if row is None:
            raise NotFoundError(f"no audit run with id {run_id}", code="AUDIT_NOT_FOUND")
        return self._run(row)

    def _run(self, row: dict[str, Any]) -> AuditRun:
        run_id = row["runId"]
        current, new, resolved = [], [], []
        for entity in self._findings.query_entities("PartitionKey eq @pk", parameters={"pk": run_id}):
            finding = Finding.from_dict(json.loads(entity["finding"]))
            if entity["RowKey"].startswith("r"):
                resolved.append(finding)
            else:
                current.append(finding)
                if entity["state"] == "new":
                    new.append(finding.key)
        states = {}
        for entity in self._inventory.query_entities("PartitionKey eq @pk", parameters={"pk": run_id}):
            for link in json.loads(entity["links"]):
                since = datetime.fromisoformat(link["since"])
                states[link_key(entity["cloud"], link["name"])] = (link["status"], since)
        return AuditRun(run_id, row["startedAt"], row["finishedAt"], current, new, resolved, states,
                        json.loads(row.get("problems") or "[]"), row.get("clouds", 0), row.get("links", 0))

    def inventory(self, run_id: str) -> Inventory:
        run = self.get(run_id)
        records = {}
        with translated(f"reading the inventory of audit {run_id}"):
            for entity in self._inventory.query_entities("PartitionKey eq @pk", parameters={"pk": run_id}):
                record = _record(entity)
                records[record.cloud.id] = record
        return Inventory(run.started_at, records, tuple(run.problems))

    def managed_links(self) -> list[ManagedLink]:
        """From the request index: the newest succeeded request per pair, when it is a connect that made a link."""
        with translated("reading the links our requests made"):
            rows = self._index.query_entities("PartitionKey eq 'all' and status eq 'Succeeded'")
            newest: dict[frozenset[str], dict[str, Any]] = {}
            for row in rows:  # newest first: the index sorts by inverted ticks
                newest.setdefault(frozenset((row["source"].lower(), row["target"].lower())), row)
        return [ManagedLink(row["linkHolder"], row["linkName"],
                            row["target"] if row["linkHolder"].lower() == row["source"].lower() else row["source"],
                            row["requestId"])
                for row in newest.values() if row["action"] == "connect" and row.get("linkName")]


def _cloud_entity(run: AuditRun, record: CloudRecord) -> dict[str, Any]:
    cloud = record.cloud
    return {
        "PartitionKey": run.id, "RowKey": cloud.id.key, "cloud": str(cloud.id),
        "facts": json.dumps({"location": cloud.location, "provisioningState": cloud.provisioning_state,
                             "networkBlock": cloud.network_block,
                             "externalLinks": [str(c) for c in cloud.external_links]}),
        "prefixes": json.dumps([[str(p.network), p.origin] for p in record.space.prefixes]
                               + [["!", problem] for problem in record.space.problems])[:32_000],
        "links": json.dumps([{"name": link.name, "target": str(link.target), "status": link.status,
                              "since": run.link_states.get(link_key(str(cloud.id), link.name),
                                                           (link.status, run.started_at))[1].isoformat()}
                             for link in record.links]),
    }


def _record(entity: dict[str, Any]) -> CloudRecord:
    cloud_id = parse_cloud_id(entity["cloud"])
    facts = json.loads(entity["facts"])
    cloud = Cloud(cloud_id, facts["location"], facts["provisioningState"], facts.get("networkBlock", ""),
                  external_links=tuple(parse_cloud_id(c) for c in facts.get("externalLinks", [])))
    raw = json.loads(entity["prefixes"])
    space = RoutedSpace(tuple(parse_prefix(p, origin) for p, origin in raw if p != "!"),
                        tuple(origin for p, origin in raw if p == "!"))
    links = tuple(Link(cloud_id, link["name"], parse_cloud_id(link["target"]), link["status"])
                  for link in json.loads(entity["links"]))
    return CloudRecord(cloud, links, space)
