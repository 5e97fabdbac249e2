"""The local telemetry sink (localdev/otlp): what the SDK's own OTLP/HTTP exporters send is written as JSON lines,
a request's spans print as a tree, and anything that is not an OTLP export is refused and not written."""

from __future__ import annotations

import gzip
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from localdev import otlp
from localdev.otlp.__main__ import main
from localdev.procs import free_port


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    server = otlp.serve(free_port(), tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield otlp.endpoint(server.server_address[1]), tmp_path
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_spans_and_metrics_the_sdk_exports_are_written_as_json_lines(
    sink: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, directory = sink
    resource = Resource.create({"service.name": "interconnect", "process.pid": 4242})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("HTTP POST /api/requests", kind=SpanKind.SERVER) as root:
        root.set_attribute("interconnect.request.id", "r-1")
        with tracer.start_as_current_span("queue send process", kind=SpanKind.PRODUCER):
            pass
    reader = InMemoryMetricReader()
    meter = MeterProvider(resource=resource, metric_readers=[reader]).get_meter("test")
    meter.create_counter("interconnect.requests", unit="{request}").add(2, {"interconnect.request.action": "connect"})
    metrics = reader.get_metrics_data()
    assert metrics is not None
    OTLPMetricExporter(endpoint=f"{url}/v1/metrics").export(metrics)

    spans = otlp.spans(directory)
    assert [(s["name"], s["kind"]) for s in spans] == [
        ("queue send process", "producer"),
        ("HTTP POST /api/requests", "server"),
    ]
    assert spans[0]["parentSpanId"] == spans[1]["spanId"] and spans[0]["traceId"] == spans[1]["traceId"]
    assert spans[1]["resource"]["process.pid"] == 4242
    (point,) = otlp.metrics(directory)
    assert (point["name"], point["type"], point["value"], point["monotonic"]) == (
        "interconnect.requests",
        "sum",
        2,
        True,
    )
    assert point["attributes"] == {"interconnect.request.action": "connect"}

    assert main(["trace", "r-1", "--dir", str(directory)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"trace {spans[1]['traceId']}"
    assert lines[1].strip().startswith("HTTP POST /api/requests  [server")
    assert lines[2].startswith("    ") and "queue send process" in lines[2]  # the child, indented under it
    assert main(["trace", "no-such-request", "--dir", str(directory)]) == 1


@pytest.mark.parametrize(
    ("path", "headers", "body", "status"),
    [
        ("/v1/traces", {"Content-Type": "application/json"}, b"{}", 415),
        ("/v1/traces", {"Content-Type": "application/x-protobuf"}, b"\xff\xff\xff", 400),
        ("/v1/logs", {"Content-Type": "application/x-protobuf"}, b"", 404),
        (
            "/v1/traces",
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            gzip.compress(b"\0" * (otlp.MAX_BODY + 1)),
            413,
        ),
    ],
)
def test_anything_but_an_otlp_export_is_refused_and_nothing_is_written(
    sink: tuple[str, Path], path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    url, directory = sink
    request = urllib.request.Request(f"{url}{path}", data=body, method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == status
    assert otlp.spans(directory) == [] and otlp.metrics(directory) == []
