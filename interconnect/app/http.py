"""HTTP edge helpers for function_app.py: JSON responses, the one table of error → status, caller identity,
and the bounds every request is held to before anything reads it.

The only place that knows HTTP status codes for domain errors. Everything a request carries is bounded here
(body size per route, path ids, query values, the Idempotency-Key and correlation id headers), and what gets
logged about a request is its method, its path and its query without secrets, each capped.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import azure.functions as func

from interconnect.app.identity import Verifier
from interconnect.errors import (
    ArmError,
    AuthenticationError,
    ConflictError,
    DependencyError,
    ForbiddenError,
    InterconnectError,
    MappingError,
    NotFoundError,
    RenderError,
    SignatureError,
    TooLargeError,
    TransitionError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from interconnect.linking.model import Requester
from interconnect.linking.validation import MAX_BODY

log = logging.getLogger("interconnect.http")

# Looked up along the exception's MRO, so a subclass inherits its parent's status unless listed.
STATUS: dict[type[InterconnectError], int] = {
    MappingError: 422,
    SignatureError: 401,
    AuthenticationError: 401,
    RenderError: 503,
    TooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    ValidationError: 400,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    TransitionError: 409,
    ArmError: 502,
    DependencyError: 503,
    InterconnectError: 500,
}


def status_for(exc: InterconnectError) -> int:
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, indent=None),
        status_code=status,
        headers=headers or {},
        mimetype="application/json",
        charset="utf-8",
    )


def error_response(exc: InterconnectError, correlation_id: str = "") -> func.HttpResponse:
    headers = {"x-correlation-id": correlation_id} if correlation_id else {}
    if isinstance(exc, SignatureError):
        # No detail for the sender: which check failed would help someone forging signatures.
        exc = SignatureError("signature verification failed")
    if isinstance(exc, DependencyError):
        headers["Retry-After"] = str(int(exc.retry_after or 5))
    if isinstance(exc, AuthenticationError):
        # RFC 6750: tells a client library to get (another) token rather than retry this one.
        headers["WWW-Authenticate"] = (
            "Bearer" if exc.code == "AUTHENTICATION_REQUIRED" else 'Bearer error="invalid_token"'
        )
    return json_response({"error": exc.to_dict()}, status_for(exc), headers)


# Body limits are per route, checked before the body is looked at (the Functions host itself accepts 100 MB):
# this one for the API; the channels' own are in interconnect/channels/inbound.py, with why each is that size.
API_BODY_LIMIT = MAX_BODY

MAX_QUERY = 2048  # the whole query string; every API query value is far shorter
LOG_CAP = 200  # characters of any request-derived value in a log line

UUID_SHAPE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Header values we store and echo: visible ASCII without quotes, spaces, '<>' or '\\', bounded.
IDEMPOTENCY_KEY_SHAPE = re.compile(r"[A-Za-z0-9._~:/#@=+!$*(),;-]{1,200}")
CORRELATION_ID_SHAPE = re.compile(r"[A-Za-z0-9._~:/#@=+{}-]{1,100}")
# The query parameters the API reads: only these are logged with their values. Any other (`code`, the
# function key, above all) is only counted, so no spelling of a credential reaches a log line.
_LOGGED_PARAMS = frozenset({"cloud", "ref", "status", "limit", "continuation", "dryRun", "format"})


def correlation_id(req: func.HttpRequest) -> str:
    """The caller's `x-correlation-id` when it fits the grammar, else a fresh one: the id is advisory (a
    request is never refused over it), but whatever is kept, logged and echoed is bounded and plain."""
    given = (req.headers.get("x-correlation-id") or "").strip()
    return given if CORRELATION_ID_SHAPE.fullmatch(given) else str(uuid.uuid4())


def body(req: func.HttpRequest, limit: int) -> bytes:
    """The request body, or TooLargeError (413) when it is over `limit` bytes."""
    raw = req.get_body() or b""
    if len(raw) > limit:
        raise TooLargeError(
            f"the body is {len(raw)} bytes; this route accepts at most {limit}", details={"limit": limit}
        )
    return raw


def idempotency_key(req: func.HttpRequest) -> str | None:
    """The `Idempotency-Key` header, if sent. Raises ValidationError INVALID_IDEMPOTENCY_KEY (without echoing
    it) unless it is 1-200 letters, digits or `. _ ~ : / # @ = + ! $ * ( ) , ; -`."""
    given: str | None = req.headers.get("Idempotency-Key")
    if given is None:
        return None
    if not IDEMPOTENCY_KEY_SHAPE.fullmatch(given.strip()):
        raise ValidationError(
            "Idempotency-Key must be 1-200 letters, digits or . _ ~ : / # @ = + ! $ * ( ) , ; -",
            code="INVALID_IDEMPOTENCY_KEY",
            details={"header": "Idempotency-Key"},
        )
    return given.strip()


def route_uuid(req: func.HttpRequest, *, what: str, code: str, also: tuple[str, ...] = ()) -> str:
    """The `{id}` route parameter, lower-cased, when it is a UUID (or one of `also`); otherwise ValidationError
    `code`. The message never echoes the value: it may be 20 KB of anything."""
    given = req.route_params.get("id") or ""
    if given in also:
        return given
    if not UUID_SHAPE.fullmatch(given):
        raise ValidationError(
            f"the {what} in the path is not a {what} (a UUID like 0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21)",
            code=code,
            details={"length": len(given)},
        )
    return given.lower()


def uuid_route(*, what: str, code: str, also: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """Refuse a request whose `{id}` is not a UUID (or one of `also`) before the handler runs; see route_uuid."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(req: func.HttpRequest) -> func.HttpResponse:
            route_uuid(req, what=what, code=code, also=also)
            return handler(req)

        return wrapper

    return decorate


