"""Azurite (Table service only), the Table Storage stand-in, launched from the project's npm install.

Fidelity gaps the adapters must cover themselves (Azurite accepts what the real service refuses):
more than 100 entities per transaction (Azurite drops the connection), more than 252 custom properties,
and `/ \\ # ?` in keys (Azurite answers 500 where the service answers 400). See
`interconnect/adapters/tables.py`, which checks keys and property counts before writing.
"""

from __future__ import annotations

import signal
from pathlib import Path

from localdev.procs import ROOT, Service

__all__ = ["ACCOUNT", "Service", "connection_string", "service"]

AZURITE_TABLE = ROOT / "node_modules" / ".bin" / "azurite-table"

# Azurite's well-known development account: published in Microsoft's docs, not a secret.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


def service(port: int, location: Path | None = None, log_path: Path | None = None) -> Service:
    """Azurite's table service on `port`: in memory, or persisted under `location` when given."""
    if not AZURITE_TABLE.exists():
        raise FileNotFoundError(f"{AZURITE_TABLE} is missing: run `make setup` (npm install) first")
    argv = [
        str(AZURITE_TABLE),
        "--tableHost",
        "127.0.0.1",
        "--tablePort",
        str(port),
        "--disableTelemetry",
        "--skipApiVersionCheck",
    ]
    if location is None:
        argv.append("--inMemoryPersistence")
    else:
        location.mkdir(parents=True, exist_ok=True)
        argv += ["--location", str(location)]
    # Azurite saves its on-disk database on SIGINT; on SIGTERM node exits at once and recent writes are lost.
    return Service("azurite-table", argv, port, log_path=log_path, stop_signal=signal.SIGINT)
