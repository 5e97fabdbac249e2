"""Continuation tokens of the request listings: what the store issues reads back, and anything else is a 400
INVALID_CONTINUATION with a message a person can act on, never another error."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters.tables import MAX_TOKEN_CHARS, decode_token, encode_token
from interconnect.errors import ValidationError

LISTING = "0123456789abcdef"
NEXT = {"PartitionKey": "1!8!YWxs", "RowKey": "1!48!MjUxOTk5OTk5OTk5OTk5OTk5OS1hYmM-"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_of(value: object) -> str:
    return b64(json.dumps(value).encode())


def test_a_token_reads_back_as_the_position_it_was_issued_for() -> None:
    token = encode_token(NEXT, LISTING)
    assert token is not None and set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_token(token, LISTING) == NEXT


def test_no_position_means_no_token_and_no_token_means_the_first_page() -> None:
    assert encode_token(None, LISTING) is None
    assert decode_token(None, LISTING) is None and decode_token("", LISTING) is None


GOOD = {"v": 1, "q": LISTING, "pk": "YWxs", "rk": "MDAwMDIteA=="}


@pytest.mark.parametrize(("token", "says"), [
    ("not base64!", "not base64url"),
    ("%%%", "not base64url"),
    ("A", "not base64url"),  # one character is never whole base64
    (b64(b"\xff\xfe"), "not valid UTF-8"),
    (b64(b"{not json"), "not valid JSON"),
    (token_of([1, 2]), "wrong shape"),
    (token_of("a string"), "wrong shape"),
    (token_of(None), "wrong shape"),
    (token_of(17), "wrong shape"),
    (token_of({"PartitionKey": "YWxs", "RowKey": "x"}), "wrong shape"),  # the SDK's own shape: not ours
    (token_of({**GOOD, "extra": 1}), "wrong shape"),
    (token_of({**GOOD, "v": 2}), "wrong shape"),
    (token_of({**GOOD, "pk": 5}), "wrong shape"),
    (token_of({**GOOD, "rk": {"$gt": ""}}), "nests deeper"),
    (b64(json.dumps(GOOD).replace('"YWxs"', '"\\ud800"').encode()), "not valid"),  # a lone surrogate
    (b64(b"[" * 300 + b"]" * 300), "nests deeper"),
    (token_of({**GOOD, "q": "fedcba9876543210"}), "another listing"),
    (token_of({**GOOD, "rk": "a b"}), "bad position"),
    (token_of({**GOOD, "rk": "x" * 301}), "bad position"),
    (token_of({**GOOD, "pk": ""}), "bad position"),
    ("A" * (MAX_TOKEN_CHARS + 1), "at most"),
])
def test_a_bad_token_is_refused_with_a_message_that_says_what_to_do(token: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_token(token, LISTING)
    assert caught.value.code == "INVALID_CONTINUATION"
    assert says in caught.value.message
    assert "leave it out" in caught.value.message
    assert len(caught.value.message) < 400  # the token is never echoed back


def test_a_tampered_token_is_refused_or_reads_as_a_position_within_the_same_listing() -> None:
    token = encode_token(NEXT, LISTING)
    assert token is not None
    for i in range(len(token)):
        for replacement in "AZaz09-_":
            tampered = token[:i] + replacement + token[i + 1:]
            try:
                position = decode_token(tampered, LISTING)
            except ValidationError as exc:
                assert exc.code == "INVALID_CONTINUATION"
                continue
            # What still decodes is a position in this listing only: the query's partition filter is ours.
            assert position is not None and set(position) == {"PartitionKey", "RowKey"}


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(b64),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                              lambda inner: st.lists(inner, max_size=4)
                              | st.dictionaries(st.sampled_from(["v", "q", "pk", "rk", "x"]), inner, max_size=5),
                              max_leaves=20).map(token_of)))
def test_any_token_either_reads_back_or_is_invalid_continuation(token: str) -> None:
    try:
        position = decode_token(token, LISTING)
    except ValidationError as exc:
        assert exc.code == "INVALID_CONTINUATION"
    else:
        assert position is None or set(position) == {"PartitionKey", "RowKey"}
