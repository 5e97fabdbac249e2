"""Serve HTTP-triggered functions on a threaded stdlib server, as the Functions host front end does.

Requests become real `azure.functions.HttpRequest` objects (query and headers as single values, with
repeated ones joined by commas as ASP.NET presents them to the worker) and the function's return
value is translated as the worker's HTTP output converter translates it. Function keys are checked
only when `LOCALHOST_FUNCTION_KEYS` is set, matching `func start`, which skips keys locally.
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions import _abc

from localdev.host.bindings import AUTH_ANONYMOUS, FunctionSpec, HttpTrigger
from localdev.host.invocation import Draining, Invoker
from localdev.host.routes import MethodNotAllowed, RouteTable

log = logging.getLogger("localdev.host.http")

_KEY_HEADER = "x-functions-key"
_KEY_QUERY = "code"
# Idle keep-alive connections give their thread back after this many seconds.
_CONNECTION_TIMEOUT = 60
# Headers the server computes itself; a function's values for them would corrupt the framing.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def to_reply(result: Any) -> _Reply:
    """Translate a function's return value as the worker's `http` output converter does."""
    if result is None:
        return _Reply(HTTPStatus.NO_CONTENT, [], b"")
    if isinstance(result, str):
        return _Reply(HTTPStatus.OK, [("Content-Type", "text/plain; charset=utf-8")], result.encode())
    if isinstance(result, _abc.HttpResponse):
        headers = list(result.headers.items())
        if not any(name.lower() == "content-type" for name, _ in headers):
            content_type = result.mimetype
            if content_type.startswith("text/"):
                content_type += f"; charset={result.charset}"
            headers.append(("Content-Type", content_type))
        return _Reply(int(result.status_code), headers, result.get_body() or b"")
    raise TypeError(f"unable to encode the HTTP output: unsupported return type {type(result).__name__}")


class FunctionsHttpServer:
    """The HTTP front end: routes, auth level, invocation, response."""

    def __init__(
        self,
        host: str,
        port: int,
        functions: Iterable[FunctionSpec],
        invoker: Invoker,
        route_prefix: str,
        function_keys: frozenset[str] | None,
    ) -> None:
        self.host, self.port = host, port
        self.route_prefix = route_prefix
        self.function_keys = function_keys
        self.invoker = invoker
        self.routes: RouteTable[FunctionSpec] = RouteTable()
        self.functions = [f for f in functions if isinstance(f.trigger, HttpTrigger)]
        for spec in self.functions:
            assert isinstance(spec.trigger, HttpTrigger)
            self.routes.add(spec.trigger.route, spec.trigger.methods, spec, spec.name)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Requests being answered, counted until their reply is written: an invocation that has
        # returned still has a reply to send, and the process must not exit before it is sent.
        self._replying = 0
        self._replying_changed = threading.Condition()

    def bind(self, *, share_port: bool = False, join_siblings: bool = False) -> None:
        """Claim the port (OSError if taken); connections wait in the backlog until `serve`.

        `share_port`: several instances of this host serve the port, each with its own socket, and the
        kernel spreads new connections among the sockets that listen (SO_REUSEPORT, Linux). Any process of
        the same user that sets the option could join in, another host on the same port included, so the
        first instance (`join_siblings` false) first checks that no socket holds the port: a busy port then
        fails as it does without sharing. Later instances (`join_siblings`) join the sockets already there.
        """
        server = _Server((self.host, self.port), _Handler, bind_and_activate=False)
        try:
            if share_port:
                if not join_siblings:
                    _check_port_free(server)
                server.allow_reuse_port = True
            server.server_bind()
            server.server_activate()
        except BaseException:
            server.server_close()
            raise
        server.front_end = self
        self._server = server

    def serve(self) -> None:
        assert self._server is not None, "bind() first"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="http-server", daemon=True
        )
        self._thread.start()

    def wait_for_replies(self, timeout: float) -> bool:
        """Wait up to `timeout` s until no reply is being written; True if none is left."""
        with self._replying_changed:
            return self._replying_changed.wait_for(lambda: self._replying == 0, timeout)

    @contextmanager
    def replying(self) -> Iterator[None]:
        """Count one request as being answered until its reply is written."""
        with self._replying_changed:
            self._replying += 1
        try:
            yield
        finally:
            with self._replying_changed:
                self._replying -= 1
                self._replying_changed.notify_all()

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, host_header: str | None
    ) -> _Reply:
        split = urlsplit(target)
        below_prefix = self._below_prefix(split.path.lstrip("/"))
        resolved = self.routes.resolve(method, below_prefix) if below_prefix is not None else None
        if resolved is None:
            return _Reply(HTTPStatus.NOT_FOUND, [], b"")
        if isinstance(resolved, MethodNotAllowed):
            return _Reply(HTTPStatus.METHOD_NOT_ALLOWED, [("Allow", ", ".join(resolved.allowed))], b"")
        spec = resolved.target
        header_map = _join(headers, ", ", lower=True)
        params = _join(parse_qsl(split.query, keep_blank_values=True), ",")
        assert isinstance(spec.trigger, HttpTrigger)
        if not self._authorized(spec.trigger, header_map, params):
            return _Reply(HTTPStatus.UNAUTHORIZED, [], b"")
        request = func.HttpRequest(
            method,
            f"http://{host_header or f'{self.host}:{self.port}'}{target}",
            headers=header_map,
            params=params,
            route_params=resolved.route_params,
            body=body,
        )
        try:
            return self.invoker.run(spec, request, to_reply, trace_parent=header_map.get("traceparent"))
        except Draining:
            return _Reply(
                HTTPStatus.SERVICE_UNAVAILABLE,
                [("Content-Type", "text/plain; charset=utf-8")],
                b"The host is shutting down.",
            )
        except Exception:
            # Already logged with its traceback by the invoker; the caller learns nothing internal.
            return _Reply(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                [("Content-Type", "text/plain; charset=utf-8")],
                b"Internal Server Error",
            )

    def _below_prefix(self, path: str) -> str | None:
        if not self.route_prefix:
            return path
        prefix = self.route_prefix.lower()
        lowered = path.lower()
        if lowered == prefix:
            return ""
        if lowered.startswith(prefix + "/"):
            return path[len(prefix) + 1 :]
        return None

    def _authorized(self, trigger: HttpTrigger, headers: dict[str, str], params: dict[str, str]) -> bool:
        if trigger.auth_level == AUTH_ANONYMOUS or self.function_keys is None:
            return True
        offered = headers.get(_KEY_HEADER) or params.get(_KEY_QUERY) or ""
        return any(hmac.compare_digest(offered.encode(), key.encode()) for key in self.function_keys)


def _join(pairs: Iterable[tuple[str, str]], separator: str, lower: bool = False) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower() if lower else name
        joined[key] = f"{joined[key]}{separator}{value}" if key in joined else value
    return joined


def _check_port_free(server: _Server) -> None:
    """Raise OSError (address in use) if any socket is bound to the server's address.

    A socket bound without SO_REUSEPORT conflicts with every other socket on the address, shared or not.
    SO_REUSEADDR, as the server itself sets it, lets connections of a previous run that linger in TIME_WAIT
    pass, as they do for the server.
    """
    with socket.socket(server.address_family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(server.server_address)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    front_end: FunctionsHttpServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localdev-functions-host"
    timeout = _CONNECTION_TIMEOUT
    server: _Server

    def _dispatch(self) -> None:
        with self.server.front_end.replying():
            self._answer()

    def _answer(self) -> None:
        try:
            body = self._read_body()
        except ValueError as e:
            self.send_error(HTTPStatus.BAD_REQUEST, str(e))
            return
        reply = self.server.front_end.handle(
            self.command, self.path, list(self.headers.items()), body, self.headers.get("Host")
        )
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise ValueError("invalid Content-Length")
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size_line = self.rfile.readline(65537).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ValueError("invalid chunk size") from None
            if size == 0:
                # Trailer fields, up to the blank line that ends the message.
                while self.rfile.readline(65537).strip():
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)
