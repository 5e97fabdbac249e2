"""Links as code on the command line: the topology document read from a file or stdin, the plan file that carries
a reviewed plan's fingerprint to `apply`, and the plan and change set shown in a terminal or as Markdown for a
pull-request comment.

Pure but for reading and writing the files named: everything shown comes from the API's JSON
(`POST /api/topology/plan`, `GET /api/changesets/{id}`), and text that came from the API is never markup, neither
rich's nor Markdown's (a cloud named `**x**` or `<img>` shows as written).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from interconnect_cli.config import ConfigError
from interconnect_cli.render import duration, short, short_ids, status_text

# The app refuses a document over 128 KiB (TOPOLOGY_TOO_LARGE); reading stops a little past that, so a wrong
# file (or an endless stdin) is never read whole and the app still says what the limit is.
MAX_READ = 256 * 1024
FINGERPRINT = re.compile(r"v[0-9]+:[0-9a-f]{64}")
PLAN_FILE_KIND = "interconnect/plan"
MARKER = "<!-- interconnect:topology-plan -->"  # lets a pipeline find (and replace) its earlier comment


# -------------------------------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class Document:
    """A topology document as written: sent to the app byte for byte, so its lines are the lines problems name."""

    name: str  # the file as given (`-`: stdin), for messages and the plan file
    content: bytes

    @property
    def content_type(self) -> str:
        # As the app reads it (interconnect/estate/document.py): a document starting with `{` is JSON, else YAML.
        return "application/json" if self.content.lstrip()[:1] == b"{" else "application/yaml"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def read_document(stream: IO[bytes], name: str) -> Document:
    content = stream.read(MAX_READ + 1)
    if len(content) > MAX_READ:
        raise ConfigError(f"{name} is over {MAX_READ // 1024} KiB: not a topology document (the app takes 128 KiB)")
    if not content.strip():
        raise ConfigError(f"{name} is empty: give a topology document (apiVersion: interconnect/v1, kind: Topology)")
    return Document("-" if name in ("-", "<stdin>") else name, content)


# ------------------------------------------------------------------------------------------------- the plan file


def fingerprint(value: str, where: str = "--fingerprint") -> str:
    value = value.strip()
    if not FINGERPRINT.fullmatch(value):
        raise ConfigError(f"{where}: {value[:80]!r} is not a plan's fingerprint (v1:<64 hex digits>)")
    return value


def write_plan_file(path: Path, document: Document, plan: dict[str, Any]) -> None:
    """The plan as the app answered it, with the fingerprint `apply --plan` sends and the digest of the document
    it was made for (so the plan of one document is never applied with another)."""
    saved = {
        "kind": PLAN_FILE_KIND,
        "fingerprint": plan.get("fingerprint"),
        "allowed": plan.get("allowed"),
        "document": {"name": document.name, "sha256": document.sha256},
        "plan": plan,
    }
    try:
        path.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the plan to {path}: {exc.strerror}") from None


def read_plan_file(path: Path, document: Document) -> str:
    """The fingerprint a plan file holds, once it is known to be the plan of `document`."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the plan {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{path} is not a plan file (`interconnect plan -f FILE --out {path}` writes one)") from None
    if not isinstance(saved, dict) or saved.get("kind") != PLAN_FILE_KIND:
        raise ConfigError(f"{path} is not a plan file (`interconnect plan -f FILE --out {path}` writes one)")
    planned: dict[str, Any] = saved["document"] if isinstance(saved.get("document"), dict) else {}
    if planned.get("sha256") != document.sha256:
        raise ConfigError(
            f"{path} is the plan of another document ({planned.get('name', '?')}, sha256 "
            f"{str(planned.get('sha256', '?'))[:12]}…), not of {document.name} as it is now (sha256 "
            f"{document.sha256[:12]}…): plan it again"
        )
    if saved.get("allowed") is False:
        raise ConfigError(f"{path} is a refused plan: nothing of it can be applied; fix the document and plan again")
    return fingerprint(str(saved.get("fingerprint", "")), str(path))


# ------------------------------------------------------------------------------------------------ common words


def _label(document: str) -> str:
    return "stdin" if document == "-" else document


def has_changes(plan: dict[str, Any]) -> bool:
    return bool(plan.get("steps"))


def _pair(step: dict[str, Any]) -> str:
    # A plan's step has `change`, a change set's `action`: either way a disconnect removes the pair's links.
    arrow = "↔" if "disconnect" in (step.get("change"), step.get("action")) else "→"
    return f"{short(step.get('source'))} {arrow} {short(step.get('target'))}"


