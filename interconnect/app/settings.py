"""Every setting the app reads, from the environment, in one place.

Locally the connections are connection strings to the local cloud; in Azure they are identity-based
(a Service Bus namespace, a table endpoint, the function app's managed identity). README lists each one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from interconnect.errors import SettingsError

QUEUE_SETTING = "INTERCONNECT_QUEUE_NAME"
SWEEP_SCHEDULE_SETTING = "INTERCONNECT_SWEEP_SCHEDULE"  # read by the timer binding, not by this module
AUDIT_SCHEDULE_SETTING = "INTERCONNECT_AUDIT_SCHEDULE"  # likewise
SERVICEBUS_CONNECTION = "ServiceBusConnection"  # the trigger's connection prefix; the SDK reads the same


ARM_AUTH = ("managed-identity", "none")  # "none" only for a local ARM simulator over plain HTTP


@dataclass(frozen=True)
class Settings:
    """Secrets among these (hook, Slack, Teams) are never logged or echoed in errors."""

    tables_connection_string: str
    tables_endpoint: str
    table_prefix: str
    servicebus_connection_string: str
    servicebus_namespace: str
    queue_name: str
    arm_endpoint: str
    managed_identity_client_id: str
    policy: str
    poll_interval: timedelta
    operation_timeout: timedelta
    stale_after: timedelta
    approvals: bool
    approval_timeout: timedelta
    subscriptions: tuple[str, ...]
    stuck_after: timedelta
    audit_concurrency: int
    audit_notify_url: str = field(repr=False)
    hooks: str
    hook_secrets: str = field(repr=False)
    slack_signing_secrets: str = field(repr=False)
    teams_secrets: str = field(repr=False)
    teams_workflow_url: str = field(repr=False)
    auth_issuer: str = ""  # Entra sign-in: https://login.microsoftonline.com/<tenant>/v2.0 (empty: off)
    auth_audience: str = ""  # the app registration's client id and/or Application ID URI, comma-separated
    console_client_id: str = ""  # the web console's app registration (SPA platform); empty: no console sign-in
    # How the app authenticates to ARM: "managed-identity" (Azure), or "none" for a local ARM simulator over
    # plain HTTP, which takes no token. Said outright, never inferred from what the endpoint looks like.
    arm_auth: str = "managed-identity"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str = "") -> str:
            return env.get(name, default).strip()

        def number(name: str, default: float) -> float:
            raw = get(name)
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise SettingsError(f"{name} must be a number; got {raw!r}") from None
            if value <= 0:
                raise SettingsError(f"{name} must be positive; got {raw!r}")
            return value

        def switch(name: str, default: bool) -> bool:
            raw = get(name).lower()
            if raw in ("", "on", "true", "1", "yes"):
                return default if raw == "" else True
            if raw in ("off", "false", "0", "no"):
                return False
            raise SettingsError(f"{name} must be on or off; got {raw!r}")

        settings = cls(
            tables_connection_string=get("INTERCONNECT_TABLES_CONNECTION_STRING"),
            tables_endpoint=get("INTERCONNECT_TABLES_ENDPOINT"),
            table_prefix=get("INTERCONNECT_TABLE_PREFIX"),
            servicebus_connection_string=get(SERVICEBUS_CONNECTION),
            servicebus_namespace=get(f"{SERVICEBUS_CONNECTION}__fullyQualifiedNamespace"),
            queue_name=get(QUEUE_SETTING, "interconnect-requests"),
            arm_endpoint=get("INTERCONNECT_ARM_ENDPOINT", "https://management.azure.com"),
            managed_identity_client_id=get("AZURE_CLIENT_ID"),
            policy=get("INTERCONNECT_POLICY"),
            poll_interval=timedelta(seconds=number("INTERCONNECT_POLL_INTERVAL_SECONDS", 30)),
            operation_timeout=timedelta(minutes=number("INTERCONNECT_OPERATION_TIMEOUT_MINUTES", 120)),
            stale_after=timedelta(minutes=number("INTERCONNECT_STALE_MINUTES", 10)),
            approvals=switch("INTERCONNECT_APPROVALS", True),
            approval_timeout=timedelta(minutes=number("INTERCONNECT_APPROVAL_MINUTES", 60)),
            subscriptions=tuple(s.strip().lower() for s in get("INTERCONNECT_SUBSCRIPTIONS").split(",") if s.strip()),
            stuck_after=timedelta(minutes=number("INTERCONNECT_STUCK_MINUTES", 60)),
            audit_concurrency=int(number("INTERCONNECT_AUDIT_CONCURRENCY", 8)),
            audit_notify_url=get("INTERCONNECT_AUDIT_NOTIFY_URL"),
            hooks=get("INTERCONNECT_HOOKS"),
            hook_secrets=get("INTERCONNECT_HOOK_SECRETS"),
            slack_signing_secrets=get("INTERCONNECT_SLACK_SIGNING_SECRETS"),
            teams_secrets=get("INTERCONNECT_TEAMS_SECRETS"),
            teams_workflow_url=get("INTERCONNECT_TEAMS_WORKFLOW_URL"),
            auth_issuer=get("INTERCONNECT_AUTH_ISSUER"),
            auth_audience=get("INTERCONNECT_AUTH_AUDIENCE"),
            console_client_id=get("INTERCONNECT_CONSOLE_CLIENT_ID"),
            arm_auth=get("INTERCONNECT_ARM_AUTH", "managed-identity").lower(),
        )
        if settings.arm_auth not in ARM_AUTH:
            raise SettingsError(
                f"INTERCONNECT_ARM_AUTH must be one of {', '.join(ARM_AUTH)}; got {settings.arm_auth!r}"
            )
        if not (settings.tables_connection_string or settings.tables_endpoint):
            raise SettingsError(
                "set INTERCONNECT_TABLES_CONNECTION_STRING (local) or INTERCONNECT_TABLES_ENDPOINT "
                "(Azure, managed identity)"
            )
        if not (settings.servicebus_connection_string or settings.servicebus_namespace):
            raise SettingsError(
                f"set {SERVICEBUS_CONNECTION} (local) or "
                f"{SERVICEBUS_CONNECTION}__fullyQualifiedNamespace (Azure, managed identity)"
            )
        return settings


TELEMETRY_MODES = ("auto", "off")


@dataclass(frozen=True)
class TelemetrySettings:
    """Where traces and metrics go (interconnect/app/telemetry.py). Read apart from `Settings`, because the
    edge sets telemetry up before anything else and a missing table setting must not hide the traces."""

    # Azure: the Application Insights resource's connection string (holds its ingestion key: never logged).
    appinsights_connection_string: str = field(default="", repr=False)
    otlp_endpoint: str = ""  # local: the local cloud's OTLP/HTTP receiver, e.g. http://127.0.0.1:4318
    service_name: str = "interconnect"
    managed_identity_client_id: str = ""  # AZURE_CLIENT_ID, as in Settings: Entra auth for ingestion
    # "auto": on when one of the exporters above is configured; "off": never, whatever is configured.
    mode: str = "auto"
    log_format: str = "text"  # "json": one JSON object per app log line (the app edge's formatter)

    @property
    def exporting(self) -> bool:
        return self.mode != "off" and bool(self.appinsights_connection_string or self.otlp_endpoint)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelemetrySettings:
        env = os.environ if env is None else env
        mode = env.get("INTERCONNECT_TELEMETRY", "").strip().lower() or "auto"
        mode = {"on": "auto", "true": "auto", "1": "auto", "false": "off", "0": "off", "no": "off"}.get(mode, mode)
        if mode not in TELEMETRY_MODES:
            raise SettingsError(f"INTERCONNECT_TELEMETRY must be one of {', '.join(TELEMETRY_MODES)}; got {mode!r}")
        log_format = env.get("INTERCONNECT_LOG_FORMAT", "").strip().lower() or "text"
        if log_format not in ("text", "json"):
            raise SettingsError(f"INTERCONNECT_LOG_FORMAT must be text or json; got {log_format!r}")
        return cls(
            appinsights_connection_string=env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip(),
            otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip(),
            managed_identity_client_id=env.get("AZURE_CLIENT_ID", "").strip(),
            mode=mode,
            log_format=log_format,
        )
