"""The registry of topologies in Azure Table Storage (azure-data-tables), in the request store's account.

    topologies  PK = "topology"  RK = <SHA-256 of the scope identity>   one row per scope, replaced on re-register
                name, scope (JSON), registeredBy (JSON), registeredAt, fingerprint,
                documentLength, documentSha256, document0… (the document's bytes as Edm.Binary, 60,000 a column)

A table of its own rather than a partition of `requests` or `requestindex`: its rows are no request and follow
no request's life, a whole-table read (`registered()`, once per audit) must not page through request rows, and
its name says what it holds. It is made on first use (`makes_tables`), and Bicep declares it in Azure
(infra/app/storage.bicep).

A row is read back as it was written, without parsing the document again: a document this version's reader
would refuse is the audit's to report (TOPOLOGY_UNRESOLVABLE), not a row to leave out unseen.

A document is at most 128 KiB (MAX_DOCUMENT_BYTES) and a binary column at most 64 KiB, so its bytes are cut
into columns; its length and SHA-256 are stored beside them, so a row cut short or damaged reads back as
CORRUPT_RECORD (logged and left out) rather than as another document. Only what `registration` accepted (it
parses the document again and holds it to its scope) is written; the row is replaced whole, so a shorter
document leaves no column of a longer one behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableServiceClient, UpdateMode

from interconnect.adapters.tables import check_entity, makes_tables, readable, skip, translated
from interconnect.errors import CorruptRecordError
from interconnect.estate.document import MAX_DOCUMENT_BYTES
from interconnect.estate.registry import RegisteredTopology, registration
from interconnect.estate.topology import Scope
from interconnect.linking.model import Requester

PARTITION = "topology"
CHUNK = 60_000  # bytes per Edm.Binary column (the service allows 64 KiB)


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)  # an Edm.Binary column reads back as an EntityProperty or bytes


def _group(text: str) -> tuple[str, str]:
    """`/subscriptions/<s>/resourceGroups/<g>` (as Scope.to_view writes it) as (s, g)."""
    _, subscriptions, subscription, groups, group = text.lower().split("/")
    if (subscriptions, groups) != ("subscriptions", "resourcegroups"):
        raise ValueError("a stored resource group is not a resource group id")
    return subscription, group


def to_entity(registered: RegisteredTopology) -> dict[str, Any]:
    document = registered.document
    by = registered.registered_by
    entity: dict[str, Any] = {
        "PartitionKey": PARTITION,
        "RowKey": registered.key,
        "name": registered.name,
        "scope": json.dumps(registered.scope.to_view()),
        "registeredBy": json.dumps({"channel": by.channel, "id": by.id, "display": by.display}),
        "registeredAt": registered.registered_at,
        "fingerprint": registered.fingerprint or "",
        "documentLength": len(document),
        "documentSha256": hashlib.sha256(document).hexdigest(),
    }
    for index, start in enumerate(range(0, len(document), CHUNK)):
        entity[f"document{index}"] = EntityProperty(document[start : start + CHUNK], EdmType.BINARY)
    return check_entity(entity)


def from_entity(entity: dict[str, Any]) -> RegisteredTopology:
    """Raises CorruptRecordError for a row this version cannot read back as the document it stored."""
    with readable("registered topology", entity.get("RowKey")):
        length = int(entity["documentLength"])
        if not 0 < length <= MAX_DOCUMENT_BYTES:
            raise ValueError(f"documentLength {length} is out of range")
        parts = [bytes(_plain(entity.get(f"document{i}")) or b"") for i in range(-(-length // CHUNK))]
        document = b"".join(parts)
        if len(document) != length or hashlib.sha256(document).hexdigest() != entity["documentSha256"]:
            raise ValueError("the document's bytes do not match their stored length and SHA-256")
        scope = json.loads(entity["scope"])
        by = json.loads(entity["registeredBy"])
        at = entity["registeredAt"]
        if not isinstance(at, datetime):
            raise TypeError("registeredAt is not a date")
        registered = RegisteredTopology(
            document,
            Scope(
                frozenset(str(s).lower() for s in scope["subscriptions"]),
                frozenset(_group(g) for g in scope["resourceGroups"]),
            ),
            str(entity.get("name") or ""),
            Requester(str(by["channel"]), str(by["id"]), str(by.get("display", ""))),
            at,
            str(entity.get("fingerprint") or "") or None,
        )
        if registered.key != entity["RowKey"]:
            raise ValueError("the row key is not the stored scope's")
        return registered


class TableTopologyRegistry:
    """`TopologyRegistry` on Azure Table Storage."""

    def __init__(
        self, service: TableServiceClient, prefix: str = "", clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._service = service
        self.table_name = f"{prefix}topologies"
        self._table = service.get_table_client(self.table_name)
        self._clock = clock

    def ensure_tables(self) -> None:
        with translated("creating the topologies table"):
            self._service.create_table_if_not_exists(self.table_name)

    @makes_tables
    def register(self, document: bytes, scope: Scope, *, by: Requester, fingerprint: str | None = None) -> None:
        """Raises as `registration` does before anything is written; DependencyError when Tables cannot be reached."""
        registered = registration(document, scope, by=by, at=self._clock(), fingerprint=fingerprint)
        entity = to_entity(registered)
        with translated(f"registering the topology of scope {registered.key[:12]}"):
            self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def registered(self) -> list[RegisteredTopology]:
        found = []
        with translated("reading the registered topologies"):
            try:
                for entity in self._table.query_entities(f"PartitionKey eq '{PARTITION}'"):
                    try:
                        found.append(from_entity(entity))
                    except CorruptRecordError as exc:
                        skip(exc, "reading the registered topologies")
            except ResourceNotFoundError:
                return []  # no table yet: nothing was ever registered
        return found
