"""Reading ARM's answers: any JSON either becomes a fact that holds to the grammar, or a malformed-answer
error naming what is wrong in a bounded message. Never another exception, never a value passed on unchecked.

The adapter reads the JSON the SDK models wrap (they are Mappings over it), so plain dicts stand for them
here; tests/integration/test_preflight_scenarios.py does the same through the SDK and the ARM simulator.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.rest import HttpRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters.avs import (
    MAX_SHOWN,
    SameArmOnly,
    _Bad,
    _each,
    _link_of,
    _reach_of,
    _segment_of,
    to_cloud,
)
from interconnect.avs.ids import RESOURCE_NAME, parse_cloud_id
from interconnect.errors import MalformedAnswerError
from tests.factories import cloud_id

A, B = cloud_id("a"), cloud_id("b")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# JSON shaped like the API's, each field either right or replaced by arbitrary JSON
TEXT_OR_JSON = st.one_of(st.just(str(B)), st.just("10.0.0.0/22"), st.just("l-b"), JSON)


def cloud_json(**override: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(A),
        "location": "westeurope",
        "properties": {
            "provisioningState": "Succeeded",
            "networkBlock": "10.0.0.0/22",
            "extendedNetworkBlocks": ["10.1.0.0/24"],
            "externalCloudLinks": [str(B)],
            "circuit": {"primarySubnet": "10.2.0.0/30", "secondarySubnet": "10.2.0.4/30"},
        },
    }
    for path, value in override.items():
        where = body
        *parents, last = path.split("__")
        for key in parents:
            where = where[key]
        where[last] = value
    return body


def test_a_well_formed_cloud_is_read_whole() -> None:
    cloud = to_cloud(cloud_json())
    assert (cloud.id, cloud.location, cloud.network_block, cloud.external_links) == (
        A,
        "westeurope",
        "10.0.0.0/22",
        (B,),
    )
    assert cloud.circuit_subnets == ("10.2.0.0/30", "10.2.0.4/30")


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"id": 7}, "the cloud's id"),
        ({"id": "/subscriptions/x/../privateClouds/a"}, "the cloud's id"),
        ({"location": {"a": 1}}, "location"),
        ({"properties": "abc"}, "properties"),
        ({"properties__externalCloudLinks": "abc"}, "externalCloudLinks"),  # the SDK would iterate its characters
        ({"properties__externalCloudLinks": [str(B), "not-an-id"]}, "externalCloudLinks[1]"),
        ({"properties__networkBlock": 5}, "networkBlock"),  # the SDK would make it "5"
        ({"properties__extendedNetworkBlocks": [{"a": 1}]}, "extendedNetworkBlocks[0]"),
        ({"properties__circuit": "zz"}, "circuit"),
        ({"properties__circuit__primarySubnet": "1" * 5000}, "primarySubnet"),
    ],
)
def test_a_malformed_cloud_is_named_not_guessed(override: dict[str, Any], named: str) -> None:
    with pytest.raises(_Bad) as bad:
        to_cloud(cloud_json(**override))
    assert named in bad.value.text and len(bad.value.text) < 300


def test_an_external_link_that_names_no_cloud_is_never_dropped() -> None:
    # Dropping it would hide a link (and a peer) from the limit and the overlap checks.
    with pytest.raises(_Bad, match="externalCloudLinks"):
        to_cloud(cloud_json(properties__externalCloudLinks=[str(B), "/subscriptions/not-a-guid"]))


def test_a_malformed_listing_names_each_bad_item_and_keeps_the_rest_when_allowed() -> None:
    good = {"name": "l-b", "properties": {"linkedCloud": str(B), "status": "Active"}}
    bad = {"name": "odd", "properties": {"linkedCloud": "x\r\nEvil: " + "y" * 500}}
    with pytest.raises(MalformedAnswerError) as raised:
        _each("cloudLinks.list", A.short, [good, bad], lambda r, i: _link_of(A, r, i), partial_ok=True)
    error = raised.value
    assert [link.name for link in error.partial or []] == ["l-b"]
    assert error.code == "ARM_MALFORMED_ANSWER" and error.details["armCode"] == "MALFORMED_ANSWER"
    assert "link 'odd'" in error.message and "cloudLinks.list" in error.message and A.short in error.message
    assert "\n" not in error.message and "y" * (MAX_SHOWN + 1) not in error.message
    with pytest.raises(MalformedAnswerError) as strict:
        _each("segments.list", A.short, [{"name": "web", "properties": []}], _segment_of, partial_ok=False)
    assert strict.value.partial is None


@settings(max_examples=400, deadline=None)
@given(name=TEXT_OR_JSON, linked=TEXT_OR_JSON, status=TEXT_OR_JSON, props=st.booleans())
def test_any_link_json_is_a_valid_link_or_a_bounded_malformed_error(
    name: Any, linked: Any, status: Any, props: bool
) -> None:
    raw = {"name": name, "properties": {"linkedCloud": linked, "status": status} if props else linked}
    try:
        link = _link_of(A, raw, 0)
    except _Bad as bad:
        assert len(bad.text) < 300 and bad.text.isprintable()
        return
    assert RESOURCE_NAME.fullmatch(link.name) and parse_cloud_id(str(link.target)) == link.target
    assert isinstance(link.status, str) and link.status.isprintable() and len(link.status) <= 80


@settings(max_examples=300, deadline=None)
@given(raw=JSON | st.fixed_dictionaries({"name": TEXT_OR_JSON, "properties": JSON}))
def test_any_segment_or_global_reach_json_is_read_or_refused_never_raised_otherwise(raw: Any) -> None:
    for read in (_segment_of, _reach_of):
        try:
            read(raw, 0)
        except _Bad as bad:
            assert len(bad.text) < 300


@settings(max_examples=300, deadline=None)
@given(
    raw=JSON,
    field=st.sampled_from(
        [
            "id",
            "location",
            "properties",
            "properties__networkBlock",
            "properties__externalCloudLinks",
            "properties__circuit",
            "properties__extendedNetworkBlocks",
            "properties__provisioningState",
        ]
    ),
)
def test_any_cloud_json_is_read_or_refused_never_raised_otherwise(raw: Any, field: str) -> None:
    try:
        cloud = to_cloud(cloud_json(**{field: raw}))
    except _Bad as bad:
        assert len(bad.text) < 300
        return
    assert all(len(p) <= 64 for p in (cloud.network_block, *cloud.extended_network_blocks, *cloud.circuit_subnets))


def test_a_request_to_any_host_but_the_configured_arm_is_refused_before_it_is_sent() -> None:
    # A pager follows each page's nextLink as ARM wrote it; the pipeline would give that host our token.
    policy = SameArmOnly("https://management.azure.com")
    policy.on_request(
        PipelineRequest(HttpRequest("GET", "https://MANAGEMENT.azure.com/subscriptions/x?a=1"), PipelineContext(None))
    )
    for url in (
        "https://evil.example/subscriptions/x",
        "http://management.azure.com/x",
        "https://management.azure.com.evil.example/x",
        "https://management.azure.com:444/x",
    ):
        with pytest.raises(MalformedAnswerError, match="another host"):
            policy.on_request(PipelineRequest(HttpRequest("GET", url), PipelineContext(None)))
