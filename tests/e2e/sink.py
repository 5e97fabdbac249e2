"""A local HTTP sink that records what the app posts back (ticket comments, Slack response_url, Teams)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localdev.procs import wait_until


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Sink:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, predicate, timeout: float = 60, what: str = "a callback") -> Received:  # type: ignore[no-untyped-def]
        found: list[Received] = []

        def seen() -> bool:
            found[:] = [r for r in list(self.received) if predicate(r)]
            return bool(found)

        wait_until(seen, timeout, interval=0.1, what=what)
        return found[0]

    def matching(self, predicate) -> list[Received]:  # type: ignore[no-untyped-def]
        return [r for r in list(self.received) if predicate(r)]


def start_sink() -> Sink:
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            received.append(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PATCH = _record

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Sink(server, received)


def running_sink() -> Iterator[Sink]:
    """A sink for a fixture to yield from: started, and shut down (its port closed) when the fixture ends."""
    server = start_sink()
    yield server
    server.server.shutdown()
    server.server.server_close()
