"""The topology graph and its renderings: clusters by region, broken links and findings in red, odd names safe."""

from __future__ import annotations

import html
import json
import re
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect.adapters.graphviz import find_engine, render_svg
from interconnect.audit.model import CRITICAL, INFO, WARNING, CloudRecord, Finding, Inventory
from interconnect.audit.topology import LEGEND, build_graph, to_dot, to_mermaid
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link, LinkStatus
from interconnect.avs.routed import RoutedSpace
from interconnect.errors import RenderError
from tests.factories import SUB_A, SUB_B, cloud_id

TAKEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEU_PROD = cloud_id("pc-weu.prod-1", rg="rg-avs.weu")  # '.' and '-' in names on purpose
WEU_DR = cloud_id("pc-weu-dr", rg="rg-avs.weu")
NEU = cloud_id("pc-neu", rg="rg-avs-neu")
FAR = cloud_id("pc-far", sub=SUB_B, rg="rg-partner")  # not read: outside the configured subscriptions


def to_svg(graph: dict[str, Any], **options: Any) -> bytes:
    """The picture as the API draws it: the pure DOT, laid out by the Graphviz adapter."""
    return render_svg(to_dot(graph), **options)


def record(cid: CloudId, location: str, *links: tuple[CloudId, str]) -> CloudRecord:
    return CloudRecord(
        Cloud(cid, location, "Succeeded", network_block="10.0.0.0/22"),
        tuple(Link(cid, f"ic-{target.name}", target, status) for target, status in links),
        RoutedSpace(()),
    )


def inventory() -> Inventory:
    return Inventory(
        TAKEN,
        {
            WEU_PROD: record(WEU_PROD, "West Europe", (WEU_DR, "active"), (FAR, LinkStatus.ACTIVE)),
            WEU_DR: record(WEU_DR, "westeurope"),
            NEU: record(NEU, "northeurope", (WEU_DR, LinkStatus.FAILED)),
        },
    )


FINDINGS = [
    Finding("LINK_LIMIT_NEAR", WARNING, (str(WEU_PROD),), "near the limit"),
    # Upper-cased on purpose: findings are matched to links case-insensitively, whichever end comes first.
    Finding("LINK_NOT_ACTIVE", CRITICAL, (str(WEU_DR).upper(), str(NEU)), "link is Failed", {"link": "ic-pc-weu-dr"}),
    Finding("MISSING_LINK", CRITICAL, (str(WEU_PROD), str(NEU)), "gone"),  # no such link: graph-level
    Finding("DEAD_LETTERED", WARNING, (), "1 message(s) in the dead-letter queue"),
    Finding("NEIGHBOR_OVERLAP", CRITICAL, (str(WEU_PROD), str(WEU_DR), str(FAR)), "overlap"),
    Finding("UNMANAGED_LINK", INFO, (str(WEU_PROD), str(FAR)), "not ours"),
]


@pytest.fixture(scope="module")
def graph() -> dict[str, Any]:
    return build_graph(inventory(), FINDINGS)


def node(graph: dict[str, Any], cid: CloudId) -> dict[str, Any]:
    return next(n for n in graph["nodes"] if n["id"].lower() == cid.normalized)


def edge(graph: dict[str, Any], source: CloudId, target: CloudId) -> dict[str, Any]:
    return next(
        e
        for e in graph["edges"]
        if (e["source"].lower(), e["target"].lower()) == (source.normalized, target.normalized)
    )


# ------------------------------------------------------------------------------------------------ build_graph


def test_regions_group_the_clouds_read_and_external_clouds_come_last_as_unknown(graph: dict[str, Any]) -> None:
    assert [(r["name"], sorted(r["clouds"])) for r in graph["regions"]] == [
        ("northeurope", [str(NEU)]),
        ("westeurope", sorted([str(WEU_DR), str(WEU_PROD)])),
        ("unknown", [str(FAR)]),
    ]
    assert graph["takenAt"] == TAKEN.isoformat()
    assert LEGEND in graph["legend"]
    json.dumps(graph)  # JSON-ready as is


