"""The queue and tables Bicep creates are the ones the code and the local cloud use.

localdev/queues.json is the single source of truth for queues: the local Service Bus stand-in is configured
from it, and infra/app/servicebus.bicep loads it with loadJsonContent. These tests check that the Bicep really
reads every property from that file (no value typed twice), and that table names match the adapter's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from interconnect.adapters.audit_tables import TableAuditStore
from interconnect.adapters.quarantine import TableQuarantine
from interconnect.adapters.tables import TableRequestStore
from interconnect.adapters.topology_tables import TableTopologyRegistry
from interconnect.app.settings import Settings
from tests.infra.bicep import ROOT, load, properties, string_value, strings_in, text
from tests.infra.sources import bicep_settings, bindings

QUEUES_JSON = ROOT / "localdev" / "queues.json"


def queue_config() -> list[dict[str, Any]]:
    queues: list[dict[str, Any]] = json.loads(QUEUES_JSON.read_text())["queues"]
    return queues


def test_servicebus_template_loads_the_local_queue_config() -> None:
    servicebus = load("infra/app/servicebus.bicep")
    value = servicebus.get("var", "queueConfig").value
    assert value is not None and value.type == "call_expression"
    assert text(value.children[0]) == "loadJsonContent"
    [path] = strings_in(value)
    assert (servicebus.path.parent / path).resolve() == QUEUES_JSON


def test_every_queue_property_comes_from_queues_json() -> None:
    servicebus = load("infra/app/servicebus.bicep")
    [queues] = servicebus.resources_of_type("Microsoft.ServiceBus/namespaces/queues")
    loop = next(c for c in queues.node.children if c.type == "for_statement")
    variable = text(next(c for c in loop.children if c.type == "identifier"))
    assert text(loop).split(" in ", 1)[1].startswith("queueConfig.queues:"), "loop over every queue in the file"
    body = properties(queues.value or queues.node)
    assert text(body["name"]) == f"{variable}.name"
    mapped = {key: text(value) for key, value in properties(body["properties"]).items()}
    keys = {key for queue in queue_config() for key in queue} - {"name"}
    assert mapped == {key: f"{variable}.{key}" for key in keys}, "map each queues.json property, and only those"


def test_the_request_queue_is_the_codes_default_and_feeds_the_trigger_setting() -> None:
    servicebus = load("infra/app/servicebus.bicep")
    assert text(servicebus.get("output", "requestQueueName").value or servicebus.root) == "queueConfig.queues[0].name"
    code_default = Settings.from_env(
        {
            "INTERCONNECT_TABLES_ENDPOINT": "https://st.table.core.windows.net",
            "ServiceBusConnection__fullyQualifiedNamespace": "sb",
        }
    ).queue_name
    assert queue_config()[0]["name"] == code_default
    assert bicep_settings()["INTERCONNECT_QUEUE_NAME"] == "queueName"
    main = load("infra/main.bicep")
    api_params = properties(properties(main.get("module", "api").value or main.root)["params"])
    assert text(api_params["queueName"]) == "serviceBus.outputs.requestQueueName"
    assert text(api_params["tablesEndpoint"]) == "storage.outputs.tableEndpoint"
    assert bicep_settings()["INTERCONNECT_TABLES_ENDPOINT"] == "tablesEndpoint"


@pytest.mark.parametrize("queue", queue_config(), ids=lambda q: q["name"])
def test_queue_properties_suit_the_code(queue: dict[str, Any]) -> None:
    # The code sends MessageId = request id and numbered check ids, and relies on the broker dropping repeats.
    assert queue["requiresDuplicateDetection"] is True
    # Service Bus allows at most 5 minutes; host.json renews the lock while a call runs.
    assert queue["lockDuration"] in {f"PT{n}M" for n in range(1, 6)} | {f"PT{n}S" for n in range(5, 300)}
    # The trigger's session setting must agree with the queue's, or the host cannot receive.
    triggers = [b for b in bindings() if b["type"] == "serviceBusTrigger"]
    assert triggers and all(bool(b.get("isSessionsEnabled")) == queue["requiresSession"] for b in triggers)


def test_role_assignments_cover_every_queue() -> None:
    main = load("infra/main.bicep")
    rbac_params = properties(properties(main.get("module", "rbac").value or main.root)["params"])
    assert text(rbac_params["queueNames"]) == "serviceBus.outputs.queueNames"
    servicebus = load("infra/app/servicebus.bicep")
    assert (
        text(servicebus.get("output", "queueNames").value or servicebus.root)
        == "[for queue in queueConfig.queues: queue.name]"
    )


class RecordingTableService:
    """Stands in for TableServiceClient: records the table names the store touches."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def get_table_client(self, name: str) -> object:
        self.names.add(name)
        return object()

    def create_table_if_not_exists(self, name: str) -> object:
        self.names.add(name)
        return object()


def test_tables_in_bicep_are_the_tables_the_adapter_uses() -> None:
    service = RecordingTableService()
    TableRequestStore(service, prefix="").ensure_tables()  # type: ignore[arg-type]
    TableAuditStore(service, prefix="").ensure_tables()  # type: ignore[arg-type]
    TableQuarantine(service, prefix="").ensure_tables()  # type: ignore[arg-type]
    TableTopologyRegistry(service, prefix="").ensure_tables()  # type: ignore[arg-type]
    storage = load("infra/app/storage.bicep")
    declared = strings_in(storage.get("var", "tableNames").value or storage.root)
    assert sorted(declared) == sorted(service.names)
    [tables] = storage.resources_of_type("Microsoft.Storage/storageAccounts/tableServices/tables")
    assert "for table in tableNames" in text(tables.node)


def test_deployment_container_is_private_and_is_the_one_flex_deploys_from() -> None:
    storage = load("infra/app/storage.bicep")
    [container] = storage.resources_of_type("Microsoft.Storage/storageAccounts/blobServices/containers")
    body = properties(container.value or container.node)
    assert text(body["name"]) == "deploymentContainerName"
    assert string_value(properties(body["properties"])["publicAccess"]) == "None"
    function = load("infra/app/function.bicep")
    assert "${deploymentContainerName}" in text(function.get("resource", "functionApp").node)


def test_funcignore_keeps_infra_and_localdev_out_of_the_package() -> None:
    ignored = set(Path(ROOT / ".funcignore").read_text().split())
    assert {"infra", "localdev", "tests", "azure.yaml", "interconnect_cli"} <= ignored  # the CLI: pipx, not Azure
