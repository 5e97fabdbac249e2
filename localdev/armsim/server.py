"""The HTTP front door: what ARM does before a request reaches the resource provider, then the provider.

Every ARM call goes through the same pipeline: injected latency, an injected dropped connection, the
subscription's throttle bucket, an injected error, the `api-version` check, routing, the answer, and an
entry in the call log. HTTP/1.1 keep-alive is on because the SDK reuses connections, which is also what
makes a dropped connection look the way it does in Azure.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from localdev.armsim import admin_api, arm, routes
from localdev.armsim.arm import Request, Response, error_response, seconds
from localdev.armsim.calllog import CallLog
from localdev.armsim.errors import ArmError
from localdev.armsim.faults import Call, Decision, Faults
from localdev.armsim.fleet import Fleet
from localdev.armsim.state import World

log = logging.getLogger("armsim")


class Simulator:
    """Everything a running simulator holds. Loading a fleet replaces the world, faults and call log."""

    def __init__(self, fleet: Fleet) -> None:
        self.calls = CallLog()
        self.faults = Faults()
        self.load(fleet)

    def load(self, fleet: Fleet) -> None:
        self.world = World(fleet)
        self.faults.configure(fleet.faults)
        self.calls.clear()


class ArmSimServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, port: int, sim: Simulator, host: str = "127.0.0.1") -> None:
        self.sim = sim
        super().__init__((host, port), Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One segment per response, sent at once: with Nagle on, the body would wait ~40 ms for the
    # client's delayed ACK of the headers, which would dominate every poll loop.
    disable_nagle_algorithm = True
    wbufsize = -1
    server: ArmSimServer

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_DELETE = do_PATCH = do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(
                Response(
                    411,
                    {
                        "error": {
                            "code": "LengthRequired",
                            "message": "send Content-Length; chunked bodies are not read",
                        }
                    },
                )
            )
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if url.path == "/admin" or url.path.startswith("/admin/"):
                self._send(admin_api.handle(self.server.sim, self.command, url.path, query, body))
            else:
                self._arm(url.path, url.query, query, body)
        except Exception:  # a bug in the simulator must still answer, or the client hangs until timeout
            log.exception("%s %s failed", self.command, self.path)
            self._send(error_response(ArmError(500, "InternalServerError", "armsim failed; see its log")))

    def _arm(self, path: str, raw_query: str, query: dict[str, str], body: bytes) -> None:
        started = time.monotonic()
        sim = self.server.sim
        match = routes.match(self.command, path)
        kind = match.kind if match else routes.UNKNOWN
        sub = routes.subscription_of(path)
        decision = sim.faults.decide(Call(self.command, path, kind, sub))
        if decision.delay:
            time.sleep(decision.delay)
        if decision.drop and not decision.drop.after:
            response, fault = None, "drop"
        else:
            response, fault = self._answer(path, query, body, match, sub, decision)
            if decision.drop:
                response, fault = None, "drop-after"
        # Recorded before the client can see the answer, so a call it makes in reaction (a retry after the
        # drop) is always logged after this one.
        sim.calls.record(
            {
                "time": time.time(),
                "method": self.command,
                "path": path,
                "query": raw_query,
                "kind": kind,
                "subscription": sub,
                "status": response.status if response else None,
                "fault": fault,
                "durationMs": round((time.monotonic() - started) * 1000, 3),
            }
        )
        if response is None:
            self._drop()
        else:
            self._send(response)
        log.info(
            "%s %s -> %s %s%s",
            self.command,
            path,
            response.status if response else "dropped",
            kind,
            f" [{fault}]" if fault else "",
        )

    def _answer(
        self,
        path: str,
        query: dict[str, str],
        body: bytes,
        match: routes.Match | None,
        sub: str | None,
        decision: Decision,
    ) -> tuple[Response, str | None]:
        sim = self.server.sim
        headers = {"x-ms-request-id": str(uuid.uuid4())}
        if "x-ms-client-request-id" in self.headers:
            headers["x-ms-client-request-id"] = self.headers["x-ms-client-request-id"]
        if sub is not None:
            verdict = sim.faults.meter(sub, self.command)
            if verdict.remaining is not None:
                headers[f"x-ms-ratelimit-remaining-subscription-{verdict.op}"] = str(verdict.remaining)
            if not verdict.allowed:
                throttled = ArmError(
                    429,
                    "SubscriptionRequestsThrottled",
                    f"Number of '{verdict.op}' requests for subscription '{sub}' exceeded.",
                )
                return error_response(throttled, {**headers, "Retry-After": str(verdict.retry_after)}), "throttle"
        if decision.error is not None:
            rule = decision.error
            if rule.retry_after is not None:
                headers["Retry-After"] = seconds(rule.retry_after)
            return error_response(ArmError(rule.status, rule.code, "armsim injected this fault."), headers), "error"
        if "api-version" not in query:
            response = error_response(
                ArmError(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                )
            )
        elif match is None:
            response = error_response(ArmError(404, "InvalidResourceType", f"armsim does not simulate {path}."))
        elif not match.method_allowed:
            response = error_response(
                ArmError(405, "MethodNotAllowed", f"armsim does not simulate {self.command} on this resource type.")
            )
        else:
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address)
            request = Request(path=path, query=query, params=match.params, body=body, base_url=f"http://{host}")
            response = arm.handle(match.kind, request, sim.world, sim.faults)
        response.headers = {**headers, **response.headers}
        return response, None

    def _send(self, response: Response) -> None:
        data = json.dumps(response.body).encode() if response.body is not None else b""
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """Close the connection without a word, as a broken network path would."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)


def serve(port: int, fleet: Fleet, host: str = "127.0.0.1") -> None:
    """Serve until SIGTERM/SIGINT; binding happens after the fleet validated, so an open port means ready."""
    server = ArmSimServer(port, Simulator(fleet), host)
    log.info("armsim listening on http://%s:%d (%d clouds)", host, port, len(fleet.clouds))
    try:
        server.serve_forever()
    finally:
        server.server_close()
