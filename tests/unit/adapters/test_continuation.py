"""Continuation tokens of the request listings: what the store issues reads back, and anything else (not
base64url, tampered, signed with another key, the wrong shape, another listing's) is a 400
INVALID_CONTINUATION with a message a person can act on, never another error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters.tables import MAX_TOKEN_CHARS, Position, decode_token, encode_token
from interconnect.errors import ValidationError

KEY, OTHER_KEY = b"k" * 32, b"o" * 32
LISTING = "0123456789abcdef"
NEXT = {"PartitionKey": "1!8!YWxs", "RowKey": "1!48!MjUxOTk5OTk5OTk5OTk5OTk5OS1hYmM-"}
GOOD = {"v": 1, "q": LISTING, "pk": "YWxs", "rk": "MDAwMDIteA=="}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def signed(body: bytes, key: bytes = KEY) -> str:
    """A token with a valid signature over any body: what a holder of the key could make."""
    return f"{b64(body)}.{b64(hmac.new(key, body, hashlib.sha256).digest()[:16])}"


def refused(token: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        decode_token(token, LISTING, lambda: KEY)
    assert caught.value.code == "INVALID_CONTINUATION"
    assert says in caught.value.message
    assert "leave it out" in caught.value.message
    assert len(caught.value.message) < 400  # the token is never echoed back


def test_a_token_reads_back_as_the_position_it_was_issued_for() -> None:
    token = encode_token(NEXT, LISTING, KEY)
    assert token is not None and set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert decode_token(token, LISTING, lambda: KEY) == Position(NEXT["PartitionKey"], NEXT["RowKey"])


def test_a_token_past_a_row_key_reads_back_as_that_key() -> None:
    row = {"PartitionKey": "all", "RowKey": "2519999999999999999-0f8e3c1a-1111-4222-8333-444455556666"}
    token = encode_token(row, LISTING, KEY, after=True)
    assert decode_token(token, LISTING, lambda: KEY) == Position(row["PartitionKey"], row["RowKey"], after=True)


def test_no_position_means_no_token_and_no_token_means_the_first_page() -> None:
    assert encode_token(None, LISTING, KEY) is None
    assert decode_token(None, LISTING, lambda: KEY) is None and decode_token("", LISTING, lambda: KEY) is None


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("not base64!", "two base64url parts"),
        ("%%%", "two base64url parts"),
        (b64(json.dumps(GOOD).encode()), "two base64url parts"),  # unsigned
        ("e30", "two base64url parts"),
        ("A.A", "not base64url"),  # one character is never whole base64
        ("a.b.c", "two base64url parts"),
        (b64(json.dumps(GOOD).encode()) + ".AAAAAAAAAAAAAAAAAAAAAA", "signature"),
        (signed(json.dumps(GOOD).encode(), OTHER_KEY), "signature"),  # another deployment's
        ("A" * (MAX_TOKEN_CHARS + 1), "at most"),
    ],
)
def test_a_token_not_signed_by_this_store_is_refused(token: str, says: str) -> None:
    refused(token, says)


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'"a string"',
        b"null",
        b"17",
        b"{not json",
        b"\xff\xfe",
        b'{"PartitionKey": "YWxs", "RowKey": "x"}',  # the SDK's shape: not ours
        json.dumps({**GOOD, "extra": 1}).encode(),
        json.dumps({**GOOD, "v": 3}).encode(),
        json.dumps({**GOOD, "v": True}).encode(),
        json.dumps({**GOOD, "v": "1"}).encode(),
        json.dumps({**GOOD, "pk": 5}).encode(),
        json.dumps({**GOOD, "rk": {"$gt": ""}}).encode(),
        json.dumps(GOOD).replace('"YWxs"', '"\\ud800"').encode(),  # a lone surrogate
        b"[" * 300 + b"]" * 300,
        json.dumps({**GOOD, "rk": "a b"}).encode(),
        json.dumps({**GOOD, "pk": ""}).encode(),
        json.dumps({**GOOD, "rk": "x" * 301}).encode(),
    ],
)
def test_even_a_validly_signed_body_of_the_wrong_shape_is_refused(body: bytes) -> None:
    # Only a holder of the key can sign; the shape is still checked, should the format ever change.
    refused(signed(body), "wrong shape")


def test_a_token_of_another_listing_is_refused() -> None:
    token = encode_token(NEXT, "fedcba9876543210", KEY)
    assert token is not None
    refused(token, "another listing")


def test_every_change_to_a_token_is_refused() -> None:
    token = encode_token(NEXT, LISTING, KEY)
    assert token is not None
    for i in range(len(token)):
        for replacement in "AZaz09-_.":
            if replacement != token[i]:
                with pytest.raises(ValidationError) as caught:
                    decode_token(token[:i] + replacement + token[i + 1 :], LISTING, lambda: KEY)
                assert caught.value.code == "INVALID_CONTINUATION"
    for cut in range(1, len(token)):
        with pytest.raises(ValidationError):
            decode_token(token[:cut], LISTING, lambda: KEY)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(b64),
        st.tuples(st.binary(max_size=200), st.binary(max_size=20)).map(lambda p: f"{b64(p[0])}.{b64(p[1])}"),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=30),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["v", "q", "pk", "rk", "x"]), inner, max_size=5)
            ),
            max_leaves=20,
        ).map(lambda value: signed(json.dumps(value).encode())),
    )
)
def test_any_token_either_reads_back_or_is_invalid_continuation(token: str) -> None:
    try:
        position = decode_token(token, LISTING, lambda: KEY)
    except ValidationError as exc:
        assert exc.code == "INVALID_CONTINUATION"
    else:
        assert position is None or isinstance(position, Position)


def test_before_any_token_was_issued_none_is_valid_and_garbage_costs_no_key_lookup() -> None:
    asked: list[bool] = []

    def no_key_yet() -> bytes | None:
        asked.append(True)
        return None

    token = encode_token(NEXT, LISTING, KEY)
    assert token is not None
    with pytest.raises(ValidationError, match="signature"):
        decode_token(token, LISTING, no_key_yet)
    with pytest.raises(ValidationError, match="two base64url parts"):
        decode_token("garbage", LISTING, no_key_yet)
    assert asked == [True]
