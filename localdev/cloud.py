"""One local cloud: Azurite, the Service Bus stand-in and the ARM simulator, optionally with the app on the
local Functions host. `python -m localdev.cloud --host` is what `make run` starts; tests and benchmarks use
`LocalCloud` the same way, on free ports.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import yaml

from localdev import armsim, azurite, host, identity, otlp, servicebus
from localdev.procs import ROOT, Service, free_port

QUEUES = ROOT / "localdev" / "queues.json"
DEMO_FLEET = ROOT / "localdev" / "fleets" / "demo.yaml"
QUEUE_NAME = "interconnect-requests"


def fleet_subscriptions(fleet: Path) -> list[str]:
    """The subscription ids of a fleet file: the app audits them and resolves chat short names in them."""
    doc = yaml.safe_load(fleet.read_text()) or {}
    return [str(sub["id"]) for sub in doc.get("subscriptions", [])]


@dataclass
class LocalCloud:
    """The four stand-ins (and the host when asked), started together and stopped together."""

    fleet: Path = DEMO_FLEET
    queues: Path = QUEUES
    data_dir: Path | None = None  # None: in memory, nothing written to disk
    host_port: int | None = None  # None: no host
    # How the host runs the app: "flex" (the HTTP functions, and each other function, in processes of their
    # own, as Flex Consumption scales them; as many HTTP processes as CPUs, the host's default) or "single"
    # (one process). See localdev/HOST.md.
    host_instances: str = "flex"
    identity_port: int | None = None  # None: a free port
    # Where the telemetry sink (localdev/otlp) writes what the app exports; None: no sink, telemetry off.
    telemetry_dir: Path | None = None
    extra_settings: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    services: list[Service] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tables_port, self.sb_port, self.sb_admin_port, self.arm_port = (free_port() for _ in range(4))
        self.identity_port = self.identity_port or free_port()
        self.otlp_port = free_port()

    def _log(self, name: str) -> Path | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{name}.log"

    @property
    def arm_url(self) -> str:
        return f"http://127.0.0.1:{self.arm_port}"

    @property
    def identity_url(self) -> str:
        """The Entra stand-in (localdev/identity): mints tokens for demo users, publishes its signing keys."""
        return f"http://127.0.0.1:{self.identity_port}"

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port}"

    def app_settings(self) -> dict[str, str]:
        """The settings the app needs to run on this local cloud."""
        return {
            "INTERCONNECT_TABLES_CONNECTION_STRING": azurite.connection_string(self.tables_port),
            "ServiceBusConnection": servicebus.connection_string(self.sb_port),
            "INTERCONNECT_QUEUE_NAME": QUEUE_NAME,
            "INTERCONNECT_ARM_ENDPOINT": self.arm_url,
            "INTERCONNECT_ARM_AUTH": "none",
            "INTERCONNECT_POLL_INTERVAL_SECONDS": "1",
            "INTERCONNECT_SWEEP_SCHEDULE": "0 */5 * * * *",
            "INTERCONNECT_AUDIT_SCHEDULE": "0 0 * * * *",
            "INTERCONNECT_SUBSCRIPTIONS": ",".join(fleet_subscriptions(self.fleet)),
            # Entra sign-in, played by the identity stand-in: the app verifies its tokens as it would Entra's.
            "INTERCONNECT_AUTH_ISSUER": identity.issuer(self.identity_url),
            "INTERCONNECT_AUTH_AUDIENCE": identity.audience(),
            # The console signs people in at the stand-in (code + PKCE) with the API's own registration.
            "INTERCONNECT_CONSOLE_CLIENT_ID": identity.CONSOLE_CLIENT_ID,
            **self.telemetry_settings(),
            **self.extra_settings,
        }

    def telemetry_settings(self) -> dict[str, str]:
        """With a sink: every app process exports to it over OTLP/HTTP, spans within 0.2 s (the SDK's default
        batch delay is 5 s) and metrics every 2 s, so a person or a test sees a request's trace while it runs."""
        if self.telemetry_dir is None:
            return {}
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint(self.otlp_port),
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_METRIC_EXPORT_INTERVAL": "2000",
            "INTERCONNECT_LOG_FORMAT": "json",
        }

    def start(self) -> LocalCloud:
        try:
            tables_dir = self.data_dir / "azurite" if self.data_dir else None
            self.services.append(azurite.service(self.tables_port, tables_dir, self._log("azurite")).start())
            self.services.append(
                servicebus.service(self.sb_port, self.sb_admin_port, self.queues, self._log("servicebus")).start()
            )
            self.services.append(armsim.service(self.arm_port, self.fleet, self._log("armsim")).start())
            self.services.append(identity.service(self.identity_port, self._log("identity")).start())
            if self.telemetry_dir is not None:
                self.services.append(otlp.service(self.otlp_port, self.telemetry_dir, self._log("otlp")).start())
            if self.host_port is not None:
                self.start_host()
        except BaseException:
            self.stop()
            raise
        return self

    def start_host(self) -> Service:
        """Start (or restart, after a crash) the local Functions host with the app.

        Ready once its HTTP port accepts connections (the first HTTP instance serves); the other instances
        start right after and pick up queued work when they are up.
        """
        assert self.host_port is not None
        for old in [s for s in self.services if s.name == "host"]:
            old.stop()  # a no-op after a crash; otherwise two hosts would fight over the port
            self.services.remove(old)
        svc = host.service(
            self.host_port, self.app_settings(), log_path=self._log("host"), instances=self.host_instances
        )
        svc.name = "host"  # the whole host: its kill() crashes every instance at once
        self.services.append(svc.start(ready_timeout=30))
        return svc

    def service(self, name: str) -> Service:
        """A running stand-in by name: azurite-table, servicebus, armsim, identity or host."""
        return next(s for s in self.services if s.name == name)

    def stop(self) -> None:
        for svc in reversed(self.services):
            svc.stop()
        self.services.clear()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=Path, default=DEMO_FLEET, help="fleet file for the ARM simulator")
    parser.add_argument("--host", action="store_true", help="also run function_app.py on the local host")
    parser.add_argument("--port", type=int, default=7071, help="local host port (with --host)")
    parser.add_argument(
        "--identity-port", type=int, default=7079, help="the Entra stand-in's port (the token CLI's default)"
    )
    parser.add_argument("--data", type=Path, default=ROOT / ".localcloud", help="Azurite data and logs")
    args = parser.parse_args()

    cloud = LocalCloud(
        fleet=args.fleet,
        data_dir=args.data,
        host_port=args.port if args.host else None,
        identity_port=args.identity_port,
        log_dir=args.data / "logs",
        telemetry_dir=args.data / "telemetry",
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with cloud:
        settings = cloud.app_settings()
        env_file = args.data / "settings.env"
        env_file.write_text("".join(f"{k}='{v}'\n" for k, v in settings.items()))
        print("Local cloud is up. App settings (also in", env_file, "):")
        for key, value in settings.items():
            print(f"  {key}={value}")
        print(
            f"  ARM simulator admin: {cloud.arm_url}/admin/state   Service Bus admin: "
            f"http://127.0.0.1:{cloud.sb_admin_port}/admin/queues   logs: {args.data / 'logs'}"
        )
        if args.host:
            example = f"{args.fleet.name}" if args.fleet != DEMO_FLEET else "demo fleet"
            print(
                f"\nThe app is serving {cloud.host_url}/api ({example}). Try:\n"
                f"  curl -s {cloud.host_url}/api/health\n"
                f"  curl -s -X POST {cloud.host_url}/api/requests -H 'Content-Type: application/json' \\\n"
                f'       -d \'{{"action": "connect", "source": "{DEMO_SOURCE}", '
                f'"target": "{DEMO_TARGET}", "reference": "CHG-1001"}}\'\n'
                f"  curl -s {cloud.host_url}/api/requests/<requestId>"
            )
            print(console_demo(cloud))
            print(telemetry_demo(cloud))
            print(sign_in_demo(cloud))
            if args.fleet == DEMO_FLEET:
                print(cli_demo(cloud))
        print("\nCtrl-C stops everything.", flush=True)
        stop.wait()
    print("stopped")


# What each demo user may do under the default policy (interconnect/linking/policy.py DEFAULT), by their app roles.
DEMO_ROLES = {
    "alice": "files connects and disconnects",
    "bob": "approves other people's disconnects",
    "carol": "views (and may connect: the default policy lets anyone)",
    "dave": "files and approves disconnects (never their own)",
}


def telemetry_demo(cloud: LocalCloud) -> str:
    """Where the app's traces and metrics land, and how to follow one request."""
    where = cloud.telemetry_dir
    if where is None:
        return ""
    shown = where.relative_to(ROOT) if where.is_relative_to(ROOT) else where
    return (
        f"\nTelemetry: every app process exports its spans and metrics to {otlp.endpoint(cloud.otlp_port)}, written "
        f"as JSON lines to {shown}/spans.jsonl and metrics.jsonl (app logs are JSON lines with traceId). "
        "Follow one request, intake to ARM to its notifications:\n"
        "  .venv/bin/python -m localdev.otlp trace <requestId>\n"
        "  .venv/bin/python -m localdev.otlp metrics interconnect.requests"
    )


def console_demo(cloud: LocalCloud) -> str:
    """Where the web console is and whom to sign in as (the identity stand-in's page shows one button each)."""
    users = "\n".join(
        f"  {user.name:<16} {', '.join(user.roles) or 'no role':<14} {DEMO_ROLES.get(key, '')}"
        for key, user in identity.USERS.items()
    )
    return (
        f"\nThe console: {cloud.host_url}/api/console (open it in a browser; 'Sign in with Microsoft Entra ID' leads\n"
        f"to the identity stand-in's page, one 'Sign in as ...' button per demo user):\n{users}"
    )


def sign_in_demo(cloud: LocalCloud) -> str:
    """How a newcomer files a disconnect as one demo user and approves it as another."""
    url, token = cloud.host_url, "python -m localdev.identity token"
    body = json.dumps(
        {"action": "disconnect", "source": DEMO_LINKED[0], "target": DEMO_LINKED[1], "reference": "CHG-1002"}
    )
    return (
        f"\nPeople sign in with Entra ID; here the identity stand-in plays it at {cloud.identity_url}\n"
        f"(demo users: alice = Links.Request, bob = Links.Approve, carol = no role, dave = Links.Admin;\n"
        f" --app automation is a service principal with Links.Request). File a disconnect as Alice and approve it\n"
        f"as Bob (from the repository root, with the venv's python):\n"
        f"  export INTERCONNECT_IDENTITY_URL={cloud.identity_url}\n"
        f"  ALICE=$(.venv/bin/{token} --user alice); BOB=$(.venv/bin/{token} --user bob)\n"
        f'  ID=$(curl -s -X POST {url}/api/requests -H "Authorization: Bearer $ALICE" \\\n'
        f"       -H 'Content-Type: application/json' -d '{body}' \\\n"
        f"       | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[\"requestId\"])')\n"
        f"  curl -s {url}/api/requests/$ID     # AwaitingApproval once validated, naming Alice\n"
        f'  curl -s -X POST {url}/api/requests/$ID/approve -H "Authorization: Bearer $ALICE"   # 403 SELF_APPROVAL\n'
        f'  curl -s -X POST {url}/api/requests/$ID/approve -H "Authorization: Bearer $BOB"     # approved by Bob'
    )


def cli_demo(cloud: LocalCloud) -> str:
    """The `interconnect` CLI on the demo fleet, as demo users; each line works as printed from the repository
    root (tests/e2e/test_cli.py runs them in bash)."""
    env = [f"INTERCONNECT_URL={cloud.host_url}", f"INTERCONNECT_IDENTITY_URL={cloud.identity_url}"]
    keys = [k.strip() for k in cloud.app_settings().get("LOCALHOST_FUNCTION_KEYS", "").split(",") if k.strip()]
    if keys:
        env.append(f"INTERCONNECT_FUNCTION_KEY={keys[0]}")
    cli = ".venv/bin/interconnect --demo-user alice"
    return (
        "\nOr with the CLI (`make setup` installs it as .venv/bin/interconnect; `pipx install .` elsewhere; "
        "--help for all):\n"
        f"  export {' '.join(env)}\n"
        f"  {cli} plan pc-weu-01 pc-weu-03   # refused: the two overlap (exit 3)\n"
        f"  {cli} connect pc-sea-01 pc-sea-03 --ticket CHG-1003 --wait   # each step as it happens (exit 0)\n"
        f"  {cli} links pc-sea-01 --output json"
    )


# An Active link of the demo fleet: the disconnect the sign-in demo files.
DEMO_LINKED = (
    "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-avs-eastus/providers/"
    "Microsoft.AVS/privateClouds/pc-eus-01",
    "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-avs-eastus/providers/"
    "Microsoft.AVS/privateClouds/pc-eus-02",
)

# Two clouds of the demo fleet that may be linked (same region, no overlap, writable): the connect the printed
# curl files. Each example links its own pair (the CLI's pc-sea-01 -> pc-sea-03, the README quick start's
# pc-sea-01 -> pc-sea-02), so whichever a newcomer runs first, the others still find their pair unlinked.
DEMO_SOURCE = (
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-avs-southeastasia/providers/"
    "Microsoft.AVS/privateClouds/pc-sea-02"
)
DEMO_TARGET = (
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-avs-southeastasia/providers/"
    "Microsoft.AVS/privateClouds/pc-sea-03"
)

if __name__ == "__main__":
    main()
