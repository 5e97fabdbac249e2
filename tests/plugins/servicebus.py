"""Service Bus stand-in fixtures: brokers on free ports, always stopped, with their logs kept for failures.

* `start_servicebus(config, directory)`: context manager for any scope; yields a `RunningServiceBus`.
* `servicebus_factory`: starts brokers with a given queue config during one test; all stopped after it.
* `servicebus`: one broker per test session with the app's `localdev/queues.json`.
* `fresh_servicebus`: that session broker, emptied (messages, locks, duplicate history) before the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Imported under another name: the session fixture below is called `servicebus`.
from localdev import servicebus as sb
from localdev.procs import Service, free_port

QueueConfigSource = Mapping[str, Any] | Path


@dataclass(frozen=True)
class RunningServiceBus:
    service: Service
    port: int
    admin_port: int
    config_path: Path
    log_path: Path

    @property
    def connection_string(self) -> str:
        return sb.connection_string(self.port)

    @property
    def admin(self) -> sb.ServiceBusAdmin:
        return sb.ServiceBusAdmin(self.admin_port)


@contextmanager
def start_servicebus(config: QueueConfigSource, directory: Path) -> Iterator[RunningServiceBus]:
    """Run a broker with `config` (a `{"queues": [...]}` mapping or a file) until the block ends."""
    port, admin_port = free_port(), free_port()
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(config, Mapping):
        config_path = directory / f"queues-{port}.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
    else:
        config_path = config
    log_path = directory / f"servicebus-{port}.log"
    with sb.service(port, admin_port, config_path, log_path=log_path) as service:
        yield RunningServiceBus(service, port, admin_port, config_path, log_path)


@pytest.fixture
def servicebus_factory(tmp_path: Path) -> Iterator[Callable[[QueueConfigSource], RunningServiceBus]]:
    """Call with a queue config to get a running broker; every broker started is stopped after the test."""
    with ExitStack() as stack:
        yield lambda config: stack.enter_context(start_servicebus(config, tmp_path / "servicebus"))


@pytest.fixture(scope="session")
def servicebus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServiceBus]:
    with start_servicebus(sb.APP_CONFIG, tmp_path_factory.mktemp("servicebus")) as broker:
        yield broker


@pytest.fixture
def fresh_servicebus(servicebus: RunningServiceBus) -> RunningServiceBus:
    servicebus.admin.reset()
    return servicebus
