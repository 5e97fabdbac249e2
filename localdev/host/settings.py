"""App settings and host.json, read the way `func start` and the Functions host read them.

Settings are the process environment plus, optionally, the `Values` of `local.settings.json`; the
environment wins, as with Core Tools. The merged values are exported to `os.environ` before the app
is imported, because on Azure app settings reach the Python worker as environment variables.

host.json keys are case-insensitive (they are .NET configuration) and any of them can be overridden
by an app setting `AzureFunctionsJobHost__path__to__key`, which this module applies too.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"%([^%]+)%")
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")
_OVERRIDE_PREFIX = "azurefunctionsjobhost__"

# Locally we run on a laptop or CI box: a small default keeps the number of broker connections and
# concurrent ARM calls modest. The Azure default is 16 x processor count.
DEFAULT_MAX_CONCURRENT_CALLS = 4
DEFAULT_MAX_CONCURRENT_SESSIONS = 8
DEFAULT_MAX_AUTO_LOCK_RENEWAL = 300.0
DEFAULT_SESSION_IDLE_TIMEOUT = 60.0
DEFAULT_PORT = 7071
# A comma-separated list of accepted function keys; unset or empty: keys are not checked, as with `func start`.
FUNCTION_KEYS_SETTING = "LOCALHOST_FUNCTION_KEYS"


class ConfigError(Exception):
    """The app, its settings or host.json cannot be served; the message says what to fix."""


@dataclass(frozen=True)
class LocalSettings:
    values: dict[str, str]
    port: int | None


def load_local_settings(path: Path | None, required: bool) -> LocalSettings:
    """`Values` and `Host.LocalHttpPort` from a local.settings.json file (absent file: nothing)."""
    if path is None or not path.exists():
        if required and path is not None:
            raise ConfigError(f"settings file {path} does not exist")
        return LocalSettings({}, None)
    document = _read_json(path)
    if document.get("IsEncrypted"):
        raise ConfigError(f"{path} is encrypted; decrypt it (func settings decrypt) to use it locally")
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: 'Values' must be an object")
    port = (document.get("Host") or {}).get("LocalHttpPort")
    return LocalSettings({str(k): str(v) for k, v in values.items()}, int(port) if port else None)


def merge_into_environment(values: Mapping[str, str], environ: MutableMapping[str, str]) -> dict[str, str]:
    """Export `values` into `environ` where not already set there; return the merged settings."""
    for name, value in values.items():
        environ.setdefault(name, value)
    return dict(environ)


def parse_function_keys(value: str | None) -> frozenset[str] | None:
    """Accepted keys from the setting; None (keys not checked) when it is unset or empty."""
    keys = frozenset(k.strip() for k in (value or "").split(",") if k.strip())
    return keys or None


def resolve(text: str, settings: Mapping[str, str], where: str) -> str:
    """Replace each `%NAME%` in a binding property with the app setting NAME."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise ConfigError(f"{where}: app setting {name!r} (referenced as %{name}%) is not set")
        return settings[name]

    return _PLACEHOLDER.sub(lookup, text)


@dataclass(frozen=True)
class ServiceBusConnection:
    """Where a trigger's `connection` setting points: a connection string, or a namespace reached by identity."""

    name: str
    connection_string: str | None = None
    namespace: str | None = None
    client_id: str | None = None  # a user-assigned identity, with `namespace`


def service_bus_connection(connection: str, settings: Mapping[str, str]) -> ServiceBusConnection:
    """Resolve a trigger's `connection` by the host's setting rules, without touching the SDK.

    `X` (or `AzureWebJobsX`) holds a connection string; otherwise `X__fullyQualifiedNamespace` names
    a namespace reached with DefaultAzureCredential (`X__clientId` picks a user-assigned identity).
    Pure, so the host validates it before any instance starts and builds clients only where they run.
    """
    connection_string = settings.get(connection) or settings.get(f"AzureWebJobs{connection}")
    if connection_string:
        return ServiceBusConnection(connection, connection_string=connection_string)
    namespace = settings.get(f"{connection}__fullyQualifiedNamespace")
    if not namespace:
        raise ConfigError(
            f"Service Bus connection {connection!r}: set app setting {connection!r} to a "
            f"connection string or {connection}__fullyQualifiedNamespace"
        )
    if importlib.util.find_spec("azure.identity") is None:
        raise ConfigError(
            f"Service Bus connection {connection!r} is identity-based, which needs azure-identity installed"
        )
    return ServiceBusConnection(connection, namespace=namespace, client_id=settings.get(f"{connection}__clientId"))


