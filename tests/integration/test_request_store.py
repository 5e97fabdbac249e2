"""One contract for `RequestStore`, run against the in-memory fake and against Azurite through the SDK."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.data.tables import TableServiceClient

from interconnect import lifecycle
from interconnect.adapters.memory import InMemoryRequestStore
from interconnect.adapters.tables import RECORDING, TableRequestStore
from interconnect.errors import ConflictError, NotFoundError, ValidationError
from interconnect.intake import request_id_for
from interconnect.model import Action, AuditEvent, LinkRequest, Operation, Reason, Requester, Status
from tests.factories import Clock, cloud_id

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "azurite"])
def store(request: pytest.FixtureRequest):
    if request.param == "memory":
        return InMemoryRequestStore()
    conn = request.getfixturevalue("tables_connection_string")
    prefix = request.getfixturevalue("table_prefix")
    table_store = TableRequestStore(TableServiceClient.from_connection_string(conn), prefix)
    table_store.ensure_tables()
    return table_store


CLOCK = Clock()


def new_request(**changes) -> tuple[LinkRequest, AuditEvent]:
    rid = request_id_for("api", None)
    request = LinkRequest(id=rid, action=Action.CONNECT, source=cloud_id(), target=cloud_id(),
                          requester=Requester("api", "alice", "Alice"), created_at=CLOCK(), updated_at=CLOCK(),
                          reference="CHG-7", correlation_id="c-1", fingerprint="f", version=1)
    request = request.with_changes(**changes)
    event = AuditEvent(rid, 1, CLOCK(), "api:alice", "status", Status.ACCEPTED, None, "requested", "c-1")
    return request, event


def test_created_request_reads_back_equal(store) -> None:
    request, event = new_request()
    store.create(request, event)
    got = store.get(request.id)
    assert got.with_changes(etag=None) == request
    assert store.events(request.id) == [event]


def test_creating_the_same_id_twice_conflicts(store) -> None:
    request, event = new_request()
    store.create(request, event)
    with pytest.raises(ConflictError):
        store.create(request, event)


def test_unknown_request_is_not_found(store) -> None:
    with pytest.raises(NotFoundError):
        store.get(request_id_for("api", None))


def test_a_transition_from_a_stale_read_is_refused_and_adds_no_event(store) -> None:
    request, event = new_request()
    store.create(request, event)
    first, second = store.get(request.id), store.get(request.id)
    store.save(*lifecycle.transition(first, Status.VALIDATING, now=CLOCK(), actor="worker", message="one"))
    with pytest.raises(ConflictError):
        store.save(*lifecycle.transition(second, Status.REJECTED, now=CLOCK(), actor="worker", message="two"))
    assert store.get(request.id).status is Status.VALIDATING
    assert [e.message for e in store.events(request.id)] == ["requested", "one"]


def test_operation_and_reasons_round_trip(store) -> None:
    request, event = new_request()
    store.create(request, event)
    current = store.get(request.id)
    op = Operation("create", current.source, "ic-x", CLOCK(), CLOCK() + timedelta(hours=2), 3)
    reasons = (Reason("REGION_MISMATCH", "far apart", {"a": 1}),)
    store.save(*lifecycle.transition(current, Status.VALIDATING, now=CLOCK(), actor="w", message="v",
                                     reasons=reasons, operation=op))
    got = store.get(request.id)
    assert got.operation == op and got.reasons == reasons
    assert store.events(request.id)[-1].reasons == reasons


def test_recent_lists_newest_first_by_cloud_and_status_with_paging(store) -> None:
    shared = cloud_id()
    ids = []
    for minutes in range(5):
        request, event = new_request(source=shared, created_at=CLOCK() + timedelta(minutes=minutes))
        store.create(request, event)
        ids.append(request.id)
    stray, stray_event = new_request()
    store.create(stray, stray_event)
    page, token = store.recent(cloud=shared, status=None, limit=3, continuation=None)
    assert [r.id for r in page] == ids[::-1][:3] and token
    rest, token = store.recent(cloud=shared, status=None, limit=3, continuation=token)
    assert [r.id for r in rest] == ids[::-1][3:] and token is None
    moved = store.get(ids[0])
    store.save(*lifecycle.transition(moved, Status.VALIDATING, now=CLOCK(), actor="w", message="v"))
    only, _ = store.recent(cloud=shared, status=Status.VALIDATING, limit=10, continuation=None)
    assert [r.id for r in only] == [ids[0]]


def test_discard_removes_the_request_everywhere(store) -> None:
    request, event = new_request()
    store.create(request, event)
    store.discard(request.id)
    with pytest.raises(NotFoundError):
        store.get(request.id)
    assert store.recent(cloud=request.source, status=None, limit=10, continuation=None)[0] == []


def test_table_store_refuses_keys_the_service_would_refuse(tables_connection_string: str, table_prefix: str) -> None:
    table_store = TableRequestStore(TableServiceClient.from_connection_string(tables_connection_string), table_prefix)
    with pytest.raises(ValidationError):
        table_store.get("a/b")


def test_unfinished_lists_open_requests_of_a_cloud_from_the_index(store) -> None:
    shared = cloud_id()
    open_request, event = new_request(source=shared)
    store.create(open_request, event)
    done, done_event = new_request(target=shared)
    store.create(done, done_event)
    store.save(*lifecycle.transition(store.get(done.id), Status.REJECTED, now=CLOCK(), actor="w", message="no"))
    (summary,) = store.unfinished(shared)
    assert (summary.id, summary.action, summary.source, summary.target, summary.status) == (
        open_request.id, Action.CONNECT, shared, open_request.target, Status.ACCEPTED)
    assert summary.created_at == open_request.created_at


def test_stale_lists_unfinished_requests_not_updated_since(store) -> None:
    old, event = new_request(updated_at=CLOCK() - timedelta(hours=1))
    store.create(old, event)
    fresh, fresh_event = new_request()
    store.create(fresh, fresh_event)
    stale_ids = {s.id for s in store.stale(CLOCK() - timedelta(minutes=10))}
    assert old.id in stale_ids and fresh.id not in stale_ids


# --- what a crash between a request's row and its index leaves behind, and how stale() repairs it ---------

class Killed(BaseException):
    """The process dying mid-call (not an error anything in the adapter may catch)."""


class DiesAt(TableRequestStore):
    """A table store whose process dies at one index write: after it (`after=True`) or instead of it."""

    def __init__(self, service: TableServiceClient, prefix: str, *, status: str | None, after: bool) -> None:
        super().__init__(service, prefix)
        self._dies_at, self._after = status, after

    def _write_index(self, request: LinkRequest, *, partitions: list[str] | None = None,
                     status: str | None = None) -> None:
        if status == self._dies_at and not self._after:
            raise Killed
        super()._write_index(request, partitions=partitions, status=status)
        if status == self._dies_at:
            raise Killed


@pytest.fixture
def tables(tables_connection_string: str, table_prefix: str) -> TableServiceClient:
    service = TableServiceClient.from_connection_string(tables_connection_string)
    TableRequestStore(service, table_prefix).ensure_tables()
    return service


def index_rows(store: TableRequestStore, request_id: str) -> list[dict]:
    index = store.service.get_table_client(store.index_table)
    return list(index.query_entities("requestId eq @id", parameters={"id": request_id}))


HOUR_AGO = CLOCK() - timedelta(hours=1)
CUTOFF = CLOCK() - timedelta(minutes=10)


def test_a_create_killed_after_its_row_is_found_by_stale_and_indexed(tables: TableServiceClient,
                                                                      table_prefix: str) -> None:
    request, event = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    with pytest.raises(Killed):  # the row is written; the index still says Recording
        DiesAt(tables, table_prefix, status=None, after=False).create(request, event)
    store = TableRequestStore(tables, table_prefix)
    assert store.unfinished(request.source) == []  # not counted while its create is unfinished

    (summary,) = [s for s in store.stale(CUTOFF) if s.id == request.id]
    assert summary.status is Status.ACCEPTED
    assert sorted(r["status"] for r in index_rows(store, request.id)) == ["Accepted"] * 3
    assert [s.id for s in store.unfinished(request.source)] == [request.id]


def test_a_create_killed_before_its_row_leaves_nothing_once_stale_has_run(tables: TableServiceClient,
                                                                          table_prefix: str) -> None:
    request, event = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    with pytest.raises(Killed):
        DiesAt(tables, table_prefix, status=RECORDING, after=True).create(request, event)
    store = TableRequestStore(tables, table_prefix)
    assert [r["status"] for r in index_rows(store, request.id)] == [RECORDING]
    assert request.id not in {s.id for s in store.stale(CUTOFF)}
    assert index_rows(store, request.id) == []


def test_a_repeat_leaves_no_stray_index_row_even_when_killed(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request, event = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(request, event)
    repeat = request.with_changes(created_at=HOUR_AGO + timedelta(seconds=5))
    with pytest.raises(ConflictError):
        store.create(repeat, event)
    assert len(index_rows(store, request.id)) == 3

    with pytest.raises(Killed):  # this time the process dies between the mark and the conflict
        DiesAt(tables, table_prefix, status=RECORDING, after=True).create(repeat, event)
    assert len(index_rows(store, request.id)) == 4
    assert [s.id for s in store.stale(CUTOFF)].count(request.id) == 1
    assert {r["status"] for r in index_rows(store, request.id)} == {"Accepted"}
    assert len(index_rows(store, request.id)) == 3
    listed, _ = store.recent(cloud=request.source, status=None, limit=10, continuation=None)
    assert [r.id for r in listed] == [request.id]


def test_the_index_of_a_discard_killed_halfway_is_removed(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request, event = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(request, event)
    requests = tables.get_table_client(store.requests_table)
    for row in list(requests.query_entities("PartitionKey eq @id", parameters={"id": request.id})):
        requests.delete_entity(row["PartitionKey"], row["RowKey"])  # discard's first half; then it died
    assert [s.id for s in store.unfinished(request.target)] == [request.id]  # a phantom until repaired

    assert request.id not in {s.id for s in store.stale(CUTOFF)}
    assert index_rows(store, request.id) == [] and store.unfinished(request.target) == []


def test_an_index_left_behind_its_row_is_brought_up_to_date(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request, event = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(request, event)
    with pytest.raises(Killed):  # the transition is saved; its index write never happens
        DiesAt(tables, table_prefix, status=None, after=False).save(*lifecycle.transition(
            store.get(request.id), Status.REJECTED, now=HOUR_AGO, actor="w", message="no"))
    assert [s.id for s in store.unfinished(request.source)] == [request.id]

    assert request.id not in {s.id for s in store.stale(CUTOFF)}  # finished, so nothing to re-drive
    assert {r["status"] for r in index_rows(store, request.id)} == {"Rejected"}
    assert store.unfinished(request.source) == []


def test_stale_leaves_an_index_that_matches_its_row_untouched(tables: TableServiceClient,
                                                              table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request, event = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(request, event)
    store.save(*lifecycle.transition(store.get(request.id), Status.VALIDATING, now=HOUR_AGO, actor="w",
                                     message="v"))
    before = {r.metadata["etag"] for r in index_rows(store, request.id)}
    assert request.id in {s.id for s in store.stale(CUTOFF)}
    assert {r.metadata["etag"] for r in index_rows(store, request.id)} == before


def test_a_new_request_is_listed_under_its_status_across_all_clouds(store) -> None:
    # Its "all" index row still says Recording (until the first transition); the listing reads the row.
    request, event = new_request()
    store.create(request, event)
    found, _ = store.recent(cloud=None, status=Status.ACCEPTED, limit=100, continuation=None)
    assert request.id in {r.id for r in found}
