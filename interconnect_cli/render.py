"""What a person sees in a terminal: rich tables and colour made from the API's JSON. Pure: each function takes
an answer and returns something rich renders, so tests render to a recording console and read the text.

Text that came from the API is printed as text, never as rich markup (a name with `[red]` in it stays that).
"""

from __future__ import annotations

import re
import time
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {
    "Succeeded": "bold green",
    "Rejected": "bold red",
    "Failed": "bold red",
    "Expired": "bold yellow",
    "AwaitingApproval": "bold yellow",
    "Accepted": "cyan",
    "Validating": "cyan",
    "InProgress": "cyan",
}
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}
LINK_STYLE = {"Active": "green", "Building": "cyan", "Deleting": "cyan", "Failed": "red", "Disconnected": "red"}


def short(cloud_id: object) -> str:
    """`rg/name` of a private cloud ARM id; anything else as given."""
    text = str(cloud_id or "")
    parts = text.strip("/").split("/")
    if len(parts) == 8 and parts[0].lower() == "subscriptions" and parts[2].lower() == "resourcegroups":
        return f"{parts[3]}/{parts[7]}"
    return text


# A private cloud's ARM id inside a sentence the API wrote (an audit-trail message): shown as `rg/name`, like
# everywhere else in a terminal; --output json keeps the API's text as it is.
_CLOUD_ID = re.compile(
    r"/subscriptions/[^/\s]+/resourceGroups/([^/\s]+)/providers/Microsoft\.AVS/privateClouds/([^/\s]+)",
    re.IGNORECASE,
)


def short_ids(text: str) -> str:
    """`text` with each private cloud ARM id in it shortened to `rg/name`."""
    return _CLOUD_ID.sub(lambda m: f"{m.group(1)}/{m.group(2)}", text)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _reasons(reasons: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False, expand=False)
    table.add_column("code", style="bold red", no_wrap=True)
    table.add_column("message")
    for reason in reasons:
        table.add_row(Text(str(reason.get("code", ""))), Text(str(reason.get("message", ""))))
    return table


def plan(answer: dict[str, Any], action: str, source: str, target: str) -> RenderableType:
    head = Text.assemble(("Plan: ", "bold"), f"{action} {short(source)} → {short(target)}\n")
    if answer.get("allowed"):
        head.append("allowed", style="bold green")
        head.append(f": would {answer.get('wouldDo', '')}")
        if answer.get("outcome"):
            head.append(f" ({answer['outcome']})")
    else:
        head.append("refused", style="bold red")
        head.append(f": a {action} request would be rejected")
    parts: list[RenderableType] = [head]
    reasons = answer.get("reasons") or []
    if reasons:
        parts.append(_reasons(reasons, "Reasons"))
    refused = (answer.get("facts") or {}).get("refusedReads") or []
    if refused:
        parts.append(Text(f"{len(refused)} ARM read(s) refused: " + ", ".join(_refusal(r) for r in refused)))
    return Group(*parts)


def _refusal(refused: dict[str, Any]) -> str:
    return f"{refused.get('read', '?')} on {short(refused.get('cloud'))} ({refused.get('status', '?')})"


def accepted(answer: dict[str, Any], action: str, source: str, target: str, *, repeat: bool) -> Text:
    text = Text.assemble(
        ("Request ", "bold"),
        (str(answer.get("requestId", "")), "bold"),
        f" {'already exists' if repeat else 'accepted'}: {action} {short(source)} → {short(target)} (",
        status_text(str(answer.get("status", ""))),
        ")",
    )
    if action == "disconnect" and not repeat:
        text.append(f"\nIt waits for someone else's approval: interconnect approve {answer.get('requestId', '<id>')}")
    return text


def request(view: dict[str, Any]) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    requested = view.get("requestedBy") or {}
    who = requested.get("display") or f"{requested.get('channel', '')}:{requested.get('id', '')}"
    rows: list[tuple[str, Text | str]] = [
        ("request", str(view.get("requestId", ""))),
        ("status", status_text(str(view.get("status", "")))),
        ("action", f"{view.get('action', '')} {short(view.get('source'))} → {short(view.get('target'))}"),
        ("reference", str(view.get("reference") or "—")),
        ("requested by", str(who)),
        ("created", str(view.get("createdAt", ""))),
        ("updated", str(view.get("updatedAt", ""))),
    ]
    if view.get("outcome"):
        rows.append(("outcome", str(view["outcome"])))
    approval = view.get("approval")
    if approval:
        decided = approval.get("decidedBy")
        rows.append(("approval", f"decided by {decided}" if decided else f"awaited until {approval.get('deadline')}"))
    for name, value in rows:
        grid.add_row(name, Text(value) if isinstance(value, str) else value)
    parts: list[RenderableType] = [grid]
    if view.get("reasons"):
        parts.append(_reasons(view["reasons"], "Reasons"))
    events = view.get("events") or []
    if events:
        table = Table(title="Audit trail", title_justify="left")
        for column in ("#", "at", "status", "actor", "message"):
            table.add_column(column, no_wrap=column != "message")
        for e in events:
            table.add_row(
                str(e.get("sequence", "")),
                str(e.get("at", "")),
                status_text(str(e.get("status", ""))),
                Text(str(e.get("actor", ""))),
                Text(short_ids(str(e.get("message") or ""))),
            )
        parts.append(table)
    return Group(*parts)


def event_line(event: dict[str, Any], elapsed: float) -> Text:
    """One audit-trail step as `wait` prints it when it appears."""
    line = Text.assemble(
        (f"[{duration(elapsed):>6}] ", "dim"),
        status_text(str(event.get("status", ""))),
        (f"  {event.get('actor', '')}", "dim"),
    )
    if event.get("message"):
        line.append(f"  {short_ids(str(event['message']))}")
    for reason in event.get("reasons") or []:
        line.append(f"\n          {reason.get('code', '')}: {reason.get('message', '')}", style="red")
    return line


