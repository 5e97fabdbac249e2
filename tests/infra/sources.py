"""What the app reads and what infra/ sets: the readers the infra tests share.

"What the code reads" is found, not listed: `Settings.from_env` is called with a mapping that records every
key asked for, and the bindings function_app.py registers are read for `%NAME%` expressions and connection
prefixes.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Mapping
from typing import Any

from interconnect.app.settings import Settings, TelemetrySettings
from tests.infra.bicep import ROOT, load, object_keys, properties, string_value, text

# Two profiles, so that a setting read only when another is absent is still seen.
AZURE_PROFILE = {
    "INTERCONNECT_TABLES_ENDPOINT": "https://st.table.core.windows.net",
    "ServiceBusConnection__fullyQualifiedNamespace": "sb.servicebus.windows.net",
    "INTERCONNECT_TABLES_CONNECTION_STRING": "",
    "ServiceBusConnection": "",
    "INTERCONNECT_LOG_FORMAT": "json",
}
LOCAL_PROFILE = {
    "INTERCONNECT_TABLES_ENDPOINT": "",
    "ServiceBusConnection__fullyQualifiedNamespace": "",
    "INTERCONNECT_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "Endpoint=sb://127.0.0.1;SharedAccessKeyName=k;SharedAccessKey=k",
    "INTERCONNECT_LOG_FORMAT": "text",
}


class RecordingEnv(dict[str, str]):
    """An environment that remembers every key read. Unknown keys answer their default, or "1"."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        if key in self.keys():
            return super().__getitem__(key)
        return default if default not in (None, "") else "1"

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key) if key in self.keys() else "1"

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self.keys()


@functools.cache
def code_settings() -> frozenset[str]:
    """Every key Settings.from_env and TelemetrySettings.from_env read."""
    read: set[str] = set()
    for profile in (AZURE_PROFILE, LOCAL_PROFILE):
        env = RecordingEnv(profile)
        try:
            Settings.from_env(env)
            TelemetrySettings.from_env(env)
        except Exception as exc:  # a new required setting: give it a plausible value in the profiles above
            raise AssertionError(
                f"Settings.from_env failed on the recording env after reading {sorted(env.read)}: {exc}"
            ) from exc
        read |= env.read
    return frozenset(read)


@functools.cache
def bindings() -> tuple[dict[str, Any], ...]:
    """Every binding of every function, from a fresh copy of function_app.py.

    A fresh module object: `get_functions()` may be called only once per app, and tests/functions calls it on
    the imported module.
    """
    spec = importlib.util.spec_from_file_location("function_app_for_infra_tests", ROOT / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(
        binding
        for function in module.app.get_functions()
        for binding in json.loads(function.get_function_json())["bindings"]
    )


def binding_expressions() -> set[str]:
    """Settings named as %NAME% in any binding property (queueName, schedule, ...)."""
    return {
        name
        for binding in bindings()
        for value in binding.values()
        if isinstance(value, str)
        for name in re.findall(r"%([A-Za-z0-9_]+)%", value)
    }


def connection_prefixes() -> set[str]:
    return {binding["connection"] for binding in bindings() if binding.get("connection")}


@functools.cache
def bicep_settings() -> dict[str, str]:
    """App settings of the function app in Bicep: name -> value expression text."""
    function = load("infra/app/function.bicep")
    [resource] = [
        r
        for r in function.resources_of_type("Microsoft.Web/sites/config")
        if string_value(properties(r.value or r.node)["name"]) == "appsettings"
    ]
    settings = object_keys(properties(resource.value or resource.node)["properties"], function)
    return {name: text(value) for name, value in settings.items()}


def example_settings() -> set[str]:
    return set(json.loads((ROOT / "local.settings.json.example").read_text())["Values"])


def readme_settings() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Settings\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Settings' section"
    return set(re.findall(r"^\|\s*`([^`]+)`\s*\|", section.group(1), re.MULTILINE))


def everything_read() -> set[str]:
    return set(code_settings()) | binding_expressions() | connection_prefixes()
