"""armsim: a loopback ARM/AVS simulator the real `azure.mgmt.avs.AVSClient` can talk to unchanged.

The app links AVS private clouds (`Microsoft.AVS/privateClouds/cloudLinks`); it must be developed and
tested here with no Azure. armsim answers the ARM calls the app makes, with the service's rules,
long-running operations, paging, throttling and injectable faults, over a fleet described in a file.
Run it with `python -m localdev.armsim --port PORT --fleet localdev/fleets/demo.yaml`; the fleet format,
faults and admin endpoints are in localdev/ARMSIM.md.
"""

from __future__ import annotations

from localdev.armsim.admin import ArmSimAdmin, ArmSimAdminError, service
from localdev.armsim.errors import ConfigError
from localdev.armsim.fleet import Fleet

# `generate_fleet` stays in localdev.armsim.generate: importing it here would make
# `python -m localdev.armsim.generate` import its own module twice.
__all__ = ["ArmSimAdmin", "ArmSimAdminError", "ConfigError", "Fleet", "service"]