def parse_timespan(text: str, where: str) -> float:
    """Seconds in a .NET TimeSpan string such as `00:05:00` or `1.02:00:00.5`."""
    match = _TIMESPAN.match(text.strip())
    if not match:
        raise ConfigError(f"{where}: {text!r} is not a TimeSpan like 00:05:00")
    days, hours, minutes, seconds, fraction = match.groups()
    return (
        int(days or 0) * 86400
        + int(hours) * 3600
        + int(minutes) * 60
        + int(seconds or 0)
        + float(f"0.{fraction}" if fraction else 0)
    )


@dataclass(frozen=True)
class ClientRetry:
    """host.json `extensions.serviceBus.clientRetryOptions`, as azure-servicebus client kwargs."""

    mode: str | None = None
    max_retries: int | None = None
    delay: float | None = None
    max_delay: float | None = None

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.mode:
            kwargs["retry_mode"] = self.mode.lower()
        if self.max_retries is not None:
            kwargs["retry_total"] = self.max_retries
        if self.delay is not None:
            kwargs["retry_backoff_factor"] = self.delay
        if self.max_delay is not None:
            kwargs["retry_backoff_max"] = self.max_delay
        return kwargs


@dataclass(frozen=True)
class HostOptions:
    """The host.json settings this host honours."""

    route_prefix: str = "api"
    max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS
    max_concurrent_sessions: int = DEFAULT_MAX_CONCURRENT_SESSIONS
    max_auto_lock_renewal: float = DEFAULT_MAX_AUTO_LOCK_RENEWAL
    session_idle_timeout: float = DEFAULT_SESSION_IDLE_TIMEOUT
    client_retry: ClientRetry = ClientRetry()


def load_host_options(path: Path | None, settings: Mapping[str, str]) -> HostOptions:
    """Read host.json (absent file: defaults) with `AzureFunctionsJobHost__*` overrides applied."""
    document = _lower_keys(_read_json(path)) if path is not None and path.exists() else {}
    for name, value in settings.items():
        if name.lower().startswith(_OVERRIDE_PREFIX):
            _set_path(document, name.lower()[len(_OVERRIDE_PREFIX) :].split("__"), value)
    where = str(path or "host.json")
    extensions = _section(document, "extensions", where)
    http = _section(extensions, "http", where)
    service_bus = _section(extensions, "servicebus", where)
    retry = _section(service_bus, "clientretryoptions", where)

    # Keys are given in their documented spelling and looked up lower-cased.
    def number(section: Mapping[str, Any], key: str, default: int, minimum: int = 1) -> int:
        value = section.get(key.lower(), default)
        try:
            result = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {key} must be an integer, not {value!r}") from None
        if result < minimum:
            raise ConfigError(f"{where}: {key} must be at least {minimum}")
        return result

    def span(section: Mapping[str, Any], key: str) -> float | None:
        value = section.get(key.lower())
        return None if value is None else parse_timespan(str(value), f"{where}: {key}")

    try_timeout = span(retry, "tryTimeout")
    return HostOptions(
        route_prefix=str(http.get("routeprefix", "api")).strip("/"),
        max_concurrent_calls=number(service_bus, "maxConcurrentCalls", DEFAULT_MAX_CONCURRENT_CALLS),
        max_concurrent_sessions=number(service_bus, "maxConcurrentSessions", DEFAULT_MAX_CONCURRENT_SESSIONS),
        max_auto_lock_renewal=span(service_bus, "maxAutoLockRenewalDuration") or DEFAULT_MAX_AUTO_LOCK_RENEWAL,
        # As in the Service Bus extension, an unset idle timeout falls back to the retry tryTimeout.
        session_idle_timeout=span(service_bus, "sessionIdleTimeout") or try_timeout or DEFAULT_SESSION_IDLE_TIMEOUT,
        client_retry=ClientRetry(
            mode=retry.get("mode"),
            max_retries=number(retry, "maxRetries", -1, minimum=0) if "maxretries" in retry else None,
            delay=span(retry, "delay"),
            max_delay=span(retry, "maxDelay"),
        ),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return document


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    return value


def _set_path(document: dict[str, Any], path: list[str], value: str) -> None:
    node = document
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _section(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    section = parent.get(key) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: {key} must be an object")
    return section
