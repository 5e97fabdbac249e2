"""The commands over a scripted API (httpx.MockTransport): what they print, on which stream, and their exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from interconnect_cli.commands import cli
from tests.unit.cli.fakeapp import RID, FakeApi, cid, error, event, ok, view

pytestmark = pytest.mark.usefixtures("clean_environment")

KEY = "unit-test-function-key"


def run(fake: FakeApi, *args: str, key: bool = True) -> Result:
    base = ["--url", "https://app.test"] + (["--function-key", KEY] if key else [])
    return CliRunner().invoke(cli, [*base, *args], obj={"transport": fake.transport}, catch_exceptions=False)


def resolving(fake: FakeApi) -> None:
    fake.on("GET", "/api/clouds", lambda r: ok({"cloud": cid(r.url.params["ref"])}))


def plan_answer(allowed: bool) -> dict[str, Any]:
    reasons = [] if allowed else [{"code": "ADDRESS_OVERLAP", "message": "10.0.0.0/22 overlaps 10.0.0.0/22"}]
    return {"allowed": allowed, "wouldDo": "create" if allowed else "reject", "outcome": None, "reasons": reasons}


def test_a_refused_plan_shows_its_reasons_and_exits_3() -> None:
    fake = FakeApi()
    resolving(fake)
    fake.on("POST", "/api/requests", ok(plan_answer(False)))
    result = run(fake, "plan", "pc-a", "pc-b")
    assert result.exit_code == 3
    assert "refused" in result.stdout and "ADDRESS_OVERLAP" in result.stdout
    sent = fake.seen[-1]
    assert sent.url.params["dryRun"] == "true"
    assert json.loads(sent.content) == {"action": "connect", "source": cid("pc-a"), "target": cid("pc-b")}


def test_an_allowed_plan_exits_0_and_json_output_is_the_apis_answer_alone() -> None:
    fake = FakeApi()
    resolving(fake)
    fake.on("POST", "/api/requests", ok(plan_answer(True)))
    result = run(fake, "plan", "pc-a", "pc-b", "--output", "json")
    assert result.exit_code == 0 and json.loads(result.stdout) == plan_answer(True) and result.stderr == ""


def test_connect_wait_shows_each_step_and_exits_by_the_outcome() -> None:
    fake = FakeApi()
    resolving(fake)
    fake.on("POST", "/api/requests", ok({"requestId": RID, "status": "Accepted", "statusUrl": "u"}, 202))
    e1 = event(1, "Accepted", "2026-01-01T00:00:00+00:00", "asked")
    e2 = event(2, "InProgress", "2026-01-01T00:00:03+00:00", "link requested")
    e3 = event(3, "Failed", "2026-01-01T00:01:03+00:00", "link is Failed")
    fake.on(
        "GET",
        f"/api/requests/{RID}",
        ok(view("Accepted", [e1])),
        ok(view("Failed", [e1, e2, e3], outcome="AVS reported Failed")),
    )
    result = run(fake, "connect", "pc-a", "pc-b", "--ticket", "CHG-7", "--wait", "--interval", "0.2")
    assert result.exit_code == 4
    lines = result.stdout.splitlines()
    steps = [next(i for i, line in enumerate(lines) if text in line) for text in ("asked", "requested", "is Failed")]
    assert steps == sorted(steps)  # each step once it appears, in order
    assert any("[    3s] InProgress" in line for line in lines) and any("[ 1m03s] Failed" in line for line in lines)
    assert "AVS reported Failed" in result.stdout
    submitted = json.loads(fake.seen[2].content)
    assert submitted["reference"] == "CHG-7"


def test_wait_past_its_timeout_exits_6_and_says_how_to_go_on() -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", ok(view("AwaitingApproval", [])))
    result = run(fake, "wait", RID, "--timeout", "0.3", "--interval", "0.2")
    assert result.exit_code == 6
    assert "TIMED_OUT" in result.stderr and f"interconnect wait {RID}" in result.stderr


def test_json_wait_prints_only_the_final_request() -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", ok(view("Expired", [event(1, "Expired", "2026-01-01T00:00:00+00:00")])))
    result = run(fake, "-o", "json", "wait", RID)
    assert result.exit_code == 5 and json.loads(result.stdout)["status"] == "Expired"


@pytest.mark.parametrize(("status", "code"), [(401, 7), (403, 7), (400, 8), (503, 8)])
def test_api_errors_show_code_and_message_and_exit_by_status(status: int, code: int) -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", error(status, "SOME_CODE", "what went wrong"))
    result = run(fake, "status", RID)
    assert result.exit_code == code and "SOME_CODE: what went wrong" in result.stderr and result.stdout == ""


def test_an_ambiguous_name_lists_the_candidates() -> None:
    fake = FakeApi()
    both = [cid("pc-a"), cid("pc-a", "rg-b")]
    fake.on("GET", "/api/clouds", error(409, "AMBIGUOUS_CLOUD", "'pc-a' matches 2 private clouds", candidates=both))
    result = run(fake, "links", "pc-a")
    assert result.exit_code == 8
    assert "AMBIGUOUS_CLOUD" in result.stderr and all(c in result.stderr for c in both)
    as_json = run(fake, "links", "pc-a", "-o", "json")
    assert json.loads(as_json.stdout)["error"]["details"]["candidates"] == both


def test_an_unreachable_app_exits_9() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = CliRunner().invoke(
        cli, ["--url", "https://app.test", "status", RID], obj={"transport": httpx.MockTransport(refuse)}
    )
    assert result.exit_code == 9 and "UNREACHABLE" in result.stderr
    assert "https://app.test/api/requests/" in result.stderr and "interconnect config" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["status", "not-a-uuid"], ["requests", "--limit", "0"], ["requests", "--status", "Done"], ["nonsense"]],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    assert run(FakeApi(), *args).exit_code == 2


@pytest.mark.parametrize("args", [["status", "not-a-uuid"], ["--no-such-option", "requests"], ["nonsense"]])
def test_a_usage_error_is_clicks_message_on_stderr_even_with_output_json(args: list[str]) -> None:
    # As the README says: click stops before any command runs, so no JSON; stdout stays empty for a pipeline.
    result = run(FakeApi(), "-o", "json", *args)
    assert result.exit_code == 2 and result.stdout == "" and "Error:" in result.stderr


def test_a_missing_setting_with_output_json_is_a_json_error_exiting_2() -> None:
    result = CliRunner().invoke(cli, ["-o", "json", "status", RID], obj={"transport": FakeApi().transport})
    answer = json.loads(result.stdout)
    assert result.exit_code == 2 and answer["exitCode"] == 2 and answer["error"]["code"] == "CONFIG"
    assert "INTERCONNECT_URL" in answer["error"]["message"]


def test_no_url_anywhere_is_bad_usage_that_says_where_to_set_it() -> None:
    result = CliRunner().invoke(cli, ["status", RID], obj={"transport": FakeApi().transport})
    assert result.exit_code == 2 and "INTERCONNECT_URL" in result.stderr


def test_approving_with_only_a_function_key_is_refused_before_calling() -> None:
    fake = FakeApi()
    result = run(fake, "approve", RID)
    assert result.exit_code == 2 and "signed in" in result.stderr and fake.seen == []


def test_global_options_may_follow_the_command() -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", ok(view("Succeeded", [])))
    result = CliRunner().invoke(
        cli, ["status", RID, "--url", "https://app.test", "-o", "json"], obj={"transport": fake.transport}
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "Succeeded"


def test_the_function_key_is_sent_and_never_printed() -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/requests/{RID}", ok(view("Succeeded", [])))
    shown = run(fake, "status", RID)
    config = run(fake, "config", "-o", "json")
    assert fake.seen[0].headers["x-functions-key"] == KEY
    assert KEY not in shown.output + config.output
    assert json.loads(config.stdout)["functionKey"] == "set"


def test_the_help_documents_every_exit_code() -> None:
    text = CliRunner().invoke(cli, ["--help"]).stdout
    for code, words in [(0, "succeeded"), (2, "bad usage"), (3, "rejected"), (4, "failed"), (5, "expired"),
                        (6, "timed out"), (7, "authentication"), (8, "the API answered"), (9, "the app")]:  # fmt: skip
        assert f"  {code}  {words}" in text


def test_requests_pages_with_the_continuation_the_app_answered() -> None:
    fake = FakeApi()
    resolving(fake)
    page = {"value": [view("Succeeded", [])], "continuation": "tok-2", "skipped": 0}
    fake.on("GET", "/api/requests", ok(page))
    first = run(fake, "requests", "--cloud", "pc-a", "--status", "Succeeded", "--limit", "1")
    assert first.exit_code == 0 and "--continuation tok-2" in first.stdout
    assert dict(fake.seen[-1].url.params) == {"cloud": cid("pc-a"), "status": "Succeeded", "limit": "1"}
    run(fake, "requests", "--limit", "1", "--continuation", "tok-2")
    assert fake.seen[-1].url.params["continuation"] == "tok-2"


def test_audit_run_wait_shows_the_run_once_the_worker_stored_it() -> None:
    fake = FakeApi()
    fake.on("POST", "/api/audits", ok({"runId": RID, "statusUrl": "u"}, 202))
    run_view = {"runId": RID, "startedAt": "s", "finishedAt": "f", "summary": {"findings": 1}, "findings": [
        {"code": "LINK_NOT_ACTIVE", "severity": "critical", "clouds": [cid("pc-a")], "message": "link is Failed",
         "state": "new"}]}  # fmt: skip
    fake.on("GET", f"/api/audits/{RID}", error(404, "AUDIT_NOT_FOUND", "not yet"), ok(run_view))
    result = run(fake, "audit", "run", "--wait", "--interval", "0.2")
    assert result.exit_code == 0 and "LINK_NOT_ACTIVE" in result.stdout and "rg-avs/pc-a" in result.stdout


@pytest.mark.parametrize("args", [("audit", "latest"), ("topology",), ("topology", "--format", "svg")])
def test_before_the_first_audit_the_answer_says_how_to_start_one(args: tuple[str, ...]) -> None:
    fake = FakeApi()
    fake.on("GET", "/api/audits/latest", error(404, "AUDIT_NOT_FOUND", "no audit has run yet"))
    fake.on("GET", "/api/topology", error(404, "AUDIT_NOT_FOUND", "no audit has run yet"))
    shown = run(fake, *args)
    assert shown.exit_code == 8 and "AUDIT_NOT_FOUND" in shown.stderr
    assert "interconnect audit run --wait" in shown.stderr
    as_json = json.loads(run(fake, "--output", "json", *args).stdout)
    assert as_json["error"]["code"] == "AUDIT_NOT_FOUND" and "audit run" in as_json["error"]["message"]


def test_topology_in_another_format_is_written_as_the_app_drew_it(tmp_path: Path) -> None:
    fake = FakeApi()
    fake.on(
        "GET", "/api/topology", httpx.Response(200, content=b"digraph {}\n", headers={"content-type": "text/plain"})
    )
    shown = run(fake, "topology", "--format", "dot")
    assert shown.exit_code == 0 and shown.stdout == "digraph {}\n"
    assert fake.seen[-1].url.params["format"] == "dot"
    saved = run(fake, "topology", "--format", "dot", "--save", str(tmp_path / "t.dot"))
    assert saved.exit_code == 0 and (tmp_path / "t.dot").read_bytes() == b"digraph {}\n"


@pytest.mark.parametrize(
    ("fmt", "drawn"), [("svg", "<svg xmlns='http://www.w3.org/2000/svg'></svg>\n"), ("mermaid", "graph LR\n")]
)
def test_topology_drawings_with_output_json_come_as_json(fmt: str, drawn: str, tmp_path: Path) -> None:
    fake = FakeApi()
    fake.on("GET", "/api/topology", httpx.Response(200, content=drawn.encode(), headers={"content-type": "text/x"}))
    shown = run(fake, "topology", "--format", fmt, "-o", "json")
    assert shown.exit_code == 0 and shown.stderr == ""
    assert json.loads(shown.stdout) == {"format": fmt, "content": drawn}
    # --save still writes the drawing itself; stdout says what was written, as JSON.
    target = tmp_path / f"t.{fmt}"
    saved = run(fake, "topology", "--format", fmt, "--save", str(target), "-o", "json")
    assert saved.exit_code == 0 and target.read_text() == drawn
    assert json.loads(saved.stdout) == {"format": fmt, "savedTo": str(target), "bytes": len(drawn.encode())}


def test_topology_json_follows_output_not_the_terminal() -> None:
    graph = {"takenAt": "2026-01-01T00:00:00+00:00", "nodes": [], "regions": [], "edges": []}
    fake = FakeApi()
    fake.on("GET", "/api/topology", ok(graph))
    tables = run(fake, "topology")  # not a terminal here: still tables, as every command's default
    assert tables.exit_code == 0 and "Topology" in tables.stdout and "┃ region ┃" in tables.stdout
    assert json.loads(run(fake, "topology", "-o", "json").stdout) == graph


def test_plan_disconnect_plans_the_removal() -> None:
    fake = FakeApi()
    resolving(fake)
    fake.on("POST", "/api/requests", ok(plan_answer(True)))
    assert run(fake, "plan", "pc-a", "pc-b", "--disconnect").exit_code == 0
    assert json.loads(fake.seen[-1].content)["action"] == "disconnect"


def test_ctrl_c_while_waiting_stops_the_following_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from interconnect_cli.follow import Follower

    def interrupted(self: Follower, request_id: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Follower, "request", interrupted)
    result = run(FakeApi(), "wait", RID)
    assert result.exit_code == 130 and f"interconnect wait {RID}" in result.stderr
