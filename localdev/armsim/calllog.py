"""The record of every ARM call the simulator answered, for tests that count calls by kind.

Admin calls are not recorded: they are the test talking to the simulator, not the app talking to ARM.
The log is bounded so a long local run cannot grow without limit; the oldest entries go first.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 100_000


class CallLog:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append({"seq": next(self._seq), **entry})

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._entries if kind is None or e["kind"] == kind]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
