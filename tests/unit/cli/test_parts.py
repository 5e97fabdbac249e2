"""The CLI's pure parts: exit codes, rendering, the follow loop, the API client's errors and its credentials."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from interconnect_cli import render
from interconnect_cli.api import Api, ApiError, Unreachable, error_of
from interconnect_cli.auth import LOCAL_TENANT, REFRESH_BEFORE, AuthFailed, Credentials, demo_token
from interconnect_cli.exits import Exit, for_http_status, for_status
from interconnect_cli.follow import Follower
from localdev import identity
from tests.unit.cli.fakeapp import RID, FakeApi, cid, error, event, ok, view

CLI = Path(__file__).resolve().parents[3] / "interconnect_cli"


def text_of(renderable: Any) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(renderable)
    return console.export_text()


# -- exit codes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [("Succeeded", 0), ("Rejected", 3), ("Failed", 4), ("Expired", 5), ("InProgress", 6), ("AwaitingApproval", 6)],
)
def test_a_requests_end_is_its_exit_code(status: str, code: int) -> None:
    assert for_status(status) == code


def test_401_and_403_are_auth_failures_and_other_errors_api_errors() -> None:
    assert [for_http_status(s) for s in (400, 401, 403, 404, 409, 500, 503)] == [8, 7, 7, 8, 8, 8, 8]


def test_the_codes_are_distinct() -> None:
    assert len({int(e) for e in Exit}) == len(Exit)


# -- what a person sees -------------------------------------------------------------------------------------------


def test_a_refused_plan_lists_every_reason() -> None:
    plan = {
        "allowed": False,
        "wouldDo": "reject",
        "reasons": [
            {"code": "ADDRESS_OVERLAP", "message": "10.0.0.0/22 overlaps"},
            {"code": "REGION_MISMATCH", "message": "eastus vs westeurope"},
        ],
        "facts": {},
    }
    text = text_of(render.plan(plan, "connect", cid("pc-a"), cid("pc-b")))
    assert "refused" in text and "rg-avs/pc-a → rg-avs/pc-b" in text
    assert "ADDRESS_OVERLAP" in text and "REGION_MISMATCH" in text and "eastus vs westeurope" in text


def test_text_from_the_api_is_never_taken_for_markup() -> None:
    line = render.event_line(event(1, "Accepted", "t", message="[red]x[/red] [bold]"), 3)
    assert "[red]x[/red] [bold]" in line.plain and "[    3s]" in line.plain


def test_an_event_line_shows_its_reasons() -> None:
    rejected = event(3, "Rejected", "t", message="rejected")
    rejected["reasons"] = [{"code": "ADDRESS_OVERLAP", "message": "overlap"}]
    assert "ADDRESS_OVERLAP: overlap" in render.event_line(rejected, 75).plain
    assert "[ 1m15s]" in render.event_line(rejected, 75).plain


def test_an_event_line_shortens_the_cloud_ids_in_its_message() -> None:
    accepted = event(1, "Accepted", "api:a", message=f"connect {cid('pc-a')} ⇄ {cid('pc-b')} requested")
    plain = render.event_line(accepted, 0).plain
    assert "connect rg-avs/pc-a ⇄ rg-avs/pc-b requested" in plain and "/subscriptions/" not in plain


def test_the_spinner_names_the_request_to_approve() -> None:
    request_id = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"
    line = render.waiting(request_id, "AwaitingApproval", 0.0).plain
    assert f"interconnect approve {request_id}" in line and "<id>" not in line


def test_a_request_shows_its_trail_and_reasons() -> None:
    shown = text_of(
        render.request(
            view(
                "Rejected",
                [event(1, "Accepted", "t1", "asked"), event(2, "Rejected", "t2", "no")],
                reasons=[{"code": "SAME_REGION", "message": "m"}],
            )
        )
    )
    assert RID in shown and "Rejected" in shown and "SAME_REGION" in shown and "asked" in shown


@pytest.mark.parametrize(
    ("given", "short"),
    [(cid("pc-a", "rg-x"), "rg-x/pc-a"), ("not an id", "not an id"), (None, "")],
)
def test_ids_show_as_group_and_name(given: object, short: str) -> None:
    assert render.short(given) == short


def test_an_error_lists_its_candidates() -> None:
    text = render.error("AMBIGUOUS_CLOUD", "which one?", {"candidates": [cid("pc-a"), cid("pc-a", "rg-b")]}).plain
    assert "AMBIGUOUS_CLOUD: which one?" in text and cid("pc-a", "rg-b") in text


def test_candidates_the_message_already_names_are_not_listed_again() -> None:
    # The app's wording for an unknown name (chat's): close matches as rg/name, a full id where two share one.
    twins = [cid("pc-sea-01", "rg-x"), cid("pc-sea-01", "rg-x").replace("/subscriptions/1111", "/subscriptions/3333")]
    close = [cid("pc-sea-01", "rg-avs-sea"), cid("pc-sea-02", "rg-avs-sea"), *twins]
    listed = ", ".join(["rg-avs-sea/pc-sea-01", "rg-avs-sea/pc-sea-02", *twins])
    message = f"I know no private cloud 'pc-sea-0'. Did you mean: {listed}?"
    text = render.error("CLOUD_NOT_FOUND", message, {"candidates": close}).plain
    assert text == f"error CLOUD_NOT_FOUND: {message}"  # each candidate once, as the app named it
    # Past the app's listing limit ("and 2 more"), the ones left out still show, as full ids.
    more = [cid(f"pc-{n}") for n in range(3)]
    text = render.error("CLOUD_NOT_FOUND", "Did you mean: rg-avs/pc-0 and 2 more?", {"candidates": more}).plain
    assert text.count("rg-avs/pc-0") == 1 and f"and also:\n  {more[1]}\n  {more[2]}" in text


# -- following a request ------------------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[int, float]] = []
        self.statuses: list[str] = []
        self.problems: list[str] = []

    def event(self, event: dict[str, Any], elapsed: float) -> None:
        self.events.append((event["sequence"], elapsed))

    def status(self, status: str) -> None:
        self.statuses.append(status)

    def problem(self, text: str, elapsed: float) -> None:
        self.problems.append(text)


class Ticks:
    """A clock that moves only when the follower sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def api_over(fake: FakeApi) -> Api:
    return Api("https://app.test", Credentials("k"), httpx.Client(transport=fake.transport))


