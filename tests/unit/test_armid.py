from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.armid import link_name, parse_cloud_id
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


@pytest.mark.parametrize("bad", [
    "", "pc-1", GOOD.replace(SUB_A, "not-a-guid"), GOOD.replace("Microsoft.AVS", "Microsoft.Compute"),
    GOOD + "/cloudLinks/x", GOOD.replace("pc-1", "pc/1"), GOOD.replace("pc-1", ""), 42, None, ["x"],
    GOOD.replace("rg-1", "rg#1"),
])
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
