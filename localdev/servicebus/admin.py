"""The stand-in's HTTP admin surface and a stdlib client for it.

Tests and local tooling need to look inside the broker (queue depths, dead-letter counts) and reset it between
tests without going through AMQP, which costs about a second per SDK client. The server runs in a thread and
touches broker state only through `LoopWaker.call`, i.e. on the reactor thread.

    GET  /admin/health                        {"status": "ok"}
    GET  /admin/queues                        {"<queue>": {active, scheduled, locked, deferred, deadLetter,
                                                            sessionsLocked}, ...}
    GET  /admin/queues/<queue>                {"name": "<queue>", active, ...}
    POST /admin/reset                         drop every message, keep the configuration
    POST /admin/queues/<queue>/expire-locks   let every message lock of the queue run out now (test hook)
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .errors import EntityNotFound

if TYPE_CHECKING:
    from .broker import Broker

log = logging.getLogger("localdev.servicebus.admin")


class AdminServer:
    """Serves the admin API for `broker` on `host:port` from a daemon thread."""

    def __init__(self, broker: Broker, host: str, port: int) -> None:
        handler = type("BoundAdminHandler", (_AdminHandler,), {"broker": broker})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        # A short poll interval: `shutdown()` waits for the serving loop to notice, which delays process exit.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="servicebus-admin", daemon=True
        )

    def start(self) -> AdminServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _AdminHandler(BaseHTTPRequestHandler):
    broker: Broker
    server_version = "localdev-servicebus-admin"

    def do_GET(self) -> None:
        self._serve(self._get)

    def do_POST(self) -> None:
        self._serve(self._post)

    def _serve(self, route: Any) -> None:
        try:
            status, body = route(self._path_parts())
        except EntityNotFound as error:
            status, body = HTTPStatus.NOT_FOUND, {"error": error.description}
        except (RuntimeError, TimeoutError) as error:
            status, body = HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(error) or "the broker did not answer"}
        self._reply(status, body)

    def _get(self, parts: list[str]) -> tuple[HTTPStatus, Any]:
        call = self.broker.waker.call
        if parts == ["admin", "health"]:
            call(lambda: None)  # proves the reactor thread is responsive
            return HTTPStatus.OK, {"status": "ok"}
        if parts == ["admin", "queues"]:
            return HTTPStatus.OK, call(self.broker.namespace.stats)
        if len(parts) == 3 and parts[:2] == ["admin", "queues"]:
            return HTTPStatus.OK, call(lambda: self._queue_stats(parts[2]))
        return HTTPStatus.NOT_FOUND, {"error": f"no such resource: {self.path}"}

    def _post(self, parts: list[str]) -> tuple[HTTPStatus, Any]:
        call = self.broker.waker.call
        if parts == ["admin", "reset"]:
            call(self.broker.reset)
            return HTTPStatus.OK, {"reset": True}
        if len(parts) == 4 and parts[:2] == ["admin", "queues"] and parts[3] == "expire-locks":
            return HTTPStatus.OK, {"expired": call(lambda: self.broker.expire_locks(parts[2]))}
        return HTTPStatus.NOT_FOUND, {"error": f"no such resource: {self.path}"}

    def _queue_stats(self, name: str) -> dict[str, Any]:
        config = self.broker.namespace.queue(name).config
        return {"name": config.name, **self.broker.namespace.stats()[config.name]}

    def _path_parts(self) -> list[str]:
        path = urllib.parse.urlsplit(self.path).path
        return [urllib.parse.unquote(p) for p in path.strip("/").split("/")]

    def _reply(self, status: HTTPStatus, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class ServiceBusAdminError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"admin API answered {status}: {message}")
        self.status = status


class ServiceBusAdmin:
    """Client for the admin API of a stand-in started with `--admin-port port`."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.base_url = f"http://{host}:{port}/admin"
        self.timeout = timeout

    def _request(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.base_url + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}").get("error", error.reason)
            raise ServiceBusAdminError(error.code, detail) from None

    def health(self) -> bool:
        try:
            return self._request("GET", "/health").get("status") == "ok"
        except (OSError, ServiceBusAdminError):
            return False

    def stats(self) -> dict[str, dict[str, int]]:
        """Per queue: active (including locked), scheduled, locked, deferred, deadLetter, sessionsLocked."""
        return self._request("GET", "/queues")

    def queue(self, name: str) -> dict[str, Any]:
        return self._request("GET", "/queues/" + urllib.parse.quote(name, safe=""))

    def depth(self, queue: str) -> int:
        """Active messages, locked ones included (Service Bus's ActiveMessageCount)."""
        return int(self.queue(queue)["active"])

    def dead_letter_depth(self, queue: str) -> int:
        return int(self.queue(queue)["deadLetter"])

    def reset(self) -> None:
        """Drop every message, lock, session state and duplicate-detection entry; keep the queues."""
        self._request("POST", "/reset")

    def expire_locks(self, queue: str) -> int:
        """Make every message lock of `queue` run out now; returns how many did."""
        return int(self._request("POST", f"/queues/{urllib.parse.quote(queue, safe='')}/expire-locks")["expired"])
