"""Azurite driven by the real azure-data-tables client: what the table adapter relies on."""

from __future__ import annotations

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.data.tables import TableServiceClient, UpdateMode

from localdev import azurite
from localdev.procs import free_port, port_open

pytestmark = pytest.mark.contract


@pytest.fixture
def table(tables_connection_string: str, table_prefix: str):
    service = TableServiceClient.from_connection_string(tables_connection_string)
    client = service.create_table_if_not_exists(table_prefix + "contract")
    yield client
    service.delete_table(client.table_name)


def test_azurite_listens_once_started_and_not_after_it_stops() -> None:
    # How fast it starts is a figure for bench/startup.py, not a gate for a merge.
    port = free_port()
    with azurite.service(port):
        assert port_open(port)
    assert not port_open(port)


def test_create_then_create_again_is_refused(table) -> None:
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "status": "Accepted"})
    with pytest.raises(ResourceExistsError):
        table.create_entity({"PartitionKey": "p", "RowKey": "r", "status": "Accepted"})


def test_conditional_update_with_a_stale_etag_is_refused(table) -> None:
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "status": "Accepted"})
    first = table.get_entity("p", "r")
    second = table.get_entity("p", "r")
    table.update_entity(
        {"PartitionKey": "p", "RowKey": "r", "status": "Validating"},
        mode=UpdateMode.MERGE,
        etag=first.metadata["etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    with pytest.raises(ResourceModifiedError):
        table.update_entity(
            {"PartitionKey": "p", "RowKey": "r", "status": "Rejected"},
            mode=UpdateMode.MERGE,
            etag=second.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    assert table.get_entity("p", "r")["status"] == "Validating"


def test_query_filters_by_partition_and_returns_rows_in_key_order(table) -> None:
    for rk in ["003", "001", "002"]:
        table.create_entity({"PartitionKey": "a", "RowKey": rk, "n": int(rk)})
    table.create_entity({"PartitionKey": "b", "RowKey": "001", "n": 99})
    rows = list(table.query_entities("PartitionKey eq @pk and n ge @min", parameters={"pk": "a", "min": 2}))
    assert [r["RowKey"] for r in rows] == ["002", "003"]


def test_query_pages_with_continuation(table) -> None:
    for i in range(7):
        table.create_entity({"PartitionKey": "p", "RowKey": f"{i:03d}"})
    pages = list(table.query_entities("PartitionKey eq 'p'", results_per_page=3).by_page())
    assert [len(list(page)) for page in pages] == [3, 3, 1]
