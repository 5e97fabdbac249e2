"""Tracing helpers: W3C trace context held to its grammar, span attributes without credentials, spans and their
context in and out with the SDK in memory, nothing of OpenTelemetry loaded while telemetry is off, and log
lines carrying the invocation's ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.adapters import telemetry
from interconnect.app import telemetry as app_telemetry
from interconnect.app.settings import TelemetrySettings
from interconnect.errors import DependencyError, SettingsError
from tests.unit.app.test_coldstart import loaded_after

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    "given_text",
    [
        VALID.upper(),  # upper-case hex is not the W3C shape
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # the forbidden version
        VALID + "-extra",
        VALID.replace("-01", "-0\n"),
        "",
        "x" * 5000,
        None,
        42,
    ],
)
def test_a_traceparent_out_of_the_w3c_shape_is_ignored(given_text: object) -> None:
    assert telemetry.parse_traceparent(given_text) is None


def test_a_w3c_traceparent_is_kept() -> None:
    assert telemetry.parse_traceparent(f"  {VALID} ") == VALID


@given(st.text(max_size=80))
def test_whatever_arrives_as_a_traceparent_is_either_refused_or_exactly_the_shape(text: str) -> None:
    parsed = telemetry.parse_traceparent(text)
    assert parsed is None or (len(parsed) == 55 and parsed == text.strip())


def test_tracestate_is_kept_only_in_its_grammar() -> None:
    assert (
        telemetry.parse_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    )
    for bad in ("no equals", "UPPER=1", "a=1\r\nX-Forged: 1", ",".join(f"k{i}=v" for i in range(33)), "a=" + "v" * 600):
        assert telemetry.parse_tracestate(bad) == ""


def test_span_attributes_keep_known_names_and_drop_credentials_and_urls() -> None:
    kept = telemetry.safe_attributes(
        {
            "interconnect.request.id": "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21",
            "interconnect.work.attempt": 3,
            "server.address": "hooks.example.com",
            "interconnect.channel": "Bearer abcdefghijklmnopqrstuvwxyz",
            "interconnect.cloud.source": "https://x.example/callback?code=secret",
            "interconnect.cloud.target": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
            "http.route": "/api/x\nforged",
            "authorization": "Basic c2VjcmV0",
            "body": b"raw",
            "interconnect.request.status": None,
        }
    )
    assert kept == {
        "interconnect.request.id": "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21",
        "interconnect.work.attempt": 3,
        "server.address": "hooks.example.com",
        "http.route": "/api/x?forged",
    }


def test_with_telemetry_off_every_helper_is_a_no_op() -> None:
    assert not telemetry.enabled()
    with telemetry.span("anything", "server", {"interconnect.request.id": "r"}, parent=VALID) as span:
        assert span is None
        assert telemetry.inject() == {} and telemetry.current_traceparent() == "" and telemetry.current_ids() is None
    assert telemetry.meter() is None


def test_with_no_exporter_configured_no_opentelemetry_module_is_loaded() -> None:
    code = (
        "from interconnect.app import telemetry\n"
        "telemetry.ensure()\n"
        "from interconnect.adapters import telemetry as t\n"
        "with t.span('x', 'server'):\n"
        "    t.note_request('r', request_action='connect')\n"
    )
    assert [m for m in loaded_after(code) if m.startswith(("opentelemetry", "azure.monitor"))] == []


def test_telemetry_settings() -> None:
    assert not TelemetrySettings.from_env({}).exporting
    assert TelemetrySettings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}).exporting
    assert not TelemetrySettings.from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "INTERCONNECT_TELEMETRY": "off"}
    ).exporting
    assert "InstrumentationKey" not in repr(
        TelemetrySettings.from_env({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=fake"})
    )
    with pytest.raises(SettingsError):
        TelemetrySettings.from_env({"INTERCONNECT_TELEMETRY": "sometimes"})
    with pytest.raises(SettingsError):
        TelemetrySettings.from_env({"INTERCONNECT_LOG_FORMAT": "xml"})


@pytest.fixture
def in_memory() -> Iterator[object]:
    """Telemetry on, spans kept in memory (the SDK's own exporter for tests); off again afterwards."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    original = trace.get_tracer

    def our_tracer(*args: object, **kwargs: object) -> object:
        return tracer

    trace.get_tracer = our_tracer  # type: ignore[assignment]
    telemetry.switch_on()
    try:
        yield exporter
    finally:
        telemetry._State.on = False
        trace.get_tracer = original


def test_a_consumer_continues_the_traceparent_it_was_given_and_a_producer_hands_its_own_on(in_memory: object) -> None:
    with telemetry.span("work process", "consumer", {"interconnect.request.id": "r-1"}, parent=VALID):
        carried = telemetry.inject()
        ids = telemetry.current_ids()
        with telemetry.span("queue send check", "producer"):
            inner = telemetry.current_traceparent()
    finished = {s.name: s for s in in_memory.get_finished_spans()}  # type: ignore[attr-defined]
    consumer = finished["work process"]
    assert format(consumer.context.trace_id, "032x") == VALID.split("-")[1]
    assert format(consumer.parent.span_id, "016x") == VALID.split("-")[2]
    assert carried["traceparent"].split("-")[1] == VALID.split("-")[1]
    assert ids == (VALID.split("-")[1], format(consumer.context.span_id, "016x"))
    assert inner.split("-")[2] == format(finished["queue send check"].context.span_id, "016x")
    assert dict(consumer.attributes or {}) == {"interconnect.request.id": "r-1"}


def test_a_bad_parent_starts_a_fresh_trace(in_memory: object) -> None:
    with telemetry.span("HTTP POST /api/requests", "server", parent="00-" + "Z" * 32 + "-" + "1" * 16 + "-01"):
        pass
    (span,) = in_memory.get_finished_spans()  # type: ignore[attr-defined]
    assert span.parent is None


def test_a_failure_marks_every_span_it_leaves_by_its_code_never_by_its_message(in_memory: object) -> None:
    secret_quote = "answer quoted sig=c2VjcmV0LXNpZ25hdHVyZQ"
    with (
        pytest.raises(DependencyError),
        telemetry.span("work process", "consumer"),
        telemetry.span("ARM get_cloud", "client"),
    ):
        raise DependencyError(f"ARM refused: {secret_quote}", code="ARM_THROTTLED")
    with pytest.raises(KeyError), telemetry.span("notify chat", "client"):
        raise KeyError(secret_quote)
    finished = {s.name: s for s in in_memory.get_finished_spans()}  # type: ignore[attr-defined]
    assert {name: (s.status.status_code.name, s.status.description) for name, s in finished.items()} == {
        "ARM get_cloud": ("ERROR", "ARM_THROTTLED"),
        "work process": ("ERROR", "ARM_THROTTLED"),
        "notify chat": ("ERROR", "KeyError"),
    }
    for span in finished.values():
        assert not span.events  # no exception event: its message and traceback would quote the text
        assert secret_quote not in json.dumps(span.to_json())


def test_log_lines_carry_the_invocations_ids_and_their_own_fields_as_json(in_memory: object) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(app_telemetry.ContextFilter())
    handler.setFormatter(app_telemetry.JsonFormatter())
    logger = logging.getLogger("interconnect.test-telemetry")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with telemetry.bound(correlationId="cid-1"), telemetry.span("HTTP POST /api/requests", "server", parent=VALID):
            telemetry.note_request("req-1")
            logger.warning("stored %s", "req-1", extra={"code": "X_CODE"})
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "stored req-1" and first["code"] == "X_CODE" and first["level"] == "WARNING"
    assert (first["correlationId"], first["requestId"], first["traceId"]) == ("cid-1", "req-1", VALID.split("-")[1])
    assert len(first["spanId"]) == 16
    assert (second["correlationId"], second["requestId"], second["traceId"]) == ("", "", "")


def test_a_message_carries_the_stored_trace_even_where_telemetry_is_off() -> None:
    from interconnect.adapters.servicebus import producing
    from interconnect.linking.queue import WorkItem

    with producing(WorkItem("r-1", "check", trace=VALID), "q") as message:
        assert message.application_properties == {"requestId": "r-1", "traceparent": VALID}
    with producing(WorkItem("r-1", "check", trace="00-forged"), "q") as message:
        assert message.application_properties == {"requestId": "r-1"}


def test_a_message_sent_under_a_span_carries_that_span_and_a_stored_trace_wins_outside_it(in_memory: object) -> None:
    from interconnect.adapters.servicebus import producing
    from interconnect.linking.queue import WorkItem

    with telemetry.span("work process", "consumer", parent=VALID), producing(WorkItem("r-1"), "q") as message:
        carried = dict(message.application_properties or {})
    producer = next(s for s in in_memory.get_finished_spans() if s.name == "queue send process")  # type: ignore[attr-defined]
    assert carried["traceparent"] == f"00-{VALID.split('-')[1]}-{format(producer.context.span_id, '016x')}-01"
    with telemetry.span("timer sweep"), producing(WorkItem("r-2", trace=VALID), "q") as redriven:
        properties = redriven.application_properties or {}
    assert str(properties["traceparent"]).split("-")[1] == VALID.split("-")[1]


@pytest.mark.parametrize(
    ("url", "route"),
    [
        ("http://h/api/requests", "/api/requests"),
        (
            "http://h/api/requests/0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21/approve?code=secret",
            "/api/requests/{id}/approve",
        ),
        ("http://h/api/hooks/jira-prod", "/api/hooks/jira-prod"),
        ("http://h/api/" + "A" * 300, "/api/{id}"),
    ],
)
def test_a_span_is_named_by_its_route_never_by_what_the_caller_sent(url: str, route: str) -> None:
    from interconnect.app.http import route_of

    assert route_of(url) == route


def test_in_azure_the_distribution_sets_up_traces_and_metrics() -> None:
    # Microsoft's distribution with a connection string (to a closed local port: nothing leaves the machine) and
    # the managed identity's client id: both providers set, telemetry switched on, the app's meter there.
    code = (
        "import os, json\n"
        "os.environ['APPLICATIONINSIGHTS_CONNECTION_STRING'] = "
        "'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/'\n"
        "os.environ['AZURE_CLIENT_ID'] = '11111111-1111-1111-1111-111111111111'\n"
        "from interconnect.app import telemetry\n"
        "telemetry.ensure()\n"
        "from interconnect.adapters import telemetry as t\n"
        "from opentelemetry import metrics, trace\n"
        "assert t.enabled() and t.meter() is not None\n"
        "assert type(trace.get_tracer_provider()).__name__ == 'TracerProvider'\n"
        "assert type(metrics.get_meter_provider()).__name__ == 'MeterProvider'\n"
    )
    modules = loaded_after(code)
    assert "azure.monitor.opentelemetry" in modules
