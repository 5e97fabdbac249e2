"""The `interconnect` CLI end to end: the console script `make setup` installs (.venv/bin/interconnect), run as a
subprocess against the app on the local host on the local cloud, signed in as the identity stand-in's demo users.

One local cloud for the module: the demo fleet (what `make run` serves, so the example it prints is run here as
printed) with fast operations, plus a resource group of this module's own clouds. Each test uses its own pair.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from localdev.cloud import DEMO_FLEET, cli_demo
from localdev.procs import ROOT
from tests.e2e.conftest import FAST, FUNCTION_KEY, App, cloud_ids, pc, running_app

pytestmark = pytest.mark.e2e

CLI = ROOT / ".venv" / "bin" / "interconnect"
DEMO_SUB = "11111111-1111-1111-1111-111111111111"
RG, OTHER_RG = "rg-cli", "rg-cli-other"
RUN_TIMEOUT = 120  # seconds any one CLI run may take before the test fails (a bound, not an assertion)


def ids(*names: str, rg: str = RG) -> dict[str, str]:
    return dict(zip(names, cloud_ids(DEMO_SUB, rg, *names), strict=True))


@pytest.fixture(scope="module")
def cli_app() -> Iterator[App]:
    # Approvals on (the default), so a disconnect waits for someone else's approval.
    for app in running_app(INTERCONNECT_APPROVALS="on"):
        fleet: dict[str, Any] = yaml.safe_load(DEMO_FLEET.read_text())
        fleet["settings"] = FAST
        fleet["subscriptions"][0]["resourceGroups"] += [
            {
                "name": RG,
                "privateClouds": [
                    pc("cli-ovl-1", "10.61.0.0/22"),
                    pc("cli-ovl-2", "10.61.0.0/22"),  # the same block: never to be linked
                    pc("cli-x", "10.62.0.0/22"),
                    pc("cli-y", "10.62.4.0/22"),
                    pc("cli-l1", "10.63.0.0/22", links=[{"target": "cli-l2", "name": "l1-to-l2"}]),
                    pc("cli-l2", "10.63.4.0/22"),
                    pc("cli-twin", "10.64.0.0/22"),
                ],
            },
            {"name": OTHER_RG, "privateClouds": [pc("cli-twin", "10.65.0.0/22")]},
        ]
        # Loaded before anything resolves a name: the app lists the clouds once and keeps them for minutes.
        app.arm.load_fleet(fleet)
        yield app


def bare_environment() -> dict[str, str]:
    """This process's environment without any INTERCONNECT_* setting or config file of the developer's."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("INTERCONNECT_")}
    return {**kept, "HOME": str(ROOT / ".localcloud" / "cli-home"), "XDG_CONFIG_HOME": ""}


def environment(app: App) -> dict[str, str]:
    """The CLI's settings for `app`, from the environment."""
    return {
        **bare_environment(),
        "INTERCONNECT_URL": app.cloud.host_url,
        "INTERCONNECT_FUNCTION_KEY": FUNCTION_KEY,
        "INTERCONNECT_IDENTITY_URL": app.cloud.identity_url,
    }


def interconnect(app: App, *args: str, user: str | None = "alice") -> subprocess.CompletedProcess[str]:
    """One run of the console script, as `user` (a demo identity) or with the function key alone."""
    signed_in = ["--demo-user", user] if user else []
    return subprocess.run(
        [str(CLI), *signed_in, *args],
        env=environment(app),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=ROOT,
    )


def test_the_console_script_is_installed() -> None:
    assert CLI.is_file(), "run `make setup`: it installs the CLI (pip install -e .)"


def test_a_plan_of_an_overlapping_pair_shows_the_reasons_and_exits_3(cli_app: App) -> None:
    before = cli_app.request_rows()
    done = interconnect(cli_app, "plan", "cli-ovl-1", f"{RG}/cli-ovl-2")
    assert done.returncode == 3, done.stderr
    assert "refused" in done.stdout and "ADDRESS_OVERLAP" in done.stdout and "10.61.0.0/22" in done.stdout
    assert cli_app.request_rows() == before  # a plan keeps nothing


def test_connect_wait_shows_progress_and_exits_0_once_succeeded(cli_app: App) -> None:
    clouds = ids("cli-x", "cli-y")
    ticket = f"CHG-{uuid.uuid4().hex[:6]}"
    done = interconnect(cli_app, "connect", "cli-x", "cli-y", "--ticket", ticket, "--wait", "--interval", "0.5")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    # Each audit-trail step on a line of its own, with the time since the request was made, in order.
    steps = [m.group(1) for line in lines if (m := re.match(r"\[\s*(?:\d+m)?\d+s\] (\w+)", line))]
    assert steps[0] == "Accepted" and steps[-1] == "Succeeded" and "InProgress" in steps
    assert steps.index("Validating") < steps.index("InProgress")
    assert f"Succeeded: linked: {RG}/cli-x → {RG}/cli-y is Active" in done.stdout
    made = [link["properties"] for link in cli_app.links() if link["source"] == clouds["cli-x"]]
    assert [(link["linkedCloud"], link["status"]) for link in made] == [(clouds["cli-y"], "Active")]


