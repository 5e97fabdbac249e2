"""One contract for `RequestStore`, run against the in-memory fake and against Azurite through the SDK."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from contextlib import nullcontext, suppress
from datetime import timedelta

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables import TableClient, TableServiceClient

from interconnect.adapters import tables as tables_module
from interconnect.adapters.audit_tables import TableAuditStore
from interconnect.adapters.memory import InMemoryRequestStore, InMemoryWorkQueue
from interconnect.adapters.tables import TableRequestStore, encode_token, inverted_ticks, translated
from interconnect.audit.model import AuditRun, Finding, Inventory
from interconnect.errors import (
    ConflictError,
    CorruptRecordError,
    DependencyError,
    NotFoundError,
    TooLargeError,
    ValidationError,
)
from interconnect.linking import lifecycle
from interconnect.linking.intake import Intake, request_id_for
from interconnect.linking.lifecycle import submitted
from interconnect.linking.model import Action, AuditEvent, LinkRequest, Operation, Reason, Requester, Status
from interconnect.linking.ports import RequestFilter
from interconnect.linking.queue import WorkItem
from interconnect.linking.validation import Submit
from tests.factories import Clock, cloud_id, write_poisoned_request

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "azurite"])
def store(request: pytest.FixtureRequest):
    if request.param == "memory":
        return InMemoryRequestStore()
    conn = request.getfixturevalue("tables_connection_string")
    prefix = request.getfixturevalue("table_prefix")
    # No ensure_tables(): the store makes its tables on the first call that finds them missing.
    return TableRequestStore(TableServiceClient.from_connection_string(conn), prefix)


CLOCK = Clock()


def new_request(**changes) -> LinkRequest:
    rid = request_id_for("api", None)
    request = LinkRequest(
        id=rid,
        action=Action.CONNECT,
        source=cloud_id(),
        target=cloud_id(),
        requester=Requester("api", "alice", "Alice"),
        created_at=CLOCK(),
        updated_at=CLOCK(),
        reference="CHG-7",
        correlation_id="c-1",
        fingerprint="f",
        version=1,
    )
    return request.with_changes(**changes)


def test_created_request_reads_back_equal(store) -> None:
    request = new_request()
    store.create(request)
    got = store.get(request.id)
    assert got.with_changes(etag=None) == request
    assert store.events(request.id) == [submitted(request)]


def test_creating_the_same_id_twice_conflicts(store) -> None:
    request = new_request()
    store.create(request)
    with pytest.raises(ConflictError):
        store.create(request)


def test_unknown_request_is_not_found(store) -> None:
    with pytest.raises(NotFoundError):
        store.get(request_id_for("api", None))


def test_a_transition_from_a_stale_read_is_refused_and_adds_no_event(store) -> None:
    request = new_request()
    store.create(request)
    first, second = store.get(request.id), store.get(request.id)
    store.save(*lifecycle.transition(first, Status.VALIDATING, now=CLOCK(), actor="worker", message="one"))
    with pytest.raises(ConflictError):
        store.save(*lifecycle.transition(second, Status.REJECTED, now=CLOCK(), actor="worker", message="two"))
    assert store.get(request.id).status is Status.VALIDATING
    assert [e.message for e in store.events(request.id)] == [submitted(request).message, "one"]


def test_operation_and_reasons_round_trip(store) -> None:
    request = new_request()
    store.create(request)
    current = store.get(request.id)
    op = Operation("create", current.source, "ic-x", CLOCK(), CLOCK() + timedelta(hours=2), 3)
    reasons = (Reason("REGION_MISMATCH", "far apart", {"a": 1}),)
    store.save(
        *lifecycle.transition(
            current, Status.VALIDATING, now=CLOCK(), actor="w", message="v", reasons=reasons, operation=op
        )
    )
    got = store.get(request.id)
    assert got.operation == op and got.reasons == reasons
    assert store.events(request.id)[-1].reasons == reasons


def test_a_check_saved_without_an_event_updates_the_row_under_its_etag_and_adds_nothing(store) -> None:
    request = new_request()
    store.create(request)
    op = Operation("create", request.source, "ic-x", CLOCK(), CLOCK() + timedelta(hours=2), 1, "link ic-x is Building")
    validating = store.save(
        *lifecycle.transition(store.get(request.id), Status.VALIDATING, now=CLOCK(), actor="w", message="v")
    )
    running = store.save(
        *lifecycle.transition(validating, Status.IN_PROGRESS, now=CLOCK(), actor="w", message="go", operation=op)
    )
    later = CLOCK() + timedelta(seconds=30)
    quiet, event = lifecycle.checked(running, "link ic-x is Building", now=later, actor="w")
    assert event is None
    stale = store.get(request.id)
    saved = store.save(quiet, None)
    got = store.get(request.id)
    assert got.operation == quiet.operation and got.operation.checks == 2 and got.updated_at == later
    assert got.version == running.version and saved.etag == got.etag != stale.etag
    with pytest.raises(ConflictError):  # a second delivery of the same check, from the read before: refused
        store.save(lifecycle.checked(stale, "link ic-x is Building", now=later, actor="w")[0], None)
    assert [e.message for e in store.events(request.id)][1:] == ["v", "go"]
    assert store.get(request.id).operation.checks == 2


def test_recent_lists_newest_first_by_cloud_and_status_with_paging(store) -> None:
    shared = cloud_id()
    ids = []
    for minutes in range(5):
        request = new_request(source=shared, created_at=CLOCK() + timedelta(minutes=minutes))
        store.create(request)
        ids.append(request.id)
    stray = new_request()
    store.create(stray)
    page = store.recent(RequestFilter(cloud=shared), limit=3, continuation=None)
    assert [r.id for r in page.items] == ids[::-1][:3] and page.continuation and page.skipped == 0
    rest = store.recent(RequestFilter(cloud=shared), limit=3, continuation=page.continuation)
    assert [r.id for r in rest.items] == ids[::-1][3:] and rest.continuation is None
    moved = store.get(ids[0])
    store.save(*lifecycle.transition(moved, Status.VALIDATING, now=CLOCK(), actor="w", message="v"))
    only = store.recent(RequestFilter(cloud=shared, status=Status.VALIDATING), limit=10, continuation=None)
    assert [r.id for r in only.items] == [ids[0]]


def test_discard_removes_the_request_everywhere(store) -> None:
    request = new_request()
    store.create(request)
    store.discard(request.id)
    with pytest.raises(NotFoundError):
        store.get(request.id)
    assert store.recent(RequestFilter(cloud=request.source), limit=10, continuation=None).items == []


def test_table_store_refuses_keys_the_service_would_refuse(tables_connection_string: str, table_prefix: str) -> None:
    table_store = TableRequestStore(TableServiceClient.from_connection_string(tables_connection_string), table_prefix)
    with pytest.raises(ValidationError):
        table_store.get("a/b")


def test_unfinished_lists_open_requests_of_a_cloud_from_the_index(store) -> None:
    shared = cloud_id()
    open_request = new_request(source=shared)
    store.create(open_request)
    done = new_request(target=shared)
    store.create(done)
    store.save(*lifecycle.transition(store.get(done.id), Status.REJECTED, now=CLOCK(), actor="w", message="no"))
    (summary,) = store.unfinished(shared)
    assert (summary.id, summary.action, summary.source, summary.target, summary.status) == (
        open_request.id,
        Action.CONNECT,
        shared,
        open_request.target,
        Status.ACCEPTED,
    )
    assert summary.created_at == open_request.created_at


def test_stale_lists_unfinished_requests_not_updated_since(store) -> None:
    old = new_request(updated_at=CLOCK() - timedelta(hours=1))
    store.create(old)
    fresh = new_request()
    store.create(fresh)
    stale_ids = {s.id for s in store.stale(CLOCK() - timedelta(minutes=10)).items}
    assert old.id in stale_ids and fresh.id not in stale_ids


# --- what a crash between a request's row and its index leaves behind, and how stale() repairs it ---------
# Faults are injected around the SDK's TableClient: the process "dies" just before a call reaches the
# service or just after it returned, at every call a create makes.


class Killed(BaseException):
    """The process dying mid-call (not an error anything in the adapter may catch)."""


class DiesAt:
    """A TableClient whose process dies at the `nth` call of `method` (every call when None): before the
    call reaches the service, or after it returned (`after`). Calls may come from the store's writer pool."""

    def __init__(self, client: TableClient, method: str, *, nth: int | None = 1, after: bool = False) -> None:
        self._client, self._method, self._nth, self._after = client, method, nth, after
        self._calls = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        real = getattr(self._client, name)
        if name != self._method:
            return real

        def call(*args, **kwargs):
            with self._lock:
                self._calls += 1
                dies = self._nth is None or self._calls == self._nth
            if dies and not self._after:
                raise Killed
            result = real(*args, **kwargs)
            if dies:
                raise Killed
            return result

        return call


