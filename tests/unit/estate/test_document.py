"""The topology document: read within bounds, checked against its schema, its clouds resolved, every problem
named with its code, path and line."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.errors import TooLargeError, ValidationError
from interconnect.estate.document import MAX_DOCUMENT_BYTES, json_schema, parse_document
from interconnect.estate.topology import resolve
from tests.unit.estate.fleet import SUB_A, SUB_B, Fleet, document


def refused(text: str | bytes, fleet: Fleet | None = None) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parsed = parse_document(text)
        if fleet is not None:
            resolve(parsed, list(fleet.avs.clouds))
    return caught.value


def problems(error: ValidationError) -> list[tuple[str, str, int | None]]:
    return [(p["code"], p["path"], p["line"]) for p in error.details["problems"]]


@pytest.fixture
def fleet() -> Fleet:
    fleet = Fleet()
    fleet.add("pc-a", "10.0.0.0/22", rg="rg-weu")
    fleet.add("pc-b", "10.0.4.0/22", rg="rg-weu")
    fleet.add("pc-b", "10.0.8.0/22", rg="rg-dr")  # the same name in another group
    fleet.add("pc-far", "10.0.12.0/22", sub=SUB_B)
    return fleet


def test_the_documented_example_reads_and_fits_the_published_schema() -> None:
    from interconnect.estate import document as module

    example = module.__doc__.split("\n\n")[1]  # type: ignore[union-attr]
    parsed = parse_document(example)
    assert parsed.syntax == "yaml" and len(parsed.document.links) == 2
    jsonschema.Draft202012Validator(json_schema()).validate(yaml.safe_load(example))


def test_every_schema_problem_is_named_with_its_path_and_line() -> None:
    text = document("between: [pc-a]", "from: pc-a\n    to: pc-b\n    colour: red", "to: pc-a")
    error = refused(text.replace("kind: Topology", "kind: Topologie"))
    assert error.code == "TOPOLOGY_INVALID"
    assert problems(error) == [
        ("TOPOLOGY_INVALID", "kind", 2),
        ("TOPOLOGY_INVALID", "links[0].between", 6),
        ("TOPOLOGY_INVALID", "links[1].colour", 9),
    ]
    assert "line 2, kind: expected one of Topology, not 'Topologie'" in error.message
    # Once the schema holds, the forms are checked: `to` without `from`.
    error = refused(document("between: [pc-a, pc-b]", "to: pc-a"))
    assert problems(error) == [("TOPOLOGY_INVALID", "links[1]", 7)]


def test_a_scope_that_names_nothing_manages_nothing_and_is_refused() -> None:
    assert problems(refused(document(scope="subscriptions: []"))) == [("TOPOLOGY_INVALID", "scope", 3)]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("a: &x [1]\nb: *x\n", "anchors and aliases"),
        ("a: 1\nb: 2\na: 3\n", "given twice (first on line 1)"),
        ("a: " + "[" * 12 + "]" * 12 + "\n", "nests deeper than 8 levels"),
        ("a: !!python/object:os.system x\n", "tag:yaml.org,2002:python/object:os.system is not accepted"),
        ('a: "\\ud800"\n', "invalid Unicode character escape"),
        ("a: [\n", "node content"),
        ("a: 1\n---\nb: 2\n", "expected a single document"),
        ("", "the document is empty"),
        (b"a: \xff\n", "not UTF-8 text"),
        ('{"apiVersion": "interconnect/v1", "apiVersion": "x"}', "'apiVersion' is given twice"),
        ('{"a": [' * 5 + "]}" * 5, "nests deeper"),
        ("{'a': 1}", "is not valid JSON"),
    ],
)
def test_what_could_hide_or_blow_up_a_document_is_refused_before_it_is_used(text: str, said: str) -> None:
    error = refused(text)
    assert error.code == "TOPOLOGY_INVALID" and said in error.message


def test_a_document_over_the_size_cap_is_not_read() -> None:
    with pytest.raises(TooLargeError):
        parse_document("#" * (MAX_DOCUMENT_BYTES + 1))


def test_yaml_scalars_follow_the_core_schema_so_names_stay_names() -> None:
    parsed = parse_document(document("between: [no, on]", extra="metadata:\n  name: 2026-01-01\n"))
    assert parsed.document.links[0].between == ["no", "on"]
    assert parsed.document.metadata is not None and parsed.document.metadata.name == "2026-01-01"


def test_json_reads_as_the_same_document_as_yaml() -> None:
    text = document("between: [pc-a, rg-weu/pc-b]", "from: pc-a\n    to: rg-dr/pc-b\n    description: dr")
    as_json = json.dumps(yaml.safe_load(text), indent="\t")
    assert parse_document(as_json).document == parse_document(text).document
    assert parse_document(as_json).syntax == "json"


def test_clouds_resolve_by_name_group_and_name_or_id(fleet: Fleet) -> None:
    b_dr = next(c for c in fleet.avs.clouds if c.short == "rg-dr/pc-b")
    topology = resolve(
        parse_document(document("between: [pc-a, rg-weu/pc-b]", f"from: {b_dr}\n    to: PC-A")),
        list(fleet.avs.clouds),
    )
    assert [(link.source.short, link.target.short, link.directed) for link in topology.links] == [
        ("rg-weu/pc-a", "rg-weu/pc-b", False),
        ("rg-dr/pc-b", "rg-weu/pc-a", True),
    ]


def test_defaults_narrow_short_names(fleet: Fleet) -> None:
    text = document("between: [pc-a, pc-b]", extra="defaults:\n  resourceGroup: rg-dr\n")
    assert problems(refused(text, fleet)) == [("TOPOLOGY_UNKNOWN_CLOUD", "links[0].between[0]", 8)]
    text = document("between: [rg-weu/pc-a, pc-b]", extra="defaults:\n  resourceGroup: rg-dr\n")
    topology = resolve(parse_document(text), list(fleet.avs.clouds))
    assert topology.links[0].target.short == "rg-dr/pc-b"


def test_every_resolution_problem_is_reported_with_its_own_code(fleet: Fleet) -> None:
    text = document(
        "between: [pc-a, pc-bb]",  # unknown, with a close match
        "between: [pc-a, pc-b]",  # ambiguous
        "between: [pc-a, pc-far]",  # outside the scope
        "between: [pc-a, pc-a]",  # itself
        "between: [pc-a, rg-weu/pc-b]",
        "from: rg-weu/pc-b\n    to: pc-a",  # the same pair again
    )
    error = refused(text, fleet)
    assert error.code == "TOPOLOGY_INVALID"  # several kinds: each problem carries its own
    assert problems(error) == [
        ("TOPOLOGY_UNKNOWN_CLOUD", "links[0].between[1]", 6),
        ("TOPOLOGY_AMBIGUOUS_CLOUD", "links[1].between[1]", 7),
        ("TOPOLOGY_OUT_OF_SCOPE", "links[2].between[1]", 8),
        ("TOPOLOGY_SAME_CLOUD", "links[3]", 9),
        ("TOPOLOGY_DUPLICATE_LINK", "links[5]", 11),
    ]
    found = error.details["problems"]
    assert "pc-b" in found[0]["message"] and len(found[1]["candidates"]) == 2
    assert found[4]["first"] == {"path": "links[4]", "line": 10}


def test_problems_of_one_kind_give_the_error_their_code(fleet: Fleet) -> None:
    error = refused(document("between: [pc-a, nowhere]", "between: [pc-a, elsewhere]"), fleet)
    assert error.code == "TOPOLOGY_UNKNOWN_CLOUD" and len(error.details["problems"]) == 2


def test_a_resource_group_scope_covers_only_that_group(fleet: Fleet) -> None:
    scope = f"resourceGroups: [/subscriptions/{SUB_A}/resourceGroups/RG-WEU]"
    assert resolve(parse_document(document("between: [pc-a, rg-weu/pc-b]", scope=scope)), list(fleet.avs.clouds))
    error = refused(document("between: [pc-a, rg-dr/pc-b]", scope=scope), fleet)
    assert error.code == "TOPOLOGY_OUT_OF_SCOPE"


def test_a_full_id_of_a_cloud_not_read_is_left_to_the_pre_flight() -> None:
    fleet = Fleet()
    fleet.add("a", "10.0.0.0/22")
    gone = f"/subscriptions/{SUB_A}/resourceGroups/rg-avs/providers/Microsoft.AVS/privateClouds/gone"
    planned = fleet.plan(document(f"between: [a, {gone}]"))
    assert [r.code for r in planned.reasons] == ["CLOUD_NOT_FOUND"]


_names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(_names, _names), max_size=8), st.booleans())
def test_a_document_the_reader_accepts_fits_the_published_schema(pairs: list[tuple[str, str]], directed: bool) -> None:
    raw: dict[str, Any] = {
        "apiVersion": "interconnect/v1",
        "kind": "Topology",
        "scope": {"subscriptions": [SUB_A]},
        "links": [{"from": a, "to": b} if directed else {"between": [a, b]} for a, b in pairs],
    }
    for text in (json.dumps(raw), yaml.safe_dump(raw)):
        parse_document(text)
    jsonschema.Draft202012Validator(json_schema()).validate(raw)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(json_schema()).validate({**raw, "links": [{"from": "a"}]})


def test_problems_of_a_json_document_name_their_path() -> None:
    raw = {
        "apiVersion": "interconnect/v1",
        "kind": "Topology",
        "scope": {"subscriptions": ["x"]},
        "links": [{"between": ["a"]}],
    }
    error = refused(json.dumps(raw))
    assert problems(error) == [
        ("TOPOLOGY_INVALID", "scope.subscriptions[0]", None),
        ("TOPOLOGY_INVALID", "links[0].between", None),
    ]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_keys = st.sampled_from(["apiVersion", "kind", "scope", "links", "defaults", "metadata", "between", "from", "to"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=6), st.booleans())
def test_any_document_is_read_or_refused_with_a_topology_error(raw: dict[str, Any], as_json: bool) -> None:
    text = json.dumps(raw) if as_json else yaml.safe_dump(raw)
    try:
        parse_document(text)
    except ValidationError as exc:
        assert exc.code == "TOPOLOGY_INVALID" and exc.details["problems"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_any_text_is_read_or_refused_with_a_topology_error(text: str | bytes) -> None:
    try:
        parse_document(text)
    except ValidationError as exc:
        assert exc.code == "TOPOLOGY_INVALID"
