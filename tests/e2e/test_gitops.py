"""The README's GitOps example, run: the GitHub Actions workflow and the Azure Pipelines job in docs/gitops/, as
written there, against the app on the local host on the local cloud with the installed CLI.

Nothing of the pipelines is copied here: each file is parsed (yaml) and the commands of its steps are run as
the CI would run them (GitHub's `shell: bash` is `bash --noprofile --norc -eo pipefail FILE`; an Azure
Pipelines `bash:` step and AzureCLI@2's bash inline script run `bash --noprofile --norc FILE`), in a workspace
holding the checked-out topology.yaml, with the environment the pipeline defines (its `env:` / `variables:`).
What stands in for what only exists in a CI, and nothing else:

- The sign-in. `azure/login` (OIDC) and AzureCLI@2's workload-identity service connection leave an `az login`
  for the CLI's AzureCliCredential (INTERCONNECT_AUTH=cli). Here the local cloud's demo identity signs in instead:
  INTERCONNECT_DEMO_USER=alice (Links.Request) with the identity stand-in's URL, which the CLI takes over any
  INTERCONNECT_AUTH (README "CLI"), plus the local host's function key. The workflow's own variables stay set.
- The app's URL: the pipeline's INTERCONNECT_URL (a repository variable, or the Azure variable) is the local host.
- The CLI install step (`pip install "$INTERCONNECT_CLI"`) is skipped: `make setup` installed the CLI in .venv,
  whose bin/ leads PATH. The `uses:` / `task:` steps other than AzureCLI@2 (checkout, setup-python, azure/login,
  upload-artifact, UsePythonVersion) are not commands and are skipped; the test names each one it skips.
- `gh` (the PR comment) and `curl` (the Azure Repos thread) are stand-ins on PATH that record what they were given,
  so the comment is checked to be the plan's Markdown.

The scenario, per CI system: a pull request's plan (exit code 10: changes to review; the Markdown comment), the
merge's apply (the plan, then the change set followed to Succeeded, its disconnect approved by another person
with the CLI while the job waits, the links as declared), the same apply again (nothing to change, nothing put to
ARM), and a pull request's plan once more (exit code 0). A refused document fails the check and is commented.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from localdev.procs import ROOT
from tests.e2e.conftest import FAST, FUNCTION_KEY, App, cloud_ids, pc, running_app

pytestmark = pytest.mark.e2e

GITOPS = ROOT / "docs" / "gitops"
GITHUB_WORKFLOW = GITOPS / "github-workflow.yml"
AZURE_PIPELINE = GITOPS / "azure-pipelines.yml"
VENV_BIN = ROOT / ".venv" / "bin"
SUB = "0a170a17-0a17-4a17-8a17-0a170a170a17"
RUN_TIMEOUT = 240  # seconds one step may take before the test fails (a bound, not an assertion)
PR_NUMBER = "19"
SCOPE = "api://interconnect-local/.default"


def document(rg: str) -> str:
    return f"""\
apiVersion: interconnect/v1
kind: Topology
metadata:
  name: gitops-{rg}
scope:
  resourceGroups: [/subscriptions/{SUB}/resourceGroups/{rg}]
defaults:
  subscription: {SUB}
  resourceGroup: {rg}
links:
  - between: [pc-a, pc-b]
  - from: pc-b
    to: pc-c
    description: b reaches c
