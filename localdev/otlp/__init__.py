"""The local cloud's telemetry sink: an OTLP/HTTP receiver writing what the app exports as JSON lines.

The app (each of the local host's processes: the HTTP instances, the queue trigger, the timers) exports its
spans and metrics here over OTLP/HTTP (`OTEL_EXPORTER_OTLP_ENDPOINT`, set by localdev/cloud.py). Each export is
decoded with the protocol's own messages (opentelemetry-proto) and appended to

    <dir>/spans.jsonl     one span per line: traceId, spanId, parentSpanId, name, kind, start, end, durationMs,
                          status, attributes, resource (service.name, process.pid)
    <dir>/metrics.jsonl   one data point per line: name, unit, type (sum|gauge|histogram), monotonic,
                          attributes, time, and value, or count/sum/bucketCounts/explicitBounds; resource

so a person (`python -m localdev.otlp trace <request id>`) or a test reads them without a collector. Listens on
127.0.0.1 only. Anything that is not an OTLP export is answered 4xx and not written.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from localdev.procs import Service, python_module

log = logging.getLogger("localdev.otlp")

SPANS, METRICS = "spans.jsonl", "metrics.jsonl"
MAX_BODY = 8 * 1024 * 1024  # an export batch is at most a few hundred KB; anything far larger is refused
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


def value_of(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


def attributes_of(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: value_of(pair.value) for pair in pairs}


def _time(nanos: int) -> str:
    return datetime.fromtimestamp(nanos / 1e9, UTC).isoformat(timespec="microseconds")


def spans_of(request: ExportTraceServiceRequest) -> Iterator[dict[str, Any]]:
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "traceId": span.trace_id.hex(),
                    "spanId": span.span_id.hex(),
                    "parentSpanId": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "start": _time(span.start_time_unix_nano),
                    "end": _time(span.end_time_unix_nano),
                    "durationMs": round((span.end_time_unix_nano - span.start_time_unix_nano) / 1e6, 3),
                    "status": STATUS.get(span.status.code, str(span.status.code)),
                    "attributes": attributes_of(span.attributes),
                    "links": [{"traceId": link.trace_id.hex(), "spanId": link.span_id.hex()} for link in span.links],
                    "scope": scope_spans.scope.name,
                    "resource": resource,
                }


def _number(point: Any) -> float | int:
    return point.as_int if point.WhichOneof("value") == "as_int" else point.as_double


def metrics_of(request: ExportMetricsServiceRequest) -> Iterator[dict[str, Any]]:
    for resource_metrics in request.resource_metrics:
        resource = attributes_of(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                base = {"name": metric.name, "unit": metric.unit, "type": kind, "resource": resource}
                if kind in ("sum", "gauge"):
                    data = getattr(metric, kind)
                    for point in data.data_points:
                        yield base | {
                            "monotonic": bool(kind == "sum" and data.is_monotonic),
                            "attributes": attributes_of(point.attributes),
                            "time": _time(point.time_unix_nano),
                            "value": _number(point),
                        }
                elif kind == "histogram":
                    for hpoint in metric.histogram.data_points:
                        yield base | {
                            "attributes": attributes_of(hpoint.attributes),
                            "time": _time(hpoint.time_unix_nano),
                            "count": hpoint.count,
                            "sum": hpoint.sum,
                            "bucketCounts": list(hpoint.bucket_counts),
                            "explicitBounds": list(hpoint.explicit_bounds),
                        }


class Sink:
    """Appends decoded exports to the two files; one lock, so lines from concurrent exports never interleave."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, name: str, records: Iterable[dict[str, Any]]) -> int:
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
        with self._lock, open(self.directory / name, "a", encoding="utf-8") as out:
            out.writelines(lines)
        return len(lines)


def handler_for(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            route = {
                "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse, spans_of, SPANS),
                "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse, metrics_of, METRICS),
            }.get(self.path)
            if route is None:
                self._answer(HTTPStatus.NOT_FOUND, b"")
                return
            request_type, response_type, decode, name = route
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"")
                return
            body = self.rfile.read(length)
            if "protobuf" not in (self.headers.get("Content-Type") or ""):
                self._answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, b"")
                return
            if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing, inflated within MAX_BODY
                try:
                    body = inflate.decompress(body, MAX_BODY)
                except zlib.error:
                    self._answer(HTTPStatus.BAD_REQUEST, b"")
                    return
                if inflate.unconsumed_tail:
                    self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"")
                    return
            request = request_type()
            try:
                request.ParseFromString(body)
            except DecodeError:
                self._answer(HTTPStatus.BAD_REQUEST, b"")
                return
            sink.write(name, decode(request))  # type: ignore[operator]
            self._answer(HTTPStatus.OK, response_type().SerializeToString())

        def _answer(self, status: HTTPStatus, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per export would drown the log

    return Handler


def serve(port: int, directory: Path) -> ThreadingHTTPServer:
    """A receiver on 127.0.0.1:`port` (not yet serving: call serve_forever)."""
    return ThreadingHTTPServer(("127.0.0.1", port), handler_for(Sink(directory)))


def service(port: int, directory: Path, log_path: Path | None = None) -> Service:
    return Service(
        "otlp",
        python_module("localdev.otlp", "serve", "--port", str(port), "--dir", str(directory)),
        port,
        log_path=log_path,
    )


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


# -- reading what was written ---------------------------------------------------------------------------------


def read(directory: Path, name: str) -> list[dict[str, Any]]:
    path = directory / name
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records


def spans(directory: Path) -> list[dict[str, Any]]:
    return read(directory, SPANS)


def metrics(directory: Path) -> list[dict[str, Any]]:
    return read(directory, METRICS)


def trace_ids_of(request_id: str, found: list[dict[str, Any]]) -> list[str]:
    """The traces whose spans name `request_id`, first seen first."""
    ids: list[str] = []
    for span in found:
        if span["attributes"].get("interconnect.request.id") == request_id and span["traceId"] not in ids:
            ids.append(span["traceId"])
    return ids


def tree(trace_id: str, found: list[dict[str, Any]]) -> list[str]:
    """The trace's spans as an indented tree, each child under its parent in start order."""
    own = sorted((s for s in found if s["traceId"] == trace_id), key=lambda s: s["start"])
    ids = {s["spanId"] for s in own}
    children: dict[str, list[dict[str, Any]]] = {}
    for span in own:
        parent = span["parentSpanId"] if span["parentSpanId"] in ids else ""
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def show(span: dict[str, Any], depth: int) -> None:
        attributes = span["attributes"]
        notes = [
            f"{key.split('.')[-1]}={attributes[key]}"
            for key in (
                "interconnect.work.attempt",
                "interconnect.request.status",
                "http.response.status_code",
                "interconnect.error.code",
            )
            if key in attributes
        ]
        where = f"pid {span['resource'].get('process.pid', '?')}"
        status = " ERROR" if span["status"] == "error" else ""
        lines.append(
            f"{'  ' * depth}{span['name']}  [{span['kind']}, {span['durationMs']:.1f} ms, {where}]{status}"
            + (f"  {' '.join(notes)}" if notes else "")
        )
        for child in children.get(span["spanId"], []):
            show(child, depth + 1)

    for root in children.get("", []):
        show(root, 0)
    return lines