def follower(fake: FakeApi, progress: Recorder, timeout: float | None = 60) -> tuple[Follower, Ticks]:
    ticks = Ticks()
    return Follower(api_over(fake), progress, interval=1, timeout=timeout, clock=ticks, sleep=ticks.sleep), ticks


def test_each_event_is_shown_once_in_order_until_the_request_ends() -> None:
    fake, progress = FakeApi(), Recorder()
    e1 = event(1, "Accepted", "2026-01-01T00:00:00+00:00")
    e2 = event(2, "Validating", "2026-01-01T00:00:02+00:00")
    e3 = event(3, "Succeeded", "2026-01-01T00:00:09+00:00")
    fake.on(
        "GET",
        f"/api/requests/{RID}",
        ok(view("Accepted", [e1])),
        ok(view("Validating", [e1, e2])),
        ok(view("Validating", [e2, e1])),
        ok(view("Succeeded", [e1, e2, e3])),
    )
    outcome = follower(fake, progress)[0].request(RID)
    assert outcome.finished and outcome.view is not None and outcome.view["status"] == "Succeeded"
    # Elapsed by the app's own clock: since the request was made.
    assert progress.events == [(1, 0.0), (2, 2.0), (3, 9.0)]
    assert progress.statuses == ["Accepted", "Validating", "Validating", "Succeeded"]


def test_the_deadline_ends_the_wait_unfinished_with_the_last_answer() -> None:
    fake, progress = FakeApi(), Recorder()
    fake.on("GET", f"/api/requests/{RID}", ok(view("AwaitingApproval", [])))
    follow, ticks = follower(fake, progress, timeout=5)
    outcome = follow.request(RID)
    assert not outcome.finished and outcome.view is not None and outcome.view["status"] == "AwaitingApproval"
    assert ticks.now == 5


def test_a_failure_that_may_pass_is_reported_and_tried_again() -> None:
    fake, progress = FakeApi(), Recorder()
    fake.on(
        "GET",
        f"/api/requests/{RID}",
        error(503, "DEPENDENCY_UNAVAILABLE", "tables down"),
        ok(view("Failed", [])),
    )
    outcome = follower(fake, progress)[0].request(RID)
    assert outcome.finished and progress.problems == ["DEPENDENCY_UNAVAILABLE: tables down"]


def test_an_error_that_will_not_pass_ends_the_wait() -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", error(404, "REQUEST_NOT_FOUND", "no such request"))
    with pytest.raises(ApiError) as raised:
        follower(fake, Recorder())[0].request(RID)
    assert (raised.value.status, raised.value.code) == (404, "REQUEST_NOT_FOUND")


def test_an_audit_run_is_awaited_until_it_is_stored() -> None:
    fake = FakeApi()
    fake.on("GET", "/api/audits/r1", error(404, "AUDIT_NOT_FOUND", "not yet"), ok({"runId": "r1"}))
    outcome = follower(fake, Recorder())[0].audit("r1")
    assert outcome.finished and outcome.view == {"runId": "r1"}


# -- the API client -----------------------------------------------------------------------------------------------


def test_the_apps_error_body_becomes_its_code_and_message() -> None:
    response = httpx.Response(409, json={"error": {"code": "AMBIGUOUS_CLOUD", "message": "m", "details": {"a": 1}}})
    assert error_of(response) == ApiError(409, "AMBIGUOUS_CLOUD", "m", {"a": 1})


def test_an_answer_without_the_error_body_gets_a_code_from_its_status() -> None:
    error = error_of(httpx.Response(401, content=b""))
    assert (error.code, error.status) == ("HTTP_401", 401) and "function key" in error.message


