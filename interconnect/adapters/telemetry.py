"""Tracing for the adapters and the app edge: spans, W3C trace context in and out, and the app's meter.

The one module that imports the OpenTelemetry API, and only once the app edge has switched telemetry on
(interconnect/app/telemetry.py, when an exporter is configured): with telemetry off every helper here is a
no-op and no OpenTelemetry module is ever loaded, so a cold start pays nothing for it.

Trace context from outside (an HTTP `traceparent` header, a queue message's application properties, a stored
request row) is held to the W3C grammar before it is used: a value that is not one is ignored, never echoed.
Span attributes are only the names below, with short plain values: no token, secret, body or URL reaches one.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from interconnect.errors import InterconnectError

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Span

Kind = Literal["internal", "server", "client", "producer", "consumer"]
INSTRUMENTATION = "interconnect"

# https://www.w3.org/TR/trace-context/#traceparent-header: version 00, lower-case hex, no all-zero ids.
_TRACEPARENT = re.compile(r"00-(?!0{32})([0-9a-f]{32})-(?!0{16})([0-9a-f]{16})-([0-9a-f]{2})")
# https://www.w3.org/TR/trace-context/#tracestate-header: at most 32 key=value members, 512 characters kept.
_TRACESTATE_MEMBER = re.compile(
    r"[a-z0-9][a-z0-9_\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)
MAX_TRACESTATE = 512

# The attribute names a span may carry (our own and OpenTelemetry's semantic conventions); any other is dropped.
ATTRIBUTES = frozenset(
    {
        "interconnect.request.id",
        "interconnect.request.action",
        "interconnect.request.status",
        "interconnect.cloud.source",
        "interconnect.cloud.target",
        "interconnect.correlation.id",
        "interconnect.work.kind",
        "interconnect.work.attempt",
        "interconnect.work.retry",
        "interconnect.arm.operation",
        "interconnect.channel",
        "interconnect.outcome",
        "interconnect.error.code",
        "http.request.method",
        "http.route",
        "http.response.status_code",
        "server.address",
        "messaging.system",
        "messaging.operation.type",
        "messaging.destination.name",
        "messaging.message.id",
        "db.system.name",
        "db.collection.name",
        "db.operation.name",
    }
)
MAX_VALUE = 256
# A value shaped like a credential or an address with a query is dropped even under an allowed name.
_SECRET_SHAPE = re.compile(
    r"eyJ[A-Za-z0-9_-]{8,}|bearer\s|sharedaccess|accountkey=|sig=|[?&](code|key|token|sig)=|://[^/\s]*@|://\S*\?",
    re.IGNORECASE,
)

AttributeValue = str | int | float | bool


class _State:
    on = False


# What the current invocation's log lines carry (correlationId, requestId); see interconnect/app/telemetry.py.
_log_fields: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("interconnect_log", default=None)


@contextmanager
def bound(**fields: str) -> Iterator[None]:
    """Put `fields` (correlationId, requestId) on every log line written while the block runs."""
    token = _log_fields.set({**(_log_fields.get() or {}), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _log_fields.reset(token)


def log_fields() -> dict[str, str]:
    return dict(_log_fields.get() or {})


def note_request(request_id: str, **attributes: object) -> None:
    """The current invocation concerns request `request_id`: its log lines say so from here on, and the current
    span carries it (with `attributes`: action, clouds, status under their ATTRIBUTES names, `.` as `_`)."""
    current = _log_fields.get()
    if current is not None:
        current["requestId"] = request_id
    if not _State.on:
        return
    from opentelemetry import trace

    named: dict[str, object] = {"interconnect.request.id": request_id}
    named |= {"interconnect." + k.replace("_", "."): v for k, v in attributes.items()}
    trace.get_current_span().set_attributes(safe_attributes(named))


def enabled() -> bool:
    return _State.on


def switch_on() -> None:
    """Called by the app edge once it has set the tracer and meter providers."""
    _State.on = True


def parse_traceparent(text: object) -> str | None:
    """`text` when it is a W3C traceparent (version 00), lower-cased and stripped; else None."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    given = text.strip()
    return given if _TRACEPARENT.fullmatch(given) else None