def test_nodes_carry_identity_state_and_whether_they_were_read(graph: dict[str, Any]) -> None:
    prod = node(graph, WEU_PROD)
    assert prod == {
        **prod,
        "id": str(WEU_PROD),
        "name": "pc-weu.prod-1",
        "shortName": "rg-avs.weu/pc-weu.prod-1",
        "region": "westeurope",
        "subscription": SUB_A,
        "resourceGroup": "rg-avs.weu",
        "provisioningState": "Succeeded",
        "external": False,
    }
    far = node(graph, FAR)
    assert (far["region"], far["external"], far["provisioningState"], far["subscription"]) == (
        "unknown",
        True,
        None,
        SUB_B,
    )
    assert len(graph["nodes"]) == 4


def test_edges_keep_the_holder_as_source_and_a_normalised_status(graph: dict[str, Any]) -> None:
    assert len(graph["edges"]) == 3
    active = edge(graph, WEU_PROD, WEU_DR)
    assert (active["status"], active["active"], active["name"]) == ("Active", True, "ic-pc-weu-dr")
    assert active["direction"] == "rg-avs.weu/pc-weu.prod-1→rg-avs.weu/pc-weu-dr"
    failed = edge(graph, NEU, WEU_DR)
    assert (failed["status"], failed["active"]) == ("Failed", False)


def test_reach_follows_active_links_only_and_is_not_transitive(graph: dict[str, Any]) -> None:
    # prod-dr and prod-far are Active; neu-dr is Failed. dr and far both reach prod but not each other.
    assert sorted(node(graph, WEU_PROD)["reaches"]) == sorted([str(WEU_DR), str(FAR)])
    assert node(graph, WEU_DR)["reaches"] == [str(WEU_PROD)]
    assert node(graph, FAR)["reaches"] == [str(WEU_PROD)]
    assert node(graph, NEU)["reaches"] == []


def test_findings_attach_to_a_node_an_edge_or_the_graph(graph: dict[str, Any]) -> None:
    assert node(graph, WEU_PROD)["findings"] == ["LINK_LIMIT_NEAR"]
    assert edge(graph, NEU, WEU_DR)["findings"] == ["LINK_NOT_ACTIVE"]  # the pair, in either order and case
    assert edge(graph, WEU_PROD, FAR)["findings"] == ["UNMANAGED_LINK"]
    assert edge(graph, WEU_PROD, WEU_DR)["findings"] == []
    assert [n["findings"] for n in graph["nodes"] if n["id"] != str(WEU_PROD)] == [[], [], []]
    where = {f["code"]: f["attachedTo"] for f in graph["findings"]}
    assert where == {
        "LINK_LIMIT_NEAR": "node",
        "LINK_NOT_ACTIVE": "edge",
        "UNMANAGED_LINK": "edge",
        "MISSING_LINK": "graph",
        "DEAD_LETTERED": "graph",
        "NEIGHBOR_OVERLAP": "graph",
    }
    assert graph["findings"][1] == {**FINDINGS[1].to_dict(), "attachedTo": "edge"}


def test_a_finding_naming_one_of_two_links_between_a_pair_marks_only_that_link() -> None:
    a, b = cloud_id("pc-a"), cloud_id("pc-b")
    inv = Inventory(TAKEN, {a: record(a, "westeurope", (b, "Active")), b: record(b, "westeurope", (a, "Active"))})
    both = Finding("DUPLICATE_LINK", WARNING, (str(a), str(b)), "both ways")
    one = Finding("LINK_STUCK", WARNING, (str(b), str(a)), "stuck", {"link": "IC-PC-A"})
    graph = build_graph(inv, [both, one])
    assert edge(graph, a, b)["findings"] == ["DUPLICATE_LINK"]
    assert edge(graph, b, a)["findings"] == ["DUPLICATE_LINK", "LINK_STUCK"]


def test_a_link_held_by_a_cloud_outside_the_subscriptions_is_drawn_with_an_unknown_status() -> None:
    ours, theirs, read_peer = cloud_id("pc-ours"), cloud_id("pc-theirs", sub=SUB_B), cloud_id("pc-peer")
    inv = Inventory(
        TAKEN,
        {
            ours: CloudRecord(
                Cloud(ours, "westeurope", "Succeeded", external_links=(theirs, read_peer)), (), RoutedSpace(())
            ),
            read_peer: record(read_peer, "westeurope", (ours, "Active")),  # read: its own link is the one drawn
        },
    )
    graph = build_graph(inv, [])
    incoming = edge(graph, theirs, ours)
    assert (incoming["name"], incoming["status"], incoming["active"]) == ("", "Unknown", False)
    assert node(graph, theirs)["external"] and node(graph, theirs)["region"] == "unknown"
    assert [(e["source"], e["status"]) for e in graph["edges"] if e["target"] == str(ours)] == [
        (str(read_peer), "Active"),
        (str(theirs), "Unknown"),
    ]
    assert '-.->|"Unknown"|' in to_mermaid(graph)


