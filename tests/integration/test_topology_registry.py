"""One contract for `TopologyRegistry`, run against the in-memory fake and against Azurite through azure-data-tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from interconnect.adapters.memory import InMemoryTopologyRegistry
from interconnect.adapters.topology_tables import TableTopologyRegistry
from interconnect.errors import DependencyError, TooLargeError, ValidationError
from interconnect.estate.document import MAX_DOCUMENT_BYTES, parse_document
from interconnect.estate.registry import SCOPE_MISMATCH, scope_key
from interconnect.estate.topology import Scope, scope_of
from interconnect.linking.model import Requester
from localdev import azurite
from localdev.procs import free_port
from tests.factories import SUB_A, SUB_B, Clock

pytestmark = pytest.mark.integration

ALICE = Requester("api", "alice", "Alice")
BOB = Requester("entra", "0b0b0b0b-0000-0000-0000-000000000000", "Bob")
RG = f"/subscriptions/{SUB_B}/resourceGroups/rg-avs-shared"


def yaml_document(name: str, *, subs: str = SUB_A, extra: str = "") -> bytes:
    return (
        f"apiVersion: interconnect/v1\nkind: Topology\nmetadata:\n  name: {name}\n"
        f"scope:\n  subscriptions: [{subs}]\n  resourceGroups: [{RG}]\nlinks:\n"
        f"  - between: [pc-weu-prod, pc-weu-dr]  # a comment kept as written\n{extra}"
    ).encode()


def scope(data: bytes) -> Scope:
    return scope_of(parse_document(data))


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 2, 9, 30, 15, 123000, tzinfo=UTC))


@pytest.fixture(params=["memory", "azurite"])
def registry(request: pytest.FixtureRequest, clock: Clock):
    if request.param == "memory":
        return InMemoryTopologyRegistry(clock)
    conn = request.getfixturevalue("tables_connection_string")
    # No ensure_tables(): the first registration makes the table.
    service = TableServiceClient.from_connection_string(conn)
    return TableTopologyRegistry(service, request.getfixturevalue("table_prefix"), clock)


def test_nothing_is_registered_at_first(registry) -> None:
    assert registry.registered() == []


def test_a_registered_document_reads_back_byte_for_byte_with_who_and_when(registry, clock: Clock) -> None:
    data = yaml_document("weu-prod")
    registry.register(data, scope(data), by=ALICE, fingerprint="v1:" + "a" * 64)
    [kept] = registry.registered()
    assert kept.document == data and kept.name == "weu-prod" and kept.scope == scope(data)
    assert (kept.registered_by, kept.registered_by.display) == (ALICE, "Alice")
    assert kept.registered_at == clock.now and kept.fingerprint == "v1:" + "a" * 64
    assert kept.key == scope_key(scope(data))
    assert kept.parsed().document.links[0].between == ["pc-weu-prod", "pc-weu-dr"]


def test_the_same_scope_in_another_order_or_case_replaces_the_registration(registry, clock: Clock) -> None:
    first = yaml_document("first")
    registry.register(first, scope(first), by=ALICE)
    clock.advance(minutes=5)
    body = {
        "apiVersion": "interconnect/v1",
        "kind": "Topology",
        "metadata": {"name": "second"},
        "scope": {"resourceGroups": [RG.upper().replace("RESOURCEGROUPS", "resourceGroups")], "subscriptions": [SUB_A]},
        "links": [],
    }
    second = json.dumps(body).encode()
    registry.register(second, scope(second), by=BOB)  # no fingerprint
    [kept] = registry.registered()
    assert (kept.name, kept.document, kept.registered_by, kept.fingerprint) == ("second", second, BOB, None)
    assert kept.registered_at == clock.now


def test_each_scope_keeps_its_own_document(registry) -> None:
    one, other = yaml_document("one"), yaml_document("other", subs=SUB_B)
    registry.register(one, scope(one), by=ALICE)
    registry.register(other, scope(other), by=ALICE)
    assert sorted(t.name for t in registry.registered()) == ["one", "other"]


def test_a_document_at_the_size_limit_is_kept_whole_and_a_shorter_one_replaces_it_whole(registry) -> None:
    filler = "# " + "x" * 97 + "\n"
    head = yaml_document("big")
    big = head + (filler * ((MAX_DOCUMENT_BYTES - len(head)) // len(filler))).encode()
    assert MAX_DOCUMENT_BYTES - len(filler) < len(big) <= MAX_DOCUMENT_BYTES  # three binary columns
    registry.register(big, scope(big), by=ALICE)
    assert registry.registered()[0].document == big
    small = yaml_document("small")
    registry.register(small, scope(small), by=ALICE)
    [kept] = registry.registered()
    assert kept.document == small and kept.name == "small"


def test_only_a_valid_document_of_its_own_scope_is_stored(registry) -> None:
    data = yaml_document("weu-prod")
    with pytest.raises(ValidationError) as invalid:
        registry.register(b"apiVersion: interconnect/v1\nkind: Topology\n", scope(data), by=ALICE)
    assert invalid.value.code == "TOPOLOGY_INVALID"
    with pytest.raises(ValidationError) as mismatch:
        registry.register(data, scope(yaml_document("x", subs=SUB_B)), by=ALICE)
    assert mismatch.value.code == SCOPE_MISMATCH
    with pytest.raises(TooLargeError):
        registry.register(data + b"#" * MAX_DOCUMENT_BYTES, scope(data), by=ALICE)
    with pytest.raises(ValidationError) as fingerprint:
        registry.register(data, scope(data), by=ALICE, fingerprint="v1:\n" + "a" * 200)
    assert fingerprint.value.code == "INVALID_FINGERPRINT"
    assert registry.registered() == []


def test_a_damaged_row_is_left_out_not_read_as_another_document(
    tables_connection_string: str, table_prefix: str, clock: Clock
) -> None:
    service = TableServiceClient.from_connection_string(tables_connection_string)
    registry = TableTopologyRegistry(service, table_prefix, clock)
    good, damaged = yaml_document("good"), yaml_document("damaged", subs=SUB_B)
    registry.register(good, scope(good), by=ALICE)
    registry.register(damaged, scope(damaged), by=ALICE)
    table = service.get_table_client(registry.table_name)
    row = table.get_entity("topology", scope_key(scope(damaged)))
    row["documentSha256"] = "0" * 64
    table.update_entity(row)
    assert [t.name for t in registry.registered()] == ["good"]


def test_tables_down_is_a_dependency_error() -> None:
    conn = azurite.connection_string(free_port())  # nothing listens there
    registry = TableTopologyRegistry(TableServiceClient.from_connection_string(conn, retry_total=0))
    data = yaml_document("weu-prod")
    with pytest.raises(DependencyError):
        registry.register(data, scope(data), by=ALICE)
    with pytest.raises(DependencyError):
        registry.registered()
