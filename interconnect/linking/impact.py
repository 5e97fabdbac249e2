"""What a disconnect cuts: the routed prefixes each end stops reaching on the other.

AVS Interconnect is not transitive: a link carries only the two clouds' own routed space between them, so a
disconnect of A-B cuts exactly A's routed prefixes as seen from B and B's as seen from A, nothing of a third
cloud either is linked to. The routed space is what the pre-flight reads for a connect (avs/routed.py: the
management blocks, ExpressRoute and Global Reach prefixes, and NSX segments with a connected gateway), so what
an approver is shown being cut is the same space a connect is checked on.

Pure: a view over `Facts` gathered with each end's routed space (`Preflight.routes` for a stored request,
`Preflight.with_routes` next to a dry run's verdict). What could not be read is said, per side, never left out:
an approver must not read "cuts 2 prefixes" when a third could not be listed.
"""

from __future__ import annotations

import re
from typing import Any

from interconnect.avs.ids import CloudId
from interconnect.avs.resources import LinkStatus
from interconnect.avs.routed import RoutedSpace
from interconnect.linking.facts import CloudFacts, Facts

# The reads a side's routed space is made of, besides the cloud itself.
_SPACE_READS = ("segments.list", "globalReach.list")


def routed_view(space: RoutedSpace) -> list[dict[str, str]]:
    """Each routed prefix and where it comes from (`networkBlock`, `segment web-01`, ...), in the order read."""
    return [{"prefix": str(p.network), "source": p.origin} for p in space.prefixes]


def impact(facts: Facts) -> dict[str, Any]:
    """The `impact` view of a disconnect of `facts.source_id` and `facts.target_id`:

    `{"source": {"cloud", "routed": [{"prefix", "source"}], "unreadable": [...]}, "target": {...},
    "linked": "yes" | "no" | "unknown", "linkStatus": [...], "summary": "..."}`

    `linked` is "unknown" when no link between them was found but a listing that could hold one was refused
    (or an end could not be read): then the summary says they may be linked rather than that nothing is cut.
    """
    source, target = _side(facts, facts.source_id, facts.source), _side(facts, facts.target_id, facts.target)
    statuses = sorted({LinkStatus.normalize(link.status) for link in facts.pair_links})
    linked = "yes" if statuses else "unknown" if _links_unknown(facts) else "no"
    return {
        "source": source,
        "target": target,
        "linked": linked,
        "linkStatus": statuses,
        "summary": _summary(facts, source, target, linked, statuses),
    }


def _side(facts: Facts, cloud_id: CloudId, end: CloudFacts | None) -> dict[str, Any]:
    unreadable: list[str] = []
    if end is None:
        refused = next((r for r in facts.refusals if r.cloud == cloud_id and r.read == "privateClouds.get"), None)
        unreadable.append(
            f"{cloud_id.short} cannot be read ({refused.answer})"
            if refused is not None
            else f"{cloud_id.short} does not exist or cannot be read"
        )
        return {"cloud": str(cloud_id), "routed": [], "unreadable": unreadable}
    unreadable += [
        f"{r.what} cannot be read ({r.answer})"
        for r in facts.refusals
        if r.cloud == cloud_id and r.read in _SPACE_READS
    ]
    unreadable += end.space.problems
    return {"cloud": str(cloud_id), "routed": routed_view(end.space), "unreadable": unreadable}


def _links_unknown(facts: Facts) -> bool:
    """Could a link between the pair exist unseen? Each end lists the links it holds; an end that cannot be
    read, or whose listing was refused, could hold one."""
    if facts.source is None or facts.target is None:
        return True
    return any(r.read == "cloudLinks.list" and r.cloud in (facts.source_id, facts.target_id) for r in facts.refusals)


def _prefixes(count: int) -> str:
    return f"{count} routed prefix{'' if count == 1 else 'es'}"


def _summary(facts: Facts, source: dict[str, Any], target: dict[str, Any], linked: str, statuses: list[str]) -> str:
    a, b = facts.source_id.name, facts.target_id.name
    counts = f"{_prefixes(len(source['routed']))} of {a}, {_prefixes(len(target['routed']))} of {b}"
    partly = [cid.name for cid, side in ((facts.source_id, source), (facts.target_id, target)) if side["unreadable"]]
    caveat = (
        f"; what {' and '.join(partly)} route{'s' if len(partly) == 1 else ''} could not all be read" if partly else ""
    )
    if linked == "no":
        return f"{a} and {b} are not linked: the disconnect cuts nothing"
    if linked == "unknown":
        return (
            f"{a} and {b} may be linked (their links cannot all be read); if so, they stop reaching each other "
            f"({counts}){caveat}"
        )
    if LinkStatus.ACTIVE in statuses:
        return f"{a} and {b} stop reaching each other ({counts}){caveat}"
    return (
        f"the link between {a} and {b} is {' / '.join(statuses)}, so nothing routes across it now; once it is "
        f"removed they cannot reach each other ({counts}){caveat}"
    )


# ------------------------------------------------------------------------------------------ the chat's sentence

# How many of a side's prefixes a chat line names before it counts the rest: an approver reads the line on a phone.
LISTED = 5
# A sentence of what could not be read is an ARM message: enough of it to act on, not a page of it.
UNREADABLE_CHARS = 160
CUT_LINE_CHARS = 1500
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9 ._\-/:,;()'+=%]")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def plain(text: str) -> str:
    """`text` with only characters no chat gives meaning to: letters, digits, spaces and `._-/:,;()'+=%`, and an
    underscore between two letters or digits (`seg_web`); anything else is `?`. Segment names and ARM's messages
    come from outside: in Slack mrkdwn or a Teams card, `<!here>`, `*`, a backtick or `[x](url)` would ping,
    format or link, and a newline would forge a line of its own."""
    text = _NOT_PLAIN.sub("?", text)
    return _LONE_UNDERSCORE.sub("?", text)


def cut_line(view: dict[str, Any]) -> str:
    """What a disconnect cuts, in one line a chat can show next to Approve and Reject: the impact's summary, then
    each side's routed prefixes (the first few, and how many more), then what could not be read. Every part from
    outside is `plain`, so the line is safe in Slack mrkdwn, a Teams card, a ticket comment and the audit trail."""
    line = f"What it cuts: {view['summary']}"
    if view["linked"] != "no":
        for side in (view["source"], view["target"]):
            name = side["cloud"].rsplit("/", 1)[-1]
            routed = [f"{p['prefix']} {p['source']}" for p in side["routed"]]
            shown = ", ".join(routed[:LISTED]) + (f" and {len(routed) - LISTED} more" if len(routed) > LISTED else "")
            line += f"; {name}: {shown or 'no routed prefix read'}"
            line += "".join(f"; not read: {why[:UNREADABLE_CHARS]}" for why in side["unreadable"])
    return plain(line)[:CUT_LINE_CHARS]


def unread_line(why: str) -> str:
    """The line said in place of `cut_line` when the routed space could not be read at all just now (ARM
    unreachable): the approval goes ahead; the approver is told what they are not shown, and why."""
    return plain(f"What it cuts could not be read: {why[:UNREADABLE_CHARS]}")
