from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.avs.ids import check_resource_name, link_name, parse_cloud_id
from interconnect.errors import ValidationError
from tests.factories import SUB_A, cloud_id

GOOD = f"/subscriptions/{SUB_A}/resourceGroups/rg-1/providers/Microsoft.AVS/privateClouds/pc-1"


def test_parses_a_private_cloud_id_into_its_parts() -> None:
    cid = parse_cloud_id(GOOD)
    assert (cid.subscription, cid.resource_group, cid.name) == (SUB_A, "rg-1", "pc-1")
    assert str(cid) == GOOD


def test_ids_compare_case_insensitively_as_arm_does() -> None:
    assert parse_cloud_id(GOOD) == parse_cloud_id(GOOD.upper().replace("SUBSCRIPTIONS", "subscriptions"))
    assert parse_cloud_id(GOOD.replace("resourceGroups", "resourcegroups")).key == parse_cloud_id(GOOD).key


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "pc-1",
        GOOD.replace(SUB_A, "not-a-guid"),
        GOOD.replace("Microsoft.AVS", "Microsoft.Compute"),
        GOOD + "/cloudLinks/x",
        GOOD.replace("pc-1", "pc/1"),
        GOOD.replace("pc-1", ""),
        42,
        None,
        ["x"],
        GOOD.replace("rg-1", "rg#1"),
    ],
)
def test_rejects_anything_that_is_not_a_private_cloud_id(bad: object) -> None:
    with pytest.raises(ValidationError) as err:
        parse_cloud_id(bad, field_name="source")
    assert err.value.code == "INVALID_ID"
    assert "source" in err.value.message


def test_key_is_table_safe() -> None:
    assert all(c in "0123456789abcdef" for c in cloud_id().key)


def test_link_name_is_deterministic_and_a_valid_resource_name() -> None:
    target = cloud_id("pc-target")
    assert link_name(target) == link_name(parse_cloud_id(str(target).upper().replace("SUBSCRIPTIONS", "subscriptions")))
    assert link_name(target).startswith("ic-pc-target-")
    assert link_name(cloud_id("other")) != link_name(target)


@given(st.text(max_size=300))
def test_arbitrary_text_is_parsed_or_refused_with_invalid_id(text: str) -> None:
    try:
        cid = parse_cloud_id(text)
    except ValidationError as exc:
        assert exc.code == "INVALID_ID"
    else:
        assert parse_cloud_id(str(cid)) == cid


# -- the segment grammar --------------------------------------------------------------------------------------

GUIDS = st.uuids().map(str)
GROUPS = st.from_regex(r"[-\w.()]{0,89}[-\w()]", fullmatch=True).filter(lambda g: g.isascii())
NAMES = st.from_regex(r"[-\w.]{0,79}[-\w]", fullmatch=True).filter(lambda n: n.isascii())


def id_of(sub: str = SUB_A, rg: str = "rg-1", name: str = "pc-1") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/{name}"


@given(GUIDS, GROUPS, NAMES)
def test_every_id_in_the_grammar_round_trips_and_stays_one_segment_per_name(sub: str, rg: str, name: str) -> None:
    cid = parse_cloud_id(id_of(sub, rg, name))
    assert (cid.subscription, cid.resource_group, cid.name) == (sub.lower(), rg, name)
    assert parse_cloud_id(str(cid)) == cid and str(cid) == id_of(sub.lower(), rg, name)
    # In a URL, each name is exactly one segment and decodes back to itself: nothing a client could normalise.
    segments = cid.url_path.split("/")
    assert len(segments) == 9 and [urllib.parse.unquote(segments[i]) for i in (2, 4, 8)] == [sub.lower(), rg, name]
    assert all(s not in (".", "..", "") for s in segments[1:])


@pytest.mark.parametrize(
    ("bad", "segment"),
    [
        (id_of(name="."), "name"),
        (id_of(name=".."), "name"),
        (id_of(rg="."), "resourceGroup"),
        (id_of(rg=".."), "resourceGroup"),
        (id_of(name="pc."), "name"),
        (id_of(name="..."), "name"),
        (id_of(rg="rg."), "resourceGroup"),
        (id_of(name="pc%2F1"), "name"),
        (id_of(name="pc%2e%2e"), "name"),
        (id_of(name="pc\\1"), "name"),
        (id_of(name="pc?x=1"), "name"),
        (id_of(name="pc#1"), "name"),
        (id_of(name="pc 1"), "name"),
        (id_of(name="pé"), "name"),
        (id_of(name="p" * 81), "name"),
        (id_of(rg="r" * 91), "resourceGroup"),
        (id_of(sub="11111111-1111-1111-1111-11111111111"), "subscription"),
    ],
)
def test_names_arm_would_not_take_as_one_segment_are_refused_saying_which_part(bad: str, segment: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_cloud_id(bad, field_name="source")
    assert err.value.code == "INVALID_ID" and err.value.details == {"field": "source", "segment": segment}


@pytest.mark.parametrize(
    "bad",
    [
        GOOD + "/",
        GOOD.replace("/resourceGroups/", "//resourceGroups/"),
        "/" + GOOD,
        GOOD.replace("rg-1", ""),
        GOOD.replace("/privateClouds/", "/privateClouds//"),
        GOOD.replace("/providers/", "/%2Fproviders/"),
        GOOD.replace("subscriptions", "subscriptions%2F"),
        GOOD + "/..",
        GOOD + "/./",
    ],
)
def test_empty_encoded_and_extra_segments_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_cloud_id(bad)
    assert err.value.code == "INVALID_ID"


def test_dot_names_get_a_message_a_person_can_act_on() -> None:
    with pytest.raises(ValidationError) as err:
        parse_cloud_id(id_of(name=".."), field_name="target")
    assert err.value.message == "target names '..' as its private cloud name: '.' and '..' are path steps, not names"


def test_a_huge_value_is_refused_without_being_repeated() -> None:
    huge = id_of(name="x" * 20_000)
    with pytest.raises(ValidationError) as err:
        parse_cloud_id(huge)
    assert "xxxxxxxxxx" not in err.value.message and len(err.value.message) < 200


@given(
    GUIDS,
    GROUPS,
    NAMES,
    st.sampled_from(["", ".", "..", "%2F", "%2e", "a/b", "a\\b", "a%00"]),
    st.sampled_from(["rg", "name"]),
)
def test_a_bad_segment_anywhere_is_refused(sub: str, rg: str, name: str, bad: str, where: str) -> None:
    spoiled = id_of(sub, bad, name) if where == "rg" else id_of(sub, rg, bad)
    with pytest.raises(ValidationError) as err:
        parse_cloud_id(spoiled)
    assert err.value.code == "INVALID_ID"


def test_url_path_encodes_parentheses_as_the_sdk_does() -> None:
    cid = parse_cloud_id(id_of(rg="rg(prod)", name="pc_1.a"))
    assert cid.url_path.endswith("/resourceGroups/rg%28prod%29/providers/Microsoft.AVS/privateClouds/pc_1.a")


@pytest.mark.parametrize("name", [".", "..", "", "a/b", "ic-x.", "a" * 81, 7])
def test_link_names_for_urls_are_held_to_the_same_grammar(name: object) -> None:
    with pytest.raises(ValidationError) as err:
        check_resource_name(name, "link name")
    assert err.value.code == "INVALID_NAME"
    assert check_resource_name(link_name(cloud_id("pc.target")), "link name").startswith("ic-pc.target-")
