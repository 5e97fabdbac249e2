"""A local stand-in for Azure Service Bus that the unmodified `azure-servicebus` SDK talks to over AMQP 1.0.

Start it with `python -m localdev.servicebus --port P --admin-port A --config localdev/queues.json`, or get a
`localdev.procs.Service` for it from `service()`; point the SDK at `connection_string(P)`. See SERVICEBUS.md.
"""

from __future__ import annotations

from pathlib import Path

from ..procs import ROOT, Service, python_module
from .admin import ServiceBusAdmin, ServiceBusAdminError
from .config import ConfigError, QueueConfig, load_config, parse_config

__all__ = [
    "APP_CONFIG",
    "ConfigError",
    "QueueConfig",
    "ServiceBusAdmin",
    "ServiceBusAdminError",
    "connection_string",
    "load_config",
    "parse_config",
    "service",
]

# The app's queues: the single source of truth that the Bicep templates are checked against.
APP_CONFIG = ROOT / "localdev" / "queues.json"

# Any key is accepted; this one says so to anyone who finds it in a settings file.
FAKE_SHARED_ACCESS_KEY = "bG9jYWxkZXYtZmFrZS1rZXktbm90LWEtc2VjcmV0"  # base64("localdev-fake-key-not-a-secret")


def connection_string(port: int, host: str = "127.0.0.1") -> str:
    """What the SDK needs to reach the stand-in. `UseDevelopmentEmulator=true` makes it use plain AMQP."""
    return (
        f"Endpoint=sb://{host}:{port};SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={FAKE_SHARED_ACCESS_KEY};UseDevelopmentEmulator=true"
    )


def service(
    port: int,
    admin_port: int,
    config_path: Path | str = APP_CONFIG,
    log_path: Path | None = None,
    log_level: str = "INFO",
) -> Service:
    """The stand-in as a child process (not started yet); ready once `port` accepts connections.

    The broker writes `log_path` itself (`--log-file`) rather than through `Service.log_path`, whose file
    handle the parent process would keep open."""
    argv = python_module(
        "localdev.servicebus",
        "--port",
        str(port),
        "--admin-port",
        str(admin_port),
        "--config",
        str(config_path),
        "--log-level",
        log_level,
    )
    if log_path is not None:
        argv += ["--log-file", str(log_path)]
    return Service(name="servicebus", argv=argv, port=port)