class Unreachable:
    """A TableClient whose `method` calls fail as a dropped connection does (the SDK's ServiceRequestError)."""

    def __init__(self, client: TableClient, method: str) -> None:
        self._client, self._method = client, method

    def __getattr__(self, name: str):
        if name == self._method:
            raise ServiceRequestError(f"injected: {name} could not connect")
        return getattr(self._client, name)


class Held:
    """A TableClient whose `method` calls wait until `released` is set: a write still in flight."""

    def __init__(self, client: TableClient, method: str, released: threading.Event) -> None:
        self._client, self._method, self._released = client, method, released

    def __getattr__(self, name: str):
        real = getattr(self._client, name)
        if name != self._method:
            return real

        def call(*args, **kwargs):
            assert self._released.wait(timeout=30), "never released"
            return real(*args, **kwargs)

        return call


def faulty(tables: TableServiceClient, prefix: str, table: str, fault) -> TableRequestStore:
    """A store whose `table` ("requests" or "index") client is wrapped by `fault(client)`."""
    store = TableRequestStore(tables, prefix)
    attr = {"requests": "_requests", "index": "_index"}[table]
    setattr(store, attr, fault(getattr(store, attr)))
    return store


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

# Every call of a create, in order: (table, method, nth call, dies after it returned?) and whether the request
# was stored by then. Step 3's two inserts run concurrently, so "first" and "second" are whichever came first.
CREATE_CRASH_POINTS = {
    "before the Recording row": ("index", "upsert_entity", 1, False, False),
    "after the Recording row": ("index", "upsert_entity", 1, True, False),
    "before the row": ("requests", "create_entity", 1, False, False),
    "after the row": ("requests", "create_entity", 1, True, True),
    "instead of the first per-cloud row": ("index", "create_entity", 1, False, True),
    "after the first per-cloud row": ("index", "create_entity", 1, True, True),
    "after both per-cloud rows": ("index", "create_entity", 2, True, True),
}