def parse_tracestate(text: object) -> str:
    """`text` when it is a W3C tracestate list; else "" (a bad tracestate is dropped, the traceparent kept)."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TRACESTATE:
        return ""
    members = [m.strip() for m in text.split(",") if m.strip()]
    if len(members) > 32 or not all(_TRACESTATE_MEMBER.fullmatch(m) for m in members):
        return ""
    return ",".join(members)


def safe_attributes(attributes: Mapping[str, object]) -> dict[str, AttributeValue]:
    """Only the known names, with short plain values; None, nested values and credential shapes dropped."""
    kept: dict[str, AttributeValue] = {}
    for name, value in attributes.items():
        if name not in ATTRIBUTES or value is None or isinstance(value, bytes):
            continue
        if isinstance(value, bool | int | float):
            kept[name] = value
            continue
        text = "".join(c if c.isprintable() else "?" for c in str(value)[:MAX_VALUE])
        if text and not _SECRET_SHAPE.search(text):
            kept[name] = text
    return kept


def _parent_context(traceparent: str | None, tracestate: str = "") -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {"traceparent": traceparent or ""}
    if tracestate:
        carrier["tracestate"] = tracestate
    return TraceContextTextMapPropagator().extract(carrier)


@contextmanager
def span(
    name: str,
    kind: Kind = "internal",
    attributes: Mapping[str, object] | None = None,
    *,
    parent: str | None = None,
    tracestate: str = "",
) -> Iterator[Span | None]:
    """A span around the block, current while it runs; None when telemetry is off. `parent`: a (validated)
    traceparent to continue instead of the current span, as a consumer continues its message's trace.

    An exception leaving the block marks the span failed by its error code (`fail`), or by its type when it
    carries none, and goes on. The SDK's own handling is off: it would set the status to the exception's message
    and record its text and traceback as an event, and a message may quote what came from outside."""
    if not _State.on:
        yield None
        return
    from opentelemetry import trace

    tracer = trace.get_tracer(INSTRUMENTATION)
    context, links = None, None
    if parent:
        context = _parent_context(parse_traceparent(parent), parse_tracestate(tracestate))
        # What was current (in Azure, the Functions host's invocation span) is linked, not lost.
        around = trace.get_current_span().get_span_context()
        links = [trace.Link(around)] if around.is_valid else None
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=getattr(trace.SpanKind, kind.upper()),
        attributes=safe_attributes(attributes or {}),
        links=links,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except InterconnectError as exc:
            fail(current, exc.code)
            raise
        except Exception as exc:
            fail(current, type(exc).__name__)
            raise


def annotate(current: Span | None, attributes: Mapping[str, object]) -> None:
    """Add attributes to `current` (the span `span()` gave; None when telemetry is off)."""
    if current is not None:
        current.set_attributes(safe_attributes(attributes))


def annotate_current(attributes: Mapping[str, object]) -> None:
    """Add attributes to whichever span is current (none when telemetry is off)."""
    if not _State.on:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(safe_attributes(attributes))


def fail(current: Span | None, code: str) -> None:
    """Mark `current` failed with an error code (never the message: it may quote what came from outside)."""
    if current is None:
        return
    from opentelemetry.trace import Status, StatusCode

    current.set_attribute("interconnect.error.code", code[:MAX_VALUE])
    current.set_status(Status(StatusCode.ERROR, code[:MAX_VALUE]))


def inject() -> dict[str, str]:
    """The current span's W3C context as message properties or headers ({} when off or outside any span)."""
    if not _State.on:
        return {}
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier


def current_traceparent() -> str:
    """The current span's traceparent, or "" (off, or outside any span)."""
    return parse_traceparent(inject().get("traceparent")) or ""


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span in hex, for log lines; None when off or outside any span."""
    if not _State.on:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def meter() -> Meter | None:
    """The app's meter, for the metric instruments (None when telemetry is off: record nothing then)."""
    if not _State.on:
        return None
    from opentelemetry import metrics

    return metrics.get_meter(INSTRUMENTATION)
