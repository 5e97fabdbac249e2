"""Settings drift: what the code reads, what Bicep sets, what the example and README list, must agree.

What the code reads is recorded, not listed (tests/infra/sources.py). A new setting therefore fails these
tests until Bicep, local.settings.json.example and the README settings table name it, and a Bicep app setting
nobody reads fails unless it is an allow-listed platform one.
"""

from __future__ import annotations

import ast
import re

from tests.infra.bicep import ROOT
from tests.infra.sources import (
    bicep_settings,
    binding_expressions,
    code_settings,
    connection_prefixes,
    everything_read,
    example_settings,
    readme_settings,
)

# Set in Bicep although our code never reads them: the platform (Functions host, its extensions, the
# Application Insights agent) does. Each with its reason; an entry Bicep no longer sets is an error.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__blobServiceUri": "host storage (identity): deployment package, keys, timer leases",
    "AzureWebJobsStorage__tableServiceUri": "host storage (identity): the host's diagnostic events",
    "AzureWebJobsStorage__credential": "host storage authenticates with a managed identity",
    "AzureWebJobsStorage__clientId": "...the user-assigned one (the app has no system identity)",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "where the host and worker send telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra auth for telemetry; local auth is off on the component",
    "PYTHON_ENABLE_OPENTELEMETRY": "the Functions host lets the Python worker export OpenTelemetry itself "
    "(host.json telemetryMode OpenTelemetry), so its logs are not sent twice",
    "ServiceBusConnection__credential": "the Service Bus trigger extension authenticates with a managed identity",
    "ServiceBusConnection__clientId": "...the user-assigned one",
}

# Read by the code but deliberately NOT set in Azure, each with its reason.
LOCAL_ONLY_SETTINGS = {
    "INTERCONNECT_TABLES_CONNECTION_STRING": "carries an account key; shared keys are off in Azure "
    "(INTERCONNECT_TABLES_ENDPOINT + identity instead)",
    "ServiceBusConnection": "a SAS connection string; local auth is off on the namespace "
    "(ServiceBusConnection__fullyQualifiedNamespace + identity instead)",
    "INTERCONNECT_TABLE_PREFIX": "isolates test runs sharing one Azurite; Azure uses the unprefixed tables "
    "storage.bicep creates",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "the local cloud's OTLP receiver; Azure exports to Application Insights "
    "(APPLICATIONINSIGHTS_CONNECTION_STRING) instead",
}

# Settings Flex Consumption rejects or ignores (docs/functions-platform.md §2.2, "Don't set on Flex").
FLEX_FORBIDDEN = re.compile(
    r"^(FUNCTIONS_WORKER_RUNTIME|FUNCTIONS_EXTENSION_VERSION|WEBSITE_RUN_FROM_PACKAGE|"
    r"WEBSITE_CONTENT.*|SCM_DO_BUILD_DURING_DEPLOYMENT|WEBSITE_NODE_DEFAULT_VERSION|"
    r"AzureWebJobsStorage)$"
)


def test_the_recorders_see_the_known_settings() -> None:
    # Guards the method: if recording broke, the drift tests below would pass vacuously.
    assert {
        "INTERCONNECT_TABLES_ENDPOINT",
        "ServiceBusConnection__fullyQualifiedNamespace",
        "AZURE_CLIENT_ID",
        "INTERCONNECT_POLICY",
    } <= code_settings()
    assert "INTERCONNECT_QUEUE_NAME" in binding_expressions()
    assert connection_prefixes() == {"ServiceBusConnection"}


def test_only_the_settings_module_reads_the_environment() -> None:
    # What makes the recording complete: no other module can read a setting behind Settings' back.
    offenders = []
    sources = [*sorted((ROOT / "interconnect").rglob("*.py")), ROOT / "function_app.py"]
    for path in sources:
        if path == ROOT / "interconnect" / "app" / "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "environb", "getenv", "getenvb")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} os.{node.attr}")
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and {a.name for a in node.names} & {"environ", "environb", "getenv", "getenvb"}
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} from os import ...")
    assert offenders == []


def test_every_setting_the_code_reads_is_set_in_bicep_or_local_only() -> None:
    missing = code_settings() - set(bicep_settings()) - set(LOCAL_ONLY_SETTINGS)
    assert not missing, f"set these in infra/app/function.bicep (appSettings): {sorted(missing)}"


def test_every_binding_expression_is_set_in_bicep() -> None:
    # No local-only escape here: the host resolves %NAME% at startup, and an unset one disables the function.
    missing = binding_expressions() - set(bicep_settings())
    assert not missing, f"set these in infra/app/function.bicep (appSettings): {sorted(missing)}"


def test_every_binding_connection_is_identity_based_with_the_user_assigned_identity() -> None:
    settings = bicep_settings()
    for prefix in connection_prefixes():
        assert prefix not in settings, f"{prefix}: a connection string; use {prefix}__fullyQualifiedNamespace"
        assert any(
            k.startswith(f"{prefix}__") and k.split("__")[1] not in ("credential", "clientId") for k in settings
        ), f"{prefix}: no {prefix}__fullyQualifiedNamespace (or __serviceUri)"
        assert settings.get(f"{prefix}__credential") == "'managedidentity'"
        assert settings.get(f"{prefix}__clientId") == "identityClientId"


def test_host_storage_and_app_clients_use_the_user_assigned_identity() -> None:
    settings = bicep_settings()
    assert settings["AzureWebJobsStorage__credential"] == "'managedidentity'"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "'ClientId=${identityClientId};Authorization=AAD'"


def test_bicep_sets_nothing_that_nobody_reads() -> None:
    unread = set(bicep_settings()) - everything_read() - set(PLATFORM_SETTINGS)
    assert not unread, (
        f"{sorted(unread)}: no code reads these; remove them, or add them to PLATFORM_SETTINGS "
        "with the reason the platform needs them"
    )


def test_allow_lists_are_current() -> None:
    assert set(PLATFORM_SETTINGS) <= set(bicep_settings()), "PLATFORM_SETTINGS names a setting Bicep dropped"
    assert set(LOCAL_ONLY_SETTINGS) <= code_settings(), "LOCAL_ONLY_SETTINGS names a setting the code dropped"
    assert not set(LOCAL_ONLY_SETTINGS) & set(bicep_settings()), "a local-only setting is set in Azure"


def test_no_setting_flex_consumption_rejects() -> None:
    assert [s for s in bicep_settings() if FLEX_FORBIDDEN.match(s)] == []


def test_every_setting_is_in_the_example_and_the_readme() -> None:
    needed = everything_read()
    assert not needed - example_settings(), f"add to local.settings.json.example: {sorted(needed - example_settings())}"
    assert not needed - readme_settings(), f"add to README.md's settings table: {sorted(needed - readme_settings())}"