def query_param(req: func.HttpRequest, name: str, *, max_length: int) -> str | None:
    """One query value, or None when absent. Raises ValidationError INVALID_QUERY when the query string or
    this value is over its length cap (naming the parameter, not repeating it)."""
    if len(urlsplit(req.url).query) > MAX_QUERY:
        raise ValidationError(
            f"the query string is longer than {MAX_QUERY} characters",
            code="INVALID_QUERY",
            details={"limit": MAX_QUERY},
        )
    value: str | None = req.params.get(name)
    if value is not None and len(value) > max_length:
        raise ValidationError(
            f"query parameter {name} is longer than {max_length} characters",
            code="INVALID_QUERY",
            details={"parameter": name, "limit": max_length},
        )
    return value


def capped(value: object, limit: int = LOG_CAP) -> str:
    """A request-derived value fit for a log line: at most `limit` characters, non-printables replaced (no
    forged lines), and how much was cut."""
    text = str(value)
    shown = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return shown + (f"…(+{len(text) - limit})" if len(text) > limit else "")


def route_of(url: str) -> str:
    """The path of `url` as a route template for a span name: ids (UUIDs, and any long or odd segment) shown as
    `{id}`, never the query, so no value a caller sent becomes a span name."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return "/"
    segments = [
        s if re.fullmatch(r"[a-z][a-z0-9-]{0,39}", s) and not UUID_SHAPE.fullmatch(s) else "{id}"
        for s in path.split("/")[1:9]
        if s
    ]
    return "/" + "/".join(segments)


def loggable_url(url: str) -> str:
    """The path and query of `url` for a log line: the API's own parameters, capped; any other (`?code=` and
    whatever else) dropped and counted. The host is left out: it comes from the caller's Host header."""
    try:
        split = urlsplit(url)
        pairs = parse_qsl(split.query, keep_blank_values=True)
    except ValueError:
        return "<unparseable url>"
    kept = [(k, capped(v, 100)) for k, v in pairs if k in _LOGGED_PARAMS]
    query = urlencode(kept[: len(_LOGGED_PARAMS)])
    dropped = len(pairs) - len(kept)
    return (
        capped(split.path)
        + (f"?{capped(query)}" if query else "")
        + (f" (+{dropped} other parameters)" if dropped else "")
    )


def api_caller(req: func.HttpRequest, identity: Verifier, *, key_checked: bool = True) -> Requester:
    """Who called the REST API: an Entra token the app verified itself, else the function key the host checked
    (`key_checked`: the route is function-level). X-MS-CLIENT-PRINCIPAL* headers are ignored, never trusted:
    App Service authentication is not on, so nothing strips a copy a caller typed (interconnect/app/identity.py)."""
    return identity.caller({k.lower(): v for k, v in req.headers.items()}, key_checked=key_checked)


def api_url(req: func.HttpRequest, path: str) -> str:
    """An absolute URL of this app's API, as the caller reached it."""
    return f"{req.url.split('/api/')[0]}/api/{path}"


_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def query_flag(req: func.HttpRequest, name: str) -> bool:
    """A yes/no query parameter: `?dryRun=true` (also 1/yes; false/0/no; absent is false). Anything else, empty
    included, is refused with INVALID_QUERY rather than read as false: `dryRun=ture` must not submit for real."""
    given = req.params.get(name)
    if given is None:
        return False
    flag = _FLAGS.get(given.strip().lower())
    if flag is None:
        raise ValidationError(
            f"query parameter {name} must be true or false", code="INVALID_QUERY", details={"parameter": name}
        )
    return flag


Handler = Callable[[func.HttpRequest], func.HttpResponse]


def handles_errors(handler: Handler) -> Handler:
    """Turn domain errors into JSON error bodies, and anything unexpected into a 500 that leaks nothing."""

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        # Here, not at import: indexing the app loads no adapter (tests/unit/app/test_coldstart.py).
        from interconnect.adapters import telemetry
        from interconnect.app import telemetry as app_telemetry

        cid = correlation_id(req)
        app_telemetry.ensure()
        method = capped(req.method, 10)
        route = route_of(req.url)
        attributes = {"http.request.method": method, "http.route": route, "interconnect.correlation.id": cid}
        with (
            telemetry.bound(correlationId=cid),
            telemetry.span(
                f"HTTP {method} {route}",
                "server",
                attributes,
                # A caller's W3C trace context is continued only in its exact shape; anything else starts afresh.
                parent=telemetry.parse_traceparent(req.headers.get("traceparent")),
                tracestate=req.headers.get("tracestate") or "",
            ) as span,
        ):
            response = answered(req, cid)
            telemetry.annotate(span, {"http.response.status_code": response.status_code})
            if response.status_code >= 500:
                telemetry.fail(span, f"HTTP_{response.status_code}")
            return response

    def answered(req: func.HttpRequest, cid: str) -> func.HttpResponse:
        try:
            return handler(req)
        except InterconnectError as exc:
            level = logging.ERROR if status_for(exc) >= 500 else logging.INFO
            reason = exc.details.get("reason") if isinstance(exc, SignatureError) else None
            log.log(
                level,
                "%s %s -> %s%s",
                capped(req.method, 10),
                loggable_url(req.url),
                exc.code,
                f" ({capped(reason, 40)})" if reason else "",
                extra={"code": exc.code, "correlationId": cid},
            )
            return error_response(exc, cid)
        except Exception:
            log.exception(
                "unhandled error on %s %s", capped(req.method, 10), loggable_url(req.url), extra={"correlationId": cid}
            )
            return error_response(InterconnectError(f"internal error; quote correlation id {cid}"), cid)

    return wrapper
