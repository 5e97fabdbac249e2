"""One contract for `Quarantine`, run against the in-memory fake and against Azurite through azure-data-tables."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from interconnect.adapters.memory import InMemoryQuarantine
from interconnect.adapters.quarantine import MAX_COUNTED, TableQuarantine
from interconnect.errors import DependencyError
from interconnect.linking.quarantine import MAX_BODY, Quarantined
from localdev import azurite
from localdev.procs import free_port

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["memory", "azurite"])
def quarantine(request: pytest.FixtureRequest):
    if request.param == "memory":
        return InMemoryQuarantine()
    conn = request.getfixturevalue("tables_connection_string")
    # No ensure_tables(): the first message set aside makes the table.
    return TableQuarantine(TableServiceClient.from_connection_string(conn), request.getfixturevalue("table_prefix"))


def set_aside(
    body: bytes = b"not json", *, message_id: str = "m-1", sequence: int = 1, at: datetime = AT, delivery: int = 1
) -> Quarantined:
    return Quarantined.of(
        reason="MALFORMED_MESSAGE",
        description="queue message is not valid JSON",
        message_id=message_id,
        sequence_number=sequence,
        enqueued_at=at,
        delivery_count=delivery,
        body=body,
    )


def test_an_empty_quarantine_counts_nothing(quarantine) -> None:
    assert quarantine.count() == 0 and quarantine.recent(10) == []


def test_a_set_aside_message_reads_back_equal_with_its_body_as_binary(quarantine) -> None:
    body = bytes(range(256)) * 200  # every byte value, 51,200 bytes: kept capped at 32 KiB
    message = set_aside(body, message_id="id with / # ? \\ and \u00e9", sequence=2**40)
    quarantine.put(message)
    (kept,) = quarantine.recent(10)
    assert kept == message
    assert len(kept.body) == MAX_BODY and kept.body == body[:MAX_BODY]
    assert (kept.body_length, kept.body_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert quarantine.count() == 1


def test_the_same_message_set_aside_twice_is_one_record(quarantine) -> None:
    quarantine.put(set_aside(delivery=1))
    quarantine.put(set_aside(delivery=2))  # redelivered: the host could not complete it the first time
    assert quarantine.count() == 1
    assert quarantine.recent(10)[0].delivery_count == 1
    # ...while another message, even with the same id, is a record of its own
    quarantine.put(set_aside(sequence=2, at=AT + timedelta(seconds=1)))
    assert quarantine.count() == 2


def test_the_newest_come_first(quarantine) -> None:
    for n in range(5):
        quarantine.put(set_aside(message_id=f"m-{n}", sequence=n, at=AT + timedelta(minutes=n)))
    assert [m.message_id for m in quarantine.recent(3)] == ["m-4", "m-3", "m-2"]


def test_the_count_is_capped(tables_connection_string: str, table_prefix: str) -> None:
    table = TableQuarantine(TableServiceClient.from_connection_string(tables_connection_string), table_prefix)
    table.put(set_aside())
    rows = [
        {"PartitionKey": "message", "RowKey": f"r{n:05d}", "reason": "MALFORMED_MESSAGE"} for n in range(MAX_COUNTED)
    ]
    client = TableServiceClient.from_connection_string(tables_connection_string).get_table_client(table.table_name)
    for start in range(0, len(rows), 100):
        client.submit_transaction([("create", row) for row in rows[start : start + 100]])
    assert table.count() == MAX_COUNTED


def test_tables_down_is_a_dependency_error_so_the_message_is_redelivered() -> None:
    conn = azurite.connection_string(free_port())  # nothing listens there
    table = TableQuarantine(TableServiceClient.from_connection_string(conn, retry_total=0))
    with pytest.raises(DependencyError):
        table.put(set_aside())
    with pytest.raises(DependencyError):
        table.count()
