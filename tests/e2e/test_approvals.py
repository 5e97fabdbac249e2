"""Disconnect approvals through the REST API: approved by someone else, self-approval refused, expiry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localdev import identity
from tests.e2e.conftest import App, load_clouds, pc, running_app

pytestmark = pytest.mark.e2e


def as_user(app: App, user: str) -> dict[str, str]:
    """A real Entra-style token for a demo user, signed by the local identity stand-in (localdev/identity)."""
    return {"Authorization": f"Bearer {identity.token(app.cloud.identity_url, user=user)}"}


def principal(user: str) -> str:
    return f"api:{identity.USERS[user].oid}"


@pytest.fixture(scope="module")
def approving_app() -> Iterator[App]:
    yield from running_app(INTERCONNECT_APPROVALS="on", INTERCONNECT_APPROVAL_MINUTES="0.1")


@pytest.fixture
def linked(approving_app: App) -> dict[str, str]:
    return load_clouds(approving_app, [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), pc("b", "10.0.4.0/22")])


def ask_disconnect(app: App, clouds: dict[str, str], user: str) -> str:
    response = app.call(
        "POST",
        "requests",
        {"action": "disconnect", "source": clouds["a"], "target": clouds["b"]},
        headers=as_user(app, user),
    )
    assert response.status == 202, response.body
    request_id = response.body["requestId"]
    app.wait_for(request_id, "AwaitingApproval")
    return request_id


def test_a_disconnect_approved_by_someone_else_removes_the_link(approving_app: App, linked: dict[str, str]) -> None:
    rid = ask_disconnect(approving_app, linked, "alice")
    assert len(approving_app.links()) == 1  # nothing happens before the approval
    answer = approving_app.call("POST", f"requests/{rid}/approve", headers=as_user(approving_app, "bob"))
    assert answer.status == 200 and answer.body["approval"]["decidedBy"] == principal("bob")
    done = approving_app.wait(rid)
    assert done["status"] == "Succeeded", done
    assert approving_app.links() == []
    assert [(e["status"], e["actor"]) for e in done["events"]][:4] == [
        ("Accepted", principal("alice")),
        ("AwaitingApproval", "worker"),
        ("Validating", principal("bob")),
        ("InProgress", "worker"),
    ]


def test_the_requester_cannot_approve_their_own_disconnect(approving_app: App, linked: dict[str, str]) -> None:
    rid = ask_disconnect(approving_app, linked, "alice")
    answer = approving_app.call("POST", f"requests/{rid}/approve", headers=as_user(approving_app, "alice"))
    assert answer.status == 403 and answer.body["error"]["code"] == "SELF_APPROVAL"
    assert approving_app.call("GET", f"requests/{rid}").body["status"] == "AwaitingApproval"


def test_a_disconnect_nobody_approves_expires(approving_app: App, linked: dict[str, str]) -> None:
    rid = ask_disconnect(approving_app, linked, "alice")
    done = approving_app.wait(rid)
    assert done["status"] == "Expired" and done["reasons"][0]["code"] == "APPROVAL_EXPIRED"
    assert len(approving_app.links()) == 1
    late = approving_app.call("POST", f"requests/{rid}/approve", headers=as_user(approving_app, "bob"))
    assert late.status == 409 and late.body["error"]["code"] == "NOT_AWAITING_APPROVAL"


def test_a_rejected_disconnect_changes_nothing(approving_app: App, linked: dict[str, str]) -> None:
    rid = ask_disconnect(approving_app, linked, "alice")
    assert approving_app.call("POST", f"requests/{rid}/reject", headers=as_user(approving_app, "bob")).status == 200
    done = approving_app.wait(rid)
    assert done["status"] == "Rejected" and done["reasons"][0]["code"] == "APPROVAL_REJECTED"
    assert len(approving_app.links()) == 1


def test_a_disconnect_awaiting_approval_says_what_it_cuts(approving_app: App, linked: dict[str, str]) -> None:
    rid = ask_disconnect(approving_app, linked, "alice")
    shown = approving_app.call("GET", f"requests/{rid}").body
    waiting = next(e for e in shown["events"] if e["status"] == "AwaitingApproval")
    # Said in the approval's own event (what every channel announces), whatever the request's status is by now.
    assert waiting["message"].endswith(
        ". What it cuts: a and b stop reaching each other (1 routed prefix of a, 1 routed prefix of b); "
        "a: 10.0.0.0/22 networkBlock; b: 10.0.4.0/22 networkBlock"
    )
    # Read live only while the disconnect may still be approved (the approval here lapses after 6 s).
    if shown["status"] == "AwaitingApproval":
        assert (
            shown["impact"]["summary"]
            == "a and b stop reaching each other (1 routed prefix of a, 1 routed prefix of b)"
        )
    else:
        assert shown["status"] == "Expired" and shown["impact"] is None
