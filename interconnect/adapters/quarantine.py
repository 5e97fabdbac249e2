"""The quarantine in Azure Table Storage (azure-data-tables): queue messages the worker set aside.

    quarantine  PK = "message"  RK = <inverted ticks of the enqueued time>-<SHA-256 of the message id>-<sequence no.>
                newest first; reason, description, loggable message id, enqueued time, delivery count, body
                length and SHA-256, and the body's first 32 KiB as Edm.Binary

The queue trigger is the standard one (the host completes a message when the function returns), so a message
that is no work item, or whose request cannot be read back, is written here with its reason and the function
returns: set aside on its first delivery, where a dead-letter queue would have kept it. The body is stored
because after the host completes the message this row is the only copy of it; it is kept as opaque bytes,
never decoded, shown or logged. The row key names the message (its id as sent, hashed, since an id from
outside may hold characters a key refuses; its sequence number; its enqueued time), so a redelivery of a
message already set aside (the host could not complete it) writes nothing new.

The table is made on first use rather than at every start: a quarantined message is rare, and Bicep makes the
table in Azure.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableServiceClient

from interconnect.adapters.tables import check_entity, inverted_ticks, makes_tables, translated
from interconnect.linking.quarantine import Quarantined

PARTITION = "message"
MAX_COUNTED = 1000  # a count past this says "at least"; the audit and the sweeper only need to see it is not 0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def row_key(message: Quarantined) -> str:
    enqueued = message.enqueued_at or _EPOCH
    if enqueued.tzinfo is None:  # the worker may hand over a naive UTC time
        enqueued = enqueued.replace(tzinfo=UTC)
    return f"{inverted_ticks(enqueued)}-{message.message_id_sha256}-{message.sequence_number:020d}"


def to_entity(message: Quarantined) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": PARTITION,
        "RowKey": row_key(message),
        "reason": message.reason,
        "description": message.description,
        "messageId": message.message_id,
        "messageIdSha256": message.message_id_sha256,
        "sequenceNumber": EntityProperty(message.sequence_number, EdmType.INT64),
        "bodyLength": message.body_length,
        "bodySha256": message.body_sha256,
        "body": EntityProperty(message.body, EdmType.BINARY),
    }
    if message.enqueued_at is not None:
        entity["enqueuedAt"] = message.enqueued_at
    if message.delivery_count is not None:
        entity["deliveryCount"] = message.delivery_count
    return check_entity(entity)


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)  # an Edm.Int64 or Edm.Binary column reads back as an EntityProperty


def from_entity(entity: dict[str, Any]) -> Quarantined:
    enqueued = entity.get("enqueuedAt")
    body = _plain(entity.get("body")) or b""
    return Quarantined(
        reason=str(entity.get("reason", "")),
        description=str(entity.get("description", "")),
        message_id=str(entity.get("messageId", "")),
        message_id_sha256=str(entity.get("messageIdSha256", "")),
        sequence_number=int(_plain(entity.get("sequenceNumber")) or 0),
        enqueued_at=enqueued if isinstance(enqueued, datetime) else None,
        delivery_count=int(_plain(entity["deliveryCount"])) if "deliveryCount" in entity else None,
        body_length=int(_plain(entity.get("bodyLength")) or 0),
        body_sha256=str(entity.get("bodySha256", "")),
        body=bytes(body),
    )


class TableQuarantine:
    """`Quarantine` on Azure Table Storage, in the request store's account."""

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self.table_name = f"{prefix}quarantine"
        self._table = service.get_table_client(self.table_name)

    def ensure_tables(self) -> None:
        with translated("creating the quarantine table"):
            self._service.create_table_if_not_exists(self.table_name)

    @makes_tables  # the first message ever set aside here makes the table
    def put(self, message: Quarantined) -> None:
        """Raises DependencyError (Tables unavailable), so that the trigger raises and the message is redelivered."""
        entity = to_entity(message)
        # A row already there: a redelivery of a message the host could not complete after setting it aside.
        with translated(f"setting aside message {entity['RowKey']}"), suppress(ResourceExistsError):
            self._table.create_entity(entity)

    def count(self) -> int:
        with translated("counting the quarantine"):
            try:
                count = 0
                for _ in self._table.query_entities(
                    f"PartitionKey eq '{PARTITION}'", select=["RowKey"], results_per_page=MAX_COUNTED
                ):
                    count += 1
                    if count >= MAX_COUNTED:
                        break
                return count
            except ResourceNotFoundError:
                return 0  # no table yet: nothing was ever set aside

    def recent(self, limit: int) -> list[Quarantined]:
        with translated("reading the quarantine"):
            try:
                rows = []
                for entity in self._table.query_entities(f"PartitionKey eq '{PARTITION}'", results_per_page=limit):
                    rows.append(from_entity(entity))
                    if len(rows) >= limit:
                        break
                return rows
            except ResourceNotFoundError:
                return []