def test_an_empty_inventory_is_an_empty_graph_that_still_renders() -> None:
    graph = build_graph(Inventory(TAKEN, {}), [])
    assert (graph["regions"], graph["nodes"], graph["edges"], graph["findings"]) == ([], [], [], [])
    assert to_mermaid(graph).startswith("flowchart LR")
    assert b"<svg" in to_svg(graph)


# ---------------------------------------------------------------------------------------------------- Mermaid


def mermaid_ids(text: str) -> dict[str, str]:
    """Node declarations `id["label"]` of a Mermaid flowchart, id to label."""
    return dict(re.findall(r'^\s+(\w+)\["([^"]*)"\]$', text, re.MULTILINE))


def test_mermaid_draws_regions_as_subgraphs_and_non_active_links_dashed_and_red(graph: dict[str, Any]) -> None:
    text = to_mermaid(graph)
    assert text.splitlines()[0] == "flowchart LR"
    assert re.search(r'^  subgraph r_westeurope\["westeurope"\]$', text, re.MULTILINE)
    assert re.search(r'^  subgraph r_unknown\["unknown \(outside the audited subscriptions\)"\]$', text, re.MULTILINE)
    assert text.count("\n  end\n") == 3
    labels = mermaid_ids(text)
    assert labels["c_rg_avs_weu_pc_weu_prod_1"] == "rg-avs.weu/pc-weu.prod-1"
    assert "c_rg_partner_pc_far" in labels
    assert 'c_rg_avs_neu_pc_neu -.->|"Failed LINK_NOT_ACTIVE"| c_rg_avs_weu_pc_weu_dr' in text
    assert 'c_rg_avs_weu_pc_weu_prod_1 -->|"Active"| c_rg_avs_weu_pc_weu_dr' in text
    # Edges in order: neu→dr (Failed), prod→dr (Active), prod→far (Active, UNMANAGED_LINK).
    assert "  linkStyle 0,2 stroke:#c00,stroke-width:2px,color:#c00" in text
    assert "  classDef finding fill:#fdd,stroke:#c00,stroke-width:2px" in text
    assert "  class c_rg_avs_weu_pc_weu_prod_1 finding" in text
    assert "  class c_rg_partner_pc_far external" in text
    assert "links are not transitive" in labels["legend"]
    assert "MISSING_LINK" in labels["legend"]  # graph-level findings are in the caption


def test_mermaid_escapes_labels_and_keeps_ids_unique_when_names_sanitise_alike() -> None:
    # Three names that all sanitise to c_rg_a_pc_1, and a resource group with a quote, '#' and '<'.
    odd = [
        CloudId(SUB_A, "rg-a", "pc.1"),
        CloudId(SUB_A, "rg.a", "pc-1"),
        CloudId(SUB_B, "rg-a", "pc.1"),
        CloudId(SUB_A, 'rg "q" #1 <b>', "end"),
    ]
    inv = Inventory(TAKEN, {c: record(c, "westeurope") for c in odd})
    text = to_mermaid(build_graph(inv, []))
    labels = mermaid_ids(text)
    clouds = [i for i in labels if i.startswith("c_")]
    assert len(clouds) == len(set(clouds)) == 4
    assert {"c_rg_a_pc_1", "c_rg_a_pc_1_2", "c_rg_a_pc_1_3"} <= set(clouds)
    assert "rg #quot;q#quot; #35;1 #lt;b#gt;/end" in labels.values()
    assert all(re.fullmatch(r"\w+", i, re.ASCII) for i in labels)


# -------------------------------------------------------------------------------------------------------- DOT


