from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.errors import TooLargeError, ValidationError
from interconnect.linking.model import Action, Requester
from interconnect.linking.validation import MAX_BODY, parse_json, parse_submit
from tests.factories import cloud_id

CALLER = Requester("api", "principal-1", "")
A, B = str(cloud_id("a")), str(cloud_id("b"))


def test_accepts_a_complete_connect_request() -> None:
    cmd = parse_submit(
        {"action": "connect", "source": A, "target": B, "reference": "CHG-1", "requestedBy": "alice"}, caller=CALLER
    )
    assert cmd.action is Action.CONNECT and cmd.reference == "CHG-1"
    assert cmd.requester == Requester("api", "principal-1", "alice")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"source": A, "target": B}, "MISSING_FIELD"),
        ({"action": "connect", "target": B}, "MISSING_FIELD"),
        ({"action": "link", "source": A, "target": B}, "INVALID_ACTION"),
        ({"action": "connect", "source": "pc-a", "target": B}, "INVALID_ID"),
        (
            {"action": "connect", "source": A, "target": A.upper().replace("SUBSCRIPTIONS", "subscriptions")},
            "SAME_CLOUD",
        ),
        ({"action": "connect", "source": A, "target": B, "colour": "red"}, "UNKNOWN_FIELD"),
        ({"action": "connect", "source": A, "target": B, "reference": "x" * 201}, "INVALID_FIELD"),
        ({"action": "connect", "source": A, "target": B, "reference": 7}, "INVALID_FIELD"),
    ],
)
def test_refuses_bad_bodies_with_a_stable_code(body: dict, code: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_submit(body, caller=CALLER)
    assert err.value.code == code


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b"\xff\xfe", b'"text"'])
def test_refuses_bodies_that_are_not_json_objects(raw: bytes) -> None:
    with pytest.raises(ValidationError) as err:
        parse_json(raw)
    assert err.value.code == "INVALID_JSON"


def test_fingerprint_ignores_id_spelling_but_not_content() -> None:
    one = parse_submit({"action": "connect", "source": A, "target": B}, caller=CALLER)
    same = parse_submit({"action": "connect", "source": A.lower(), "target": B}, caller=CALLER)
    other = parse_submit({"action": "disconnect", "source": A, "target": B}, caller=CALLER)
    assert one.fingerprint == same.fingerprint != other.fingerprint


@given(
    st.dictionaries(
        st.sampled_from(["action", "source", "target", "reference", "requestedBy", "x"]),
        st.one_of(st.none(), st.text(max_size=50), st.integers(), st.sampled_from([A, B, "connect"])),
    )
)
def test_any_body_is_accepted_or_refused_with_a_validation_error(body: dict) -> None:
    try:
        parse_submit(json.loads(json.dumps(body)), caller=CALLER)
    except ValidationError as exc:
        assert exc.code.isupper()


@pytest.mark.parametrize(
    "raw", [b"[" * 1000 + b"]" * 1000, b'{"a":' * 40 + b"1" + b"}" * 40, b'{"action": "\\ud800"}', b'{"x": NaN}']
)
def test_deep_or_undecodable_bodies_are_400_before_decoding(raw: bytes) -> None:
    with pytest.raises(ValidationError) as err:
        parse_json(raw)
    assert err.value.code == "INVALID_JSON" and type(err.value) is ValidationError


def test_an_oversized_body_is_too_large_whatever_it_holds() -> None:
    with pytest.raises(TooLargeError) as err:
        parse_json(b'{"reference": "' + b"x" * MAX_BODY + b'"}')
    assert err.value.code == "TOO_LARGE" and err.value.details == {"limit": MAX_BODY}
    assert "xxxx" not in err.value.message


def test_a_dotted_cloud_name_is_invalid_id_naming_the_field() -> None:
    dotted = A.rsplit("/", 1)[0] + "/.."
    with pytest.raises(ValidationError) as err:
        parse_submit({"action": "connect", "source": A, "target": dotted}, caller=CALLER)
    assert err.value.code == "INVALID_ID" and err.value.details["field"] == "target"
