"""The link topology of an audit run, as data and as pictures a person can read at a glance.

An audit's findings are a list; what a platform team asks first is "who can reach whom?". AVS links are
directional resources (held by the source cloud) but route both ways, and only between their two clouds:
A-B and B-C do not let A reach C. A drawing with one box per cloud, grouped by region, one edge per link
and the broken links and findings in red answers that question faster than any table.

`build_graph` is pure: inventory and findings in, a JSON-ready dict out, which the REST API returns as is
and the text renderers (`to_mermaid`, `to_dot`) turn into diagram source. All of it is pure: laying the DOT
out as SVG runs a process, so it is an adapter (interconnect/adapters/graphviz.py) behind the
`SvgRenderer` port (interconnect/audit/ports.py).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

from interconnect.audit.drift import MISSING as TOPOLOGY_MISSING_LINK
from interconnect.audit.model import Finding, Inventory
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.avs.resources import Link, LinkStatus
from interconnect.errors import ValidationError

UNKNOWN_REGION = "unknown"
UNKNOWN_STATUS = "Unknown"  # what LinkStatus.normalize says of a missing status
LEGEND = "A link routes both ways between its two clouds only; links are not transitive."
ARROW_NOTE = "Arrows point away from the cloud that holds the link."
MARKS_BOTH_CLOUDS = frozenset({TOPOLOGY_MISSING_LINK})  # two-cloud findings about a link that is not there


# --------------------------------------------------------------------------------------------------- the graph


class Node(TypedDict):
    """One cloud: read from the audited subscriptions, or `external` (only linked to)."""

    id: str
    name: str
    shortName: str
    region: str
    subscription: str
    resourceGroup: str
    provisioningState: str | None
    external: bool
    findings: list[str]  # codes
    reaches: list[str]  # node ids joined to this one by an Active link


class Edge(TypedDict):
    """One link, from the cloud that holds it."""

    source: str
    target: str
    name: str
    status: str
    active: bool
    direction: str
    findings: list[str]  # codes


class Region(TypedDict):
    name: str
    clouds: list[str]  # node ids


class Graph(TypedDict):
    """What `build_graph` returns and the API serves as JSON; the renderers draw it."""

    takenAt: str
    legend: str
    regions: list[Region]
    nodes: list[Node]
    edges: list[Edge]
    findings: list[dict[str, Any]]  # Finding.to_dict() + {"attachedTo": "node" | "edge" | "nodes" | "graph"}


def _key(cloud: str) -> str:
    """The comparison key of an ARM id as findings carry it (a string, in whatever case the check wrote)."""
    try:
        return parse_cloud_id(cloud).normalized
    except ValidationError:
        return cloud.strip().rstrip("/").lower()


def _node(cid: CloudId, region: str, state: str | None, external: bool) -> Node:
    return {
        "id": str(cid),
        "name": cid.name,
        "shortName": cid.short,
        "region": region,
        "subscription": cid.subscription,
        "resourceGroup": cid.resource_group,
        "provisioningState": state,
        "external": external,
        "findings": [],
        "reaches": [],
    }


def build_graph(inventory: Inventory, findings: Sequence[Finding]) -> Graph:
    """The inventory and findings of one audit run as a JSON-ready graph.

    Shape::

        {"takenAt", "legend",
         "regions": [{"name", "clouds": [node ids]}],
         "nodes": [{"id", "name", "shortName", "region", "subscription", "resourceGroup", "provisioningState",
                    "external", "findings": [codes], "reaches": [node ids joined by an Active link]}],
         "edges": [{"source", "target", "name", "status", "active", "direction", "findings": [codes]}],
         "findings": [Finding.to_dict() + {"attachedTo": "node" | "edge" | "nodes" | "graph"}]}

    An edge's `source` holds the link; `direction` says so in words ("rg/a→rg/b"). A finding naming one
    cloud attaches to its node; one naming exactly the two ends of a link attaches to that link's edges (to
    the one it names in details.link when the pair has several); TOPOLOGY_MISSING_LINK, naming two clouds a
    topology document joins but no link does, attaches to both their nodes ("nodes"); anything else stays
    graph-level. Clouds
    that links point at but that were not read (outside the configured subscriptions) are nodes in region
    "unknown" with `external: true`; a link such a cloud holds towards one we read (known only from
    `externalCloudLinks`) is an edge with no name and status "Unknown". Ordering is deterministic, so the
    same run always draws the same picture.
    """
    nodes: dict[str, Node] = {}  # by normalized id
    for cid, record in sorted(inventory.clouds.items(), key=lambda item: item[0].normalized):
        nodes[cid.normalized] = _node(
            cid, record.cloud.region or UNKNOWN_REGION, record.cloud.provisioning_state, external=False
        )
    links = list(inventory.links)
    held = {(link.source, link.target) for link in links}
    for cid, record in inventory.clouds.items():
        for holder in record.cloud.external_links:
            if (holder, cid) not in held:
                # An incoming link whose holder we could not read (another subscription): it exists, but its
                # name and status live on the holder, as in the links query. Drawn, since it may route.
                links.append(Link(holder, "", cid, UNKNOWN_STATUS))
                held.add((holder, cid))
    links.sort(key=lambda link: (link.source.normalized, link.target.normalized, link.name))
    for link in links:
        for end in (link.source, link.target):
            if end.normalized not in nodes:
                nodes[end.normalized] = _node(end, UNKNOWN_REGION, None, external=True)

    edges: list[Edge] = []
    by_pair: dict[frozenset[str], list[Edge]] = defaultdict(list)
    for link in links:
        source, target = nodes[link.source.normalized], nodes[link.target.normalized]
        status = LinkStatus.normalize(link.status)
        edge: Edge = {
            "source": source["id"],
            "target": target["id"],
            "name": link.name,
            "status": status,
            "active": status == LinkStatus.ACTIVE,
            "direction": f"{source['shortName']}→{target['shortName']}",
            "findings": [],
        }
        edges.append(edge)
        by_pair[frozenset((link.source.normalized, link.target.normalized))].append(edge)
        if edge["active"] and link.source != link.target:
            source["reaches"].append(target["id"])
            target["reaches"].append(source["id"])

    attached = []
    for finding in findings:
        ends = frozenset(_key(c) for c in finding.clouds)
        where = "graph"
        if len(ends) == 1 and (node := nodes.get(next(iter(ends)))):
            where = "node"
            _add_code(node, finding.code)
        elif len(ends) == 2 and (pair := by_pair.get(ends)):
            where = "edge"
            named = [edge for edge in pair if edge["name"].lower() == str(finding.details.get("link", "")).lower()]
            for edge in named or pair:
                _add_code(edge, finding.code)
        elif finding.code in MARKS_BOTH_CLOUDS and len(ends) == 2 and all(key in nodes for key in ends):
            # A declared link that is missing: no edge to mark, so both clouds the document joins are.
            where = "nodes"
            for key in sorted(ends):
                _add_code(nodes[key], finding.code)
        attached.append({**finding.to_dict(), "attachedTo": where})

    for node in nodes.values():
        node["reaches"] = sorted(set(node["reaches"]), key=str.lower)
    regions: dict[str, list[str]] = defaultdict(list)
    for node in nodes.values():
        regions[node["region"]].append(node["id"])
    # Known regions alphabetically, the clouds we could not place last.
    order = sorted(regions, key=lambda name: (name == UNKNOWN_REGION, name))
    return {
        "takenAt": inventory.taken_at.isoformat(),
        "legend": f"{LEGEND} {ARROW_NOTE}",
        "regions": [{"name": name, "clouds": regions[name]} for name in order],
        "nodes": list(nodes.values()),
        "edges": edges,
        "findings": attached,
    }


def _add_code(item: Node | Edge, code: str) -> None:
    if code not in item["findings"]:
        item["findings"].append(code)


# ------------------------------------------------------------------------------------------------ identifiers


class _SafeIds:
    """Diagram identifiers made of [A-Za-z0-9_] only, unique within one diagram, stable for one input.

    Derived from the readable name (so the source stays legible) behind a prefix, which keeps them clear of
    keywords (`end`, `subgraph`, `graph`...) and of Mermaid's `o`/`x` edge endings and leading digits.
    """

    def __init__(self) -> None:
        self._used: set[str] = set()
        self._given: dict[tuple[str, str], str] = {}

    def __call__(self, prefix: str, key: str, readable: str) -> str:
        if (prefix, key) in self._given:
            return self._given[(prefix, key)]
        base = prefix + (re.sub(r"[^A-Za-z0-9_]", "_", readable, flags=re.ASCII) or "x")
        candidate, n = base, 1
        while candidate in self._used:
            n += 1
            candidate = f"{base}_{n}"
        self._used.add(candidate)
        self._given[(prefix, key)] = candidate
        return candidate


def _short_of(graph: Graph) -> Callable[[str], str]:
    shorts = {node["id"]: node.get("shortName") or node["id"] for node in graph.get("nodes", [])}
    return lambda node_id: shorts.get(node_id, node_id)


def _region_title(name: str) -> str:
    return f"{name} (outside the audited subscriptions)" if name == UNKNOWN_REGION else name


def _graph_level(graph: Graph) -> list[str]:
    return sorted({f["code"] for f in graph.get("findings", []) if f.get("attachedTo") == "graph"})


def _caption(graph: Graph) -> list[str]:
    lines = [LEGEND, ARROW_NOTE + " Red: not Active, or has findings."]
    if codes := _graph_level(graph):
        lines.append("Findings not tied to one cloud or link: " + ", ".join(codes))
    if graph.get("takenAt"):
        lines.append(f"Inventory taken at {graph['takenAt']}")
    return lines


# ---------------------------------------------------------------------------------------------------- Mermaid


def _mermaid_text(text: object) -> str:
    """Text for inside a Mermaid `"..."` label: entity codes for what Mermaid would read as syntax."""
    label = re.sub(r"\s+", " ", str(text))  # a newline would end the statement
    for char, entity in (
        ("#", "#35;"),
        ('"', "#quot;"),
        ("&", "#amp;"),
        ("<", "#lt;"),
        (">", "#gt;"),
        ("`", "#96;"),
        ("|", "#124;"),
    ):
        label = label.replace(char, entity)
    return label


def to_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart: one subgraph per region, solid edges for Active links, dashed red ones for the
    rest, clouds with findings filled red, external clouds dashed, and the legend as a note node."""
    ids = _SafeIds()
    short = _short_of(graph)

    def node_id(key: str) -> str:
        return ids("c_", key, short(key))

    lines = ["flowchart LR"]
    for region in graph.get("regions", []):
        title = _mermaid_text(_region_title(region["name"]))
        lines.append(f'  subgraph {ids("r_", region["name"], region["name"])}["{title}"]')
        lines += [f'    {node_id(key)}["{_mermaid_text(short(key))}"]' for key in region["clouds"]]
        lines.append("  end")
    red = []
    for index, edge in enumerate(graph.get("edges", [])):
        arrow = "-->" if edge.get("active") else "-.->"
        label = _mermaid_text(" ".join([edge.get("status", ""), *edge.get("findings", [])]))
        lines.append(f'  {node_id(edge["source"])} {arrow}|"{label}"| {node_id(edge["target"])}')
        if not edge.get("active") or edge.get("findings"):
            red.append(str(index))  # linkStyle addresses edges by their order of appearance
    nodes = graph.get("nodes", [])
    flagged = [node_id(node["id"]) for node in nodes if node.get("findings")]
    external = [node_id(node["id"]) for node in nodes if node.get("external")]
    legend = ids("", "legend", "legend")  # cannot clash: clouds and regions carry a prefix
    caption = "<br/>".join(_mermaid_text(line) for line in _caption(graph))  # Mermaid's own line break
    lines.append(f'  {legend}["{caption}"]')
    lines += [
        "  classDef finding fill:#fdd,stroke:#c00,stroke-width:2px",
        "  classDef external stroke-dasharray:5 5",
        "  classDef legend fill:#fff,stroke:#999,font-size:11px",
    ]
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:#c00,stroke-width:2px,color:#c00")
    if flagged:
        lines.append(f"  class {','.join(flagged)} finding")
    if external:
        lines.append(f"  class {','.join(external)} external")
    lines.append(f"  class {legend} legend")
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------------------- DOT


