"""Builders for test data: clouds, ids and requests with unique names so tests never collide."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from interconnect.adapters.tables import inverted_ticks
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.avs.resources import Cloud
from interconnect.linking.intake import request_id_for

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

SUB_A = "11111111-1111-1111-1111-111111111111"
SUB_B = "22222222-2222-2222-2222-222222222222"


def cloud_id(name: str | None = None, *, sub: str = SUB_A, rg: str = "rg-avs") -> CloudId:
    return parse_cloud_id(
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/"
        f"{name or 'pc-' + uuid.uuid4().hex[:8]}"
    )


def cloud(cid: CloudId, *, location: str = "westeurope", state: str = "Succeeded", block: str = "10.0.0.0/22") -> Cloud:
    return Cloud(id=cid, location=location, provisioning_state=state, network_block=block)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def cloud_partition(stored_id: str) -> str:
    """The request index partition of one cloud, as the Tables store names it."""
    return "cloud-" + hashlib.sha256(stored_id.lower().encode()).hexdigest()[:32]


def write_poisoned_request(
    tables: TableServiceClient, *, source: str, target: str, at: datetime, prefix: str = "", **columns: Any
) -> str:
    """Write a request as the version before issue 13 did for a signed Slack `confirm_disconnect` carrying
    non-ARM ids: the row (with `columns` overriding its own), its first event and its three index rows,
    straight through the Tables SDK, so this version meets rows it cannot read back."""
    rid = request_id_for("slack", None)
    tables.get_table_client(f"{prefix}requests").submit_transaction(
        [
            (
                "create",
                {
                    "PartitionKey": rid,
                    "RowKey": "request",
                    "action": "disconnect",
                    "status": "AwaitingApproval",
                    "source": source,
                    "target": target,
                    "sourceKey": "",
                    "targetKey": "",
                    "requesterChannel": "slack",
                    "requesterId": "T1/U1",
                    "requesterDisplay": "mallory",
                    "createdAt": at,
                    "updatedAt": at,
                    "reference": "",
                    "correlationId": "c",
                    "fingerprint": "f",
                    "outcome": "",
                    "reasons": "[]",
                    "version": 1,
                    "callbacks": "[]",
                    "approval": "",
                    "operation": "",
                    **columns,
                },
            ),
            (
                "create",
                {
                    "PartitionKey": rid,
                    "RowKey": "event-00000001",
                    "at": at,
                    "actor": "slack:T1/U1",
                    "kind": "status",
                    "status": "Accepted",
                    "previous": "",
                    "message": "requested",
                    "correlationId": "c",
                    "reasons": "[]",
                },
            ),
        ]
    )
    index = tables.get_table_client(f"{prefix}requestindex")
    for partition in ("all", cloud_partition(source), cloud_partition(target)):
        index.upsert_entity(
            {
                "PartitionKey": partition,
                "RowKey": f"{inverted_ticks(at)}-{rid}",
                "requestId": rid,
                "status": "AwaitingApproval",
                "action": "disconnect",
                "source": source,
                "target": target,
                "createdAt": at,
                "updatedAt": at,
                "linkHolder": "",
                "linkName": "",
            }
        )
    return rid
