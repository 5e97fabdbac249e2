"""The host as a child process serving the sample app's HTTP functions."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection

import pytest

from localdev.procs import wait_until
from tests.localhost.conftest import RunningHost, StartHost

KEY = "local-test-key"


@pytest.fixture(scope="module")
def open_host(module_host: Callable[..., RunningHost]) -> RunningHost:
    """No LOCALHOST_FUNCTION_KEYS: keys are not checked, as with `func start`."""
    return module_host()


@pytest.fixture(scope="module")
def keyed_host(module_host: Callable[..., RunningHost]) -> RunningHost:
    return module_host(LOCALHOST_FUNCTION_KEYS=f"other-key, {KEY}")


def test_request_reaches_the_function_with_route_params_query_headers_and_body(open_host: RunningHost) -> None:
    status, headers, body = open_host.request(
        "POST", "/api/echo/42?a=1&a=2&empty=", b'{"x": 1}', {"X-Test": "value", "Content-Type": "application/json"}
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Sample"] == "echo"
    seen = json.loads(body)
    assert seen["method"] == "POST"
    assert seen["url"] == f"http://127.0.0.1:{open_host.port}/api/echo/42?a=1&a=2&empty="
    assert seen["route_params"] == {"id": "42"}
    assert seen["params"] == {"a": "1,2", "empty": ""}  # repeated values joined, as ASP.NET does
    assert seen["headers"]["x-test"] == "value"
    assert seen["body"] == '{"x": 1}'


def test_a_chunked_request_body_is_read(open_host: RunningHost) -> None:
    connection = HTTPConnection("127.0.0.1", open_host.port, timeout=30)
    try:
        connection.request("POST", "/api/echo/1", body=iter([b"hello ", b"chunked ", b"world"]), encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["body"] == "hello chunked world"
    finally:
        connection.close()


def test_a_request_without_a_body_gets_an_empty_one(open_host: RunningHost) -> None:
    status, _, body = open_host.request("GET", "/api/echo/1")
    assert status == 200 and json.loads(body)["body"] == ""


@pytest.mark.parametrize("path", ["/api/nowhere", "/echo/1", "/api/echo", "/api/things/not-an-int"])
def test_unknown_routes_are_404(open_host: RunningHost, path: str) -> None:
    assert open_host.request("GET", path)[0] == 404


def test_a_method_the_route_does_not_allow_is_405(open_host: RunningHost) -> None:
    status, headers, _ = open_host.request("PUT", "/api/things/3")
    assert status == 405
    assert headers["Allow"] == "DELETE, GET"


def test_functions_sharing_a_route_are_chosen_by_method(open_host: RunningHost) -> None:
    assert open_host.request("GET", "/api/things/3")[2] == b"get 3"
    assert open_host.request("DELETE", "/api/things/3")[0] == 202


def test_an_exception_is_a_500_without_internals(open_host: RunningHost) -> None:
    status, _, body = open_host.request("GET", "/api/boom")
    assert status == 500
    assert b"secret" not in body and b"Traceback" not in body
    assert "RuntimeError: secret internal detail" in open_host.log()  # logged with its traceback


def test_without_a_route_the_function_name_is_the_route_and_context_is_passed(open_host: RunningHost) -> None:
    status, _, body = open_host.request("GET", "/api/unrouted")
    assert status == 200
    seen = json.loads(body)
    assert seen["function"] == "unrouted" and len(seen["invocation_id"]) == 36


def test_async_functions_and_optional_route_params(open_host: RunningHost) -> None:
    assert open_host.request("GET", "/api/async/ada")[2] == b"hello ada"
    assert open_host.request("GET", "/api/async")[2] == b"hello nobody"


def test_a_plain_string_return_is_a_200_text_response(open_host: RunningHost) -> None:
    status, headers, body = open_host.request("GET", "/api/public/ping")
    assert (status, body) == (200, b"pong")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


def test_catch_all_route(open_host: RunningHost) -> None:
    assert open_host.request("GET", "/api/files/a/b%20c/d.txt")[2] == b"a/b c/d.txt"


def test_returning_none_is_204_and_keys_are_not_checked_when_unset(open_host: RunningHost) -> None:
    assert open_host.request("POST", "/api/nothing", b"admin-level, no key")[0] == 204
    assert {"function": "nothing", "body": "admin-level, no key"} in open_host.records("nothing")


def test_requests_are_served_concurrently(start_host: StartHost) -> None:
    # Each request returns only when all 6 are inside the function at once. The barrier lives in one
    # process, so one HTTP instance must take all 6: each instance answers its requests concurrently.
    host = start_host(http_instances=1)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: host.request("GET", "/api/barrier/6"), range(6)))
    assert [(status, body) for status, _, body in results] == [(200, b"together")] * 6


def test_a_head_request_gets_headers_only(open_host: RunningHost) -> None:
    status, headers, body = open_host.request("HEAD", "/api/unrouted")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) > 0


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/echo/1", {}, 401),
        ("/api/echo/1", {"x-functions-key": "wrong"}, 401),
        ("/api/echo/1", {"x-functions-key": KEY}, 200),
        ("/api/echo/1", {"X-Functions-Key": "other-key"}, 200),
        (f"/api/echo/1?code={KEY}", {}, 200),
        ("/api/echo/1?code=wrong", {}, 401),
        ("/api/public/ping", {}, 200),  # anonymous
        ("/api/nowhere", {}, 404),
    ],
)
def test_function_keys_when_configured(
    keyed_host: RunningHost, path: str, headers: dict[str, str], status: int
) -> None:
    assert keyed_host.request("GET", path, headers=headers)[0] == status


def test_admin_level_functions_take_the_same_keys(keyed_host: RunningHost) -> None:
    assert keyed_host.request("POST", "/api/nothing", b"x")[0] == 401
    assert keyed_host.request("POST", "/api/nothing", b"x", {"x-functions-key": KEY})[0] == 204


def test_the_ready_line_lists_the_functions(open_host: RunningHost) -> None:
    # The port opens with the first HTTP instance; the line comes once every instance serves.
    wait_until(lambda: "Functions host ready" in open_host.log(), 15, what="the ready line")
    log = open_host.log()
    assert f"Functions host ready on http://127.0.0.1:{open_host.port} (keys not checked)" in log
    assert f"echo: [GET,POST] http://127.0.0.1:{open_host.port}/api/echo/{{id}}" in log
    assert "on_message: serviceBus queue 'sample-queue' (connection ServiceBusConnection, 2 concurrent)" in log
    assert "tick: timer '0 0 0 1 1 *' (UTC)" in log


def test_one_log_line_per_invocation(open_host: RunningHost) -> None:
    open_host.request("GET", "/api/public/ping")
    assert "Executed 'Functions.ping' (trigger=http, Succeeded, Id=" in open_host.log()


def test_requests_in_parallel_with_a_slow_one(open_host: RunningHost, tmp_path_factory) -> None:
    gate = tmp_path_factory.mktemp("gate") / "open"
    slow = threading.Thread(target=open_host.request, args=("GET", f"/api/gate?open={gate}"))
    slow.start()
    try:
        open_host.wait_for_records("gate", 1)
        assert open_host.request("GET", "/api/public/ping")[0] == 200
    finally:
        gate.touch()
        slow.join(30)
