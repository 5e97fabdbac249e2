"""The error tree. Every error carries a stable machine-readable `code` and says whether a retry can help.

    InterconnectError          INTERNAL                 (base: code, message, details, retryable)
    ├── ValidationError        INVALID_REQUEST          bad input; nothing stored or queued
    │   ├── TooLargeError      TOO_LARGE                a body, header or value over its size limit
    │   └── MappingError       MAPPING_FAILED           a ticket payload lacks what its channel's mapping needs
    ├── AuthenticationError    AUTHENTICATION_REQUIRED  no credential, or one this app does not trust (401)
    ├── SignatureError         BAD_SIGNATURE            a channel call not signed by an active secret (401)
    ├── ForbiddenError         FORBIDDEN                the caller may not do this (e.g. approve their own request)
    ├── NotFoundError          NOT_FOUND
    ├── ConflictError          CONFLICT                 lost ETag race, key reused with another body
    ├── TransitionError        INVALID_TRANSITION       a status change the lifecycle forbids
    ├── CorruptRecordError     CORRUPT_RECORD           a stored record cannot be read back; passes skip it
    ├── ArmError               ARM_ERROR                ARM refused a call for good (4xx other than 409/429)
    │   └── MalformedAnswerError ARM_MALFORMED_ANSWER   ARM answered, but not with what its API describes
    ├── DependencyError        DEPENDENCY_UNAVAILABLE   retryable: Tables, Service Bus or ARM is down
    │   └── ThrottledError     THROTTLED                retryable: 429, with the server's Retry-After
    ├── RenderError            RENDER_FAILED            the topology picture could not be drawn
    ├── PolicyError            POLICY_INVALID           the configured policy cannot be read
    └── SettingsError          SETTINGS_INVALID         a setting is missing or malformed

Every error class of the app lives here, so the HTTP status table needs nothing else.
HTTP statuses for these live only in `interconnect/app/http.py`. Codes never change once shipped.
"""

from __future__ import annotations

import math
from typing import Any


class InterconnectError(Exception):
    """Base of every error the app raises on purpose."""

    code = "INTERNAL"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationError(InterconnectError):
    """The input is malformed or names something impossible."""

    code = "INVALID_REQUEST"


class TooLargeError(ValidationError):
    """The input is over a size limit; nothing of it was read further."""

    code = "TOO_LARGE"


class UnsupportedMediaTypeError(ValidationError):
    """The body is in a media type the route does not read; nothing of it was read."""

    code = "UNSUPPORTED_MEDIA_TYPE"


class ForbiddenError(InterconnectError):
    """The caller is known but not allowed to do this."""

    code = "FORBIDDEN"


class NotFoundError(InterconnectError):
    """The thing asked for does not exist."""

    code = "NOT_FOUND"


class ConflictError(InterconnectError):
    """A concurrent writer won, or an idempotency key was reused with a different request."""

    code = "CONFLICT"


class TransitionError(InterconnectError):
    """The lifecycle does not allow this status change."""

    code = "INVALID_TRANSITION"


class CorruptRecordError(InterconnectError):
    """A stored record cannot be read back (an older version wrote it, or it was damaged).

    Not the caller's fault and not transient: a pass over many records reports it and goes on.
    """

    code = "CORRUPT_RECORD"


class ArmError(InterconnectError):
    """ARM refused the call and a retry would not change its mind."""

    code = "ARM_ERROR"


class MalformedAnswerError(ArmError):
    """ARM answered a read with something its API does not describe (a link whose `linkedCloud` is no private
    cloud id, a field of the wrong type, a body that is not the JSON expected).

    Permanent for the read that met it, like a refusal: a verdict, not a retry. `partial` holds what a
    listing did yield well-formed, for callers that may show it; the malformed items are named in `details`.
    """

    code = "ARM_MALFORMED_ANSWER"

    def __init__(self, message: str, *, partial: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.partial = partial


class DependencyError(InterconnectError):
    """A dependency (Tables, Service Bus, ARM) is unavailable; the same call may succeed later."""

    code = "DEPENDENCY_UNAVAILABLE"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


MAX_RETRY_AFTER = 3600.0  # seconds: the longest a server's Retry-After delays anything


def usable_retry_after(seconds: float | None) -> float | None:
    """A server's Retry-After in seconds, fit to schedule on: None for none, a NaN, an infinity or a negative
    value (each would break or skip the schedule built on it); a huge value capped at MAX_RETRY_AFTER. The AVS
    adapter applies it to what ARM sends, and the worker again to what any adapter passes on."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


class ThrottledError(DependencyError):
    """The dependency asked us to slow down."""

    code = "THROTTLED"


class SignatureError(InterconnectError):
    """The request is not signed by any active secret of its source. Answer 401 and say nothing more."""

    code = "BAD_SIGNATURE"


class MappingError(ValidationError):
    """The payload lacks fields the mapping needs, or holds unusable values; `details` lists every one."""

    code = "MAPPING_FAILED"


class RenderError(InterconnectError):
    """The diagram could not be rendered: no layout engine (RENDERER_UNAVAILABLE), it failed (RENDER_FAILED)
    or it ran out of time (RENDER_TIMEOUT)."""

    code = "RENDER_FAILED"


class PolicyError(InterconnectError):
    """The configured policy cannot be read."""

    code = "POLICY_INVALID"


class SettingsError(InterconnectError):
    """A setting is missing or malformed."""

    code = "SETTINGS_INVALID"


class AuthenticationError(InterconnectError):
    """The caller's credential is missing, malformed or not one this app trusts (HTTP 401)."""

    code = "AUTHENTICATION_REQUIRED"
