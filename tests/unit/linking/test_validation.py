from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.errors import TooLargeError, ValidationError
from interconnect.linking.model import Action, Requester
from interconnect.linking.validation import MAX_BODY, parse_json, parse_listing_filter, parse_submit
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


# --- the filters of a request listing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "until", "first", "last"),
    [
        ("2026-12-01", "2026-12-01", "2026-12-01T00:00:00+00:00", "2026-12-01T23:59:59.999999+00:00"),
        ("20261201", "20261202", "2026-12-01T00:00:00+00:00", "2026-12-02T23:59:59.999999+00:00"),
        ("2026-12-01T09:30:00Z", "2026-12-01T10:00", "2026-12-01T09:30:00+00:00", "2026-12-01T10:00:00+00:00"),
        ("2026-12-01T09:30+01:00", None, "2026-12-01T08:30:00+00:00", None),
        (None, " 2026-12-01T09:30:00.25-02:00 ", None, "2026-12-01T11:30:00.250000+00:00"),
    ],
)
def test_dates_and_date_times_are_utc_instants_and_a_day_as_until_is_all_of_it(
    since: str | None, until: str | None, first: str | None, last: str | None
) -> None:
    found = parse_listing_filter(None, since, until)
    assert (found.since.isoformat() if found.since else None) == first
    assert (found.until.isoformat() if found.until else None) == last


@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "2026-13-01",
        "2026-12-01T25:00",
        "1/12/2026",
        "0001-01-01T00:00+01:00",
        "\u0662\u0660\u0662\u0666-12-01",
    ],
)
def test_a_value_that_is_no_iso_date_is_invalid_date_naming_the_parameter(value: str) -> None:
    for field in ("since", "until"):
        with pytest.raises(ValidationError) as caught:
            parse_listing_filter(None, **{"since": None, "until": None, field: value})
        assert caught.value.code == "INVALID_DATE" and caught.value.message.startswith(field)
        assert caught.value.details == {"parameter": field}


def test_since_after_until_matches_nothing_and_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_listing_filter(None, "2026-12-02", "2026-12-01")
    assert caught.value.code == "INVALID_DATE" and "swap them" in caught.value.message
    assert parse_listing_filter(None, "2026-12-01T10:00Z", "2026-12-01").since is not None  # within that day


@given(st.text(max_size=60))
def test_any_text_is_an_instant_or_invalid_date(text: str) -> None:
    try:
        found = parse_listing_filter(None, text, None)
    except ValidationError as exc:
        assert exc.code == "INVALID_DATE" and exc.message.startswith("since must be an ISO 8601 date")
    else:
        assert found.since is not None and found.since.utcoffset() is not None and not found.since.utcoffset()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("api:0f8e3c1a-1111-4222-8333-444455556666", Requester("api", "0f8e3c1a-1111-4222-8333-444455556666")),
        ("API:sp:abc", Requester("api", "sp:abc")),
        ("slack:T01/U02", Requester("slack", "T01/U02")),
        (" jira:john.doe@example.com ", Requester("jira", "john.doe@example.com")),
    ],
)
def test_a_requester_is_read_as_requests_record_it(value: str, expected: Requester) -> None:
    found = parse_listing_filter(value, None, None).requester
    assert found is not None and found.is_same(expected)


@pytest.mark.parametrize("value", ["", "alice", ":alice", "api:", "api: ", "1api:x", "api:a\x00b", "api:" + "x" * 300])
def test_a_requester_that_is_no_channel_and_id_is_invalid_requester(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_listing_filter(value, None, None)
    assert caught.value.code == "INVALID_REQUESTER" and "<channel>:<id>" in caught.value.message


def test_me_is_the_caller_where_one_is_known_and_asked_only_then() -> None:
    asked: list[bool] = []

    def caller() -> Requester:
        asked.append(True)
        return CALLER

    assert parse_listing_filter("api:x", None, None, caller=caller).requester == Requester("api", "x")
    assert asked == []
    assert parse_listing_filter("Me", None, None, caller=caller).requester == CALLER and asked == [True]
    with pytest.raises(ValidationError) as caught:
        parse_listing_filter("me", None, None)
    assert caught.value.code == "INVALID_REQUESTER"