def waiting(request_id: str, status: str, started: float, kind: str = "request") -> Text:
    """The spinner's line, re-rendered as it spins: what is awaited, the status last read and the time so far."""
    text = Text.assemble(f"{kind} {request_id}: ", status_text(status or "…"))
    text.append(f"  {duration(time.monotonic() - started)}", style="dim")
    if status == "AwaitingApproval" and kind == "request":
        text.append(f"  (someone else approves it: interconnect approve {request_id})", style="dim")
    return text


def requests(page: dict[str, Any]) -> RenderableType:
    table = Table(title="Requests (newest first)", title_justify="left")
    for column in ("request", "action", "status", "source", "target", "reference", "created"):
        table.add_column(column, no_wrap=column in ("request", "status", "created"))
    for view in page.get("value") or []:
        table.add_row(
            str(view.get("requestId", "")),
            str(view.get("action", "")),
            status_text(str(view.get("status", ""))),
            Text(short(view.get("source"))),
            Text(short(view.get("target"))),
            Text(str(view.get("reference") or "")),
            str(view.get("createdAt", ""))[:19],
        )
    parts: list[RenderableType] = [table]
    if page.get("skipped"):
        parts.append(Text(f"{page['skipped']} stored request(s) could not be read back and are left out", "yellow"))
    if page.get("continuation"):
        parts.append(Text(f"more: --continuation {page['continuation']}", style="dim"))
    return Group(*parts)


def links(answer: dict[str, Any]) -> RenderableType:
    table = Table(title=f"Links of {short(answer.get('cloud'))} ({answer.get('location', '')})", title_justify="left")
    for column in ("name", "direction", "other cloud", "status"):
        table.add_column(column)
    for link in answer.get("value") or []:
        status = str(link.get("status", ""))
        table.add_row(
            Text(str(link.get("name") or "—")),
            str(link.get("direction", "")),
            Text(short(link.get("otherCloud"))),
            Text(status, style=LINK_STYLE.get(status, "")),
        )
    parts: list[RenderableType] = [table]
    if not answer.get("value"):
        parts.append(Text("no links"))
    if answer.get("complete") is False:
        refused = answer.get("refusedReads") or []
        parts.append(Text("incomplete: " + ", ".join(_refusal(r) for r in refused), style="bold yellow"))
    return Group(*parts)


def audit(run: dict[str, Any]) -> RenderableType:
    summary = run.get("summary") or {}
    head = Text.assemble(
        ("Audit ", "bold"),
        (str(run.get("runId", "")), "bold"),
        f"  {run.get('startedAt', '')} → {run.get('finishedAt', '')}\n",
        f"{summary.get('clouds', 0)} clouds, {summary.get('links', 0)} links, "
        f"{summary.get('findings', 0)} findings ({summary.get('new', 0)} new, {summary.get('resolved', 0)} resolved)",
    )
    parts: list[RenderableType] = [head]
    findings = run.get("findings") or []
    if findings:
        table = Table(title="Findings", title_justify="left")
        for column in ("severity", "code", "state", "clouds", "message"):
            table.add_column(column, no_wrap=column in ("severity", "code", "state"))
        for f in findings:
            severity = str(f.get("severity", ""))
            table.add_row(
                Text(severity, style=SEVERITY_STYLE.get(severity, "")),
                str(f.get("code", "")),
                str(f.get("state", "")),
                Text(", ".join(short(c) for c in f.get("clouds") or [])),
                Text(str(f.get("message", ""))),
            )
        parts.append(table)
    for problem in run.get("problems") or []:
        parts.append(Text(f"problem: {problem}", style="yellow"))
    return Group(*parts)


def topology(graph: dict[str, Any]) -> RenderableType:
    regions = Table(title=f"Topology (audit of {graph.get('takenAt', '?')})", title_justify="left")
    for column in ("region", "clouds"):
        regions.add_column(column)
    names = {n.get("id"): n.get("shortName") or n.get("name") for n in graph.get("nodes") or []}
    for region in graph.get("regions") or []:
        regions.add_row(str(region.get("name", "")), Text(", ".join(str(names.get(c, c)) for c in region["clouds"])))
    edges = Table(title="Links", title_justify="left")
    for column in ("link", "status", "findings"):
        edges.add_column(column)
    for edge in graph.get("edges") or []:
        status = str(edge.get("status", ""))
        edges.add_row(
            Text(str(edge.get("direction", ""))),
            Text(status, style=LINK_STYLE.get(status, "")),
            Text(", ".join(edge.get("findings") or [])),
        )
    return Group(regions, edges)


# What a message names: its words, without the punctuation that lists them ("a, b", "Did you mean: a?").
_WORD = re.compile(r"[^\s,;:?'\"()]+")


def error(code: str, message: str, details: dict[str, Any] | None = None) -> Text:
    """The error, and below it each candidate cloud (full id) the message does not already name.

    The app's message for an unknown or ambiguous name lists the candidates as `rg/name` (full ids where two
    share one) up to a limit; listing them again would show each twice. --output json has them all as ids.
    """
    text = Text.assemble(("error ", "bold red"), (code, "bold red"), ": ", message)
    candidates = (details or {}).get("candidates")
    if isinstance(candidates, list) and candidates:
        named = {word.rstrip(".") for word in _WORD.findall(message)}
        unnamed = [str(c) for c in candidates if str(c) not in named and short(c) not in named]
        if unnamed:
            text.append("\ncandidates:" if len(unnamed) == len(candidates) else "\nand also:")
            for candidate in unnamed:
                text.append(f"\n  {candidate}")
    return text
