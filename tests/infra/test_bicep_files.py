"""Offline checks of infra/: every template parses and is wired up, in azd conventions, least privilege.

There is no Bicep compiler or Azure here, so these read the syntax tree (tests/infra/bicep.py). They catch
typos, dangling modules, unused parameters, unpinned registry modules and privilege creep; they cannot
catch what only ARM knows (API versions, property names, what-if). See infra/README.md, "What is checked".
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.infra.bicep import (
    INFRA,
    ROOT,
    UPPER_SNAKE,
    BicepFile,
    bicep_files,
    load,
    object_keys,
    properties,
    string_value,
    strings_in,
    text,
    walk,
)

FILES = bicep_files()
IDS = [f.relative for f in FILES]


def test_the_expected_templates_exist() -> None:
    expected = {
        "infra/main.bicep",
        "infra/app/function.bicep",
        "infra/app/servicebus.bicep",
        "infra/app/storage.bicep",
        "infra/app/monitoring.bicep",
        "infra/app/keyvault.bicep",
        "infra/app/rbac.bicep",
        "infra/app/avs-role.bicep",
        "infra/app/identity.bicep",
    }
    assert expected <= set(IDS)
    assert (INFRA / "main.parameters.json").is_file() and (INFRA / "abbreviations.json").is_file()


@pytest.mark.parametrize("file", FILES, ids=IDS)
def test_parses_without_errors(file: BicepFile) -> None:
    assert file.problems() == []
    assert not file.root.has_error


def test_a_broken_template_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("param name string\nresource x 'Microsoft.Foo/bar@2020-01-01' = {\n  name: name\n")
    assert BicepFile(broken).problems()


@pytest.mark.parametrize("file", FILES, ids=IDS)
def test_module_paths_exist(file: BicepFile) -> None:
    for module in file.of_kind("module"):
        assert module.type_string, f"{file.relative}: module {module.name} has no literal path"
        assert (file.path.parent / module.type_string).is_file(), f"{file.relative}: {module.type_string} missing"


@pytest.mark.parametrize("file", FILES, ids=IDS)
def test_every_param_is_used(file: BicepFile) -> None:
    unused = {p.name for p in file.of_kind("param")} - file.references()
    assert not unused, f"{file.relative}: unused params {sorted(unused)}"


@pytest.mark.parametrize("file", FILES, ids=IDS)
def test_no_registry_modules(file: BicepFile) -> None:
    # Registry modules (br/public:, br:, ts:) need network access to restore: nothing could check them here.
    for module in file.of_kind("module"):
        assert not re.match(r"^(br|ts)[:/]", module.type_string or ""), f"{file.relative}: {module.type_string}"
    assert not re.search(rb"'(br|ts)(/public)?:", file.source)


def test_every_module_param_passed_exists_in_the_module() -> None:
    for file in FILES:
        for module in file.of_kind("module"):
            target = BicepFile(file.path.parent / (module.type_string or ""))
            declared = {p.name for p in target.of_kind("param")}
            required = {p.name for p in target.of_kind("param") if "=" not in [c.type for c in p.node.children]}
            body = module.value
            assert body is not None and body.type == "object"
            params_node = properties(body).get("params")
            passed = set(properties(params_node)) if params_node is not None else set()
            assert passed <= declared, f"{file.relative}: {module.name} passes unknown {sorted(passed - declared)}"
            assert required <= passed, f"{file.relative}: {module.name} misses {sorted(required - passed)}"


def test_main_follows_azd_conventions() -> None:
    main = load("infra/main.bicep")
    assert re.search(r"^targetScope = 'subscription'$", main.source.decode(), re.MULTILINE)
    for name in ("environmentName", "location", "principalId"):
        main.get("param", name)
    location = main.get("param", "location").decorators
    assert re.search(r"azd:\s*\{\s*type:\s*'location'", location)
    token = text(main.get("var", "resourceToken").value or main.root)
    assert token == "toLower(uniqueString(subscription().id, environmentName, location))"
    assert text(main.get("var", "abbrs").value or main.root) == "loadJsonContent('./abbreviations.json')"
    assert "azd-env-name" in properties(main.get("var", "tags").value or main.root)
    assert main.resources_of_type("Microsoft.Resources/resourceGroups")


def test_main_outputs_are_upper_snake_and_include_azd_names() -> None:
    outputs = {o.name for o in load("infra/main.bicep").of_kind("output")}
    assert {o for o in outputs if not UPPER_SNAKE.match(o)} == set()
    assert {"AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_FUNCTION_NAME", "SERVICE_API_NAME"} <= outputs


def test_abbreviations_used_exist() -> None:
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text())
    used = set(re.findall(r"abbrs\.(\w+)", load("infra/main.bicep").source.decode()))
    assert used and used <= set(abbreviations)


def test_parameters_file_maps_azd_variables_onto_declared_params() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = {p.name for p in load("infra/main.bicep").of_kind("param")}
    assert set(parameters) <= declared
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION}"
    assert parameters["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"


def test_azure_yaml_service_matches_the_function_app_tag_and_outputs() -> None:
    config = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert config["name"] == "interconnect"
    [(service, spec)] = config["services"].items()
    assert spec == {"project": ".", "language": "python", "host": "function"}
    main = load("infra/main.bicep")
    assert string_value(main.get("var", "serviceName").value or main.root) == service
    function = load("infra/app/function.bicep")
    tags = text(properties(function.get("resource", "functionApp").value or function.root)["tags"])
    assert "'azd-service-name': serviceName" in tags
    assert f"SERVICE_{service.upper()}_NAME" in {o.name for o in main.of_kind("output")}


def test_function_app_is_flex_consumption_python_311_with_user_assigned_identity() -> None:
    function = load("infra/app/function.bicep")
    [plan] = function.resources_of_type("Microsoft.Web/serverfarms")
    assert strings_in(properties(plan.value or plan.node)["sku"]) == ["FC1", "FlexConsumption"]
    [site] = function.resources_of_type("Microsoft.Web/sites")
    body = properties(site.value or site.node)
    assert strings_in(properties(body["identity"])["type"]) == ["UserAssigned"]
    config = properties(properties(body["properties"])["functionAppConfig"])
    assert strings_in(config["runtime"]) == ["python", "3.11"]
    scale = properties(config["scaleAndConcurrency"])
    assert text(scale["maximumInstanceCount"]) == "maximumInstanceCount"
    assert text(scale["instanceMemoryMB"]) == "instanceMemoryMB"
    # Always-ready instances go to Flex's `http` group only, and only when the parameter asks for some.
    always_ready = text(scale["alwaysReady"])
    assert always_ready.startswith("httpAlwaysReadyInstances > 0")
    assert strings_in(scale["alwaysReady"]) == ["http"]
    assert "instanceCount: httpAlwaysReadyInstances" in always_ready
    storage = properties(properties(config["deployment"])["storage"])
    assert strings_in(properties(storage["authentication"])["type"]) == ["UserAssignedIdentity"]
    # The runtime version must be the one the app is checked for (pyproject's [project] is the CLI, which
    # runs on any newer Python too, so it does not say which one the app runs on).
    tools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    assert tools["mypy"]["python_version"] == "3.11"
    assert tools["ruff"]["target-version"] == "py311"


def test_service_bus_is_standard_with_local_auth_off() -> None:
    servicebus = load("infra/app/servicebus.bicep")
    [namespace] = servicebus.resources_of_type("Microsoft.ServiceBus/namespaces")
    body = properties(namespace.value or namespace.node)
    assert strings_in(body["sku"]) == ["Standard", "Standard"]
    assert text(properties(body["properties"])["disableLocalAuth"]) == "true"


def test_storage_is_identity_only() -> None:
    storage = load("infra/app/storage.bicep")
    [account] = storage.resources_of_type("Microsoft.Storage/storageAccounts")
    props = {k: text(v) for k, v in properties(properties(account.value or account.node)["properties"]).items()}
    assert props["allowSharedKeyAccess"] == "false"
    assert props["allowBlobPublicAccess"] == "false"
    assert props["minimumTlsVersion"] == "'TLS1_2'"


def test_monitoring_has_local_auth_off() -> None:
    monitoring = load("infra/app/monitoring.bicep")
    [component] = monitoring.resources_of_type("Microsoft.Insights/components")
    props = properties(properties(component.value or component.node)["properties"])
    assert text(props["DisableLocalAuth"]) == "true"
    assert text(props["WorkspaceResourceId"]) == "logAnalytics.id"


def test_key_vault_uses_rbac_soft_delete_and_purge_protection() -> None:
    keyvault = load("infra/app/keyvault.bicep")
    [vault] = keyvault.resources_of_type("Microsoft.KeyVault/vaults")
    props = {k: text(v) for k, v in properties(properties(vault.value or vault.node)["properties"]).items()}
    assert props["enableRbacAuthorization"] == "true"
    assert props["enableSoftDelete"] == "true"
    assert props["enablePurgeProtection"] == "purgeProtection ? true : null"
    main = load("infra/main.bicep")
    assert text(main.get("param", "keyVaultPurgeProtection").node).endswith("= true")


# --- role assignments ----------------------------------------------------------------------------------

BUILT_IN_ROLES = {
    "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
    "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "76199698-9eea-4c19-bc75-cec21354c6b6": "Storage Table Data Reader",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
TOO_BROAD = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "090c5cfd-751d-490a-894a-3ce6f1109419": "Azure Service Bus Data Owner",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)

# The scope each of the app's roles must be assigned at (the narrowest that works; see rbac.bicep).
APP_ROLE_SCOPES = {
    "serviceBusDataSender": "Microsoft.ServiceBus/namespaces/queues",
    "serviceBusDataReceiver": "Microsoft.ServiceBus/namespaces/queues",
    "storageBlobDataOwner": "Microsoft.Storage/storageAccounts",
    "storageTableDataContributor": "Microsoft.Storage/storageAccounts",
    "keyVaultSecretsUser": "Microsoft.KeyVault/vaults",
    "monitoringMetricsPublisher": "Microsoft.Insights/components",
}


@pytest.mark.parametrize("file", FILES, ids=IDS)
def test_every_role_guid_is_named_in_a_comment_and_none_is_too_broad(file: BicepFile) -> None:
    for line in file.source.decode().splitlines():
        for guid in GUID.findall(line):
            assert guid.lower() not in TOO_BROAD, f"{file.relative}: {TOO_BROAD[guid.lower()]} granted"
            assert guid.lower() in BUILT_IN_ROLES, f"{file.relative}: unknown role id {guid}"
            assert f"// {BUILT_IN_ROLES[guid.lower()]}" in line, f"{file.relative}: name the role beside {guid}"


def test_app_roles_are_assigned_at_the_narrowest_scope_with_deterministic_names() -> None:
    rbac = load("infra/app/rbac.bicep")
    symbol_types = {r.name: r.resource_type for r in rbac.of_kind("resource")}
    found: dict[str, str] = {}
    for assignment in rbac.resources_of_type("Microsoft.Authorization/roleAssignments"):
        body = properties(assignment.value or assignment.node)
        role = re.search(r"roles\.(\w+)", text(properties(body["properties"])["roleDefinitionId"]))
        assert role, f"{assignment.name}: roleDefinitionId must name a key of var roles"
        assert text(body["name"]).startswith("guid("), f"{assignment.name}: name must be a guid()"
        principal = text(properties(body["properties"])["principalId"])
        if principal == "appPrincipalId":
            scope_symbol = text(body["scope"]).split("[")[0]
            found[role.group(1)] = symbol_types[scope_symbol]
    assert found == APP_ROLE_SCOPES


def test_storage_queue_role_is_not_granted_and_queue_endpoint_not_configured() -> None:
    # Decision: nothing in the app or its host uses Storage queues (work goes through Service Bus).
    assert "974c5e8b-45b9-4653-ba55-5f855dd0fb88" not in "".join(f.source.decode() for f in FILES)
    function = load("infra/app/function.bicep")
    settings = object_keys(
        properties(function.get("resource", "appSettings").value or function.root)["properties"], function
    )
    assert "AzureWebJobsStorage__queueServiceUri" not in settings


def test_deployer_roles_are_behind_the_flag() -> None:
    rbac = load("infra/app/rbac.bicep")
    for assignment in rbac.resources_of_type("Microsoft.Authorization/roleAssignments"):
        if "deployerPrincipalId" in text(assignment.node):
            assert "if (!empty(deployerPrincipalId))" in text(assignment.node)
    main = load("infra/main.bicep")
    rbac_params = properties(properties(main.get("module", "rbac").value or main.root)["params"])
    assert text(rbac_params["deployerPrincipalId"]) == "grantDeployerAccess ? principalId : ''"


def test_no_role_assignment_outside_the_rbac_and_avs_modules() -> None:
    allowed = {
        "infra/app/rbac.bicep",
        "infra/app/avs-access-subscription.bicep",
        "infra/app/avs-access-resourcegroup.bicep",
    }
    for file in FILES:
        if file.resources_of_type("Microsoft.Authorization/roleAssignments"):
            assert file.relative in allowed


def test_walk_reaches_nested_nodes() -> None:
    # Guards the reader itself: a regression here would make the checks above vacuous.
    main = load("infra/main.bicep")
    assert sum(1 for _ in walk(main.root)) > 500
    assert len(main.of_kind("module")) >= 8
