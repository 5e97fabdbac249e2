"""The queue message contract between intake and worker, and between the worker and its own follow-ups."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from interconnect.errors import ValidationError

Kind = Literal["process", "check"]


@dataclass(frozen=True)
class WorkItem:
    """`process` a newly accepted request, or `check` on an ARM operation already started for it."""

    request_id: str
    kind: Kind = "process"
    attempt: int = 0

    @property
    def message_id(self) -> str:
        # Service Bus duplicate detection works on this id: the first message of a request uses the
        # request id itself, each follow-up check its own number, so a re-sent one is dropped by the broker.
        return self.request_id if self.kind == "process" else f"{self.request_id}:check:{self.attempt}"

    def encode(self) -> str:
        return json.dumps({"requestId": self.request_id, "kind": self.kind, "attempt": self.attempt})


def decode(body: bytes | str) -> WorkItem:
    """Raises ValidationError (MALFORMED_MESSAGE) for anything that is not a work item."""
    try:
        raw = json.loads(body)
        request_id, kind, attempt = raw["requestId"], raw.get("kind", "process"), raw.get("attempt", 0)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationError(f"queue message is not a work item: {exc!r}", code="MALFORMED_MESSAGE") from exc
    if not isinstance(request_id, str) or not request_id or kind not in ("process", "check") \
            or not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
        raise ValidationError("queue message has a bad requestId, kind or attempt", code="MALFORMED_MESSAGE")
    return WorkItem(request_id, kind, attempt)
