"""The README's GitOps excerpts are the workflow file's own lines (tests/e2e/test_gitops.py runs the file), and
both pipelines call only what the CLI has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from interconnect_cli.commands import cli

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
GITOPS = ROOT / "docs" / "gitops"


def section() -> str:
    return README.read_text().split("\n## Links as code\n", 1)[1].split("\n## ", 1)[0]


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)


def test_every_step_excerpt_in_the_readme_is_a_run_of_lines_of_the_github_workflow() -> None:
    workflow = (GITOPS / "github-workflow.yml").read_text()
    excerpts = [block for block in yaml_blocks(section()) if block.lstrip().startswith("- name:")]
    assert len(excerpts) == 2  # the pull request's plan, the merge's plan and apply
    for excerpt in excerpts:
        assert excerpt in workflow, excerpt


def test_the_readme_points_at_both_pipeline_files() -> None:
    text = section()
    for name in ("github-workflow.yml", "azure-pipelines.yml"):
        assert f"(docs/gitops/{name})" in text and (GITOPS / name).is_file()


def commands() -> list[list[str]]:
    """Every `interconnect ...` command line of both pipelines, as its words."""
    found = []
    for name in ("github-workflow.yml", "azure-pipelines.yml"):
        for line in (GITOPS / name).read_text().splitlines():
            code = line.split("#", 1)[0].strip()
            code = re.sub(r"^(run|inlineScript):\s*", "", code)
            if code.startswith("interconnect "):
                found.append(shlex.split(code.split(" > ")[0]))
    return found


@pytest.mark.parametrize("words", commands(), ids=" ".join)
def test_each_pipeline_command_parses(words: list[str]) -> None:
    # --help after the words: click parses the line (an unknown option or command fails) and exits 0 at --help
    # without calling anything; tests/e2e/test_gitops.py runs the lines for real.
    result = CliRunner().invoke(cli, [*words[1:], "--help"])
    assert result.exit_code == 0, result.output


def test_both_pipelines_plan_with_markdown_and_apply_with_the_plan_file() -> None:
    lines = [" ".join(words) for words in commands()]
    plans = [line for line in lines if "--format markdown" in line]
    applies = [line for line in lines if line.startswith("interconnect apply")]
    assert len(plans) == 2 and all("--detailed-exitcode" in line and "--out plan.json" in line for line in plans)
    assert len(applies) == 2 and all("--plan plan.json --wait" in line for line in applies)
    for name in ("github-workflow.yml", "azure-pipelines.yml"):
        yaml.safe_load((GITOPS / name).read_text())
