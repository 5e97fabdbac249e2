"""HTTP edge helpers for function_app.py: JSON responses, the one table of error → status, caller identity.

The only place that knows HTTP status codes for domain errors.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import azure.functions as func

from interconnect.errors import (
    ArmError,
    ConflictError,
    DependencyError,
    ForbiddenError,
    InterconnectError,
    NotFoundError,
    TransitionError,
    ValidationError,
)
from interconnect.model import Requester
from interconnect.signatures import SignatureError
from interconnect.ticketmap import MappingError
from interconnect.topology import RenderError

log = logging.getLogger("interconnect.http")

# Looked up along the exception's MRO, so a subclass inherits its parent's status unless listed.
STATUS: dict[type[InterconnectError], int] = {
    MappingError: 422, SignatureError: 401, RenderError: 503,
    ValidationError: 400, ForbiddenError: 403, NotFoundError: 404, ConflictError: 409, TransitionError: 409,
    ArmError: 502, DependencyError: 503, InterconnectError: 500,
}


def status_for(exc: InterconnectError) -> int:
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, indent=None), status_code=status, headers=headers or {},
                             mimetype="application/json", charset="utf-8")


def error_response(exc: InterconnectError, correlation_id: str = "") -> func.HttpResponse:
    headers = {"x-correlation-id": correlation_id} if correlation_id else {}
    if isinstance(exc, SignatureError):
        # No detail for the sender: which check failed would help someone forging signatures.
        exc = SignatureError("signature verification failed")
    if isinstance(exc, DependencyError):
        headers["Retry-After"] = str(int(exc.retry_after or 5))
    return json_response({"error": exc.to_dict()}, status_for(exc), headers)


def correlation_id(req: func.HttpRequest) -> str:
    given = (req.headers.get("x-correlation-id") or "").strip()
    return given[:100] if given.isprintable() and given else str(uuid.uuid4())


def api_caller(req: func.HttpRequest) -> Requester:
    """Who called the REST API. With App Service authentication on, the platform sets (and strips any
    client-sent copy of) X-MS-CLIENT-PRINCIPAL*; without it, the caller is known only by its function key."""
    principal_id = req.headers.get("x-ms-client-principal-id", "")
    name = req.headers.get("x-ms-client-principal-name", "")
    encoded = req.headers.get("x-ms-client-principal", "")
    if encoded and not principal_id:
        try:
            claims = json.loads(base64.b64decode(encoded))
            principal_id = str(claims.get("userId") or claims.get("oid") or "")
            name = name or str(claims.get("userDetails") or "")
        except (binascii.Error, ValueError, AttributeError):
            pass
    return Requester("api", principal_id or "function-key", name)


def api_url(req: func.HttpRequest, path: str) -> str:
    """An absolute URL of this app's API, as the caller reached it."""
    return f"{req.url.split('/api/')[0]}/api/{path}"


def is_true(flag: str | None) -> bool:
    """Query flags: `?dryRun=true` (also 1/yes); absent or anything else is false."""
    return (flag or "").strip().lower() in ("true", "1", "yes")


Handler = Callable[[func.HttpRequest], func.HttpResponse]


def handles_errors(handler: Handler) -> Handler:
    """Turn domain errors into JSON error bodies, and anything unexpected into a 500 that leaks nothing."""

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        cid = correlation_id(req)
        try:
            return handler(req)
        except InterconnectError as exc:
            level = logging.ERROR if status_for(exc) >= 500 else logging.INFO
            log.log(level, "%s %s -> %s", req.method, req.url, exc.code,
                    extra={"code": exc.code, "correlationId": cid})
            return error_response(exc, cid)
        except Exception:
            log.exception("unhandled error on %s %s", req.method, req.url, extra={"correlationId": cid})
            return error_response(InterconnectError(f"internal error; quote correlation id {cid}"), cid)

    return wrapper