def test_a_disconnect_waits_for_approval_and_a_second_identitys_approve_finishes_it(cli_app: App) -> None:
    clouds = ids("cli-l1", "cli-l2")
    # Alice asks and follows it; it stops at AwaitingApproval until someone else decides.
    waiting = subprocess.Popen(
        [str(CLI), "--demo-user", "alice", "disconnect", "cli-l1", "cli-l2", "--wait", "--interval", "0.5"],
        env=environment(cli_app),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        found: list[str] = []

        def awaiting() -> bool:
            page = cli_app.call("GET", "requests?status=AwaitingApproval").body["value"]
            found[:] = [r["requestId"] for r in page if r["source"] == clouds["cli-l1"]]
            return bool(found)

        cli_app.wait_until(awaiting, "the disconnect to await approval")
        (request_id,) = found
        assert waiting.poll() is None  # still following: nothing ends a request that awaits approval
        assert len([link for link in cli_app.links() if link["source"] == clouds["cli-l1"]]) == 1

        own = interconnect(cli_app, "approve", request_id, user="alice")
        assert own.returncode == 7 and "SELF_APPROVAL" in own.stderr
        by_bob = interconnect(cli_app, "approve", request_id, "--output", "json", user="bob")
        assert by_bob.returncode == 0, by_bob.stderr
        assert json.loads(by_bob.stdout)["approval"]["decidedBy"].startswith("api:")

        out, err = waiting.communicate(timeout=RUN_TIMEOUT)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, out + err
    assert "AwaitingApproval" in out and "approved by Bob" in out and f"Request {request_id} Succeeded" in out
    assert [link for link in cli_app.links() if link["source"] == clouds["cli-l1"]] == []


def test_output_json_is_pure_json_on_stdout(cli_app: App) -> None:
    plan = interconnect(cli_app, "plan", "cli-ovl-1", "cli-ovl-2", "--output", "json")
    assert plan.returncode == 3 and plan.stderr == ""
    answer = json.loads(plan.stdout)
    assert answer["allowed"] is False and {r["code"] for r in answer["reasons"]} >= {"ADDRESS_OVERLAP"}
    links = interconnect(cli_app, "-o", "json", "links", f"{RG}/cli-ovl-1", user=None)  # the function key alone
    assert links.returncode == 0 and json.loads(links.stdout)["value"] == []
    listed = interconnect(cli_app, "requests", "--limit", "5", "-o", "json")
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout)["value"], list)


@pytest.mark.parametrize(("typed", "code"), [("cli-twin", "AMBIGUOUS_CLOUD"), ("cli-twinn", "CLOUD_NOT_FOUND")])
def test_an_ambiguous_or_unknown_short_name_lists_the_candidates_once(cli_app: App, typed: str, code: str) -> None:
    done = interconnect(cli_app, "links", typed)
    assert done.returncode == 8
    assert code in done.stderr
    # The app's message names each candidate (rg/name); the CLI does not list them a second time.
    for shown in (f"{RG}/cli-twin", f"{OTHER_RG}/cli-twin"):
        assert len(re.findall(rf"(?<![\w-]){re.escape(shown)}(?![\w-])", done.stderr)) == 1, done.stderr
    as_json = interconnect(cli_app, "links", typed, "-o", "json")
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == code
    assert set(error["details"]["candidates"]) == {*ids("cli-twin").values(), *ids("cli-twin", rg=OTHER_RG).values()}


def test_without_credentials_the_host_refuses_and_the_cli_exits_7(cli_app: App) -> None:
    url = ["--url", cli_app.cloud.host_url]
    done = subprocess.run(
        [str(CLI), *url, "links", "cli-x"], env=bare_environment(), capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert done.returncode == 7, done.stderr
    assert FUNCTION_KEY not in done.stdout + done.stderr


def printed_commands(text: str) -> tuple[dict[str, str], list[str]]:
    """The `export` settings and the CLI lines of `make run`'s printed example, comments dropped."""
    exports: dict[str, str] = {}
    commands: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            exports.update(dict(word.split("=", 1) for word in shlex.split(line)[1:]))
        elif line.startswith(".venv/bin/interconnect"):
            commands.append(line.split("  #")[0].strip())
    return exports, commands


def test_the_cli_example_make_run_prints_works_as_printed(cli_app: App) -> None:
    exports, commands = printed_commands(cli_demo(cli_app.cloud))
    assert exports["INTERCONNECT_URL"] == cli_app.cloud.host_url and len(commands) == 3
    results = []
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            env={**bare_environment(), **exports},  # only what the example exports
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            cwd=ROOT,
        )
        results.append((done.returncode, done.stdout, done.stderr))
    (plan_code, plan_out, _), (connect_code, connect_out, connect_err), (links_code, links_out, _) = results
    assert plan_code == 3 and "ADDRESS_OVERLAP" in plan_out  # the example says: refused (exit 3)
    assert connect_code == 0 and "Succeeded" in connect_out, connect_out + connect_err
    assert links_code == 0 and json.loads(links_out)["value"][0]["status"] == "Active"
    # The README's quick start plans another pair of the demo fleet: still allowed once the printout's connect ran.
    (readme_plan,) = [c for c in quick_start_commands() if " plan " in c]
    plan = subprocess.run(
        ["bash", "-c", readme_plan],
        env={**bare_environment(), **exports},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=ROOT,
    )
    assert plan.returncode == 0 and "allowed: would create" in plan.stdout, plan.stdout + plan.stderr


def quick_start_commands() -> list[str]:
    """The CLI lines of the README's quick start, comments dropped."""
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines()]
    return [line.split("  #")[0].strip() for line in lines if line.startswith(".venv/bin/interconnect")]


def test_make_run_prints_the_cli_example_with_the_key_it_sets(cli_app: App) -> None:
    exports, _ = printed_commands(cli_demo(cli_app.cloud))
    assert exports.get("INTERCONNECT_FUNCTION_KEY") == FUNCTION_KEY  # this cloud checks keys; `make run`'s does not