@pytest.mark.parametrize(
    ("table", "method", "nth", "after", "stored"), CREATE_CRASH_POINTS.values(), ids=list(CREATE_CRASH_POINTS)
)
def test_a_create_killed_at_any_call_ends_well_once_stale_has_run(
    tables: TableServiceClient, table_prefix: str, table: str, method: str, nth: int, after: bool, stored: bool
) -> None:
    request = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    dying = faulty(tables, table_prefix, table, lambda c: DiesAt(c, method, nth=nth, after=after))
    with pytest.raises(Killed):
        dying.create(request)
    store = TableRequestStore(tables, table_prefix)
    if not stored:  # never counted anywhere, so it holds nothing back, and stale() removes its trace
        assert store.unfinished(request.source) == [] and store.unfinished(request.target) == []
        assert request.id not in {s.id for s in store.stale(CUTOFF).items}
        assert index_rows(store, request.id) == []
        with pytest.raises(NotFoundError):
            store.get(request.id)
        return
    # Stored: stale() finds it (for the sweeper to queue) and brings every index row up to date.
    (summary,) = [s for s in store.stale(CUTOFF).items if s.id == request.id]
    assert summary.status is Status.ACCEPTED
    assert sorted(r["status"] for r in index_rows(store, request.id)) == ["Accepted"] * 3
    for cloud in (request.source, request.target):
        assert [s.id for s in store.unfinished(cloud)] == [request.id]
    listed = store.recent(RequestFilter(), limit=100, continuation=None).items
    assert request.id in {r.id for r in listed}


def test_a_failed_row_insert_writes_no_per_cloud_row(tables: TableServiceClient, table_prefix: str) -> None:
    request = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    with pytest.raises(DependencyError):
        faulty(tables, table_prefix, "requests", lambda c: Unreachable(c, "create_entity")).create(request)
    store = TableRequestStore(tables, table_prefix)
    assert [r["PartitionKey"] for r in index_rows(store, request.id)] == ["all"]  # the trace only
    assert store.unfinished(request.source) == []
    assert request.id not in {s.id for s in store.stale(CUTOFF).items}
    assert index_rows(store, request.id) == []


def test_a_first_transition_written_before_the_create_s_last_rows_is_kept(
    tables: TableServiceClient, table_prefix: str
) -> None:
    # The worker may get the message (queued during step 3) and save its first transition before step 3's
    # inserts land: those must not put the index back to Accepted.
    released = threading.Event()
    store = faulty(tables, table_prefix, "index", lambda c: Held(c, "create_entity", released))
    worker = TableRequestStore(tables, table_prefix)
    request = new_request()
    with store.creating(request):
        worker.save(
            *lifecycle.transition(worker.get(request.id), Status.VALIDATING, now=CLOCK(), actor="w", message="v")
        )
        released.set()
    assert sorted(r["status"] for r in index_rows(worker, request.id)) == ["Validating"] * 3
    assert [s.status for s in worker.unfinished(request.target)] == [Status.VALIDATING]


