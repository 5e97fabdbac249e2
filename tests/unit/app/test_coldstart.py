"""A cold instance loads only what the request in hand needs: `function_app.py` imports no SDK beyond the
Functions library, and the services build each part on first use, once, however many requests ask at once.

What is loaded is asserted (sys.modules, which parts were built), never how long it took: bench/coldstart.py
measures that.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

import pytest

from interconnect.adapters.changesets import InMemoryChangeSetStore
from interconnect.adapters.memory import InMemoryAvs, InMemoryRequestStore, InMemoryWorkQueue
from interconnect.app.bootstrap import Services, component
from interconnect.app.settings import Settings
from localdev.procs import ROOT, wait_until

# Each is either slow to import (the ARM SDK, the identity library, PyJWT with cryptography, msgspec) or only a
# handler's business (the adapters, the worker, the channels); none may load while the host indexes the app.
HEAVY = (
    "azure.mgmt",
    "azure.identity",
    "azure.servicebus",
    "azure.data.tables",
    "azurefunctions.extensions",
    "uamqp",
    "grpc",
    "jwt",
    "cryptography",
    "msgspec",
    "yaml",
    "interconnect.adapters",
    "interconnect.app.dispatch",
    "interconnect.linking.worker",
    "interconnect.linking.policy",
    "interconnect.channels.inbound",
    "interconnect.channels.config",
    "interconnect.audit.service",
)

ENV = {
    "INTERCONNECT_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "Endpoint=sb://fake.test/;SharedAccessKeyName=k;SharedAccessKey=fake",
    "INTERCONNECT_AUTH_ISSUER": "https://login.example/tenant-1/v2.0",
    "INTERCONNECT_AUTH_AUDIENCE": "api://interconnect",
    "INTERCONNECT_ARM_AUTH": "none",
}


def loaded_after(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running `code` (ours and the SDKs')."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return modules


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_app_loads_no_sdk_beyond_azure_functions() -> None:
    modules = loaded_after("import function_app")
    assert "function_app" in modules and "azure.functions" in modules
    assert heavy(modules) == []


def test_the_real_services_build_the_token_rules_without_pyjwt_and_the_arm_gateway_without_its_sdk() -> None:
    code = (
        "import os\n"
        f"os.environ.update({ENV!r})\n"
        "from interconnect.app.bootstrap import build_services\n"
        "services = build_services()\n"
        "services.identity, services.avs\n"
    )
    modules = loaded_after(code)
    assert "interconnect.app.identity" in modules and "interconnect.adapters.avs" in modules
    for sdk in ("jwt", "cryptography", "azure.mgmt.avs", "azure.identity", "azure.servicebus", "azure.data.tables"):
        assert sdk not in modules


class Recording:
    """Adapters over in-memory fakes that note which were asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.failing: set[str] = set()  # each raises once, as a store whose account is unreachable
        self.fakes: dict[str, Any] = {
            "store": InMemoryRequestStore(),
            "queue": InMemoryWorkQueue(),
            "avs": InMemoryAvs(),
            "audit_store": None,
            "notifier": None,
            "signing_keys": None,
            "quarantine": None,
            "changesets": InMemoryChangeSetStore(),
        }

    def __getattr__(self, name: str) -> Any:
        if name not in self.fakes:
            raise AttributeError(name)

        def make() -> Any:
            self.asked.append(name)
            if name in self.failing:
                self.failing.discard(name)
                raise ConnectionError(f"{name} is unreachable")
            return self.fakes[name]

        return make


def fresh() -> tuple[Services, Recording]:
    adapters = Recording()
    return Services(Settings.from_env(ENV), adapters), adapters


def built(services: Services) -> set[str]:
    return set(vars(services)) - {"settings", "clock", "_adapters"}


def test_building_intake_builds_the_store_and_the_queue_and_nothing_else() -> None:
    services, adapters = fresh()
    intake = services.intake
    assert intake.store is adapters.fakes["store"] and intake.queue is adapters.fakes["queue"]
    assert sorted(adapters.asked) == ["queue", "store"]
    assert built(services) == {"intake", "store", "queue"}  # no verifier, gateway, policy or channels


def test_the_verifier_is_built_without_the_store_the_queue_or_the_gateway() -> None:
    services, adapters = fresh()
    assert services.identity.rules is not None
    assert adapters.asked == ["signing_keys"]
    assert built(services) == {"identity"}


def test_each_part_is_built_once_and_shared_by_the_services_that_need_it() -> None:
    services, adapters = fresh()
    parts = [services.intake, services.queries, services.approvals, services.worker, services.inbound]
    assert all(parts) and services.dispatch.worker is services.worker
    assert sorted(adapters.asked) == sorted(set(adapters.asked))
    assert services.worker.preflight is services.queries.preflight


def test_a_build_that_fails_keeps_nothing_and_the_next_use_builds_again() -> None:
    services, adapters = fresh()
    adapters.failing.add("store")
    with pytest.raises(ConnectionError):
        _ = services.intake
    assert "intake" not in vars(services) and "store" not in vars(services)
    assert services.intake.store is adapters.fakes["store"]


class Gate:
    """A part whose build blocks until released, counting builds."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.builds = 0

    def build(self) -> object:
        self.builds += 1
        self.entered.set()
        self.release.wait(timeout=30)
        return object()


def test_two_first_uses_at_once_wait_for_one_build() -> None:
    gate = Gate()

    class Holder:
        @component
        def part(self) -> object:
            return gate.build()

    holder = Holder()
    got: list[object] = []
    first = threading.Thread(target=lambda: got.append(holder.part))
    second = threading.Thread(target=lambda: got.append(holder.part))
    first.start()
    wait_until(gate.entered.is_set, timeout=10, what="the first build to start")
    second.start()
    second.join(timeout=0.5)  # time for a second build to start, if the lock let it
    assert second.is_alive()  # waiting for the first build, not building its own
    gate.release.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert gate.builds == 1
    assert len(got) == 2 and got[0] is got[1]


def test_a_part_set_by_hand_replaces_the_built_one() -> None:
    services, adapters = fresh()
    services.audits = None
    assert services.audits is None and adapters.asked == []