def _verdict(step: dict[str, Any]) -> str:
    if not step.get("allowed", True):
        return "refused"
    would = str(step.get("wouldDo") or "")
    return {"create": "allowed: create", "delete": "allowed: remove", "noop": "allowed: nothing to do"}.get(
        would, f"allowed: {would}"
    )


def _where(step: dict[str, Any]) -> str:
    where = step.get("declaredAt") or {}
    if not where:
        return "not declared" if step.get("change") == "disconnect" else ""
    line = where.get("line")
    return f"{where.get('path', '')}{f' (line {line})' if line else ''}"


def _reads(plan: dict[str, Any]) -> str | None:
    reads = plan.get("reads")
    if isinstance(reads, bool) or reads is None:
        return None
    if isinstance(reads, int):
        return f"{reads} ARM read{'' if reads == 1 else 's'}"
    if isinstance(reads, dict) and isinstance(reads.get("total"), int):
        return f"{reads['total']} ARM reads"
    if isinstance(reads, list):
        return f"{len(reads)} ARM reads"
    return None


def headline(plan: dict[str, Any]) -> str:
    summary = plan.get("summary") or {}
    counts = [
        f"{summary.get(key, 0)} {word}"
        for key, word in (("connect", "to connect"), ("repair", "to repair"), ("disconnect", "to disconnect"))
        if summary.get(key)
    ]
    counts.append(f"{summary.get('stay', 0)} staying")
    if summary.get("outside"):
        counts.append(f"{summary['outside']} outside the scope (untouched)")
    if not plan.get("allowed"):
        problems = summary.get("problems", 0)
        return f"refused: {problems} problem{'' if problems == 1 else 's'}; " + ", ".join(counts)
    if not has_changes(plan):
        return "nothing to change; " + ", ".join(counts)
    return "allowed; " + ", ".join(counts)


def awaiting_approval(step: dict[str, Any], requested_by: str, console: str) -> list[str]:
    """Who must approve a step's disconnect and where: anyone but the requester holding the right to approve
    disconnects (the policy's approvers; by default the Links.Approve or Links.Admin app role)."""
    rid = step.get("requestId") or "<request id>"
    by = f" than {requested_by}" if requested_by else ""
    return [
        f"awaits approval by someone else{by} who may approve disconnects (Links.Approve or Links.Admin, unless "
        "the policy names the approvers); the change set goes on once it is decided",
        f"approve: interconnect approve {rid}",
        f"or in the console's Approvals inbox: {console}#/approvals (or in the chat channel it was announced in)",
    ]


# ------------------------------------------------------------------------------------------- rich, for a terminal


def _reason_rows(table: Table, reasons: list[dict[str, Any]], indent: str = "") -> None:
    for reason in reasons:
        table.add_row(Text(f"{indent}{reason.get('code', '')}", style="bold red"), Text(str(reason.get("message", ""))))


def _impact_text(impact: dict[str, Any] | None) -> Text:
    text = Text()
    if not impact:
        return text
    text.append(f"cuts: {impact.get('summary', '')}", style="yellow")
    for side in ("source", "target"):
        end = impact.get(side) or {}
        routed = ", ".join(f"{r.get('prefix')} ({r.get('source')})" for r in end.get("routed") or [])
        if routed:
            text.append(f"\n  {short(end.get('cloud'))} routes {routed}")
        for problem in end.get("unreadable") or []:
            text.append(f"\n  unreadable: {short_ids(str(problem))}", style="yellow")
    return text


