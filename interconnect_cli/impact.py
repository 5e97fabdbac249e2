"""What a disconnect cuts, as a terminal shows it: the `impact` (or `impactError`) `GET /api/requests/{id}`
answers for a disconnect not yet under way (interconnect/linking/impact.py makes the view; the console and the
chat approval prompt show the same one). Pure, like render.py: text from the API is printed as text, never as
rich markup.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from interconnect_cli.render import short


def block(view: dict[str, Any]) -> RenderableType | None:
    """The request's impact block, or None when the answer carries neither `impact` nor `impactError` (a connect,
    a disconnect already under way, an app older than the field)."""
    found, error = view.get("impact"), view.get("impactError")
    if isinstance(found, dict):
        return _impact(found)
    if isinstance(error, dict):
        return Text.assemble(
            ("What it cuts: ", "bold"),
            ("could not be read just now", "yellow"),
            f" ({error.get('code', '?')}: {error.get('message', '')}); read the request again to see it",
        )
    return None


def _impact(found: dict[str, Any]) -> RenderableType:
    head = Text.assemble(("What it cuts: ", "bold"), str(found.get("summary", "")))
    if found.get("linked") == "no":
        return head
    table = Table(title_justify="left", expand=False)
    for column in ("cloud", "routed prefix", "from"):
        table.add_column(column, no_wrap=column != "from")
    unreadable: list[str] = []
    for name in ("source", "target"):
        side = found.get(name) or {}
        cloud = short(side.get("cloud"))
        routed = side.get("routed") or []
        for prefix in routed:
            table.add_row(Text(cloud), Text(str(prefix.get("prefix", ""))), Text(str(prefix.get("source", ""))))
        if not routed:
            table.add_row(Text(cloud), Text("—"), Text("no routed prefix read", style="dim"))
        unreadable += [f"{cloud}: {why}" for why in side.get("unreadable") or []]
    parts: list[RenderableType] = [head, table]
    parts += [Text.assemble(("not read ", "yellow"), why) for why in unreadable]
    return Group(*parts)


def with_impact(shown: RenderableType, view: dict[str, Any]) -> RenderableType:
    """`shown` (the request as render.request draws it) followed by its impact block, when it has one."""
    found = block(view)
    return shown if found is None else Group(shown, found)
