"""armsim fixtures: one simulator process per test session, a fresh world per test.

- `armsim_service` (session): the simulator child process on a free port, stopped after the session.
- `armsim_admin` (session): an `ArmSimAdmin` for it.
- `armsim` (function): an `ArmSim` handle on an EMPTY world with no faults and an empty call log;
  `armsim.load(fleet_dict)` loads the test's fleet, `armsim.client(subscription_id)` builds a real
  `AVSClient` pointed at the simulator (closed after the test).
- `sim_avs_client(base_url, subscription_id, **kwargs)`: the same client outside the fixture.
- `fleet_doc(name)`: a fresh dict of localdev/fleets/<name>.yaml, for a test to adjust and load.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.avs import AVSClient

from localdev.armsim import ArmSimAdmin, service
from localdev.procs import ROOT, Service, free_port

FLEETS = ROOT / "localdev" / "fleets"
DEMO_FLEET = FLEETS / "demo.yaml"


def fleet_doc(name: str) -> dict[str, Any]:
    return yaml.safe_load((FLEETS / f"{name}.yaml").read_text(encoding="utf-8"))


class _NoCredential:
    """AVSClient insists on a credential; with the auth policy replaced, nothing ever asks it for a token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise AssertionError("armsim takes no token; the authentication policy should have been replaced")


def sim_avs_client(base_url: str, subscription_id: str, **kwargs: Any) -> AVSClient:
    """A real AVSClient for `subscription_id` on the simulator at `base_url`.

    Test-speed defaults, all overridable: poll every 10 ms when the simulator sends no Retry-After,
    and back off 10 ms between retries of errors that carry none (dropped connections).
    """
    options: dict[str, Any] = {"polling_interval": 0.01, "retry_backoff_factor": 0.01, **kwargs}
    return AVSClient(
        _NoCredential(),
        subscription_id,
        base_url=base_url,  # type: ignore[arg-type]
        authentication_policy=SansIOHTTPPolicy(),
        **options,
    )


@dataclass
class ArmSim:
    url: str
    admin: ArmSimAdmin
    _clients: list[AVSClient] = field(default_factory=list)

    def load(self, fleet: Mapping[str, Any]) -> ArmSim:
        """Replace the world with `fleet` (its faults apply, the call log empties)."""
        self.admin.load_fleet(fleet)
        return self

    def client(self, subscription_id: str, **kwargs: Any) -> AVSClient:
        client = sim_avs_client(self.url, subscription_id, **kwargs)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture(scope="session")
def armsim_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log_path = tmp_path_factory.mktemp("armsim") / "armsim.log"
    # Started on the demo fleet, which also proves the demo still validates.
    with service(free_port(), DEMO_FLEET, log_path=log_path, log_level="WARNING") as svc:
        yield svc


@pytest.fixture(scope="session")
def armsim_admin(armsim_service: Service) -> ArmSimAdmin:
    return ArmSimAdmin(f"http://127.0.0.1:{armsim_service.port}")


@pytest.fixture
def armsim(armsim_admin: ArmSimAdmin) -> Iterator[ArmSim]:
    armsim_admin.load_fleet({})
    sim = ArmSim(url=armsim_admin.base_url, admin=armsim_admin)
    try:
        yield sim
    finally:
        sim.close()