def plan_view(plan: dict[str, Any], document: str) -> RenderableType:
    allowed = bool(plan.get("allowed"))
    head = Text.assemble(("Topology plan ", "bold"), f"of {_label(document)}: ")
    head.append(headline(plan), style="bold green" if allowed else "bold red")
    parts: list[RenderableType] = [head]
    steps = plan.get("steps") or []
    if steps:
        table = Table(title="Steps, in the order they are filed", title_justify="left")
        for column in ("#", "change", "link", "verdict", "declared at", "reasons / impact"):
            table.add_column(column, no_wrap=column in ("#", "change", "verdict"))
        for step in steps:
            detail = Text()
            for reason in step.get("reasons") or []:
                detail.append(f"{reason.get('code', '')}: ", style="bold red")
                detail.append(f"{short_ids(str(reason.get('message', '')))}\n")
            if step.get("outcome") and step.get("allowed", True):
                detail.append(f"{short_ids(str(step['outcome']))}\n")
            detail.append_text(_impact_text(step.get("impact")))
            detail.rstrip()
            verdict = _verdict(step)
            table.add_row(
                str(step.get("step", "")),
                str(step.get("change", "")),
                Text(_pair(step)),
                Text(verdict, style="green" if step.get("allowed", True) else "bold red"),
                Text(_where(step)),
                detail,
            )
        parts.append(table)
    for title, key in (("End state (only the whole change shows these)", "endState"), ("Notes", "notes")):
        reasons = plan.get(key) or []
        if reasons:
            table = Table(title=title, title_justify="left")
            table.add_column("code", no_wrap=True)
            table.add_column("message")
            _reason_rows(table, reasons)
            parts.append(table)
    for title, key in (("Staying", "stay"), ("Outside the scope (never touched)", "outside")):
        links = plan.get(key) or []
        if links:
            table = Table(title=title, title_justify="left")
            for column in ("holder", "link", "linked cloud", "status"):
                table.add_column(column)
            for link in links:
                table.add_row(
                    Text(short(link.get("holder"))),
                    Text(str(link.get("name", ""))),
                    Text(short(link.get("linkedCloud"))),
                    Text(str(link.get("status", ""))),
                )
            parts.append(table)
    foot = Text.assemble(("fingerprint ", "bold"), str(plan.get("fingerprint", "")))
    reads = _reads(plan)
    if reads:
        foot.append(f"  ({reads})", style="dim")
    parts.append(foot)
    if allowed and steps:
        parts.append(
            Text(f"apply it: interconnect apply -f {document} --fingerprint {plan.get('fingerprint', '')}", "dim")
        )
    return Group(*parts)


def changeset_accepted(answer: dict[str, Any], document: str) -> Text:
    changeset_id = str(answer.get("changeSetId", ""))
    return Text.assemble(
        ("Change set ", "bold"),
        (changeset_id, "bold"),
        f" started for {document} (",
        status_text(str(answer.get("status", ""))),
        f"): interconnect changeset {changeset_id}",
    )


def changeset_step_line(step: dict[str, Any], elapsed: float, requested_by: str, console: str) -> Text:
    """A step of a change set as `apply --wait` prints it when its status changes."""
    status = str(step.get("status", ""))
    line = Text.assemble(
        (f"[{duration(elapsed):>6}] ", "dim"),
        f"step {step.get('index', '?')} {step.get('action', '')} {_pair(step)}: ",
        status_text(status),
    )
    if step.get("requestId"):
        line.append(f"  request {step['requestId']}", style="dim")
    if status == "AwaitingApproval":
        for said in awaiting_approval(step, requested_by, console):
            line.append(f"\n          {said}", style="yellow")
        impact = step.get("impact")
        if isinstance(impact, dict) and impact.get("summary"):
            line.append(f"\n          cuts: {impact['summary']}", style="yellow")
    return line


def changeset_view(view: dict[str, Any]) -> RenderableType:
    status = str(view.get("status", ""))
    head = Text.assemble(("Change set ", "bold"), str(view.get("changeSetId", "")), " ", status_text(status))
    requested = requester_of(view)
    if requested:
        head.append(f"  requested by {requested}", style="dim")
    if view.get("fingerprint"):
        head.append(f"\nfingerprint {view['fingerprint']}", style="dim")
    parts: list[RenderableType] = [head]
    table = Table(title="Steps", title_justify="left")
    for column in ("#", "action", "link", "status", "request"):
        table.add_column(column, no_wrap=column != "link")
    for step in view.get("steps") or []:
        table.add_row(
            str(step.get("index", "")),
            str(step.get("action", "")),
            Text(_pair(step)),
            status_text(str(step.get("status", ""))),
            str(step.get("requestId") or "—"),
        )
    parts.append(table)
    reason = reason_text(view)
    if reason:
        parts.append(Text(reason, style="red"))
    return Group(*parts)


def requester_of(view: dict[str, Any]) -> str:
    requested = view.get("requestedBy")
    if isinstance(requested, dict):
        return str(requested.get("display") or f"{requested.get('channel', '')}:{requested.get('id', '')}")
    return str(requested or "")


def reason_text(view: dict[str, Any]) -> str:
    """Why a change set stopped, as the app said it (a sentence, or a reason object)."""
    reason = view.get("reason")
    if isinstance(reason, dict):
        return short_ids(f"{reason.get('code', '')}: {reason.get('message', '')}".strip(": "))
    return short_ids(str(reason)) if reason else ""


def failed_step(view: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (s for s in view.get("steps") or [] if s.get("status") in ("Rejected", "Failed", "Expired")),
        None,
    )