"""


def clouds(rg: str, octet: int) -> list[dict[str, Any]]:
    """a, b, c, d, e; a-d linked by hand before (not declared: the plan removes it); e routes what a does."""
    [d] = cloud_ids(SUB, rg, "pc-d")
    return [
        pc("pc-a", f"10.{octet}.0.0/22", links=[{"target": d, "name": "a-to-d"}]),
        pc("pc-b", f"10.{octet}.4.0/22"),
        pc("pc-c", f"10.{octet}.8.0/22"),
        pc("pc-d", f"10.{octet}.12.0/22"),
        pc("pc-e", f"10.{octet}.0.0/22"),  # pc-a's block: never to be linked to it
    ]


RGS = {"github": ("rg-gitops-gh", 71), "azure": ("rg-gitops-ado", 72)}


# The pipeline's identity may connect and disconnect, named in the policy by its requester id (the README's
# advice for a pipeline: `api:sp:<application id>`; here the demo identity's `api:<object id>`). The default
# policy grants disconnect by app role, which a change set's steps are not filed with (ESTATE-NOTES, F3 -> F1).
POLICY = {"rules": [{"requesters": ["api:*"], "actions": ["connect", "disconnect"], "scopes": ["*"]}]}


@pytest.fixture(scope="module")
def gitops_app() -> Iterator[App]:
    # Approvals on (the default): the merge's disconnect waits for someone else, as it would in production.
    for app in running_app(INTERCONNECT_APPROVALS="on", INTERCONNECT_POLICY=json.dumps(POLICY)):
        groups = [{"name": rg, "privateClouds": clouds(rg, octet)} for rg, octet in RGS.values()]
        app.arm.load_fleet({"settings": FAST, "subscriptions": [{"id": SUB, "resourceGroups": groups}]})
        yield app


# -- the pipelines, as written ------------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    script: str
    env: dict[str, str] = field(default_factory=dict)
    shell: list[str] = field(default_factory=lambda: ["bash", "--noprofile", "--norc"])


@dataclass
class Job:
    steps: list[Step]
    env: dict[str, str]
    skipped: list[str]


def github_jobs() -> dict[str, Job]:
    workflow = yaml.safe_load(GITHUB_WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"]["id-token"] == "write"  # the federated credential
    jobs = {}
    for name, job in workflow["jobs"].items():
        steps, skipped = [], []
        for step in job["steps"]:
            if "uses" in step:
                skipped.append(step["uses"].split("@")[0])
            elif step.get("id") == "install":
                skipped.append("install")
            else:
                assert step.get("shell") == "bash", step  # so the shell it runs in is known: bash -eo pipefail
                steps.append(
                    Step(
                        step["id"],
                        step["run"],
                        {k: str(v) for k, v in (step.get("env") or {}).items()},
                        ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
                    )
                )
        jobs[name] = Job(steps, {**workflow["env"], **(job.get("env") or {})}, skipped)
    return jobs


def azure_jobs() -> dict[str, Job]:
    pipeline = yaml.safe_load(AZURE_PIPELINE.read_text())
    assert pipeline["trigger"]["branches"]["include"] == ["main"] and pipeline["pr"]["branches"]["include"] == ["main"]
    jobs = {}
    for job in pipeline["jobs"]:
        steps, skipped = [], []
        for step in job["steps"]:
            env = {k: str(v) for k, v in (step.get("env") or {}).items()}
            if step.get("name") == "install":
                skipped.append("install")
            elif step.get("task") == "AzureCLI@2":
                inputs = step["inputs"]
                # The workload-identity service connection signs the script in: the demo identity stands in.
                assert inputs["scriptType"] == "bash" and inputs["scriptLocation"] == "inlineScript"
                assert inputs["azureSubscription"]
                steps.append(Step(step["name"], inputs["inlineScript"], env))
            elif "task" in step:
                skipped.append(step["task"])
            else:
                steps.append(Step(step["name"], step.get("bash") or step["script"], env))
        jobs[job["job"]] = Job(steps, {str(k): str(v) for k, v in pipeline["variables"].items()}, skipped)
    return jobs


# What the CI would put in place of each expression the pipelines use; an expression missing here fails the test,
# so a new one in a pipeline is looked at, not silently left as text.
EXPRESSIONS = {
    "${{ vars.INTERCONNECT_URL }}": "<the local host>",
    "${{ vars.INTERCONNECT_SCOPE }}": SCOPE,
    "${{ vars.INTERCONNECT_CLI }}": "<installed by make setup>",
    "${{ github.token }}": "fake-github-token",
    "${{ github.event.pull_request.number }}": PR_NUMBER,
    "$(System.AccessToken)": "fake-azure-devops-token",
}
AZURE_PREDEFINED = {
    "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
    "SYSTEM_TEAMPROJECT": "platform",
    "BUILD_REPOSITORY_ID": "4a1b2c3d-0000-4000-8000-000000000001",
    "SYSTEM_PULLREQUEST_PULLREQUESTID": PR_NUMBER,
}


def expand(value: str) -> str:
    for expression, replacement in EXPRESSIONS.items():
        value = value.replace(expression, replacement)
    assert not re.search(r"\$\{\{|\$\([A-Za-z_.]+\)", value), f"an expression the test does not know: {value}"
    return value


# -- the workspace the CI would run in ----------------------------------------------------------------------------

During = Callable[[subprocess.Popen[str], Callable[[], str]], None]  # (the step's process, its output so far)

RECORDER = """#!/bin/sh
# A stand-in for {name}: records its arguments (one a line) and succeeds.
printf '%s\\n' "$@" > "$RECORDED/{name}.args"
"""


@dataclass
class Runner:
    app: App
    workspace: Path
    recorded: Path
    fakes: Path

    def environment(self, job: Job, step: Step, outputs: Path, summary: Path) -> dict[str, str]:
        kept = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCONNECT_", "AZURE_", "GITHUB_"))}
        env = {
            **kept,
            "HOME": str(self.workspace.parent / "home"),
            "XDG_CONFIG_HOME": "",
            "PATH": f"{self.fakes}:{VENV_BIN}:{os.environ['PATH']}",
            "RECORDED": str(self.recorded),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(summary),
            **AZURE_PREDEFINED,
        }
        env |= {k: expand(v) for k, v in {**job.env, **step.env}.items()}
        # The stand-ins: the local host for the pipeline's URL, and the demo identity for the federated sign-in.
        env |= {
            "INTERCONNECT_URL": self.app.cloud.host_url,
            "INTERCONNECT_FUNCTION_KEY": FUNCTION_KEY,
            "INTERCONNECT_DEMO_USER": "alice",
            "INTERCONNECT_IDENTITY_URL": self.app.cloud.identity_url,
        }
        return env

    def run(self, job: Job, during: dict[str, During] | None = None) -> dict[str, subprocess.CompletedProcess[str]]:
        """Each step of `job` in order, as the CI runs it; stops at the first that fails, as the CI does (a
        step the pipeline runs `always()` - the comment - runs after a failed plan too). `during[step]` is
        called while that step runs, with the process and its output so far (the CLI flushes each line)."""
        done: dict[str, subprocess.CompletedProcess[str]] = {}
        outputs, summary = self.workspace / ".outputs", self.workspace / ".summary"
        failed = False
        for step in job.steps:
            if failed and step.name != "comment":
                break
            done[step.name] = self.step(job, step, outputs, summary, (during or {}).get(step.name))
            failed = failed or done[step.name].returncode != 0
        return done

    def step(
        self, job: Job, step: Step, outputs: Path, summary: Path, during: During | None
    ) -> subprocess.CompletedProcess[str]:
        """One step: its script in the shell the CI uses, in the workspace, with the pipeline's environment."""
        script = self.workspace.parent / f"{step.name}.sh"
        script.write_text(step.script)
        out: list[str] = []
        err: list[str] = []
        with subprocess.Popen(
            [*step.shell, str(script)],
            cwd=self.workspace,
            env=self.environment(job, step, outputs, summary),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            readers = [
                threading.Thread(target=lambda s, into: into.extend(iter(s.readline, "")), args=(stream, into))
                for stream, into in ((process.stdout, out), (process.stderr, err))
            ]
            for reader in readers:
                reader.start()
            try:
                if during is not None:
                    during(process, lambda: "".join(out))
                process.wait(timeout=RUN_TIMEOUT)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                for reader in readers:
                    reader.join()
        return subprocess.CompletedProcess(process.args, process.returncode, "".join(out), "".join(err))

    def outputs(self) -> dict[str, str]:
        path = self.workspace / ".outputs"
        lines = path.read_text().splitlines() if path.exists() else []
        return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def runner(gitops_app: App, tmp_path: Path) -> Runner:
    workspace, recorded, fakes = tmp_path / "workspace", tmp_path / "recorded", tmp_path / "bin"
    for path in (workspace, recorded, fakes, tmp_path / "home"):
        path.mkdir()
    for name in ("gh", "curl"):
        fake = fakes / name
        fake.write_text(RECORDER.format(name=name))
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return Runner(gitops_app, workspace, recorded, fakes)


def said(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def approve(app: App, runner: Runner, request_id: str) -> subprocess.CompletedProcess[str]:
    """Bob, a person with Links.Approve, approves on his own machine with the CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCONNECT_")}
    env |= {"HOME": str(runner.workspace.parent / "home"), "XDG_CONFIG_HOME": ""}
    return subprocess.run(
        [str(VENV_BIN / "interconnect"), "--url", app.cloud.host_url, "--function-key", FUNCTION_KEY,
         "--identity-url", app.cloud.identity_url, "--demo-user", "bob", "approve", request_id],
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )  # fmt: skip


def links_in(app: App, rg: str) -> set[frozenset[str]]:
    prefix = f"/subscriptions/{SUB}/resourceGroups/{rg}/".lower()
    return {
        frozenset((link["source"].lower(), link["properties"]["linkedCloud"].lower()))
        for link in app.links()
        if link["source"].lower().startswith(prefix)
    }


# -- the scenario -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ci", ["github", "azure"])
def test_the_readme_gitops_example_plans_a_pull_request_and_applies_the_merge(
    ci: str, gitops_app: App, runner: Runner
) -> None:
    rg, _ = RGS[ci]
    a, b, c, d = (x.lower() for x in cloud_ids(SUB, rg, "pc-a", "pc-b", "pc-c", "pc-d"))
    jobs = github_jobs() if ci == "github" else azure_jobs()
    assert set(jobs) == {"plan", "apply"}
    if ci == "github":
        expected_skips = ["actions/checkout", "actions/setup-python", "install", "azure/login"]
        assert jobs["plan"].skipped == [*expected_skips, "actions/upload-artifact"]
        assert jobs["apply"].skipped == expected_skips
    else:
        assert jobs["plan"].skipped == jobs["apply"].skipped == ["UsePythonVersion@0", "install"]
    (runner.workspace / "topology.yaml").write_text(document(rg))

    # A pull request: the plan, with changes to review, as a comment.
    pr = runner.run(jobs["plan"])
    plan, comment = pr["plan"], pr["comment"]
    assert plan.returncode == 0 and comment.returncode == 0, said(plan) + said(comment)
    markdown = (runner.workspace / "plan.md").read_text()
    assert "### ✅ Topology plan of topology.yaml: allowed; 2 to connect, 1 to disconnect" in markdown, markdown
    assert (
        f"rg-gitops-{'gh' if ci == 'github' else 'ado'}/pc-a ↔" in markdown and "stop reaching each other" in markdown
    )
    planned = json.loads((runner.workspace / "plan.json").read_text())
    assert planned["allowed"] and re.fullmatch(r"v1:[0-9a-f]{64}", planned["fingerprint"])
    if ci == "github":
        assert runner.outputs()["exit-code"] == "10"
        assert (runner.workspace / ".summary").read_text() == markdown
        args = (runner.recorded / "gh.args").read_text().splitlines()
        assert args == ["pr", "comment", PR_NUMBER, "--body-file", "plan.md", "--edit-last", "--create-if-none"]
    else:
        assert markdown in plan.stdout  # the plan in the job's log
        args = (runner.recorded / "curl.args").read_text().splitlines()
        assert "Authorization: Bearer fake-azure-devops-token" in args
        assert args[-1] == (
            "https://dev.azure.com/contoso/platform/_apis/git/repositories/4a1b2c3d-0000-4000-8000-000000000001/"
            f"pullRequests/{PR_NUMBER}/threads?api-version=7.1"
        )
        thread = json.loads((runner.workspace / "thread.json").read_text())
        assert thread["comments"][0]["content"] == markdown
    assert links_in(gitops_app, rg) == {frozenset((a, d))}  # planning changed nothing

    # The merge: plan and apply, followed to the end; the disconnect waits until Bob (Links.Approve) approves it.
    approved: list[str] = []

    def bob_approves(apply: subprocess.Popen[str], output: Callable[[], str]) -> None:
        # The job's log says the disconnect awaits approval, by whom and where: Bob takes it from there.
        def awaiting() -> bool:
            approved[:] = re.findall(r"approve: interconnect approve ([0-9a-f-]{36})", output())
            return bool(approved) or apply.poll() is not None

        gitops_app.wait_until(awaiting, "the job's log to say the disconnect awaits approval", timeout=RUN_TIMEOUT)
        assert apply.poll() is None and approved, output()  # the apply still follows the change set, which waits
        assert frozenset((a, b)) in links_in(gitops_app, rg)  # make before break: the connects went first
        assert frozenset((a, d)) in links_in(gitops_app, rg)
        by_bob = approve(gitops_app, runner, approved[0])
        assert by_bob.returncode == 0, said(by_bob)

    merged = runner.run(jobs["apply"], during={"apply": bob_approves})
    applied = merged["apply"]
    assert applied.returncode == 0, said(applied)
    log = "".join(done.stdout for done in merged.values())
    assert "Topology plan of topology.yaml: allowed" in log
    flat = " ".join(log.split())
    assert "AwaitingApproval" in flat and "someone else than Alice Requester" in flat, log
    assert f"approve: interconnect approve {approved[0]}" in flat and "/api/console#/approvals" in flat
    assert re.search(r"Change set [0-9a-f-]{36} Succeeded", log), said(applied)
    assert re.search(r"step 3 disconnect \S+/pc-a ↔ \S+/pc-d: Succeeded", " ".join(log.split())), log
    assert links_in(gitops_app, rg) == {frozenset((a, b)), frozenset((b, c))}
    made = {
        link["source"].lower(): link["properties"]["linkedCloud"].lower()
        for link in gitops_app.links()
        if link["source"].lower() in (a, b, c)
    }
    assert made[b] == c  # `from: pc-b, to: pc-c`: made on pc-b

    # The same apply again (a re-run of the job): nothing to change, nothing put to ARM.
    gitops_app.arm.clear_calls()
    again = runner.run(jobs["apply"])
    assert again["apply"].returncode == 0, said(again["apply"])
    assert "nothing to change" in again["apply"].stdout
    assert gitops_app.arm.calls("cloudLinks.put") == [] and gitops_app.arm.calls("cloudLinks.delete") == []

    # The next pull request's plan: nothing to change (exit code 0).
    (runner.workspace / "plan.md").unlink()
    quiet = runner.run(jobs["plan"])
    assert quiet["plan"].returncode == 0, said(quiet["plan"])
    assert "nothing to change" in (runner.workspace / "plan.md").read_text()
    if ci == "github":
        assert runner.outputs()["exit-code"] == "0"


def test_a_refused_plan_fails_the_pull_requests_check_and_still_comments_why(gitops_app: App, runner: Runner) -> None:
    rg, _ = RGS["github"]
    refused = document(rg).replace("  - between: [pc-a, pc-b]\n", "  - between: [pc-a, pc-e]\n")
    (runner.workspace / "topology.yaml").write_text(refused)
    before = gitops_app.links()
    pr = runner.run(github_jobs()["plan"])
    assert pr["plan"].returncode == 3, said(pr["plan"])  # the check fails
    assert pr["comment"].returncode == 0, said(pr["comment"])  # `if: always()`: the comment still goes
    markdown = (runner.workspace / "plan.md").read_text()
    assert "### ❌ Topology plan of topology.yaml: refused" in markdown and "ADDRESS\\_OVERLAP" in markdown
    assert (runner.recorded / "gh.args").read_text().splitlines()[3:5] == ["--body-file", "plan.md"]
    assert runner.outputs()["exit-code"] == "3"
    assert gitops_app.links() == before
