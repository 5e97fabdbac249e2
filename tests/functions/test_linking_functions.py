"""A request's functions as the host calls them: submit (and dry-run), read, list, links, approve, reject, sweep.

Approve and reject take only a verified Entra bearer token of a person: tokens here are signed by the local
identity stand-in's key, which the app's verifier is given as the tenant's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest  # what the host hands a timer function
from cryptography.hazmat.primitives.asymmetric import rsa

from interconnect.errors import DependencyError
from interconnect.linking.model import Status
from localdev import identity
from tests.functions.harness import BASE, IDENTITY_URL, FakeApp, answer, error_of, raising, request

UNKNOWN = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"


def submit(
    app: FakeApp, action: str = "connect", *, headers: dict[str, str] | None = None, **params: str
) -> func.HttpResponse:
    response: func.HttpResponse = app.call(
        "submit_request",
        request(
            "POST",
            "requests",
            params=params or None,
            headers=headers,
            json_body={"action": action, "source": str(app.a), "target": str(app.b)},
        ),
    )
    return response


def awaiting_approval(app: FakeApp) -> str:
    """A disconnect filed with the function key, taken by the worker to AwaitingApproval."""
    request_id: str = answer(submit(app, "disconnect"))["requestId"]
    app.drain(wait=False)
    assert app.store.get(request_id).status is Status.AWAITING_APPROVAL
    return request_id


def decide(
    app: FakeApp, verb: str, request_id: str, token: str | None = None, authorization: str | None = None
) -> func.HttpResponse:
    headers = {"Authorization": authorization or f"Bearer {token}"} if (token or authorization) else {}
    response: func.HttpResponse = app.call(
        "approve_request" if verb == "approve" else "reject_request",
        request("POST", f"requests/{request_id}/{verb}", route={"id": request_id}, headers=headers),
    )
    return response


# -- submit_request -------------------------------------------------------------------------------------------


def test_submit_accepts_with_202_location_and_queues_the_request(app: FakeApp) -> None:
    response = submit(app)
    body = answer(response)
    assert response.status_code == 202
    assert response.headers["Location"] == body["statusUrl"] == f"{BASE}/api/requests/{body['requestId']}"
    assert body["status"] == "Accepted"
    assert [(i.request_id, i.kind) for i in app.queued()] == [(body["requestId"], "process")]


def test_a_repeated_idempotency_key_answers_200_with_the_same_request(app: FakeApp) -> None:
    first = submit(app, headers={"Idempotency-Key": "CHG-1001"})
    again = submit(app, headers={"Idempotency-Key": "CHG-1001"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert answer(first)["requestId"] == answer(again)["requestId"]
    assert len(app.store.rows) == 1


def test_the_correlation_id_a_caller_sends_is_kept_on_the_request(app: FakeApp) -> None:
    request_id = answer(submit(app, headers={"x-correlation-id": "corr-42"}))["requestId"]
    assert app.store.get(request_id).correlation_id == "corr-42"


def test_a_dry_run_answers_the_plan_and_stores_and_queues_nothing(app: FakeApp) -> None:
    response = submit(app, dryRun="true")
    assert response.status_code == 200
    plan = answer(response)
    assert plan["allowed"] is True and plan["reasons"] == []
    assert app.store.rows == {} and app.queue.sent == []


@pytest.mark.parametrize("flag", ["ture", "dry", "2", "\u00e9", ""])
def test_a_dry_run_flag_that_is_neither_true_nor_false_is_400_and_submits_nothing(app: FakeApp, flag: str) -> None:
    # Read as false, a mistyped dry run would record and queue the request for real (found by the schema fuzz).
    error = error_of(submit(app, dryRun=flag), 400)
    assert error["code"] == "INVALID_QUERY" and error["details"] == {"parameter": "dryRun"}
    assert app.store.rows == {} and app.queue.sent == []


@pytest.mark.parametrize(("flag", "status"), [("TRUE", 200), ("yes", 200), ("1", 200), ("false", 202), ("0", 202)])
def test_a_dry_run_flag_reads_true_and_false_in_any_case(app: FakeApp, flag: str, status: int) -> None:
    assert submit(app, dryRun=flag).status_code == status


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "INVALID_JSON"),
        (b"[]", 400, "INVALID_JSON"),
        (b'{"action": "connect"}', 400, "MISSING_FIELD"),
        (b" " * (256 * 1024), 413, "TOO_LARGE"),
    ],
)
def test_a_bad_body_is_refused_with_its_code_and_nothing_is_stored(
    app: FakeApp, body: bytes, status: int, code: str
) -> None:
    response = app.call("submit_request", request("POST", "requests", body=body))
    error = error_of(response, status)
    assert error["code"] == code
    assert app.store.rows == {} and app.queue.sent == []


@pytest.mark.parametrize("dry_run", [{}, {"dryRun": "true"}])
def test_an_idempotency_key_outside_its_grammar_is_400_without_echo(app: FakeApp, dry_run: dict[str, str]) -> None:
    # A dry run checks the header too (it once skipped it: found by the schema fuzz).
    response = submit(app, headers={"Idempotency-Key": "<script>"}, **dry_run)
    error = error_of(response, 400)
    assert error["code"] == "INVALID_IDEMPOTENCY_KEY" and "<script>" not in response.get_body().decode()
    assert app.store.rows == {}


def test_an_unavailable_store_is_503_with_retry_after(app: FakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    from interconnect.errors import DependencyError

    def down(*args: Any, **kwargs: Any) -> Any:
        raise DependencyError("table storage is unavailable", retry_after=7)

    monkeypatch.setattr(app.store, "create", down)
    response = submit(app, headers={"x-correlation-id": "corr-503"})
    assert error_of(response, 503)["code"] == "DEPENDENCY_UNAVAILABLE"
    assert response.headers["Retry-After"] == "7"
    assert response.headers["x-correlation-id"] == "corr-503"


def test_a_bearer_token_that_fails_on_submit_is_401_with_www_authenticate(app: FakeApp) -> None:
    response = submit(app, headers={"Authorization": "Bearer not.a.token"})
    assert error_of(response, 401)["code"] == "TOKEN_INVALID"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert app.store.rows == {}


def test_a_signed_in_person_is_the_requester(app: FakeApp) -> None:
    response = submit(app, headers={"Authorization": f"Bearer {app.token(user='alice')}"})
    request_id = answer(response)["requestId"]
    assert str(app.store.get(request_id).requester) == f"api:{identity.USERS['alice'].oid}"


# -- get_request, list_requests, list_links -------------------------------------------------------------------


def test_get_request_answers_the_view(app: FakeApp) -> None:
    request_id = answer(submit(app))["requestId"]
    response = app.call("get_request", request("GET", f"requests/{request_id}", route={"id": request_id}))
    assert response.status_code == 200
    view = answer(response)
    assert (view["requestId"], view["status"], view["action"]) == (request_id, "Accepted", "connect")


def get_view(app: FakeApp, request_id: str) -> dict[str, Any]:
    view: dict[str, Any] = answer(
        app.call("get_request", request("GET", f"requests/{request_id}", route={"id": request_id}))
    )
    return view


def test_get_request_shows_what_a_disconnect_awaiting_approval_cuts(app: FakeApp) -> None:
    request_id = awaiting_approval(app)
    view = get_view(app, request_id)
    assert view["status"] == "AwaitingApproval" and "impactError" not in view
    cut = view["impact"]
    assert (cut["source"]["cloud"], cut["target"]["cloud"]) == (str(app.a), str(app.b))
    assert {"prefix": "10.0.0.0/22", "source": "networkBlock"} in cut["source"]["routed"]
    assert {"prefix": "10.0.4.0/22", "source": "networkBlock"} in cut["target"]["routed"]
    assert cut["summary"].startswith("pc-a and pc-b ")


def test_get_request_shows_no_impact_for_a_connect(app: FakeApp) -> None:
    request_id = answer(submit(app))["requestId"]
    assert get_view(app, request_id)["impact"] is None
    app.drain()
    assert get_view(app, request_id)["impact"] is None


def test_get_request_still_answers_when_arm_cannot_be_read_for_the_impact(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = awaiting_approval(app)
    monkeypatch.setattr(app.avs, "get_cloud", raising(DependencyError("ARM is down")))
    view = get_view(app, request_id)
    assert view["status"] == "AwaitingApproval" and view["events"]
    assert view["impact"] is None and view["impactError"]["code"] == "DEPENDENCY_UNAVAILABLE"


def test_a_polled_request_reads_its_impact_from_arm_once_for_both_route_families(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interconnect.app import api

    now = [0.0]
    monkeypatch.setattr(api, "IMPACTS", api.RecentImpacts(seconds=30, clock=lambda: now[0]))
    request_id = awaiting_approval(app)
    before = len(app.avs.calls)
    first = get_view(app, request_id)
    assert len(app.avs.calls) > before
    before = len(app.avs.calls)
    assert get_view(app, request_id)["impact"] == first["impact"]  # within 30 s: what was read stands
    assert len(app.avs.calls) == before
    now[0] = 31
    get_view(app, request_id)
    assert len(app.avs.calls) > before


@pytest.mark.parametrize(
    ("given", "status", "code"),
    [
        ("not-a-uuid", 400, "INVALID_REQUEST_ID"),
        ("x" * 20_000, 400, "INVALID_REQUEST_ID"),
        (UNKNOWN, 404, "REQUEST_NOT_FOUND"),
    ],
)
def test_get_request_refuses_bad_and_unknown_ids(app: FakeApp, given: str, status: int, code: str) -> None:
    response = app.call("get_request", request("GET", "requests/x", route={"id": given}))
    assert error_of(response, status)["code"] == code
    assert len(response.get_body()) < 1000  # the id is never echoed back
    assert response.headers["x-correlation-id"]


def test_list_requests_pages_and_filters(app: FakeApp) -> None:
    ids = [answer(submit(app, headers={"Idempotency-Key": f"k-{n}"}))["requestId"] for n in range(3)]
    response = app.call(
        "list_requests", request("GET", "requests", params={"limit": "2", "status": "Accepted", "cloud": str(app.a)})
    )
    assert response.status_code == 200
    page = answer(response)
    assert len(page["value"]) == 2 and {v["requestId"] for v in page["value"]} <= set(ids)
    assert page["continuation"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "Sleeping"}, "INVALID_STATUS"),
        ({"limit": "many"}, "INVALID_LIMIT"),
        # Refused rather than clamped to 1..100 (found by the schema fuzz: the document says 1..100).
        ({"limit": "0"}, "INVALID_LIMIT"),
        ({"limit": "-619"}, "INVALID_LIMIT"),
        ({"limit": "101"}, "INVALID_LIMIT"),
        # Sent empty is refused like any other bad value, not read as absent (found by the schema fuzz).
        ({"limit": ""}, "INVALID_LIMIT"),
        ({"cloud": ""}, "INVALID_ID"),
        ({"cloud": "not-a-cloud"}, "INVALID_ID"),
        ({"cloud": "x" * 5000}, "INVALID_QUERY"),
    ],
)
def test_list_requests_refuses_bad_query_values(app: FakeApp, params: dict[str, str], code: str) -> None:
    response = app.call("list_requests", request("GET", "requests", params=params))
    assert error_of(response, 400)["code"] == code


def test_list_links_answers_the_links_of_a_cloud(app: FakeApp) -> None:
    submit(app)
    app.drain()
    response = app.call("list_links", request("GET", "links", params={"cloud": str(app.a)}))
    assert response.status_code == 200
    (link,) = answer(response)["value"]
    assert link["otherCloud"] == str(app.b) and link["status"] == "Active"


def test_list_links_needs_a_cloud(app: FakeApp) -> None:
    response = app.call("list_links", request("GET", "links"))
    assert error_of(response, 400)["code"].startswith("INVALID")


# -- approve_request, reject_request ------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_deciding_without_a_token_is_401_before_the_id_is_looked_at(app: FakeApp, verb: str) -> None:
    for request_id in (awaiting_approval(app), "not-a-uuid"):
        response = decide(app, verb, request_id)
        assert error_of(response, 401)["code"] == "AUTHENTICATION_REQUIRED"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert all(r.status is Status.AWAITING_APPROVAL for r in app.store.rows.values())


def other_tenant_token() -> str:
    other = identity.Authority(IDENTITY_URL, rsa.generate_private_key(65537, 2048))
    token: str = other.mint({"user": "bob"})["access_token"]
    return token


@pytest.mark.parametrize("verb", ["approve", "reject"])
@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda app: other_tenant_token(), "TOKEN_INVALID"),
        (lambda app: app.token(user="bob", expiresIn=-3600), "TOKEN_EXPIRED"),
        (lambda app: app.token(user="bob", audience="api://someone-else"), "TOKEN_AUDIENCE"),
        (lambda app: "a.b.c", "TOKEN_INVALID"),
    ],
)
def test_deciding_with_a_token_that_fails_is_401_invalid_token(app: FakeApp, verb: str, make: Any, code: str) -> None:
    request_id = awaiting_approval(app)
    response = decide(app, verb, request_id, make(app))
    assert error_of(response, 401)["code"] == code
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert app.store.get(request_id).status is Status.AWAITING_APPROVAL


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_a_scheme_other_than_bearer_is_401(app: FakeApp, verb: str) -> None:
    response = decide(app, verb, awaiting_approval(app), authorization="Basic Ym9iOnB3")
    assert error_of(response, 401)["code"] == "TOKEN_INVALID"


@pytest.mark.parametrize("verb", ["approve", "reject"])
@pytest.mark.parametrize(
    ("ask", "code"),
    [
        ({"app": "automation"}, "APPROVER_NOT_VERIFIED"),  # an application is never a person
        ({"user": "carol"}, "NOT_AN_APPROVER"),  # a person without the approver role
    ],
)
def test_a_verified_caller_who_may_not_approve_is_403(app: FakeApp, verb: str, ask: dict[str, str], code: str) -> None:
    request_id = awaiting_approval(app)
    assert error_of(decide(app, verb, request_id, app.token(**ask)), 403)["code"] == code
    assert app.store.get(request_id).status is Status.AWAITING_APPROVAL


def test_nobody_approves_their_own_request(app: FakeApp) -> None:
    token = app.token(user="dave")  # Links.Admin: may request a disconnect and approve others'
    request_id = answer(submit(app, "disconnect", headers={"Authorization": f"Bearer {token}"}))["requestId"]
    app.drain(wait=False)
    assert error_of(decide(app, "approve", request_id, token), 403)["code"] == "SELF_APPROVAL"


def test_an_approver_approves_and_the_request_goes_on(app: FakeApp) -> None:
    request_id = awaiting_approval(app)
    response = decide(app, "approve", request_id, app.token(user="bob"))
    assert response.status_code == 200
    view = answer(response)
    assert view["requestId"] == request_id and view["status"] == "Validating"
    assert view["approval"]["decidedBy"] == f"api:{identity.USERS['bob'].oid}"
    assert f"{request_id}:approved" in [i.message_id for i in app.queued()]  # the worker takes it on


def test_an_approver_rejects_and_the_request_ends(app: FakeApp) -> None:
    request_id = awaiting_approval(app)
    response = decide(app, "reject", request_id, app.token(user="bob"))
    assert response.status_code == 200 and answer(response)["status"] == "Rejected"
    assert app.store.get(request_id).status is Status.REJECTED


@pytest.mark.parametrize("verb", ["approve", "reject"])
@pytest.mark.parametrize(
    ("request_id", "status", "code"),
    [
        ("not-a-uuid", 400, "INVALID_REQUEST_ID"),
        (UNKNOWN, 404, "REQUEST_NOT_FOUND"),
    ],
)
def test_a_signed_in_approver_gets_400_or_404_for_bad_or_unknown_ids(
    app: FakeApp, verb: str, request_id: str, status: int, code: str
) -> None:
    assert error_of(decide(app, verb, request_id, app.token(user="bob")), status)["code"] == code


def test_deciding_twice_is_409(app: FakeApp) -> None:
    request_id = awaiting_approval(app)
    decide(app, "reject", request_id, app.token(user="bob"))
    assert error_of(decide(app, "approve", request_id, app.token(user="bob")), 409)["code"] == "NOT_AWAITING_APPROVAL"


# -- sweep ----------------------------------------------------------------------------------------------------------


def test_the_sweep_timer_re_drives_a_request_that_went_quiet(app: FakeApp) -> None:
    request_id = answer(submit(app))["requestId"]
    app.queue.sent.clear()  # the message was lost
    app.clock.advance(minutes=11)  # past INTERCONNECT_STALE_MINUTES (10 by default)
    app.call("sweep", TimerRequest(past_due=True))
    (item,) = app.queued()
    assert (item.request_id, item.kind) == (request_id, "process") and item.origin.startswith("sweep-")
    app.drain()
    assert app.store.get(request_id).status is Status.SUCCEEDED


def test_the_sweep_timer_leaves_fresh_requests_alone(app: FakeApp) -> None:
    submit(app)
    app.queue.sent.clear()
    app.clock.advance(seconds=timedelta(minutes=9).total_seconds())
    app.call("sweep", TimerRequest(past_due=False))
    assert app.queued() == []


def test_a_fresh_correlation_id_is_made_when_the_callers_does_not_fit(app: FakeApp) -> None:
    response = app.call(
        "get_request",
        request("GET", "requests/x", route={"id": UNKNOWN}, headers={"x-correlation-id": "bad id with spaces"}),
    )
    assert error_of(response, 404)["code"] == "REQUEST_NOT_FOUND"
    assert uuid.UUID(response.headers["x-correlation-id"])
