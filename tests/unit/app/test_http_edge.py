"""The HTTP edge: bounds on what a request carries, statuses for them, and log lines without secrets."""

from __future__ import annotations

import json
import logging

import azure.functions as func
import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect.app.http import (
    API_BODY_LIMIT,
    body,
    capped,
    correlation_id,
    error_response,
    handles_errors,
    idempotency_key,
    loggable_url,
    query_param,
    route_uuid,
    status_for,
    uuid_route,
)
from interconnect.errors import SignatureError, TooLargeError, ValidationError

KEY = "fake-function-key-0123456789"
RID = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"


def request(
    url: str = "http://localhost/api/requests",
    *,
    body_: bytes = b"",
    headers: dict | None = None,
    params: dict | None = None,
    route: dict | None = None,
) -> func.HttpRequest:
    return func.HttpRequest(
        "POST", url, headers=headers or {}, params=params or {}, route_params=route or {}, body=body_
    )


def test_too_large_is_413_and_other_validation_errors_stay_400() -> None:
    assert status_for(TooLargeError("big")) == 413 and status_for(ValidationError("bad")) == 400


def test_a_body_over_the_route_limit_is_refused_with_the_limit() -> None:
    assert body(request(body_=b"x" * API_BODY_LIMIT), API_BODY_LIMIT) == b"x" * API_BODY_LIMIT
    with pytest.raises(TooLargeError) as err:
        body(request(body_=b"x" * (API_BODY_LIMIT + 1)), API_BODY_LIMIT)
    assert err.value.details == {"limit": API_BODY_LIMIT}


@pytest.mark.parametrize("key", ["CHG-1001", "k-/subscriptions/x/privateClouds/a", "a" * 200, "dGVzdA==", "x+y/z"])
def test_idempotency_keys_in_the_grammar_are_kept(key: str) -> None:
    assert idempotency_key(request(headers={"Idempotency-Key": key})) == key


@pytest.mark.parametrize("key", ["", "a" * 201, "two words", 'quote"d', "<b>", "tab\tx", "é", "a\\b"])
def test_idempotency_keys_outside_the_grammar_are_400_without_echo(key: str) -> None:
    with pytest.raises(ValidationError) as err:
        idempotency_key(request(headers={"Idempotency-Key": key}))
    assert err.value.code == "INVALID_IDEMPOTENCY_KEY" and (not key or key not in err.value.message)


def test_no_idempotency_key_is_none() -> None:
    assert idempotency_key(request()) is None


@pytest.mark.parametrize(
    ("given", "kept"),
    [("req-42", True), ("{abc-1}", True), ("a" * 101, False), ("x\ny", False), ("<script>", False), ("", False)],
)
def test_a_correlation_id_outside_the_grammar_is_replaced_never_refused(given: str, kept: bool) -> None:
    cid = correlation_id(request(headers={"x-correlation-id": given}))
    assert (cid == given) is kept and len(cid) <= 100


def test_a_20kb_route_id_is_400_with_a_short_message_that_does_not_echo_it() -> None:
    huge = "A" * 20_000
    with pytest.raises(ValidationError) as err:
        route_uuid(request(route={"id": huge}), what="audit id", code="INVALID_AUDIT_ID")
    assert err.value.code == "INVALID_AUDIT_ID" and huge[:20] not in err.value.message
    assert len(json.dumps(err.value.to_dict())) < 300
    assert route_uuid(request(route={"id": RID.upper()}), what="request id", code="X") == RID
    assert route_uuid(request(route={"id": "latest"}), what="audit id", code="X", also=("latest",)) == "latest"


def test_uuid_route_refuses_before_the_handler_runs() -> None:
    ran = []
    handler = handles_errors(uuid_route(what="request id", code="INVALID_REQUEST_ID")(lambda req: ran.append(1)))
    answer = handler(request(route={"id": "../../admin"}))
    assert answer.status_code == 400 and not ran
    assert json.loads(answer.get_body())["error"]["code"] == "INVALID_REQUEST_ID"


def test_query_values_and_the_whole_query_are_capped() -> None:
    assert query_param(request(params={"cloud": "x" * 10}), "cloud", max_length=10) == "x" * 10
    with pytest.raises(ValidationError) as err:
        query_param(request(params={"cloud": "x" * 11}), "cloud", max_length=10)
    assert err.value.code == "INVALID_QUERY" and "xxxxxxxxxxx" not in err.value.message
    with pytest.raises(ValidationError):
        query_param(
            request("http://localhost/api/links?pad=" + "x" * 3000, params={"cloud": "c"}), "cloud", max_length=10
        )


def test_logged_urls_lose_the_function_key_and_other_credentials() -> None:
    url = f"http://evil.example/api/requests?code={KEY}&limit=5&Token=t0k3n-fake&sig=abc"
    logged = loggable_url(url)
    assert logged == "/api/requests?limit=5 (+3 other parameters)"
    assert KEY not in logged and "evil.example" not in logged


@given(st.text(max_size=5000))
def test_any_logged_url_is_bounded_single_line_and_keyless(junk: str) -> None:
    logged = loggable_url(f"http://h/api/{junk}?code={KEY}&x={junk}")
    assert KEY not in logged and "\n" not in logged and "\r" not in logged and len(logged) < 500


def test_capped_says_how_much_was_cut_and_replaces_control_characters() -> None:
    assert capped("a\nb") == "a?b"
    assert capped("x" * 250) == "x" * 200 + "…(+50)"


def test_error_and_unexpected_log_lines_carry_no_key_and_no_whole_value(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(req: func.HttpRequest) -> func.HttpResponse:
        raise ValidationError("bad", code="INVALID_ID")

    def crash(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("boom")

    long_path = "p" * 60_000
    caplog.set_level(logging.INFO, logger="interconnect.http")
    for handler in (refuse, crash):
        answer = handles_errors(handler)(
            request(f"http://h/api/{long_path}?code={KEY}", headers={"x-correlation-id": "cid-1"})
        )
        assert answer.status_code in (400, 500) and answer.headers["x-correlation-id"] == "cid-1"
    text = caplog.text
    assert (
        KEY not in text
        and "p" * 300 not in text
        and "cid-1" in "".join(getattr(r, "correlationId", "") for r in caplog.records)
    )


def test_an_unknown_source_and_a_bad_signature_answer_byte_for_byte_alike() -> None:
    unknown = error_response(SignatureError("no source", details={"reason": "unknown_source"}), "c")
    forged = error_response(
        SignatureError("X-Hub-Signature matches no active secret", details={"reason": "mismatch"}), "c"
    )
    assert (
        (unknown.status_code, unknown.get_body())
        == (forged.status_code, forged.get_body())
        == (401, b'{"error": {"code": "BAD_SIGNATURE", "message": "signature verification failed"}}')
    )
