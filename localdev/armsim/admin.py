"""Talk to a running simulator: start it as a child process, load fleets, set faults, read the call log.

Stdlib only, so anything in the repo (tests, benchmarks, the local run script) can drive the simulator
without the Azure SDK. Errors from the simulator raise `ArmSimAdminError` carrying its message.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from localdev.procs import Service, python_module


def service(
    port: int, fleet_path: str | Path | None, log_path: str | Path | None = None, log_level: str = "INFO"
) -> Service:
    """The simulator as a not-yet-started `Service` on `port`; `.start()` returns once it accepts calls.

    The simulator writes `log_path` itself (rather than through `Service.log_path`), so the parent holds
    no open handle on it.
    """
    argv = ["--port", str(port), "--log-level", log_level]
    if fleet_path is not None:
        argv += ["--fleet", str(fleet_path)]
    if log_path is not None:
        argv += ["--log-file", str(log_path)]
    return Service(name="armsim", argv=python_module("localdev.armsim", *argv), port=port)


class ArmSimAdminError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"armsim admin call failed ({status}): {message}")
        self.status = status


class ArmSimAdmin:
    """Client for the /admin/ endpoints. Cloud references are a full ARM id or a fleet-unique name."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        url = f"{self.base_url}/admin/{path}" + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            with err:
                detail = err.read().decode(errors="replace")
            with contextlib.suppress(ValueError, KeyError, TypeError):
                detail = json.loads(detail)["error"]["message"]
            raise ArmSimAdminError(err.code, detail) from None
        return json.loads(raw) if raw else None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def load_fleet(self, fleet: Mapping[str, Any]) -> dict[str, int]:
        """Replace the whole world with `fleet`; faults become the fleet's and the call log empties."""
        return self._call("PUT", "fleet", fleet)

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state")

    def calls(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "calls", query={"kind": kind} if kind else None)["value"]

    def call_counts(self) -> Counter[str]:
        return Counter(call["kind"] for call in self.calls())

    def clear_calls(self) -> None:
        self._call("DELETE", "calls")

    def faults(self) -> dict[str, Any]:
        """`{"config": <faults doc>, "fired": {<section>: [times each rule fired]}}`."""
        return self._call("GET", "faults")

    def set_faults(self, faults: Mapping[str, Any]) -> dict[str, Any]:
        """Replace every fault; counters, the seeded random sequence and throttle buckets restart."""
        return self._call("PUT", "faults", faults)

    def patch_faults(self, sections: Mapping[str, Any]) -> dict[str, Any]:
        """Replace only the given top-level sections (e.g. `{"errors": [...]}`), then restart as `set_faults`."""
        return self._call("PATCH", "faults", sections)

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def add_link(self, source: str, target: str, name: str | None = None, status: str = "Active") -> dict[str, Any]:
        """A link made out of band (as in the portal): no permission, region or limit checks."""
        body = {"source": source, "target": target, "status": status} | ({"name": name} if name else {})
        return self._call("POST", "links", body)

    def set_link_status(self, source: str, name: str, status: str) -> dict[str, Any]:
        return self._call("PATCH", "links", {"source": source, "name": name, "status": status})

    def remove_link(self, source: str, name: str) -> None:
        self._call("DELETE", "links", {"source": source, "name": name})

    def add_segment(
        self, cloud: str, name: str, gateway_address: str, connected_gateway: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Extra `fields` use the fleet names: `status`, `dhcpRanges`."""
        body = {
            "cloud": cloud,
            "name": name,
            "gatewayAddress": gateway_address,
            "connectedGateway": connected_gateway,
            **fields,
        }
        return self._call("POST", "segments", body)

    def update_segment(self, cloud: str, name: str, **fields: Any) -> dict[str, Any]:
        """`fields` use the fleet names: `gatewayAddress`, `connectedGateway` (None detaches), `status`..."""
        return self._call("PATCH", "segments", {"cloud": cloud, "name": name, **fields})

    def update_cloud(self, cloud: str, **fields: Any) -> dict[str, Any]:
        """`fields` use the fleet names: `provisioningState`, `networkBlock`, `extendedNetworkBlocks`,
        `permissions`, `segments`, `globalReach`."""
        return self._call("PATCH", "clouds", {"cloud": cloud, **fields})
