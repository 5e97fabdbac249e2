"""The queue message contract between intake and worker, and between the worker and its own follow-ups.

A message on the queue or in its dead-letter queue may have been put there by anything with send rights, so
it is decoded within bounds (interconnect/boundedjson: size and nesting checked before decoding) and every
field is held to its grammar before a request id reaches a table key, a URL or a log line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from interconnect import boundedjson
from interconnect.errors import TooLargeError, ValidationError
from interconnect.linking.model import Status

# For "audit", request_id is the run id; for "changeset" (links as code), the change set's id.
Kind = Literal["process", "check", "expire", "notify", "audit", "changeset"]
# A work item is a flat object of five short fields (~150 bytes); anything far larger is not one.
MAX_MESSAGE_BYTES = 4096
# Request and audit run ids are UUIDs; the grammar leaves room for test ids but no separator a table key
# or URL would read (`/ \ # ?`), no control character and nothing long.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_STATUSES = frozenset(s.value for s in Status)
MAX_LOGGED = 200  # characters of a message's id, reason or description put in a log line


def loggable(text: str) -> str:
    """A value a message brought from outside (its id, a dead-letter reason), fit for one log line: cut, with
    no line breaks or other control characters that could forge a line."""
    return "".join(c if c.isprintable() else "?" for c in text[:MAX_LOGGED]) + ("…" if len(text) > MAX_LOGGED else "")


@dataclass(frozen=True)
class WorkItem:
    """`process` a newly accepted request, or `check` on an ARM operation already started for it.

    `attempt` numbers a check (or, for `process`, a fallback while earlier requests are decided);
    `retry` counts re-sends after a transient failure. A `process` item with a `waker` is a wake-up: request
    `waker` reached `waker_status`, which may have ended what held this request back.
    """

    request_id: str
    kind: Kind = "process"
    attempt: int = 0
    retry: int = 0
    origin: str = ""  # set by the sweeper, so a re-drive is not mistaken for a duplicate of a lost message
    waker: str = ""  # the request whose transition sent this wake-up ("" for any other item)
    waker_status: str = ""  # the status that transition reached: each transition that wakes reaches another one
    # The request's W3C traceparent, for a message sent outside its trace (a sweeper re-drive), so the work it
    # starts joins the request's one trace. Travels in the message's properties, never in its body or id.
    trace: str = field(default="", compare=False)

    @property
    def is_wake_up(self) -> bool:
        return bool(self.waker)

    @property
    def message_id(self) -> str:
        # Service Bus duplicate detection works on this id: each distinct step has its own, so a step that
        # is re-sent (after a crash, or by a redelivered message) is dropped by the broker.
        base = self.request_id if self.kind == "process" else f"{self.request_id}:{self.kind}"
        if self.waker:
            # Names waiter, waker and the waker's transition: the step that made the transition sends the same
            # id again when it is redelivered, and the broker drops it.
            base += f":wake:{self.waker}:{self.waker_status}"
        elif self.kind == "process" and self.attempt:
            base += f":wait:{self.attempt}"
        elif self.kind in ("check", "notify", "changeset"):
            base += f":{self.attempt}"
        return base + (f":retry:{self.retry}" if self.retry else "") + (f":{self.origin}" if self.origin else "")

    def encode(self) -> str:
        body: dict[str, object] = {
            "requestId": self.request_id,
            "kind": self.kind,
            "attempt": self.attempt,
            "retry": self.retry,
            "origin": self.origin,
        }
        if self.waker:  # only wake-ups carry these, so every other message keeps the shape older workers read
            body |= {"waker": self.waker, "wakerStatus": self.waker_status}
        return json.dumps(body)


def decode(body: bytes | str) -> WorkItem:
    """Raises ValidationError (MALFORMED_MESSAGE) for anything that is not a work item; its message names
    the problem, never the body."""
    try:
        raw = boundedjson.loads(
            body, max_bytes=MAX_MESSAGE_BYTES, max_depth=2, what="queue message", code="MALFORMED_MESSAGE"
        )
    except TooLargeError as exc:  # one code for every message that is no work item, whatever is wrong with it
        raise ValidationError(exc.message, code="MALFORMED_MESSAGE", details=exc.details) from None
    if not isinstance(raw, dict):
        raise ValidationError(
            f"queue message is a JSON {type(raw).__name__}, not a work item object", code="MALFORMED_MESSAGE"
        )
    if "requestId" not in raw:
        raise ValidationError("queue message has no requestId", code="MALFORMED_MESSAGE")
    request_id, kind = raw["requestId"], raw.get("kind", "process")
    attempt, retry, origin = raw.get("attempt", 0), raw.get("retry", 0), raw.get("origin", "")
    waker, waker_status = raw.get("waker", ""), raw.get("wakerStatus", "")
    counters_ok = all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in (attempt, retry))
    if (
        not (isinstance(request_id, str) and _ID.fullmatch(request_id))
        or kind not in get_args(Kind)
        or not counters_ok
        or not isinstance(origin, str)
        or not (origin == "" or _ID.fullmatch(origin))
    ):
        raise ValidationError(
            "queue message has a bad requestId, kind, attempt, retry or origin", code="MALFORMED_MESSAGE"
        )
    # A wake-up names its waker and the status the waker reached; both or neither, and only on `process`.
    if (waker, waker_status) != ("", "") and not (
        kind == "process"
        and isinstance(waker, str)
        and _ID.fullmatch(waker)
        and isinstance(waker_status, str)
        and waker_status in _STATUSES
    ):
        raise ValidationError("queue message has a bad waker or wakerStatus", code="MALFORMED_MESSAGE")
    return WorkItem(request_id, kind, attempt, retry, origin, waker, waker_status)


@dataclass(frozen=True)
class DeadLetter:
    """A message Service Bus moved to the dead-letter queue, with the reason it gave."""

    message_id: str
    body: bytes
    reason: str
    description: str
    body_type: str = "data"  # the AMQP body section; only a data body can hold a work item