# ---------------------------------------------------------------------------------- Markdown, for a pull request

# Parentheses need no escape: a link needs `]` right before them, and `]` is escaped.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|~])")


def md(value: object) -> str:
    """Text from the API as Markdown text: every character Markdown (or the HTML GitHub allows in a comment)
    would read as syntax is escaped; a line break inside a table cell would end the row, so it becomes a space."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def _md_reasons(reasons: list[dict[str, Any]]) -> str:
    return "<br>".join(f"**{md(r.get('code', ''))}**: {md(short_ids(str(r.get('message', ''))))}" for r in reasons)


def plan_markdown(plan: dict[str, Any], document: str) -> str:
    allowed = bool(plan.get("allowed"))
    icon = "✅" if allowed and has_changes(plan) else "⚪" if allowed else "❌"
    lines = [MARKER, f"### {icon} Topology plan of {md(_label(document))}: {md(headline(plan))}", ""]
    steps = plan.get("steps") or []
    if steps:
        lines += [
            "| # | change | link | verdict | declared at | reasons |",
            "|---:|---|---|---|---|---|",
        ]
        for step in steps:
            verdict = _verdict(step)
            verdict = f"✅ {verdict}" if step.get("allowed", True) else f"❌ **{verdict}**"
            detail = _md_reasons(step.get("reasons") or [])
            if not detail and step.get("outcome"):
                detail = md(short_ids(str(step["outcome"])))
            lines.append(
                f"| {step.get('step', '')} | {md(step.get('change', ''))} | {md(_pair(step))} | {verdict} | "
                f"{md(_where(step))} | {detail} |"
            )
        lines.append("")
    cuts = [s for s in steps if s.get("change") == "disconnect" and s.get("impact")]
    if cuts:
        lines.append("**What the disconnects cut** (each waits for someone else's approval when it is filed)")
        lines.append("")
        for step in cuts:
            impact = step["impact"]
            lines.append(f"- step {step.get('step', '')}, {md(_pair(step))}: {md(impact.get('summary', ''))}")
            for side in ("source", "target"):
                end = impact.get(side) or {}
                routed = ", ".join(f"{md(r.get('prefix'))} ({md(r.get('source'))})" for r in end.get("routed") or [])
                if routed:
                    lines.append(f"  - {md(short(end.get('cloud')))} routes {routed}")
                for problem in end.get("unreadable") or []:
                    lines.append(f"  - ⚠️ {md(short_ids(str(problem)))}")
        lines.append("")
    for title, key in (("End state", "endState"), ("Notes", "notes")):
        reasons = plan.get(key) or []
        if reasons:
            lines.append(f"**{title}**")
            lines.append("")
            lines += [f"- **{md(r.get('code', ''))}**: {md(short_ids(str(r.get('message', ''))))}" for r in reasons]
            lines.append("")
    for title, key in (("Links that stay", "stay"), ("Links outside the scope (never touched)", "outside")):
        links = plan.get(key) or []
        if links:
            lines += [f"<details><summary>{title} ({len(links)})</summary>", ""]
            lines += ["| holder | link | linked cloud | status |", "|---|---|---|---|"]
            lines += [
                f"| {md(short(link.get('holder')))} | {md(link.get('name', ''))} | "
                f"{md(short(link.get('linkedCloud')))} | {md(link.get('status', ''))} |"
                for link in links
            ]
            lines += ["", "</details>", ""]
    given = str(plan.get("fingerprint", ""))
    foot = f"Fingerprint `{given}`" if FINGERPRINT.fullmatch(given) else f"Fingerprint {md(given)}"
    reads = _reads(plan)
    if reads:
        foot += f" · {reads}"
    lines.append(foot)
    return "\n".join(lines) + "\n"


def error_markdown(document: str, code: str, message: str, details: dict[str, Any]) -> str:
    """A document the app would not plan (TOPOLOGY_INVALID and the like), for the pull request's comment: the
    message, and each problem where it is (path and line)."""
    lines = [
        MARKER,
        f"### ❌ Topology plan of {md(_label(document))}: not planned",
        "",
        f"**{md(code)}**: {md(message)}",
    ]
    problems = details.get("problems")
    if isinstance(problems, list) and problems:
        lines.append("")
        for problem in problems:
            if not isinstance(problem, dict):
                continue
            # The message starts with where the problem is (its path and line), as the app says it.
            lines.append(f"- **{md(problem.get('code', ''))}** {md(problem.get('message', ''))}")
    return "\n".join(lines) + "\n"