def _dot(text: object) -> str:
    """A DOT double-quoted string. Backslashes are doubled so a name can never form a Graphviz escape
    (`\\N`, `\\G`, `\\l`...); real line breaks become `\\n`; other control characters go."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return '"' + "".join(c if c.isprintable() or c == " " else " " for c in text) + '"'


def _attrs(**attrs: str | None) -> str:
    return "[" + ", ".join(f"{name}={_dot(value)}" for name, value in attrs.items() if value is not None) + "]"


def to_dot(graph: Graph) -> str:
    """Graphviz DOT: one `cluster_*` per region, edges labelled with their status, non-active edges dashed
    red, clouds with findings outlined red, the legend as the graph's caption. Every id and label is quoted."""
    ids = _SafeIds()
    short = _short_of(graph)
    by_id = {node["id"]: node for node in graph.get("nodes", [])}
    lines = [
        "digraph topology {",
        # Padding and node margins leave room for viewers whose Helvetica substitute runs wider than the
        # layout engine's metrics, so labels are not clipped at box and canvas edges.
        "  graph "
        + _attrs(rankdir="LR", fontname="Helvetica", fontsize="10", labelloc="b", labeljust="l", pad="0.4")
        + ";",
        "  node " + _attrs(shape="box", style="rounded", fontname="Helvetica", fontsize="11", margin="0.3,0.1") + ";",
        f"  edge {_attrs(fontname='Helvetica', fontsize='9')};",
    ]
    for region in graph.get("regions", []):
        cluster = ids("cluster_", region["name"], region["name"])
        lines.append(f"  subgraph {_dot(cluster)} {{")
        # Set on each cluster: attributes given to the root graph would otherwise be inherited.
        cluster_attrs = _attrs(
            label=_region_title(region["name"]),
            labelloc="t",
            labeljust="c",
            style="rounded",
            color="gray50",
            fontsize="12",
        )
        lines.append(f"    graph {cluster_attrs};")
        for key in region["clouds"]:
            node = by_id.get(key)  # None only for a graph not made by build_graph: drawn as a bare id
            codes = (node.get("findings") if node else None) or []
            external = bool(node and node.get("external"))
            state = (
                "outside the audited subscriptions"
                if external
                else f"provisioningState: {node.get('provisioningState') if node else None}"
            )
            tooltip = "\n".join([key, state, *codes])
            lines.append(
                f"    {_dot(ids('c_', key, short(key)))} "
                + _attrs(
                    label="\n".join([short(key), *codes]),
                    tooltip=tooltip,
                    color="red" if codes else None,
                    penwidth="2" if codes else None,
                    style="rounded,dashed" if external else None,
                )
                + ";"
            )
        lines.append("  }")
    for edge in graph.get("edges", []):
        codes = edge.get("findings") or []
        bad = not edge.get("active")
        source = ids("c_", edge["source"], short(edge["source"]))
        target = ids("c_", edge["target"], short(edge["target"]))
        lines.append(
            f"  {_dot(source)} -> {_dot(target)} "
            + _attrs(
                label="\n".join([edge.get("status", ""), *codes]),
                tooltip=f"{edge.get('name') or 'link'}: {edge.get('direction')} ({edge.get('status')})",
                style="dashed" if bad else None,
                color="red" if bad or codes else None,
                fontcolor="red" if bad or codes else None,
                penwidth="2" if codes else None,
            )
            + ";"
        )
    # Last, so that no cluster inherits it.
    lines.append(f"  label={_dot(chr(10).join(_caption(graph)))};")
    lines.append("}")
    return "\n".join(lines) + "\n"