def layout(dot: str) -> dict[str, Any]:
    """The DOT as Graphviz itself read and laid it out (its JSON output): the proof that it parses."""
    done = subprocess.run([find_engine(), "-Tjson"], input=dot.encode(), capture_output=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def test_dot_draws_regions_as_clusters_and_broken_links_dashed_red(graph: dict[str, Any]) -> None:
    dot = to_dot(graph)
    assert dot.startswith("digraph topology {") and dot.count("{") == dot.count("}")
    assert 'subgraph "cluster_westeurope" {' in dot and 'subgraph "cluster_unknown" {' in dot
    assert re.search(
        r'"c_rg_avs_neu_pc_neu" -> "c_rg_avs_weu_pc_weu_dr" \[label="Failed\\nLINK_NOT_ACTIVE", '
        r'[^\n]*style="dashed", color="red"',
        dot,
    )
    prod_to_dr = '"c_rg_avs_weu_pc_weu_prod_1" -> "c_rg_avs_weu_pc_weu_dr"'
    active = next(line for line in dot.splitlines() if prod_to_dr in line)
    assert 'label="Active"' in active and "dashed" not in active and "red" not in active
    assert re.search(
        r'"c_rg_avs_weu_pc_weu_prod_1" \[label="rg-avs.weu/pc-weu.prod-1\\nLINK_LIMIT_NEAR", '
        r'[^\n]*color="red", penwidth="2"',
        dot,
    )
    assert re.search(r'"c_rg_partner_pc_far" \[[^\n]*style="rounded,dashed"', dot)

    laid = layout(dot)
    clusters = {o["name"]: o for o in laid["objects"] if o["name"].startswith("cluster_")}
    names = {o["_gvid"]: o["name"] for o in laid["objects"]}
    members = {name: sorted(names[i] for i in c.get("nodes", [])) for name, c in clusters.items()}
    assert members == {
        "cluster_northeurope": ["c_rg_avs_neu_pc_neu"],
        "cluster_westeurope": ["c_rg_avs_weu_pc_weu_dr", "c_rg_avs_weu_pc_weu_prod_1"],
        "cluster_unknown": ["c_rg_partner_pc_far"],
    }
    assert len(laid["edges"]) == 3
    assert "links are not transitive" in laid["label"] and "DEAD_LETTERED" in laid["label"]
    assert clusters["cluster_westeurope"]["label"] == "westeurope"  # the caption is not inherited


def test_dot_quotes_and_escapes_everything_a_name_could_smuggle_in() -> None:
    nasty = CloudId(SUB_A, 'rg"; x -> y; "', 'pc\\N\\"}\n{')
    inv = Inventory(TAKEN, {nasty: record(nasty, 'west"europe')})
    dot = to_dot(build_graph(inv, []))
    laid = layout(dot)
    objects = {o["name"]: o for o in laid["objects"]}
    assert len(objects) == 2 and laid.get("edges", []) == []  # one cluster, one node, nothing injected
    cloud = next(o for o in objects.values() if o["name"].startswith("c_"))
    assert cloud["label"] == 'rg"; x -> y; "/pc\\\\N\\\\"}\\n{'  # Graphviz's own escaping of the literal text
    assert objects["cluster_west_europe"]["label"] == 'west"europe'
    drawn = re.findall(r">([^<]*)</text>", html.unescape(to_svg(build_graph(inv, [])).decode()))
    assert drawn[-2:] == ['rg"; x -> y; "/pc\\N\\"}', "{"]  # the name exactly, over its own two lines


def test_svg_text_is_escaped_so_a_name_cannot_inject_markup() -> None:
    sly = CloudId(SUB_A, "rg", "<script>alert(1)</script>")
    svg = to_svg(build_graph(Inventory(TAKEN, {sly: record(sly, "<b>weu</b>")}), []))
    assert b"<script" not in svg and b"<b>" not in svg
    assert "rg/<script>alert(1)</script>" in html.unescape(svg.decode())


# -------------------------------------------------------------------------------------------------------- SVG


def test_svg_is_laid_out_by_graphviz_and_names_every_cloud(graph: dict[str, Any]) -> None:
    svg = to_svg(graph)
    assert svg.startswith((b"<?xml", b"<svg")) and b"</svg>" in svg
    text = html.unescape(svg.decode())  # Graphviz writes '-' as &#45;
    for cid in (WEU_PROD, WEU_DR, NEU, FAR):
        assert f">{cid.short}</text>" in text
    assert text.count('class="cluster"') == 3 and "stroke-dasharray" in text  # clusters and a dashed link
    assert "links are not transitive" in text


def test_the_engine_comes_from_the_installed_requirements() -> None:
    # graphviz-pure is in requirements.txt: it must be what renders, here and in Azure, not a system dot.
    assert find_engine().endswith("graphviz-pure")


def test_a_missing_engine_is_renderer_unavailable(graph: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("interconnect.adapters.graphviz._candidates", lambda name: iter(()))
    with pytest.raises(RenderError) as caught:
        to_svg(graph)
    assert caught.value.code == "RENDERER_UNAVAILABLE"
    with pytest.raises(RenderError) as caught:
        to_svg(graph, engine="/nonexistent/graphviz-pure")
    assert caught.value.code == "RENDERER_UNAVAILABLE"


def test_an_engine_that_fails_or_hangs_is_a_render_error(graph: dict[str, Any]) -> None:
    with pytest.raises(RenderError) as caught:
        to_svg(graph, engine="/bin/false")
    assert caught.value.code == "RENDER_FAILED"
    with pytest.raises(RenderError) as caught:
        to_svg(graph, engine="/bin/cat")  # echoes the DOT: exits 0 but is no SVG
    assert caught.value.code == "RENDER_FAILED"


def test_an_engine_that_hangs_times_out(graph: dict[str, Any], tmp_path: Any) -> None:
    hang = tmp_path / "hang"
    hang.write_text("#!/bin/sh\nexec sleep 5\n")
    hang.chmod(0o755)
    with pytest.raises(RenderError) as caught:
        to_svg(graph, engine=str(hang), timeout=0.2)
    assert caught.value.code == "RENDER_TIMEOUT"


# --------------------------------------------------------------------------------------------------- property

ODD = st.text(alphabet=st.sampled_from("ab-._Z9 \"'\\#<>&|`{}[]();:\n\té→"), min_size=1, max_size=12)


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    clouds = draw(
        st.lists(
            st.builds(CloudId, st.sampled_from([SUB_A, SUB_B]), ODD, ODD),
            min_size=1,
            max_size=6,
            unique_by=lambda c: c.normalized,
        )
    )
    regions = draw(st.lists(ODD, min_size=1, max_size=3))
    read = clouds[: draw(st.integers(1, len(clouds)))]  # the rest are only pointed at: external
    links: dict[CloudId, list[tuple[CloudId, str]]] = {c: [] for c in read}
    for _ in range(draw(st.integers(0, 8))):
        links[draw(st.sampled_from(read))].append(
            (draw(st.sampled_from(clouds)), draw(st.sampled_from(["Active", "Failed", "building", "", 'Odd"x'])))
        )
    inv = Inventory(
        TAKEN,
        {
            c: CloudRecord(
                Cloud(
                    c,
                    draw(st.sampled_from(regions)),
                    "Succeeded",
                    external_links=tuple(draw(st.lists(st.sampled_from(clouds), max_size=2))),
                ),
                tuple(Link(c, f"ic-{i}", t, s) for i, (t, s) in enumerate(links[c])),
                RoutedSpace(()),
            )
            for c in read
        },
    )
    findings = [
        Finding(draw(ODD), WARNING, tuple(str(c) for c in draw(st.lists(st.sampled_from(clouds), max_size=3))), "m")
        for _ in range(draw(st.integers(0, 4)))
    ]
    return build_graph(inv, findings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_any_graph_renders_to_text_with_unique_safe_ids(graph: dict[str, Any]) -> None:
    text = to_mermaid(graph)
    declared = re.findall(r'^    (\w+)\["', text, re.MULTILINE)
    assert len(declared) == len(set(declared)) == len(graph["nodes"])
    regions = re.findall(r"^  subgraph (\w+)\[", text, re.MULTILINE)
    assert len(set(regions)) == len(graph["regions"]) and not set(regions) & set(declared)
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", i) for i in declared + regions)
    assert len(text.splitlines()) == text.count("\n")  # no label broke a statement over two lines

    dot = to_dot(graph)
    ids = re.findall(r'^    "(\w+)" \[label=', dot, re.MULTILINE)
    assert sorted(ids) == sorted(declared)  # the same safe ids in both languages


@settings(max_examples=25, deadline=None)
@given(graphs())
def test_any_graph_is_dot_that_graphviz_reads_as_drawn(graph: dict[str, Any]) -> None:
    laid = layout(to_dot(graph))
    objects = laid.get("objects", [])
    assert len([o for o in objects if o["name"].startswith("cluster_")]) == len(graph["regions"])
    assert len([o for o in objects if o["name"].startswith("c_")]) == len(graph["nodes"])
    assert len(laid.get("edges", [])) == len(graph["edges"])
