"""Inbound signature checks: every scheme against the same table of attacks and mistakes, plus properties."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.channels.signatures import (
    TOLERANCE,
    sign_jira,
    sign_servicenow,
    sign_slack,
    sign_standard_webhook,
    sign_teams,
    verify_jira,
    verify_servicenow,
    verify_slack,
    verify_standard_webhook,
    verify_teams,
)
from interconnect.errors import InterconnectError, SignatureError

NOW = 1_764_072_000  # 2025-11-25T12:00:00Z
BODY = b'{"action":"connect","source":"/subscriptions/x","target":"/subscriptions/y"}'


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Scheme:
    """One sender's scheme, driven the same way: sign(secret, body, timestamp) and verify(headers, body, secrets,
    now). Untimed schemes ignore the timestamp."""

    name: str
    secrets: tuple[str, str]  # two valid secrets in this scheme's format: "old" and "new"
    sign: Callable[[str, bytes, int], dict[str, str]]
    verify: Callable[[Mapping[str, Any], bytes, Sequence[str], float], object]
    timestamped: bool
    required: tuple[str, ...]  # headers without which nothing verifies

    def __str__(self) -> str:
        return self.name


STANDARD = Scheme(
    "standard-webhooks",
    ("whsec_" + _b64(b"old-secret-0123456789abcdef"), "whsec_" + _b64(b"new-secret-0123456789abcdef")),
    lambda secret, body, ts: sign_standard_webhook(secret, "msg_2bR5Zq", ts, body),
    lambda headers, body, secrets, now: verify_standard_webhook(headers, body, secrets, now=now),
    True,
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
)
JIRA = Scheme(
    "jira",
    ("jira-old-secret", "jira-new-secret"),
    lambda secret, body, ts: {**sign_jira(secret, body), "X-Atlassian-Webhook-Identifier": "d1a5-42"},
    lambda headers, body, secrets, now: verify_jira(headers, body, secrets),
    False,
    ("X-Hub-Signature",),
)
SERVICENOW = Scheme(
    "servicenow",
    ("snow-old-secret", "snow-new-secret"),
    lambda secret, body, ts: sign_servicenow(secret, ts, body),
    lambda headers, body, secrets, now: verify_servicenow(headers, body, secrets, now=now),
    True,
    ("X-Interconnect-Timestamp", "X-Interconnect-Signature"),
)
SLACK = Scheme(
    "slack",
    ("8f742231b10e8888abcd99yyyzzz85a5", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
    lambda secret, body, ts: sign_slack(secret, ts, body),
    lambda headers, body, secrets, now: verify_slack(headers, body, secrets, now=now),
    True,
    ("X-Slack-Request-Timestamp", "X-Slack-Signature"),
)
TEAMS = Scheme(
    "teams",
    (_b64(b"teams-old-security-token-32bytes"), _b64(b"teams-new-security-token-32bytes")),
    lambda secret, body, ts: sign_teams(secret, body),
    lambda headers, body, secrets, now: verify_teams(headers, body, secrets),
    False,
    ("Authorization",),
)
SCHEMES = [STANDARD, JIRA, SERVICENOW, SLACK, TEAMS]
TIMED = [s for s in SCHEMES if s.timestamped]
OLD, NEW = 0, 1


def refused(
    scheme: Scheme,
    headers: Mapping[str, Any],
    body: bytes = BODY,
    secrets: Sequence[str] | None = None,
    now: float = NOW,
) -> SignatureError:
    with pytest.raises(SignatureError) as err:
        scheme.verify(headers, body, list(scheme.secrets) if secrets is None else secrets, now)
    assert err.value.code == "BAD_SIGNATURE"
    return err.value


def signed(scheme: Scheme, secret: int = OLD, body: bytes = BODY, ts: int = NOW) -> dict[str, str]:
    return scheme.sign(scheme.secrets[secret], body, ts)


# ------------------------------------------------------------------------------------- published test vectors


def test_matches_the_standard_webhooks_spec_test_vector() -> None:
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert sign_standard_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == headers
    assert verify_standard_webhook(headers, body, [secret], now=1614265330 + 10) == "msg_p5jXN8AQM9LWM0D4loKWxJek"


def test_matches_the_example_in_slacks_verification_doc() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    assert sign_slack("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body) == headers
    verify_slack(headers, body, ["8f742231b10e8888abcd99yyyzzz85a5"], now=1531420618)


# ----------------------------------------------------------------------------------------- every scheme


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_accepts_a_request_signed_with_an_active_secret(scheme: Scheme) -> None:
    scheme.verify(signed(scheme), BODY, list(scheme.secrets), NOW)


def test_returns_the_delivery_ids_to_dedupe_on() -> None:
    assert STANDARD.verify(signed(STANDARD), BODY, STANDARD.secrets, NOW) == "msg_2bR5Zq"
    assert JIRA.verify(signed(JIRA), BODY, JIRA.secrets, NOW) == "d1a5-42"
    assert verify_jira(sign_jira("jira-old-secret", BODY), BODY, ["jira-old-secret"]) is None


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_refuses_a_request_signed_with_another_secret(scheme: Scheme) -> None:
    headers = signed(scheme)
    assert refused(scheme, headers, secrets=[scheme.secrets[NEW]]).details["reason"] == "mismatch"


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_rotation_accepts_old_and_new_while_both_are_listed_and_refuses_the_old_once_removed(scheme: Scheme) -> None:
    old, new = signed(scheme, OLD), signed(scheme, NEW)
    for listed in ([scheme.secrets[OLD], scheme.secrets[NEW]], [scheme.secrets[NEW], scheme.secrets[OLD]]):
        scheme.verify(old, BODY, listed, NOW)
        scheme.verify(new, BODY, listed, NOW)
    scheme.verify(new, BODY, [scheme.secrets[NEW]], NOW)
    refused(scheme, old, secrets=[scheme.secrets[NEW]])


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b + b" ",
        lambda b: b[:-1],
        lambda b: b.replace(b"connect", b"disconnect"),
        lambda b: b"",
        lambda b: b.upper(),
    ],
    ids=["appended", "truncated", "action-swapped", "emptied", "case-changed"],
)
def test_refuses_a_tampered_body(scheme: Scheme, tamper: Callable[[bytes], bytes]) -> None:
    assert refused(scheme, signed(scheme), body=tamper(BODY)).details["reason"] == "mismatch"


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_refuses_when_a_required_header_is_missing_or_blank(scheme: Scheme) -> None:
    headers = signed(scheme)
    for name in scheme.required:
        without = {k: v for k, v in headers.items() if k != name}
        assert refused(scheme, without).details["reason"] == "missing_header"
        assert refused(scheme, {**headers, name: "  "}).details["reason"] == "missing_header"
    assert refused(scheme, {}).details["reason"] == "missing_header"


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
@pytest.mark.parametrize(
    "case", [str.lower, str.upper, str.title, lambda n: n.swapcase()], ids=["lower", "upper", "title", "swapped"]
)
def test_header_names_match_in_any_case(scheme: Scheme, case: Callable[[str], str]) -> None:
    headers = {case(name): value for name, value in signed(scheme).items()}
    scheme.verify(headers, BODY, list(scheme.secrets), NOW)


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_refuses_the_same_header_twice_in_two_cases_with_different_values(scheme: Scheme) -> None:
    headers = signed(scheme)
    name = scheme.required[-1]
    other = signed(scheme, NEW, body=b"other")[name]
    assert refused(scheme, {**headers, name.upper(): other}).details["reason"] == "malformed_header"


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
@pytest.mark.parametrize("secrets", [[], [""], ["  ", ""]], ids=["empty", "blank", "blanks"])
def test_a_source_with_no_secret_never_accepts(scheme: Scheme, secrets: list[str]) -> None:
    assert refused(scheme, signed(scheme), secrets=secrets).details["reason"] == "no_secret"


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_a_bare_string_is_not_taken_for_a_list_of_one_character_secrets(scheme: Scheme) -> None:
    secret = scheme.secrets[OLD]
    assert refused(scheme, signed(scheme), secrets=secret).details["reason"] == "no_secret"  # type: ignore[arg-type]


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
@pytest.mark.parametrize(
    "value",
    [None, 42, b"bytes", "caf\u00e9", "\x00", "x" * 10_000, "\ud800"],
    ids=["none", "int", "bytes", "non-ascii", "nul", "huge", "lone-surrogate"],
)
def test_garbage_header_values_are_refused_with_a_signature_error(scheme: Scheme, value: object) -> None:
    headers = signed(scheme)
    for name in scheme.required:
        refused(scheme, {**headers, name: value})


@pytest.mark.parametrize("body", ["text", None, 42], ids=["str", "none", "int"])
def test_a_body_that_is_not_bytes_is_refused(body: object) -> None:
    for scheme in SCHEMES:
        refused(scheme, signed(scheme), body=body)  # type: ignore[arg-type]


def test_a_bytearray_body_is_checked_like_bytes() -> None:
    for scheme in SCHEMES:
        scheme.verify(signed(scheme), bytearray(BODY), list(scheme.secrets), NOW)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ the time window


@pytest.mark.parametrize("scheme", TIMED, ids=str)
@pytest.mark.parametrize(
    ("skew", "ok"),
    [
        (0, True),
        (-TOLERANCE, True),
        (TOLERANCE, True),
        (-TOLERANCE - 1, False),
        (TOLERANCE + 1, False),
        (-86_400, False),
        (86_400 * 365, False),
    ],
)
def test_timestamps_are_accepted_only_within_the_tolerance_either_side_of_now(
    scheme: Scheme, skew: int, ok: bool
) -> None:
    headers = signed(scheme, ts=NOW + skew)
    if ok:
        scheme.verify(headers, BODY, list(scheme.secrets), NOW)
    else:
        assert refused(scheme, headers).details["reason"] == ("stale" if skew < 0 else "future")


@pytest.mark.parametrize("scheme", TIMED, ids=str)
def test_a_stale_request_is_refused_even_when_the_signature_is_right(scheme: Scheme) -> None:
    headers = signed(scheme, ts=NOW)
    scheme.verify(headers, BODY, list(scheme.secrets), NOW + 299.9)
    assert refused(scheme, headers, now=NOW + 300.5).details["reason"] == "stale"


def test_the_tolerance_is_a_parameter() -> None:
    headers = sign_slack(SLACK.secrets[OLD], NOW - 60, BODY)
    verify_slack(headers, BODY, SLACK.secrets, now=NOW, tolerance=60)
    with pytest.raises(SignatureError):
        verify_slack(headers, BODY, SLACK.secrets, now=NOW, tolerance=59)


@pytest.mark.parametrize("scheme", TIMED, ids=str)
@pytest.mark.parametrize(
    "stamp", ["", "soon", "-5", "+1764072000", "1764072000.5", " 1e9", "1_764_072_000", "\u0661\u0662", "9" * 40]
)
def test_refuses_a_timestamp_that_is_not_unix_seconds(scheme: Scheme, stamp: str) -> None:
    headers = signed(scheme)
    name = next(n for n in headers if "timestamp" in n.lower())
    refused(scheme, {**headers, name: stamp})


@pytest.mark.parametrize("scheme", TIMED, ids=str)
def test_a_replayed_request_cannot_be_refreshed_with_a_new_timestamp(scheme: Scheme) -> None:
    headers = signed(scheme, ts=NOW - 3600)
    name = next(n for n in headers if "timestamp" in n.lower())
    assert refused(scheme, {**headers, name: str(NOW)}).details["reason"] == "mismatch"


# ------------------------------------------------------------------------------------- per-scheme formats


def test_standard_webhooks_accepts_one_valid_signature_among_invalid_ones() -> None:
    good = signed(STANDARD)
    wrong = sign_standard_webhook(STANDARD.secrets[NEW], "msg_2bR5Zq", NOW, b"other")["webhook-signature"]
    header = f"v1,{_b64(b'x' * 32)} {wrong} v1a,{_b64(b'ed25519')} v2,abc  {good['webhook-signature']}"
    assert (
        verify_standard_webhook({**good, "webhook-signature": header}, BODY, [STANDARD.secrets[OLD]], now=NOW)
        == "msg_2bR5Zq"
    )
    with pytest.raises(SignatureError):
        verify_standard_webhook(
            {**good, "webhook-signature": f"{wrong} v1,{_b64(b'y' * 32)}"}, BODY, [STANDARD.secrets[OLD]], now=NOW
        )


def test_standard_webhooks_signature_covers_the_id() -> None:
    headers = signed(STANDARD)
    assert refused(STANDARD, {**headers, "webhook-id": "msg_other"}).details["reason"] == "mismatch"


@pytest.mark.parametrize("signature", ["v1", "v1,", "v1a,abc", "g0hM9SsE+OTPJTGt", ",abc", "V1,abc"])
def test_standard_webhooks_refuses_a_header_with_no_v1_signature(signature: str) -> None:
    refused(STANDARD, {**signed(STANDARD), "webhook-signature": signature})


@pytest.mark.parametrize("msg_id", ["has space", "x" * 300, "tab\there"])
def test_standard_webhooks_refuses_an_id_unfit_to_dedupe_on(msg_id: str) -> None:
    headers = sign_standard_webhook(STANDARD.secrets[OLD], msg_id, NOW, BODY)
    refused(STANDARD, headers)


def test_standard_webhooks_secret_without_prefix_is_used_as_utf8_bytes() -> None:
    headers = sign_standard_webhook("plain-secret", "msg_1", NOW, BODY)
    assert verify_standard_webhook(headers, BODY, ["plain-secret"], now=NOW) == "msg_1"
    # Without the prefix a base64-looking secret is still taken literally, not decoded.
    decoded = sign_standard_webhook("whsec_" + _b64(b"secret"), "msg_1", NOW, BODY)
    with pytest.raises(SignatureError):
        verify_standard_webhook(decoded, BODY, [_b64(b"secret")], now=NOW)


def test_a_secret_that_does_not_decode_is_refused_without_echoing_it() -> None:
    for scheme, secret in ((STANDARD, "whsec_not*base64!"), (TEAMS, "not*base64!")):
        err = refused(scheme, signed(scheme), secrets=[secret])
        assert err.details["reason"] == "bad_secret"
        assert secret not in err.message and "base64!" not in err.message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("sha1=" + "a" * 40, "unsupported_algorithm"),
        ("md5=" + "a" * 32, "unsupported_algorithm"),
        ("sha512=" + "a" * 128, "unsupported_algorithm"),
        ("a" * 64, "malformed_header"),
        ("sha256=" + "g" * 64, "malformed_header"),
        ("sha256=" + "a" * 63, "malformed_header"),
        ("sha256=", "malformed_header"),
    ],
)
def test_jira_refuses_other_methods_and_malformed_digests(value: str, reason: str) -> None:
    assert refused(JIRA, {"X-Hub-Signature": value}).details["reason"] == reason


def test_jira_accepts_upper_case_hex_and_method() -> None:
    _, digest = sign_jira(JIRA.secrets[OLD], BODY)["X-Hub-Signature"].split("=")
    verify_jira({"x-hub-signature": f"SHA256={digest.upper()}"}, BODY, JIRA.secrets)


def test_jira_refuses_a_garbage_delivery_identifier() -> None:
    headers = {**sign_jira(JIRA.secrets[OLD], BODY), "X-Atlassian-Webhook-Identifier": "a b"}
    assert refused(JIRA, headers).details["reason"] == "malformed_header"


@pytest.mark.parametrize("value", ["sha1=" + "a" * 40, "v0=" + "a" * 64, "sha256:" + "a" * 64])
def test_servicenow_refuses_anything_but_sha256(value: str) -> None:
    refused(SERVICENOW, {**signed(SERVICENOW), "X-Interconnect-Signature": value})


def test_servicenow_scheme_is_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"snow-old-secret", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_servicenow("snow-old-secret", NOW, BODY) == {
        "X-Interconnect-Timestamp": str(NOW),
        "X-Interconnect-Signature": f"sha256={expected}",
    }


@pytest.mark.parametrize("value", ["v1=" + "a" * 64, "v0" + "a" * 64, "v0=" + "a" * 63, "v0=xyz"])
def test_slack_refuses_a_malformed_signature(value: str) -> None:
    assert refused(SLACK, {**signed(SLACK), "X-Slack-Signature": value}).details["reason"] == "malformed_header"


@pytest.mark.parametrize("value", ["Bearer abc", "HMAC", "HMAC ", "HMACabc", "HMAC a b", "Basic dXNlcg=="])
def test_teams_refuses_an_authorization_header_that_is_not_hmac(value: str) -> None:
    assert refused(TEAMS, {"Authorization": value}).details["reason"] in ("malformed_header", "missing_header")


def test_teams_key_is_the_base64_decoded_token() -> None:
    token = TEAMS.secrets[OLD]
    expected = _b64(hmac.new(base64.b64decode(token), BODY, hashlib.sha256).digest())
    assert sign_teams(token, BODY) == {"Authorization": f"HMAC {expected}"}
    verify_teams({"authorization": f"hmac {expected}"}, BODY, [token])


def test_a_signature_error_is_an_interconnect_error_with_a_stable_code() -> None:
    assert issubclass(SignatureError, InterconnectError)
    assert SignatureError("x").code == "BAD_SIGNATURE"


# ------------------------------------------------------------------------------------------------ properties


@settings(max_examples=60, deadline=None)
@given(scheme=st.sampled_from(SCHEMES), body=st.binary(max_size=512), skew=st.integers(-TOLERANCE, TOLERANCE))
def test_any_body_signed_by_the_sender_verifies(scheme: Scheme, body: bytes, skew: int) -> None:
    scheme.verify(scheme.sign(scheme.secrets[NEW], body, NOW + skew), body, list(scheme.secrets), NOW)


@settings(max_examples=80, deadline=None)
@given(scheme=st.sampled_from(SCHEMES), body=st.binary(min_size=1, max_size=256), data=st.data())
def test_any_single_byte_change_to_the_body_fails(scheme: Scheme, body: bytes, data: st.DataObject) -> None:
    headers = scheme.sign(scheme.secrets[OLD], body, NOW)
    index = data.draw(st.integers(0, len(body) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))
    changed = body[:index] + bytes([replacement]) + body[index + 1 :]
    refused(scheme, headers, body=changed)


HEADER_NAMES = sorted({n.lower() for s in SCHEMES for n in s.required} | {"x-atlassian-webhook-identifier"})
VALUES = st.one_of(
    st.text(max_size=120),
    st.none(),
    st.integers(),
    st.binary(max_size=40),
    st.sampled_from(["v1,", "sha256=", "v0=", "HMAC ", "whsec_", str(NOW), "sha1=ab"]).flatmap(
        lambda prefix: st.text(max_size=80).map(lambda rest: prefix + rest)
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    scheme=st.sampled_from(SCHEMES),
    headers=st.dictionaries(
        st.one_of(st.sampled_from(HEADER_NAMES), st.sampled_from(HEADER_NAMES).map(str.upper), st.text(max_size=20)),
        VALUES,
        max_size=8,
    ),
    body=st.binary(max_size=64),
)
def test_arbitrary_headers_raise_nothing_but_a_signature_error(
    scheme: Scheme, headers: dict[str, Any], body: bytes
) -> None:
    try:
        scheme.verify(headers, body, list(scheme.secrets), NOW)
    except SignatureError as exc:  # anything else (TypeError, UnicodeError, ValueError...) fails the test
        assert exc.code == "BAD_SIGNATURE" and exc.details["reason"]


@settings(max_examples=100, deadline=None)
@given(scheme=st.sampled_from(SCHEMES), data=st.data())
def test_mutating_any_one_header_of_a_valid_request_verifies_or_raises_a_signature_error(
    scheme: Scheme, data: st.DataObject
) -> None:
    headers = signed(scheme)
    name = data.draw(st.sampled_from(sorted(headers)))
    value = data.draw(VALUES)
    try:
        scheme.verify({**headers, name: value}, BODY, list(scheme.secrets), NOW)
    except SignatureError as exc:  # anything else (TypeError, UnicodeError, ValueError...) fails the test
        assert exc.code == "BAD_SIGNATURE" and exc.details["reason"]


class _BrokenHeaders(dict):  # type: ignore[type-arg]
    def items(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("a header container that cannot be read")


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_an_unreadable_header_container_is_refused_not_crashed(scheme: Scheme) -> None:
    assert refused(scheme, _BrokenHeaders(signed(scheme))).details["reason"] == "malformed_header"
