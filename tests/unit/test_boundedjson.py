"""Bounded JSON: caps on size and nesting are checked before decoding, and every refusal is a ValidationError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.boundedjson import loads, nesting_depth
from interconnect.errors import TooLargeError, ValidationError

documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=20,
)


def reference_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    return 0


@given(documents)
def test_depth_matches_the_structure_whatever_the_strings_hold(value: object) -> None:
    assert nesting_depth(json.dumps(value).encode()) == reference_depth(value)


@given(documents)
def test_a_document_within_the_caps_decodes_as_json_does(value: object) -> None:
    text = json.dumps(value)
    assert loads(text, max_bytes=10**6, max_depth=64) == json.loads(text)


def test_brackets_inside_strings_do_not_count() -> None:
    assert nesting_depth(b'{"a": "[[[[[[[[\\"{{{{{"}') == 1


@pytest.mark.parametrize("levels", [33, 1_000, 100_000])
def test_deep_nesting_is_refused_without_recursing(levels: int) -> None:
    with pytest.raises(ValidationError) as caught:
        loads("[" * levels + "]" * levels, max_bytes=10**6)
    assert caught.value.code == "INVALID_JSON"
    assert "deeper than 32" in caught.value.message


def test_an_oversized_document_is_refused_before_decoding() -> None:
    with pytest.raises(TooLargeError) as caught:
        loads(b'"' + b"x" * 100 + b'"', max_bytes=50)
    assert caught.value.code == "TOO_LARGE"


@pytest.mark.parametrize("data", [b"\xff\xfe", '"\\ud800"', '{"\\udfff": 1}', b"{", b"NaN", b"[Infinity]"])
def test_undecodable_text_and_lone_surrogates_are_invalid_json(data: bytes | str) -> None:
    with pytest.raises(ValidationError) as caught:
        loads(data, max_bytes=100)
    assert caught.value.code == "INVALID_JSON"


def test_the_caller_names_the_code_and_what_was_read() -> None:
    with pytest.raises(ValidationError) as caught:
        loads(b"[", max_bytes=100, what="the continuation token", code="INVALID_CONTINUATION")
    assert caught.value.code == "INVALID_CONTINUATION"
    assert caught.value.message.startswith("the continuation token is not valid JSON")
