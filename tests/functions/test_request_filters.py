"""GET /api/requests filtered by requester and creation time, through the registered function: what the query
says reaches the store parsed, and a bad value is a 400 with its own code before anything is read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functions.harness import FakeApp, answer, error_of, request


def file_as(app: FakeApp, user: str | None) -> str:
    """A connect filed as a signed-in demo user, or with the function key alone (None)."""
    headers = {"Authorization": f"Bearer {app.token(user=user)}"} if user else {}
    response = app.call(
        "submit_request",
        request("POST", "requests", headers=headers, json_body=body(app)),
    )
    rid: str = answer(response)["requestId"]
    return rid


def body(app: FakeApp) -> dict[str, Any]:
    return {"action": "connect", "source": str(app.a), "target": str(app.b)}


def listed(app: FakeApp, headers: dict[str, str] | None = None, **params: str) -> list[str]:
    response = app.call("list_requests", request("GET", "requests", params=params, headers=headers))
    assert response.status_code == 200
    return [v["requestId"] for v in answer(response)["value"]]


def test_requests_are_listed_by_requester_in_any_case_and_me_is_the_caller(app: FakeApp) -> None:
    alices = [file_as(app, "alice")]
    app.clock.advance(minutes=1)
    keys = [file_as(app, None)]
    app.clock.advance(minutes=1)
    alices.insert(0, file_as(app, "alice"))
    alice = app.store.get(alices[0]).requester
    assert listed(app, requester=f"{alice.channel}:{alice.id}") == alices
    assert listed(app, requester=f"{alice.channel.upper()}:{alice.id.upper()}") == alices
    assert listed(app, requester="api:key") == keys
    assert listed(app, {"Authorization": f"Bearer {app.token(user='alice')}"}, requester="me") == alices
    assert listed(app, requester="slack:T01/U02") == []


def test_requests_are_listed_by_creation_time(app: FakeApp) -> None:
    first = file_as(app, None)
    app.clock.advance(days=1)
    second = file_as(app, None)
    day_one, day_two = (app.store.get(rid).created_at.date().isoformat() for rid in (first, second))
    assert listed(app, since=day_two) == [second]
    assert listed(app, until=day_one) == [first]  # a date alone is the whole of that day
    assert listed(app, since=day_one, until=day_two) == [second, first]
    at = app.store.get(second).created_at
    assert listed(app, since=at.isoformat().replace("+00:00", "Z")) == [second]
    assert listed(app, until=(at.replace(tzinfo=None)).isoformat()) == [second, first]  # no offset: UTC


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"requester": ""}, "INVALID_REQUESTER"),
        ({"requester": "alice"}, "INVALID_REQUESTER"),
        ({"requester": "api:"}, "INVALID_REQUESTER"),
        ({"requester": "x" * 400}, "INVALID_QUERY"),
        ({"since": ""}, "INVALID_DATE"),
        ({"since": "yesterday"}, "INVALID_DATE"),
        ({"until": "2026-02-30"}, "INVALID_DATE"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "INVALID_DATE"),
        ({"until": "x" * 100}, "INVALID_QUERY"),
    ],
)
def test_a_bad_filter_is_refused_with_its_code(app: FakeApp, params: dict[str, str], code: str) -> None:
    response = app.call("list_requests", request("GET", "requests", params=params))
    error = error_of(response, 400)
    assert error["code"] == code
    assert "x" * 50 not in error["message"]  # the value is never echoed back whole
