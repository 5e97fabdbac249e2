"""One contract for `ChangeSetStore`, run against the in-memory fake and against Azurite through azure-data-tables:
the row shares the requests table with the requests, so the request store's readers must not see it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from interconnect.adapters.changesets import InMemoryChangeSetStore, TableChangeSetStore
from interconnect.adapters.tables import TableRequestStore
from interconnect.errors import ConflictError, NotFoundError
from interconnect.estate.changeset import ChangeSet, ChangeSetStatus, ChangeStep, observed
from interconnect.linking.model import Action, Reason, Requester, Status
from interconnect.linking.ports import RequestFilter
from tests.factories import cloud_id

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 9, 30, 15, 123000, tzinfo=UTC)
ALICE = Requester("api", "alice", "Alice", roles=frozenset({"Links.Request"}), groups=frozenset({"g-1"}))
ID = "5a0c7a4e-2f1b-4d35-9b1e-7d2f3c4b5a61"


def fresh() -> ChangeSet:
    a, b, c = cloud_id("pc-a"), cloud_id("pc-b"), cloud_id("pc-c")
    steps = (
        ChangeStep(1, Action.DISCONNECT, a, b, impact={"summary": "cuts 10.0.0.0/22"}),
        ChangeStep(2, Action.CONNECT, a, c),
    )
    return ChangeSet(ID, "v1:" + "b" * 64, NOW, NOW, ALICE, steps, key_digest="v1:" + "b" * 64)


@pytest.fixture(params=["memory", "azurite"])
def store(request: pytest.FixtureRequest):
    if request.param == "memory":
        return InMemoryChangeSetStore()
    service = TableServiceClient.from_connection_string(request.getfixturevalue("tables_connection_string"))
    # No ensure_tables(): the first create makes the table.
    return TableChangeSetStore(service, request.getfixturevalue("table_prefix"))


def test_a_change_set_reads_back_as_written_and_moves_only_under_its_etag(store) -> None:
    created = store.create(fresh())
    assert created.etag
    read = store.get(ID)
    assert replace(read, etag=None) == fresh() and read.requested_by.roles == ALICE.roles
    assert read.requested_by.groups == ALICE.groups and read.steps[0].impact == {"summary": "cuts 10.0.0.0/22"}
    moved = store.save(observed(read, 1, "r-1", Status.REJECTED, (Reason("APPROVAL_REJECTED", "no"),), NOW))
    assert moved.etag != read.etag and store.get(ID).steps[0].status == "Rejected"
    with pytest.raises(ConflictError):
        store.save(replace(read, status=ChangeSetStatus.FAILED))  # read before the other write
    with pytest.raises(ConflictError):
        store.create(fresh())
    with pytest.raises(NotFoundError):
        store.get("0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21")


def test_the_row_is_invisible_to_the_request_store_sharing_its_table(
    tables_connection_string: str, table_prefix: str
) -> None:
    service = TableServiceClient.from_connection_string(tables_connection_string)
    TableChangeSetStore(service, table_prefix).create(fresh())
    requests = TableRequestStore(service, table_prefix)
    listed = requests.recent(RequestFilter(), limit=50, continuation=None)
    assert listed.items == [] and listed.skipped == 0
    assert requests.unfinished(cloud_id("pc-a")) == []
    assert requests.stale(NOW.replace(year=2030)).items == []
    with pytest.raises(NotFoundError):
        requests.get(ID)


def test_only_change_sets_in_progress_are_listed_unfinished(store) -> None:
    assert store.unfinished() == []
    first = store.create(fresh())
    other = store.create(replace(fresh(), id="0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"))
    store.save(replace(other, status=ChangeSetStatus.SUCCEEDED))
    assert [c.id for c in store.unfinished()] == [first.id]