def test_the_key_and_the_token_go_in_headers_never_in_the_url() -> None:
    fake = FakeApi()
    fake.on("GET", "/api/links", ok({"value": []}))
    api = Api(
        "https://app.test", Credentials("the-key", lambda: ("the-token", 1e12)), httpx.Client(transport=fake.transport)
    )
    api.links(cid("pc-a"))
    (sent,) = fake.seen
    assert sent.headers["x-functions-key"] == "the-key" and sent.headers["Authorization"] == "Bearer the-token"
    assert "the-key" not in str(sent.url) and "the-token" not in str(sent.url)


def test_a_short_name_is_resolved_by_the_app_and_a_full_id_is_not() -> None:
    fake = FakeApi()
    fake.on("GET", "/api/clouds", ok({"cloud": cid("pc-a")}))
    api = api_over(fake)
    assert api.resolve_cloud("pc-a") == cid("pc-a") and api.resolve_cloud(cid("pc-z")) == cid("pc-z")
    assert [str(r.url.params) for r in fake.seen] == ["ref=pc-a"]


def test_an_app_that_cannot_be_reached_is_unreachable_and_the_message_holds_no_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api = Api("https://app.test", Credentials("the-key"), httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(Unreachable) as raised:
        api.request(RID)
    assert "connection refused" in str(raised.value) and "the-key" not in str(raised.value)


# -- credentials --------------------------------------------------------------------------------------------------


def test_a_token_is_fetched_once_and_again_shortly_before_it_expires() -> None:
    fetched: list[int] = []
    now = [1000.0]

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"t{len(fetched)}", now[0] + 3600

    creds = Credentials(None, fetch, now=lambda: now[0])
    assert creds.headers() == {"Authorization": "Bearer t1"}
    now[0] += 3600 - REFRESH_BEFORE - 1
    assert creds.headers()["Authorization"] == "Bearer t1"
    now[0] += 1
    assert creds.headers()["Authorization"] == "Bearer t2"


def test_a_demo_token_comes_from_the_stand_ins_token_endpoint() -> None:
    def mint(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/{LOCAL_TENANT}/oauth2/v2.0/token"
        user = __import__("json").loads(request.content)["user"]
        if user != "alice":
            return httpx.Response(400, json={"error": "unknown_user", "users": ["alice", "bob"]})
        return httpx.Response(200, json={"access_token": "demo-token", "expires_in": 3600})

    http = httpx.Client(transport=httpx.MockTransport(mint))
    assert demo_token(http, "http://127.0.0.1:7079", "alice")()[0] == "demo-token"
    with pytest.raises(AuthFailed, match="no demo user 'zed'; the stand-in knows alice, bob"):
        demo_token(http, "http://127.0.0.1:7079", "zed")()


def test_the_local_tenant_is_the_identity_stand_ins() -> None:
    assert LOCAL_TENANT == identity.TENANT


def test_the_cli_imports_neither_the_app_nor_the_local_cloud() -> None:
    # It talks to the app over HTTP only, and installs without either (pyproject packages only interconnect_cli).
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in ("interconnect", "localdev", "tests"), f"{path.name} imports {name}"


@pytest.mark.parametrize(
    ("auth", "kind"),
    [
        ("cli", "AzureCliCredential"),
        ("device", "DeviceCodeCredential"),
        ("managed", "ManagedIdentityCredential"),
        ("default", "DefaultAzureCredential"),
    ],
)
def test_auth_names_the_azure_identity_credential(auth: str, kind: str) -> None:
    from interconnect_cli.auth import entra_credential
    from interconnect_cli.config import Settings

    tenant, client = "7e5d1c2a-4b1e-4c3d-9a0f-1ce1dc0c0001", "3c1a6e0d-9b2f-4e51-8d7a-1ce1dc0c00a9"
    settings = Settings(url="https://x", auth=auth, scope="api://x/.default", tenant_id=tenant, client_id=client)
    assert type(entra_credential(settings)).__name__ == kind  # made, not used: nothing is asked of Entra


def test_an_entra_failure_is_told_once_without_azure_identitys_own_warning(tmp_path: Path) -> None:
    # A real process: pytest's log capture would hide the warning Python's last-resort handler prints to stderr.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCONNECT_", "AZURE_"))}
    env |= {"PATH": str(tmp_path), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}  # no `az` on PATH
    argv = [sys.executable, "-m", "interconnect_cli", "--url", "http://127.0.0.1:1", "--auth", "cli"]
    done = subprocess.run(
        [*argv, "--scope", "api://x", "plan", "a", "b"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 7, done.stderr
    assert done.stderr.startswith("error SIGN_IN_FAILED") and "get_token failed" not in done.stderr


def test_an_entra_refusal_is_an_auth_failure_that_says_why() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from interconnect_cli.auth import entra_token

    class NotLoggedIn:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise ClientAuthenticationError("Please run 'az login' to set up an account")

    with pytest.raises(AuthFailed, match=r"no Entra token for api://x/\.default: Please run 'az login'"):
        entra_token(NotLoggedIn(), "api://x/.default")()