def test_a_per_cloud_row_that_fails_is_logged_and_made_by_the_first_transition(
    tables: TableServiceClient, table_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    request = new_request()
    stored = faulty(tables, table_prefix, "index", lambda c: Unreachable(c, "create_entity")).create(
        request
    )  # stored: not an error
    assert "not yet indexed per cloud" in caplog.text
    store = TableRequestStore(tables, table_prefix)
    assert store.unfinished(request.source) == []
    store.save(*lifecycle.transition(stored, Status.VALIDATING, now=CLOCK(), actor="w", message="v"))
    assert [s.id for s in store.unfinished(request.source)] == [request.id]


def test_a_repeat_leaves_no_stray_index_row_even_when_killed(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(request)
    repeat = request.with_changes(created_at=HOUR_AGO + timedelta(seconds=5))
    with pytest.raises(ConflictError):
        store.create(repeat)
    assert len(index_rows(store, request.id)) == 3

    with pytest.raises(Killed):  # this time the process dies between the mark and the conflict
        faulty(tables, table_prefix, "index", lambda c: DiesAt(c, "upsert_entity", after=True)).create(repeat)
    assert len(index_rows(store, request.id)) == 4
    assert [s.id for s in store.unfinished(request.source)] == [request.id]  # the stray is not counted
    assert [s.id for s in store.stale(CUTOFF).items].count(request.id) == 1
    assert {r["status"] for r in index_rows(store, request.id)} == {"Accepted"}
    assert len(index_rows(store, request.id)) == 3
    listed = store.recent(RequestFilter(cloud=request.source), limit=10, continuation=None).items
    assert [r.id for r in listed] == [request.id]


def test_the_index_of_a_discard_killed_halfway_is_removed(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(request)
    requests = tables.get_table_client(store.requests_table)
    for row in list(requests.query_entities("PartitionKey eq @id", parameters={"id": request.id})):
        requests.delete_entity(row["PartitionKey"], row["RowKey"])  # discard's first half; then it died
    assert [s.id for s in store.unfinished(request.target)] == [request.id]  # a phantom until repaired

    assert request.id not in {s.id for s in store.stale(CUTOFF).items}
    assert index_rows(store, request.id) == [] and store.unfinished(request.target) == []


def test_an_index_left_behind_its_row_is_brought_up_to_date(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(request)
    with pytest.raises(Killed):  # the transition is saved; none of its index writes happens
        faulty(tables, table_prefix, "index", lambda c: DiesAt(c, "upsert_entity", nth=None)).save(
            *lifecycle.transition(store.get(request.id), Status.REJECTED, now=HOUR_AGO, actor="w", message="no")
        )
    assert [s.id for s in store.unfinished(request.source)] == [request.id]

    assert request.id not in {s.id for s in store.stale(CUTOFF).items}  # finished, so nothing to re-drive
    assert {r["status"] for r in index_rows(store, request.id)} == {"Rejected"}
    assert store.unfinished(request.source) == []


class SendFails(InMemoryWorkQueue):
    """A queue whose send raises `error` (an outage, or the process dying as the message goes out)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def send(self, item: WorkItem) -> None:
        raise self.error


def submit(store: TableRequestStore, queue: InMemoryWorkQueue, key: str = "") -> LinkRequest:
    command = Submit(Action.CONNECT, cloud_id(), cloud_id(), Requester("api", "alice", "Alice"), "CHG-9")
    return Intake(store, queue, lambda: HOUR_AGO).submit(command, idempotency_key=key or None)[0]


def test_intake_records_indexes_and_queues_a_request(tables: TableServiceClient, table_prefix: str) -> None:
    store, queue = TableRequestStore(tables, table_prefix), InMemoryWorkQueue()
    request = submit(store, queue)
    assert [item.request_id for item, _ in queue.sent] == [request.id]
    for cloud in (request.source, request.target):
        assert [s.id for s in store.unfinished(cloud)] == [request.id]
    assert store.get(request.id).with_changes(etag=None) == request.with_changes(etag=None)


def test_event_1_of_an_intake_reads_as_intake_wrote_it_before_it_was_derived(store) -> None:
    # What intake wrote as the `event-00000001` row until the store derived event 1 from the request row,
    # built here as intake built it; the API shows `to_view()` of it, so that must match to the character.
    at = HOUR_AGO + timedelta(microseconds=123_456)
    command = Submit(Action.DISCONNECT, cloud_id(), cloud_id(), Requester("teams", "t/u", "Zoë ⇄"), "CHG 9 (ü)")
    request, _ = Intake(store, InMemoryWorkQueue(), lambda: at).submit(command, correlation_id="corr-1")
    before = AuditEvent(
        request.id,
        1,
        at,
        str(command.requester),
        "status",
        Status.ACCEPTED,
        None,
        f"{command.action.value} {command.source} ⇄ {command.target} requested"
        + (f" ({command.reference})" if command.reference else ""),
        request.correlation_id,
    )
    (first,) = store.events(request.id)
    assert first == before
    assert json.dumps(first.to_view()) == json.dumps(before.to_view())
    unreferenced = Submit(Action.CONNECT, cloud_id(), cloud_id(), Requester("api", "alice"), "")
    plain, _ = Intake(store, InMemoryWorkQueue(), lambda: at).submit(unreferenced)
    assert store.events(plain.id)[0].message == f"connect {unreferenced.source} ⇄ {unreferenced.target} requested"


def test_an_intake_killed_as_it_queues_leaves_a_request_stale_finds(
    tables: TableServiceClient, table_prefix: str
) -> None:
    store = TableRequestStore(tables, table_prefix)
    with pytest.raises(Killed):
        submit(store, SendFails(Killed()), key="k-1")
    request_id = request_id_for("api", "k-1")
    assert sorted(r["status"] for r in index_rows(store, request_id)) == ["Accepted", "Accepted", "Recording"]
    (summary,) = store.stale(CUTOFF).items  # the sweeper queues it
    assert summary.id == request_id and summary.status is Status.ACCEPTED
    assert {r["status"] for r in index_rows(store, request_id)} == {"Accepted"}


def test_an_intake_that_cannot_queue_takes_the_request_back_everywhere(
    tables: TableServiceClient, table_prefix: str
) -> None:
    store = TableRequestStore(tables, table_prefix)
    with pytest.raises(DependencyError):
        submit(store, SendFails(DependencyError("Service Bus unreachable")))
    assert store.recent(RequestFilter(), limit=10, continuation=None).items == []
    index = store.service.get_table_client(store.index_table)
    assert list(index.query_entities("PartitionKey ne 'keys'")) == []
    assert store.stale(CUTOFF).items == []


class CountsTableCreation(TableRequestStore):
    made = 0

    def ensure_tables(self) -> None:
        self.made += 1
        super().ensure_tables()


def every_call(store: TableRequestStore) -> dict[str, Callable[[], object]]:
    """One of each call a cold instance may make first, on a request of its own."""
    request = new_request()
    return {
        "create": lambda: store.create(request),
        "get": lambda: store.get(request_id_for("api", None)),
        "recent": lambda: store.recent(RequestFilter(), limit=5, continuation=None),
        "unfinished": lambda: store.unfinished(request.source),
        "stale": lambda: store.stale(CUTOFF),
        "ping": store.ping,
    }


@pytest.mark.parametrize("first", ["create", "get", "recent", "unfinished", "stale", "ping"])
def test_tables_are_made_by_the_first_call_that_misses_them_and_only_then(
    tables_connection_string: str, first: str
) -> None:
    service = TableServiceClient.from_connection_string(tables_connection_string)
    store = CountsTableCreation(service, "t" + uuid.uuid4().hex[:10])
    try:
        every_call(store)[first]()
    except NotFoundError:
        assert first == "get"  # answered from the (new, empty) table
    assert store.made == 1
    assert {store.requests_table, store.index_table} <= {t.name for t in service.list_tables()}
    for name, call in every_call(store).items():
        with suppress(NotFoundError) if name == "get" else nullcontext():
            call()
    assert store.made == 1  # never again once they exist


def test_stale_leaves_an_index_that_matches_its_row_untouched(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(request)
    store.save(*lifecycle.transition(store.get(request.id), Status.VALIDATING, now=HOUR_AGO, actor="w", message="v"))
    before = {r.metadata["etag"] for r in index_rows(store, request.id)}
    assert request.id in {s.id for s in store.stale(CUTOFF).items}
    assert {r.metadata["etag"] for r in index_rows(store, request.id)} == before


def test_a_new_request_is_listed_under_its_status_across_all_clouds(store) -> None:
    # Its "all" index row still says Recording (until the first transition); the listing reads the row.
    request = new_request()
    store.create(request)
    found = store.recent(RequestFilter(status=Status.ACCEPTED), limit=100, continuation=None).items
    assert request.id in {r.id for r in found}


# --- rows an older version stored that this one cannot read back: every pass goes on without them ---------

POISONED_TARGET = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.AVS/privateClouds/../../evil"


def poison(
    tables: TableServiceClient, prefix: str, *, source: str, target: str = POISONED_TARGET, at=HOUR_AGO, **columns
) -> str:
    return write_poisoned_request(tables, source=source, target=target, at=at, prefix=prefix, **columns)


@pytest.fixture
def poisoned(tables: TableServiceClient, table_prefix: str):
    """A store holding one good unfinished request and one poisoned one on the same (valid) cloud."""
    store = TableRequestStore(tables, table_prefix)
    shared = cloud_id()
    good = new_request(source=shared, created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(good)
    bad = poison(tables, table_prefix, source=str(shared), at=HOUR_AGO + timedelta(seconds=1))
    return store, shared, good, bad


def test_a_poisoned_row_cannot_be_read_but_says_why(poisoned) -> None:
    store, _, _, bad = poisoned
    with pytest.raises(CorruptRecordError) as caught:
        store.get(bad)
    assert caught.value.details["reason"] == "INVALID_ID in target"
    assert "evil" not in caught.value.message  # the stored value is not repeated


def test_listings_skip_a_poisoned_row_and_say_how_many(poisoned) -> None:
    store, shared, good, _ = poisoned
    for cloud in (None, shared):
        page = store.recent(RequestFilter(cloud=cloud), limit=50, continuation=None)
        assert good.id in [r.id for r in page.items] and page.skipped == 1
    only = store.recent(RequestFilter(status=Status.AWAITING_APPROVAL), limit=50, continuation=None)
    assert only.items == [] and only.skipped == 1


def test_unfinished_and_stale_go_on_past_a_poisoned_row(poisoned) -> None:
    store, shared, good, bad = poisoned
    assert [s.id for s in store.unfinished(shared)] == [good.id]  # preflight on this cloud is not blocked
    stale = store.stale(CUTOFF)
    assert [s.id for s in stale.items] == [good.id] and stale.skipped == 1
    assert len(index_rows(store, bad)) == 3  # left for a person, not silently dropped


@pytest.mark.parametrize(
    ("columns", "why"),
    [
        ({"operation": "[" * 5000 + "]" * 5000}, "INVALID_COLUMN in operation"),  # json.loads: RecursionError
        ({"reasons": "{not json"}, "INVALID_COLUMN in reasons"),
        ({"callbacks": '[{"kind": "slack", "bogus": 1}]'}, "TypeError in a column"),
        ({"approval": '{"deadline": "yesterday"}'}, "ValueError in a column"),
        ({"status": "Exploded"}, "ValueError in a column"),
    ],
)
def test_a_column_this_version_cannot_read_is_reported_with_its_reason(
    tables: TableServiceClient, table_prefix: str, columns, why
) -> None:
    store = TableRequestStore(tables, table_prefix)
    good = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(good)
    bad = poison(tables, table_prefix, source=str(cloud_id()), target=str(cloud_id()), **columns)
    with pytest.raises(CorruptRecordError) as caught:
        store.get(bad)
    assert caught.value.details["reason"] == why
    stale = store.stale(CUTOFF)
    assert good.id in {s.id for s in stale.items} and stale.skipped == 1


def test_an_unreadable_event_is_left_out_of_the_trail(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request = new_request()
    store.create(request)
    tables.get_table_client(store.requests_table).create_entity(
        {
            "PartitionKey": request.id,
            "RowKey": "event-00000002",
            "at": CLOCK(),
            "actor": "x",
            "kind": "status",
            "status": "NoSuchStatus",
            "previous": "",
            "message": "m",
            "reasons": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        }
    )
    assert store.events(request.id) == [submitted(request)]


# --- event 1: no row of its own, derived from the request row ---------------------------------------------


def test_a_create_writes_the_request_row_alone(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    request = new_request()
    store.create(request)
    rows = tables.get_table_client(store.requests_table).query_entities(
        "PartitionKey eq @pk", parameters={"pk": request.id}
    )
    assert [row["RowKey"] for row in rows] == ["request"]


def test_event_1_reads_the_same_at_every_version_and_a_note_on_it_does_not_replace_it(store) -> None:
    request = new_request()
    store.create(request)
    # A note on version 1 is keyed `event-00000001-<suffix>`: it must not be taken for event 1's own row.
    noted = AuditEvent(request.id, 1, CLOCK(), "notifier", "note", Status.ACCEPTED, None, "told", "c-1")
    store.note(noted, "n0")
    moved, event_2 = lifecycle.transition(
        store.get(request.id), Status.VALIDATING, now=CLOCK() + timedelta(seconds=1), actor="w", message="v"
    )
    store.save(moved, event_2)
    assert event_2.sequence == 2
    assert store.events(request.id) == [submitted(request), noted, event_2]
    assert store.events(request.id)[0] == submitted(store.get(request.id))  # the row moved on; event 1 did not


def test_a_save_of_event_1_is_refused_as_it_exists(store) -> None:
    request = new_request()
    stored = store.create(request)
    again = AuditEvent(request.id, 1, CLOCK(), "w", "status", Status.VALIDATING, Status.ACCEPTED, "again", "c-1")
    with pytest.raises(ConflictError):
        store.save(stored.with_changes(status=Status.VALIDATING), again)
    assert store.events(request.id) == [submitted(request)] and store.get(request.id).status is Status.ACCEPTED


def test_an_event_1_row_an_older_version_wrote_is_read_as_stored(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    rid = write_poisoned_request(
        tables, source=str(cloud_id()), target=str(cloud_id()), at=HOUR_AGO, prefix=table_prefix
    )
    (first,) = store.events(rid)
    assert (first.sequence, first.message, first.actor) == (1, "requested", "slack:T1/U1")


def test_a_trail_whose_request_row_cannot_be_read_leaves_out_event_1(
    tables: TableServiceClient, table_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = TableRequestStore(tables, table_prefix)
    request = new_request()
    store.create(request)
    moved, event_2 = lifecycle.transition(store.get(request.id), Status.VALIDATING, now=CLOCK(), actor="w", message="v")
    store.save(moved, event_2)
    requests = tables.get_table_client(store.requests_table)
    requests.update_entity({"PartitionKey": request.id, "RowKey": "request", "source": POISONED_TARGET})
    assert store.events(request.id) == [event_2]
    assert "reading an audit trail" in caplog.text


def test_a_request_that_is_not_stored_has_no_trail(store) -> None:
    request = new_request()
    assert store.events(request.id) == []
    store.create(request)
    store.discard(request.id)
    assert store.events(request.id) == []


# --- continuation tokens and the service's own 4xx answers -------------------------------------------------


def test_a_token_pages_only_the_listing_it_was_issued_for(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    shared = cloud_id()
    for minutes in range(3):
        request = new_request(source=shared, created_at=CLOCK() + timedelta(minutes=minutes))
        store.create(request)
    token = store.recent(RequestFilter(cloud=shared), limit=1, continuation=None).continuation
    assert token and store.recent(RequestFilter(cloud=shared), limit=1, continuation=token).items
    for cloud, status in ((None, None), (cloud_id(), None), (shared, Status.ACCEPTED)):
        with pytest.raises(ValidationError) as caught:
            store.recent(RequestFilter(cloud=cloud, status=status), limit=1, continuation=token)
        assert caught.value.code == "INVALID_CONTINUATION" and "another listing" in caught.value.message


@pytest.mark.parametrize(
    "token",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'"\\ud800"').decode(),
        base64.urlsafe_b64encode(b"[" * 600 + b"]" * 600).decode(),
        base64.urlsafe_b64encode(b'{"PartitionKey": "all", "RowKey": "x"}').decode(),  # the SDK's shape, not ours
    ],
)
def test_a_bad_token_is_refused_before_the_service_is_asked(store, token: str) -> None:
    with pytest.raises(ValidationError) as caught:
        store.recent(RequestFilter(), limit=5, continuation=token)
    assert caught.value.code == "INVALID_CONTINUATION"
    if isinstance(store, TableRequestStore):
        assert store.token_key() is None  # a refused token made no key: a 4xx writes nothing


def test_a_forged_position_within_the_listing_reaches_nothing_outside_it(
    tables: TableServiceClient, table_prefix: str
) -> None:
    store = TableRequestStore(tables, table_prefix)
    mine, other = cloud_id(), cloud_id()
    request = new_request(source=mine)
    store.create(request)
    theirs = new_request(source=other, created_at=CLOCK() - timedelta(days=1))
    store.create(theirs)
    listing = tables_module._listing(f"cloud-{mine.key}", RequestFilter())
    # Signed with the store's own key, as only someone who can read its tables could.
    forged = encode_token(
        {"PartitionKey": f"cloud-{other.key}", "RowKey": "0"}, listing, store.token_key(make=True) or b""
    )
    assert store.recent(RequestFilter(cloud=mine), limit=10, continuation=forged).items == []


def test_every_instance_signs_alike_and_another_deployment_s_tokens_are_refused(
    tables: TableServiceClient, table_prefix: str, tables_connection_string: str
) -> None:
    # Two stores over the same tables stand for two Flex instances; each makes or finds the same key.
    first, second = (
        TableRequestStore(tables, table_prefix),
        TableRequestStore(TableServiceClient.from_connection_string(tables_connection_string), table_prefix),
    )
    for minutes in range(2):
        request = new_request(created_at=CLOCK() + timedelta(minutes=minutes))
        first.create(request)
    token = first.recent(RequestFilter(), limit=1, continuation=None).continuation
    assert token and first.token_key() is not None and first.token_key() == second.token_key()
    assert len(second.recent(RequestFilter(), limit=1, continuation=token).items) == 1
    elsewhere = TableRequestStore(tables, table_prefix + "x")
    elsewhere.ensure_tables()
    with pytest.raises(ValidationError) as caught:
        elsewhere.recent(RequestFilter(), limit=1, continuation=token)
    assert caught.value.code == "INVALID_CONTINUATION" and "signature" in caught.value.message
    # The key row sits where no listing looks.
    assert all(r.id != "continuation" for r in first.recent(RequestFilter(), limit=50, continuation=None).items)
    assert first.stale(CLOCK() + timedelta(days=1)).skipped == 0


@pytest.mark.parametrize(
    ("write", "error", "code"),
    [
        (
            lambda t: t.upsert_entity({"PartitionKey": "a", "RowKey": "b", "big": "x" * 40_000}),
            TooLargeError,
            "TOO_LARGE",
        ),  # PropertyValueTooLarge
        (
            lambda t: t.upsert_entity({"PartitionKey": "a", "RowKey": "b", "big": "x" * 1_100_000}),
            TooLargeError,
            "TOO_LARGE",
        ),  # EntityTooLarge
        (
            lambda t: t.upsert_entity({"PartitionKey": "k" * 1100, "RowKey": "b"}),
            ValidationError,
            "STORAGE_REFUSED_INPUT",
        ),  # InvalidInput
        (lambda t: list(t.query_entities("PartitionKey eq")), ValidationError, "STORAGE_REFUSED_INPUT"),
        (
            lambda t: list(t.query_entities("runId eq @id", parameters={"id": "x" * 20_000})),
            TooLargeError,
            "TOO_LARGE",
        ),  # 431 request header fields too large
    ],
)
def test_the_services_4xx_answers_become_4xx_errors_of_ours(
    tables: TableServiceClient, table_prefix: str, write, error, code
) -> None:
    table = tables.create_table_if_not_exists(f"{table_prefix}raw")
    with pytest.raises(error) as caught, translated("writing a test row"):
        write(table)
    assert caught.value.code == code and not caught.value.retryable
    assert "x" * 100 not in caught.value.message and "k" * 100 not in caught.value.message


def test_audit_tables_are_made_by_the_first_call_that_misses_them(
    tables: TableServiceClient, table_prefix: str
) -> None:
    # Building the audit store does no I/O, so a worker instance that starts during a Tables outage does not
    # fail every message it is given (each would be abandoned and redelivered at once, then dead-lettered).
    audits = TableAuditStore(tables, table_prefix)
    assert not set(audits.names) & {t.name for t in tables.list_tables()}
    assert audits.latest() is None
    assert set(audits.names) <= {t.name for t in tables.list_tables()}
    run = AuditRun(str(uuid.uuid4()), CLOCK(), CLOCK(), [], [], [], {})
    audits.save(run, Inventory(CLOCK(), {}))
    assert audits.get(run.id).id == run.id


def test_a_20_kb_audit_id_is_not_found_and_not_echoed(tables: TableServiceClient, table_prefix: str) -> None:
    audits = TableAuditStore(tables, table_prefix)
    with pytest.raises(NotFoundError) as caught:
        audits.get("a" * 20_000)
    assert caught.value.code == "AUDIT_NOT_FOUND" and len(caught.value.message) < 200
    assert audits.latest() is None


def test_an_unreadable_audit_row_never_hides_a_run(tables: TableServiceClient, table_prefix: str) -> None:
    audits = TableAuditStore(tables, table_prefix)
    audits.ensure_tables()
    good = AuditRun(str(uuid.uuid4()), CLOCK(), CLOCK(), [Finding("STALE_REQUEST", "warning", (), "m")], [], [], {})
    audits.save(good, Inventory(CLOCK(), {}))
    findings = tables.get_table_client(audits.names[1])
    findings.upsert_entity(
        {"PartitionKey": good.id, "RowKey": "f000009", "state": "open", "finding": "[" * 3000 + "]" * 3000}
    )
    newer = str(uuid.uuid4())  # a run row a later crash left half-written
    tables.get_table_client(audits.names[0]).upsert_entity(
        {
            "PartitionKey": "run",
            "RowKey": f"{inverted_ticks(CLOCK() + timedelta(minutes=1))}-{newer}",
            "runId": newer,
            "problems": "{oops",
        }
    )
    latest = audits.latest()
    assert latest is not None and latest.id == good.id
    assert [f.code for f in latest.findings] == ["STALE_REQUEST"]
    assert any("could not be read back" in p for p in latest.problems)
    with pytest.raises(CorruptRecordError):
        audits.get(newer)


@pytest.mark.parametrize("request_id", [None, "", "a/b", "x" * 600])
def test_an_index_row_naming_no_valid_request_is_skipped_and_counted(
    tables: TableServiceClient, table_prefix: str, request_id
) -> None:
    store = TableRequestStore(tables, table_prefix)
    good = new_request(created_at=HOUR_AGO, updated_at=HOUR_AGO)
    store.create(good)
    row = {
        "PartitionKey": "all",
        "RowKey": f"{inverted_ticks(HOUR_AGO)}-damaged",
        "status": "Accepted",
        "action": "connect",
        "source": str(cloud_id()),
        "target": str(cloud_id()),
        "createdAt": HOUR_AGO,
        "updatedAt": HOUR_AGO,
    }
    if request_id is not None:
        row["requestId"] = request_id
    tables.get_table_client(store.index_table).upsert_entity(row)
    page = store.recent(RequestFilter(), limit=50, continuation=None)
    assert [r.id for r in page.items] == [good.id] and page.skipped == 1
    stale = store.stale(CUTOFF)
    assert [s.id for s in stale.items] == [good.id] and stale.skipped == 1


# --- filters: requester and creation time; newest first and paging stay exact -------------------------------

ALICE, BOB = Requester("api", "alice", "Alice"), Requester("api", "bob", "Bob")


def every_page(store, limit: int, **filters) -> list[list[str]]:
    """The ids of each page, following the continuation to the end (each page within `limit`)."""
    pages, token = [], None
    for _ in range(200):  # a bound, not an expectation: a listing that never ends fails here
        page = store.recent(RequestFilter(**filters), limit=limit, continuation=token)
        assert len(page.items) <= limit
        pages.append([r.id for r in page.items])
        token = page.continuation
        if token is None:
            return pages
    raise AssertionError("the listing did not end")


def filed(store, people: list[Requester], **changes) -> list[LinkRequest]:
    """One request per entry of `people`, a minute apart, oldest first."""
    made = []
    for minutes, who in enumerate(people):
        request = new_request(requester=who, created_at=CLOCK() + timedelta(minutes=minutes), **changes)
        store.create(request)
        made.append(request)
    return made


def test_the_requester_filter_lists_only_theirs_newest_first_in_full_pages(store) -> None:
    made = filed(store, [ALICE, BOB, BOB, ALICE, BOB, ALICE, BOB, BOB, ALICE, ALICE, BOB])
    alices = [r.id for r in reversed(made) if r.requester == ALICE]
    for spelling in (ALICE, Requester("API", "ALICE"), Requester("api", "Alice", "someone else")):
        pages = every_page(store, 2, requester=spelling)
        assert [rid for page in pages for rid in page] == alices
        # Full pages while more match: a filter the service cannot apply must not leave them part-empty.
        assert all(len(page) == 2 for page in pages[:-1])
    assert every_page(store, 50, requester=Requester("api", "carol")) == [[]]


def test_the_requester_filter_combines_with_cloud_and_status(store) -> None:
    shared = cloud_id()
    made = filed(store, [ALICE, BOB, ALICE, ALICE], source=shared)
    filed(store, [ALICE])  # another cloud
    moved = store.get(made[2].id)
    store.save(*lifecycle.transition(moved, Status.VALIDATING, now=CLOCK(), actor="w", message="v"))
    assert every_page(store, 10, cloud=shared, requester=ALICE) == [[made[3].id, made[2].id, made[0].id]]
    found = every_page(store, 10, cloud=shared, requester=ALICE, status=Status.VALIDATING)
    assert found == [[made[2].id]]


def test_since_and_until_bound_the_creation_time_inclusively(store) -> None:
    made = filed(store, [ALICE] * 6)
    at = [r.created_at for r in made]
    ids = [r.id for r in made]
    assert every_page(store, 10, since=at[2]) == [ids[:1:-1]]
    assert every_page(store, 10, until=at[2]) == [ids[2::-1]]
    assert every_page(store, 10, since=at[1], until=at[4]) == [ids[4:0:-1]]
    assert every_page(store, 10, since=at[1] + timedelta(microseconds=1), until=at[4] - timedelta(microseconds=1)) == [
        ids[3:1:-1]
    ]
    pages = every_page(store, 2, since=at[1], until=at[4], requester=ALICE)
    assert [rid for page in pages for rid in page] == ids[4:0:-1] and all(len(p) == 2 for p in pages[:-1])


def test_a_date_alone_as_until_takes_in_its_whole_day(store) -> None:
    from interconnect.linking.validation import parse_listing_filter

    day = CLOCK().date().isoformat()
    late = new_request(created_at=CLOCK().replace(hour=23, minute=59, second=59, microsecond=999_999))
    early = new_request(created_at=CLOCK().replace(hour=0, minute=0, second=0, microsecond=0))
    before = new_request(created_at=early.created_at - timedelta(microseconds=1))
    after = new_request(created_at=late.created_at + timedelta(microseconds=1))
    for request in (late, early, before, after):
        store.create(request)
    bounds = parse_listing_filter(None, day, day)
    assert every_page(store, 10, since=bounds.since, until=bounds.until) == [[late.id, early.id]]


def test_a_listing_with_nothing_in_range_is_empty_and_ends(store) -> None:
    filed(store, [ALICE] * 2)
    assert every_page(store, 5, since=CLOCK() + timedelta(days=1)) == [[]]
    assert every_page(store, 5, until=CLOCK() - timedelta(days=1)) == [[]]


def test_a_filtered_listing_s_token_pages_only_that_listing(tables: TableServiceClient, table_prefix: str) -> None:
    store = TableRequestStore(tables, table_prefix)
    filed(store, [ALICE] * 3)
    token = store.recent(RequestFilter(requester=ALICE), limit=1, continuation=None).continuation
    assert token
    assert store.recent(RequestFilter(requester=Requester("API", "Alice")), limit=1, continuation=token).items
    for filters in ({}, {"requester": BOB}, {"requester": ALICE, "since": CLOCK()}, {"until": CLOCK()}):
        with pytest.raises(ValidationError) as caught:
            store.recent(RequestFilter(**filters), limit=1, continuation=token)
        assert caught.value.code == "INVALID_CONTINUATION" and "another listing" in caught.value.message


def test_index_rows_written_before_the_requester_was_copied_are_still_filtered(
    tables: TableServiceClient, table_prefix: str
) -> None:
    store = TableRequestStore(tables, table_prefix)
    made = filed(store, [ALICE, BOB, ALICE, BOB])
    index = tables.get_table_client(store.index_table)
    for request in made:
        for row in index_rows(store, request.id):
            del row["requester"]  # as an older version wrote it
            index.update_entity(row, mode="replace")
    assert every_page(store, 10, requester=BOB) == [[made[3].id, made[1].id]]
    assert [[r.id for r in reversed(made) if r.requester == ALICE]] == every_page(store, 10, requester=ALICE)


def test_a_call_that_spends_its_budget_answers_what_it_found_and_goes_on_later(
    tables: TableServiceClient, table_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Budgets cut small, so a sparse match spans calls: every page within limit, none lost, none twice.
    monkeypatch.setattr(tables_module, "LISTING_BUDGET", {"rows": 3, "extra_reads": 1, "pages": 2})
    monkeypatch.setattr(tables_module, "FILTERED_PAGE", 2)
    store = TableRequestStore(tables, table_prefix)
    made = filed(store, [BOB, BOB, ALICE, BOB, BOB, BOB, ALICE, BOB, ALICE])
    pages = every_page(store, 2, requester=ALICE)
    assert [rid for page in pages for rid in page] == [r.id for r in reversed(made) if r.requester == ALICE]
    assert [] in pages  # some call looked only at Bob's and said so with an empty page and a token
    everything = every_page(store, 4)
    assert [rid for page in everything for rid in page] == [r.id for r in reversed(made)]
