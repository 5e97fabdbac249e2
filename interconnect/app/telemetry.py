"""Telemetry set-up at the app edge: the OpenTelemetry SDK and its exporters, and the app's log lines.

`ensure()` runs before every function body (the HTTP edge, the queue trigger, the timers) and does its work
once per process: with no exporter configured it only reads three settings and returns, so nothing of
OpenTelemetry is imported and a cold start pays nothing. With one:

- APPLICATIONINSIGHTS_CONNECTION_STRING (Azure): Microsoft's distribution, `configure_azure_monitor`, with the
  app's managed identity for Entra-authenticated ingestion, traces, metrics and the app's logs;
- OTEL_EXPORTER_OTLP_ENDPOINT (the local cloud's receiver, or any OTLP/HTTP collector): the SDK with OTLP/HTTP
  exporters for traces and metrics.

Then interconnect/adapters/telemetry.py is switched on and the spans the edges and adapters open are exported.
Each process sets itself up on its first invocation, so the local host's forked instances (HTTP, queue, timers)
each export on their own.

Log lines: every record gets `correlationId`, `requestId`, `traceId` and `spanId` (a Filter on the root handlers,
from what `bound()` holds for the invocation and the current span); with INTERCONNECT_LOG_FORMAT=json each line
is one JSON object carrying those and the record's `extra` fields.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from typing import Any

from interconnect.adapters import telemetry
from interconnect.app.settings import TelemetrySettings

log = logging.getLogger("interconnect.telemetry")

_lock = threading.Lock()
_done: list[TelemetrySettings] = []

# What every LogRecord has; anything else on a record came from `extra` and is kept in the JSON line.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
CONTEXT_FIELDS = ("correlationId", "requestId", "traceId", "spanId")


def ensure() -> None:
    """Set telemetry up for this process, once (cheap after the first call)."""
    if _done:
        return
    with _lock:
        if _done:
            return
        settings = TelemetrySettings.from_env()
        install_logging(settings)
        if settings.exporting:
            try:
                _start(settings)
            except Exception:  # telemetry must never take the app down: it runs without it
                log.exception("telemetry could not be set up; running without export")
        _done.append(settings)


def _start(settings: TelemetrySettings) -> None:
    if settings.appinsights_connection_string:
        _start_azure_monitor(settings)
    else:
        _start_otlp(settings)
    telemetry.switch_on()


def _start_azure_monitor(settings: TelemetrySettings) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = None
    if settings.managed_identity_client_id:
        from azure.identity import ManagedIdentityCredential

        # Local authentication is off on the Application Insights component: ingestion takes an Entra token.
        credential = ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    configure_azure_monitor(
        connection_string=settings.appinsights_connection_string,
        credential=credential,
        logger_name="interconnect",  # only the app's own loggers, not every SDK's connection chatter
        enable_live_metrics=False,
        # The distro would instrument web frameworks and HTTP clients we do not use, and requests/urllib would
        # record full URLs (query strings included); the app opens its own spans. azure_sdk: the SDKs' spans.
        instrumentation_options={
            name: {"enabled": name == "azure_sdk"}
            for name in ("azure_sdk", "django", "fastapi", "flask", "psycopg2", "requests", "urllib", "urllib3")
        },
        resource=_resource(settings),
    )


def _resource(settings: TelemetrySettings) -> Any:
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": settings.service_name, "process.pid": os.getpid()})


def _start_otlp(settings: TelemetrySettings) -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    base = settings.otlp_endpoint.rstrip("/")
    resource = _resource(settings)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"))
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))


def flush() -> None:
    """Export what is buffered now (the local host calls this before an instance exits; tests too)."""
    if not telemetry.enabled():
        return
    from opentelemetry import metrics, trace

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        force = getattr(provider, "force_flush", None)
        if force is not None:
            force()


# -- log lines ------------------------------------------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Adds the invocation's correlation id and request id, and the current span's trace and span ids, to every
    record; an `extra` that already names one wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = telemetry.log_fields()
        ids = telemetry.current_ids()
        if ids is not None:
            context["traceId"], context["spanId"] = ids
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, context.get(name, ""))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the context fields, `extra` fields, and the
    exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which instance: the local host's processes share one log
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in line:
                line[name] = value if isinstance(value, str | int | float | bool) or value is None else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def install_logging(settings: TelemetrySettings) -> None:
    """The filter (and with json, the formatter) on every root handler: whatever the host installed."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        if settings.log_format == "json":
            handler.setFormatter(JsonFormatter())
