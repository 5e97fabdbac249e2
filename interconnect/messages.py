"""The queue message contract between intake and worker, and between the worker and its own follow-ups."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal, get_args

from interconnect.errors import ValidationError

Kind = Literal["process", "check", "expire", "notify", "audit"]  # for "audit", request_id is the run id


@dataclass(frozen=True)
class WorkItem:
    """`process` a newly accepted request, or `check` on an ARM operation already started for it.

    `attempt` numbers a check (or, for `process`, a deferral while earlier requests are decided);
    `retry` counts re-sends after a transient failure.
    """

    request_id: str
    kind: Kind = "process"
    attempt: int = 0
    retry: int = 0
    origin: str = ""  # set by the sweeper, so a re-drive is not mistaken for a duplicate of a lost message

    @property
    def message_id(self) -> str:
        # Service Bus duplicate detection works on this id: each distinct step has its own, so a step that
        # is re-sent (after a crash, or by a redelivered message) is dropped by the broker.
        base = self.request_id if self.kind == "process" else f"{self.request_id}:{self.kind}"
        if self.kind == "process" and self.attempt:
            base += f":wait:{self.attempt}"
        elif self.kind in ("check", "notify"):
            base += f":{self.attempt}"
        return base + (f":retry:{self.retry}" if self.retry else "") + (f":{self.origin}" if self.origin else "")

    def encode(self) -> str:
        return json.dumps({"requestId": self.request_id, "kind": self.kind, "attempt": self.attempt,
                           "retry": self.retry, "origin": self.origin})


def decode(body: bytes | str) -> WorkItem:
    """Raises ValidationError (MALFORMED_MESSAGE) for anything that is not a work item."""
    try:
        raw = json.loads(body)
        request_id, kind = raw["requestId"], raw.get("kind", "process")
        attempt, retry, origin = raw.get("attempt", 0), raw.get("retry", 0), raw.get("origin", "")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # str(), not repr(): a UnicodeDecodeError's repr carries the whole body into logs and the DLQ.
        raise ValidationError(f"queue message is not a work item: {type(exc).__name__}: {exc}",
                              code="MALFORMED_MESSAGE") from exc
    counters_ok = all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (attempt, retry))
    if not isinstance(request_id, str) or not request_id or kind not in get_args(Kind) or not counters_ok \
            or not isinstance(origin, str):
        raise ValidationError("queue message has a bad requestId, kind, attempt, retry or origin",
                              code="MALFORMED_MESSAGE")
    return WorkItem(request_id, kind, attempt, retry, origin)


@dataclass(frozen=True)
class DeadLetter:
    """A message Service Bus moved to the dead-letter queue, with the reason it gave."""

    message_id: str
    body: bytes
    reason: str
    description: str
