"""`plan -f`, `apply -f` and `changeset` over a scripted API: what is sent, what is shown (table, Markdown, JSON),
the plan file, following a change set, and the exit codes (0, 10 with --detailed-exitcode, 3, 4/5, 6, 8, 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from interconnect_cli import estate
from interconnect_cli.commands import cli
from tests.unit.cli.fakeapp import FakeApi, cid, error, ok

KEY = "unit-test-function-key"
CSID = "5a0c7a4e-2f1b-4d35-9b1e-7d2f3c4b5a61"
RID2 = "7d9e0b1c-3a2f-4e5d-8c6b-1a2b3c4d5e6f"
FP = "v1:" + "ab" * 32
FP2 = "v1:" + "cd" * 32
DOC = b"""apiVersion: interconnect/v1
kind: Topology
scope:
  resourceGroups: [/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-avs]
links:
  - between: [pc-a, pc-b]
"""


@pytest.fixture(autouse=True)
def in_a_clean_folder(clean_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def run(fake: FakeApi, *args: str, stdin: bytes | None = None) -> Result:
    base = ["--url", "https://app.test", "--function-key", KEY]
    return CliRunner().invoke(cli, [*base, *args], input=stdin, obj={"transport": fake.transport})


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_bytes(DOC)
    return path


def side(name: str, prefix: str) -> dict[str, Any]:
    return {"cloud": cid(name), "routed": [{"prefix": prefix, "source": "networkBlock"}], "unreadable": []}


def impact() -> dict[str, Any]:
    return {
        "source": side("pc-a", "10.1.0.0/22"),
        "target": side("pc-c", "10.3.0.0/22"),
        "linked": "yes",
        "linkStatus": ["Active"],
        "summary": "pc-a and pc-c stop reaching each other (1 routed prefix of pc-a, 1 routed prefix of pc-c)",
    }


def step(number: int, change: str, source: str, target: str, **extra: Any) -> dict[str, Any]:
    allowed = not extra.get("reasons")
    return {
        "step": number,
        "change": change,
        "action": "disconnect" if change == "disconnect" else "connect",
        "source": cid(source),
        "target": cid(target),
        "allowed": allowed,
        "wouldDo": extra.pop("wouldDo", "reject" if not allowed else "delete" if change == "disconnect" else "create"),
        "holder": None,
        "linkName": None,
        "outcome": None,
        "reasons": extra.pop("reasons", []),
        "declaredAt": None if change == "disconnect" else {"path": "links[0]", "line": 6},
        "impact": impact() if change == "disconnect" else None,
        **extra,
    }


def plan_view(steps: list[dict[str, Any]], *, end_state: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    problems = [r for s in steps for r in s["reasons"]] + (end_state or [])
    return {
        "allowed": not problems,
        "fingerprint": FP,
        "summary": {
            "connect": sum(1 for s in steps if s["change"] == "connect"),
            "repair": 0,
            "disconnect": sum(1 for s in steps if s["change"] == "disconnect"),
            "stay": 1,
            "outside": 1,
            "problems": len(problems),
        },
        "steps": steps,
        "stay": [{"holder": cid("pc-d"), "name": "d-e", "linkedCloud": cid("pc-e"), "status": "Active"}],
        "outside": [{"holder": cid("pc-a"), "name": "a-x", "linkedCloud": cid("pc-x", "rg-else"), "status": "Active"}],
        "endState": end_state or [],
        "notes": [],
        "reads": 17,
    }


CHANGES = plan_view([step(1, "connect", "pc-a", "pc-b"), step(2, "disconnect", "pc-a", "pc-c")])
NOTHING = plan_view([])
OVERLAP = {"code": "NEIGHBOR_OVERLAP", "message": "pc-b would learn 10.9.0.0/24 from two peers (step 1 of this plan)"}
REFUSED = plan_view([step(1, "connect", "pc-a", "pc-b"), step(2, "connect", "pc-c", "pc-b", reasons=[OVERLAP])])


def changeset(status: str, steps: list[tuple[str, str | None]], **extra: Any) -> dict[str, Any]:
    pairs = [("connect", "pc-a", "pc-b"), ("disconnect", "pc-a", "pc-c")]
    return {
        "changeSetId": CSID,
        "status": status,
        "fingerprint": FP,
        "createdAt": "2026-01-01T00:00:00+00:00",
        "updatedAt": "2026-01-01T00:00:00+00:00",
        "requestedBy": {"channel": "api", "id": "oid-alice", "display": "Alice"},
        "steps": [
            {"index": i, "action": a, "source": cid(s), "target": cid(t), "requestId": rid, "status": st}
            | ({"impact": impact()} if a == "disconnect" else {})
            for i, ((a, s, t), (st, rid)) in enumerate(zip(pairs, steps, strict=True), 1)
        ],
        **extra,
    }


# -- plan -f ------------------------------------------------------------------------------------------------------


def test_plan_f_sends_the_document_byte_for_byte_and_shows_every_part_of_the_plan(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(CHANGES))
    result = run(fake, "plan", "-f", str(doc))
    assert result.exit_code == 0, result.output
    sent = fake.seen[-1]
    assert sent.content == DOC and sent.headers["content-type"] == "application/yaml"
    assert sent.headers["x-functions-key"] == KEY
    out = result.stdout
    expected = [
        *("allowed", "1 to connect", "1 to disconnect", "rg-avs/pc-a → rg-avs/pc-b", "rg-avs/pc-a ↔ rg-avs/pc-c"),
        *("links[0] (line 6)", "stop reaching each other", "10.1.0.0/22", "Staying", "Outside the scope"),
        *(FP, "17 ARM reads", f"interconnect apply -f {doc} --fingerprint {FP}"),
    ]
    for shown in expected:
        assert shown in " ".join(out.split()), shown


def test_detailed_exitcode_is_10_for_changes_and_0_for_none(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(CHANGES), ok(NOTHING))
    assert run(fake, "plan", "-f", str(doc), "--detailed-exitcode").exit_code == 10
    nothing = run(fake, "plan", "-f", str(doc), "--detailed-exitcode")
    assert nothing.exit_code == 0 and "nothing to change" in nothing.stdout


def test_without_detailed_exitcode_changes_exit_0(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(CHANGES))
    assert run(fake, "plan", "-f", str(doc)).exit_code == 0


def test_a_refused_plan_exits_3_with_detailed_exitcode_too_and_names_every_problem(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(REFUSED))
    result = run(fake, "plan", "-f", str(doc), "--detailed-exitcode")
    assert result.exit_code == 3
    assert "refused: 1 problem" in result.stdout and "NEIGHBOR_OVERLAP" in result.stdout
    assert "interconnect apply" not in result.stdout  # a refused plan is never offered for applying


def test_stdin_is_read_with_f_dash_and_json_is_sent_as_json() -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(CHANGES))
    body = b'  {"apiVersion": "interconnect/v1", "kind": "Topology"}'
    result = run(fake, "plan", "-f", "-", "-o", "json", stdin=body)
    assert result.exit_code == 0 and json.loads(result.stdout) == CHANGES and result.stderr == ""
    assert fake.seen[-1].content == body and fake.seen[-1].headers["content-type"] == "application/json"


def test_the_markdown_plan_is_a_pr_comment_with_api_text_escaped(doc: Path) -> None:
    hostile = {"code": "NEIGHBOR_OVERLAP", "message": "pc-b | <img src=x onerror=alert(1)> **bold** [a](http://x)"}
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(plan_view([step(1, "connect", "pc-a", "pc-b", reasons=[hostile])])))
    result = run(fake, "plan", "-f", str(doc), "--format", "markdown")
    assert result.exit_code == 3
    text = result.stdout
    assert text.startswith(estate.MARKER) and "### ❌ Topology plan" in text
    assert "| 1 | connect | rg\\-avs/pc\\-a → rg\\-avs/pc\\-b | ❌ **refused** |" not in text  # '-' is not escaped
    assert "| 1 | connect | rg-avs/pc-a → rg-avs/pc-b | ❌ **refused** |" in text
    assert not re.search(r"(?<!\\)<img", text) and "\\<img" in text  # GitHub shows `\<` as `<`, never a tag
    assert "\\*\\*bold\\*\\*" in text and "\\[a\\](http" in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert row.count("|") - row.count("\\|") == 7  # a `|` in the message does not add a column
    assert f"Fingerprint `{FP}` · 17 ARM reads" in text


def test_the_markdown_plan_lists_what_each_disconnect_cuts_and_the_untouched_links(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(CHANGES))
    text = run(fake, "plan", "-f", str(doc), "--format", "markdown").stdout
    assert "### ✅ Topology plan" in text and "**What the disconnects cut**" in text
    assert "- step 2, rg-avs/pc-a ↔ rg-avs/pc-c: pc-a and pc-c stop reaching each other" in text
    assert "rg-avs/pc-c routes 10.3.0.0/22 (networkBlock)" in text
    assert "<details><summary>Links that stay (1)</summary>" in text
    assert "<details><summary>Links outside the scope (never touched) (1)</summary>" in text


def test_an_unreadable_document_in_markdown_still_comments_its_problems(doc: Path) -> None:
    problems = [{"code": "TOPOLOGY_UNKNOWN_CLOUD", "path": "links[0].between[1]", "line": 6,
                 "message": "links[0].between[1] (line 6): no cloud pc-zz in scope"}]  # fmt: skip
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", error(400, "TOPOLOGY_UNKNOWN_CLOUD", "1 problem", problems=problems))
    result = run(fake, "plan", "-f", str(doc), "--format", "markdown")
    assert result.exit_code == 8 and "TOPOLOGY_UNKNOWN_CLOUD" in result.stderr
    assert "not planned" in result.stdout
    assert "- **TOPOLOGY\\_UNKNOWN\\_CLOUD** links\\[0\\].between\\[1\\] (line 6): no cloud pc-zz" in result.stdout


def test_out_writes_the_plan_file_that_apply_plan_reads(doc: Path, tmp_path: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(CHANGES))
    fake.on("POST", "/api/topology/apply", ok({"changeSetId": CSID, "status": "InProgress", "statusUrl": "u"}, 202))
    planned = run(fake, "plan", "-f", str(doc), "--out", "plan.json")
    assert planned.exit_code == 0 and "plan written to plan.json" in planned.stderr
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["fingerprint"] == FP and saved["plan"] == CHANGES
    applied = run(fake, "apply", "-f", str(doc), "--plan", "plan.json")
    assert applied.exit_code == 0, applied.output
    sent = fake.seen[-1]
    assert sent.url.path == "/api/topology/apply" and sent.url.params["fingerprint"] == FP and sent.content == DOC
    assert f"Change set {CSID} started" in applied.stdout


def test_a_plan_file_of_another_document_is_refused_before_calling(doc: Path, tmp_path: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(CHANGES))
    run(fake, "plan", "-f", str(doc), "--out", "plan.json")
    doc.write_bytes(DOC + b"  - between: [pc-a, pc-d]\n")
    calls = len(fake.seen)
    result = run(fake, "apply", "-f", str(doc), "--plan", "plan.json")
    assert result.exit_code == 2 and "plan of another document" in result.stderr and len(fake.seen) == calls


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["plan", "pc-a", "-f", "topology.yaml"], "SOURCE, TARGET"),
        (["plan", "pc-a"], "give SOURCE and TARGET"),
        (["plan", "pc-a", "pc-b", "--out", "x.json"], "go with -f"),
        (["plan", "-f", "topology.yaml", "--format", "markdown", "-o", "json"], "pick one"),
        (["apply", "-f", "topology.yaml", "--fingerprint", FP, "--plan", "p.json"], "give one"),
        (["apply", "-f", "topology.yaml", "--fingerprint", "sha256:abc"], "not a plan's fingerprint"),
        (["apply", "--fingerprint", FP], "Missing option '-f'"),
        (["plan", "-f", "nowhere.yaml"], "No such file"),
        (["changeset", "not-an-id"], "not a change set id"),
    ],
)
def test_bad_usage_exits_2_without_calling(doc: Path, args: list[str], says: str) -> None:
    fake = FakeApi()
    result = run(fake, *args)
    assert result.exit_code == 2 and says in result.stderr and fake.seen == []


def test_an_empty_document_is_bad_usage(tmp_path: Path) -> None:
    result = run(FakeApi(), "plan", "-f", "-", stdin=b"  \n")
    assert result.exit_code == 2 and "empty" in result.stderr


# -- apply -f -----------------------------------------------------------------------------------------------------


def test_apply_without_a_fingerprint_plans_first_shows_it_and_applies_that_plan(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(CHANGES))
    fake.on("POST", "/api/topology/apply", ok({"changeSetId": CSID, "status": "InProgress", "statusUrl": "u"}, 202))
    result = run(fake, "apply", "-f", str(doc), "--idempotency-key", "merge-abc")
    assert result.exit_code == 0
    assert [r.url.path for r in fake.seen] == ["/api/topology/plan", "/api/topology/apply"]
    assert fake.seen[-1].url.params["fingerprint"] == FP and fake.seen[-1].headers["idempotency-key"] == "merge-abc"
    assert "Topology plan" in result.stdout and f"Change set {CSID}" in result.stdout


def test_apply_of_a_refused_plan_exits_3_and_applies_nothing(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/plan", ok(REFUSED))
    result = run(fake, "apply", "-f", str(doc))
    assert result.exit_code == 3 and "PLAN_REFUSED" in result.stderr and "NEIGHBOR_OVERLAP" in result.stdout
    assert [r.url.path for r in fake.seen] == ["/api/topology/plan"]


def test_apply_refused_by_the_app_exits_3_and_shows_the_plan(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/apply", error(422, "PLAN_REFUSED", "the plan is refused", problems=[OVERLAP],
                                                 plan=REFUSED))  # fmt: skip
    result = run(fake, "apply", "-f", str(doc), "--fingerprint", FP)
    assert result.exit_code == 3 and "PLAN_REFUSED" in result.stderr and "NEIGHBOR_OVERLAP" in result.stdout


def test_a_plan_the_estate_moved_on_from_exits_8_and_says_to_plan_again(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/apply", error(409, "PLAN_CHANGED", "the plan changed", fingerprint=FP2))
    result = run(fake, "apply", "-f", str(doc), "--fingerprint", FP)
    said = " ".join(result.stderr.split())  # rich wraps a long line at 200 columns off a terminal
    assert result.exit_code == 8 and "PLAN_CHANGED" in said
    assert FP2 in said and f"interconnect plan -f {doc}" in said


def test_nothing_to_change_exits_0(doc: Path) -> None:
    fake = FakeApi()
    answer: dict[str, Any] = {"changeSet": None, "steps": [], "message": "nothing to change", "fingerprint": FP}
    fake.on("POST", "/api/topology/apply", ok(answer))
    result = run(fake, "apply", "-f", str(doc), "--fingerprint", FP, "--wait")
    assert result.exit_code == 0 and "nothing to change" in result.stdout
    assert json.loads(run(fake, "apply", "-f", str(doc), "--fingerprint", FP, "-o", "json").stdout) == answer


def test_apply_wait_shows_each_step_and_who_approves_a_disconnect(doc: Path) -> None:
    fake = FakeApi()
    fake.on("POST", "/api/topology/apply", ok({"changeSetId": CSID, "status": "InProgress", "statusUrl": "u"}, 202))
    rid1 = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"
    fake.on(
        "GET",
        f"/api/changesets/{CSID}",
        ok(changeset("InProgress", [("Pending", None), ("Pending", None)])),
        ok(changeset("InProgress", [("InProgress", rid1), ("Pending", None)])),
        ok(changeset("InProgress", [("Succeeded", rid1), ("AwaitingApproval", RID2)])),
        ok(changeset("InProgress", [("Succeeded", rid1), ("AwaitingApproval", RID2)])),
        ok(changeset("Succeeded", [("Succeeded", rid1), ("Succeeded", RID2)])),
    )
    result = run(fake, "apply", "-f", str(doc), "--fingerprint", FP, "--wait", "--interval", "0.2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    shown = [line for line in lines if "] step " in line]
    assert [line.split(": ")[-1].split()[0] for line in shown] == [
        "InProgress", "Succeeded", "AwaitingApproval", "Succeeded"
    ]  # fmt: skip
    awaiting = result.stdout[result.stdout.index("AwaitingApproval") :]
    assert f"approve: interconnect approve {RID2}" in awaiting and "someone else than Alice" in awaiting
    assert "https://app.test/api/console#/approvals" in awaiting and "stop reaching each other" in awaiting
    assert f"Change set {CSID} Succeeded" in result.stdout


@pytest.mark.parametrize(("stopped", "code"), [("Rejected", 3), ("Failed", 4), ("Expired", 5)])
def test_a_failed_change_set_exits_by_the_step_that_stopped_it(doc: Path, stopped: str, code: int) -> None:
    reason = {"code": f"CHANGESET_STEP_{stopped.upper()}", "message": f"step 2 ended {stopped}", "details": {}}
    fake = FakeApi()
    fake.on("POST", "/api/topology/apply", ok({"changeSetId": CSID, "status": "InProgress", "statusUrl": "u"}, 202))
    done = changeset("Failed", [("Succeeded", RID2), (stopped, RID2)], reason=reason)
    fake.on("GET", f"/api/changesets/{CSID}", ok(done))
    result = run(fake, "apply", "-f", str(doc), "--fingerprint", FP, "--wait")
    assert result.exit_code == code and f"step 2 ended {stopped}" in result.stdout
    as_json = run(fake, "apply", "-f", str(doc), "--fingerprint", FP, "--wait", "-o", "json")
    assert as_json.exit_code == code and json.loads(as_json.stdout) == done


def test_a_change_set_still_going_at_the_timeout_exits_6(doc: Path) -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/changesets/{CSID}", ok(changeset("InProgress", [("InProgress", RID2), ("Pending", None)])))
    result = run(fake, "changeset", CSID, "--wait", "--timeout", "0.3", "--interval", "0.2")
    assert result.exit_code == 6 and f"interconnect changeset {CSID} --wait" in result.stderr


def test_changeset_shows_the_steps_and_their_requests() -> None:
    fake = FakeApi()
    fake.on("GET", f"/api/changesets/{CSID}", ok(changeset("InProgress", [("Succeeded", RID2), ("Pending", None)])))
    result = run(fake, "changeset", CSID)
    assert result.exit_code == 0 and RID2 in result.stdout and "Pending" in result.stdout


def test_an_unreachable_app_exits_9(doc: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = CliRunner().invoke(
        cli, ["--url", "https://app.test", "plan", "-f", str(doc)], obj={"transport": httpx.MockTransport(refuse)}
    )
    assert result.exit_code == 9 and "UNREACHABLE" in result.stderr


def test_help_lists_exit_code_10() -> None:
    assert "  10  plan -f --detailed-exitcode" in CliRunner().invoke(cli, ["--help"]).stdout
