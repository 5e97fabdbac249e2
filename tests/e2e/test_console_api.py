"""The web console's routes over HTTP on the local cloud: its page and assets with their security headers, its
sign-in settings, and its data routes, signed in with tokens the local identity stand-in signs.

What a browser sees is what the host answers, so each check goes through the real Functions host: anonymous at
the host, a bearer token demanded by the app, a function key worth nothing here.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from interconnect.console.assets import STATIC
from localdev import identity
from localdev.cloud import DEMO_FLEET, fleet_subscriptions
from tests.e2e.conftest import App, load_clouds, pc, running_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console_app() -> Iterator[App]:
    yield from running_app(INTERCONNECT_APPROVALS="on")


def as_user(app: App, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {identity.token(app.cloud.identity_url, user=user)}"}


def signed(app: App, method: str, path: str, user: str, body: Any = None) -> Any:
    """The JSON answer of a console route called by `user` (no function key sent), asserting it is 2xx."""
    response = app.call(method, f"console/{path}", body, headers=as_user(app, user), key=None)
    assert 200 <= response.status < 300, (response.status, response.body)
    return response.body


def lowered(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def expected_csp(app: App) -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        f"connect-src 'self' {app.cloud.identity_url}; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


@pytest.fixture
def linked(console_app: App) -> dict[str, str]:
    return load_clouds(console_app, [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), pc("b", "10.0.4.0/22")])


def awaiting_approval(app: App, clouds: dict[str, str], user: str) -> str:
    body = {"action": "disconnect", "source": clouds["a"], "target": clouds["b"], "reference": "CHG-42"}
    accepted = signed(app, "POST", "requests", user, body)
    request_id: str = accepted["requestId"]
    assert accepted["statusUrl"].endswith(f"/api/console/requests/{request_id}")
    app.wait_for(request_id, "AwaitingApproval")
    return request_id


# -- the page and its assets ----------------------------------------------------------------------------------


def test_the_page_carries_the_strict_policy_and_no_inline_code(console_app: App) -> None:
    response = console_app.call("GET", "console", key=None)
    headers = lowered(response.headers)
    assert response.status == 200 and headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"] == expected_csp(console_app)
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert "set-cookie" not in headers
    page = response.body.lower()
    # No inline script, style or handler for the policy to refuse: every script and style is a file.
    assert "<style" not in page and " style=" not in page and " on" + "click=" not in page
    for tag in page.split("<script")[1:]:
        assert " src=" in tag.split(">")[0] and tag.split(">", 1)[1].startswith("</script")


def test_every_asset_is_served_with_an_etag_and_304_while_unchanged(console_app: App) -> None:
    names = sorted(p.name for p in STATIC.iterdir() if p.is_file() and p.name != "index.html")
    assert names, "the console has no assets"
    for name in names:
        response = console_app.call("GET", f"console/assets/{name}", key=None)
        headers = lowered(response.headers)
        assert response.status == 200, name
        assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-cache"
        assert headers["content-security-policy"] == expected_csp(console_app)
        again = console_app.call("GET", f"console/assets/{name}", headers={"If-None-Match": headers["etag"]}, key=None)
        assert again.status == 304 and again.body is None and lowered(again.headers)["etag"] == headers["etag"]


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fsettings.py",
        "%2e%2e%2f__init__.py",
        "..%5C__init__.py",
        "index.html",
        "%2Fetc%2Fpasswd",
        "app.js%00",
        "APP.JS",
        "..",
        ".env",
    ],
)
def test_traversal_and_unlisted_names_are_asset_not_found(console_app: App, name: str) -> None:
    response = console_app.call("GET", f"console/assets/{name}", key=None)
    if response.status == 404 and not response.body:
        return  # the host's own 404: the path matched no route at all (nothing of ours was read either)
    assert response.status == 404 and response.body["error"]["code"] == "ASSET_NOT_FOUND", response.body


def test_config_names_the_stand_in_endpoints_and_the_console_client(console_app: App) -> None:
    response = console_app.call("GET", "console/config", key=None)
    base = f"{console_app.cloud.identity_url}/{identity.TENANT}/oauth2/v2.0"
    assert response.status == 200
    assert response.body == {
        "signIn": {
            "authorizationEndpoint": f"{base}/authorize",
            "tokenEndpoint": f"{base}/token",
            "clientId": identity.CONSOLE_CLIENT_ID,
            "scope": f"{identity.CLIENT_ID}/.default",
        }
    }


# -- signed in ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "me"), ("GET", "requests"), ("GET", "approvals"), ("GET", "clouds?q=pc"), ("POST", "audits")],
)
def test_without_a_token_every_data_route_is_401_and_a_function_key_alone_is_refused(
    console_app: App, method: str, path: str
) -> None:
    for key in (None, "e2e-fake-function-key"):  # the host checks no key here; the app counts none
        response = console_app.call(method, f"console/{path}", key=key)
        assert response.status == 401 and response.body["error"]["code"] == "AUTHENTICATION_REQUIRED"
        assert lowered(response.headers)["www-authenticate"] == "Bearer"


def test_me_tells_each_demo_user_their_rights(console_app: App) -> None:
    alice = signed(console_app, "GET", "me", "alice")
    assert alice == {
        "caller": f"api:{identity.USERS['alice'].oid}",
        "name": "Alice Requester",
        "roles": ["Links.Request"],
        "canRequest": True,
        "canApprove": False,
    }
    bob = signed(console_app, "GET", "me", "bob")
    assert (bob["roles"], bob["canApprove"]) == (["Links.Approve"], True)


def test_the_requester_gets_no_decision_and_their_own_request_is_in_no_inbox_of_theirs(
    console_app: App, linked: dict[str, str]
) -> None:
    request_id = awaiting_approval(console_app, linked, "dave")  # an admin: an approver, but not of their own
    own = signed(console_app, "GET", f"requests/{request_id}", "dave")
    assert own["viewer"] == {"canDecide": False, "why": "SELF_APPROVAL"}
    assert own["impact"]["linked"] == "yes" and own["impact"]["source"]["routed"] == [
        {"prefix": "10.0.0.0/22", "source": "networkBlock"}
    ]
    assert request_id not in [r["requestId"] for r in signed(console_app, "GET", "approvals", "dave")["value"]]
    inbox = signed(console_app, "GET", "approvals", "bob")
    (waiting,) = [r for r in inbox["value"] if r["requestId"] == request_id]
    assert inbox["canApprove"] is True and waiting["impact"]["target"]["cloud"] == linked["b"]
    assert signed(console_app, "GET", f"requests/{request_id}", "bob")["viewer"] == {"canDecide": True, "why": None}
    assert signed(console_app, "GET", "approvals", "alice") == {"value": [], "canApprove": False}
    # Bob decides through the existing route, and the console shows it decided.
    decided = console_app.call("POST", f"requests/{request_id}/reject", headers=as_user(console_app, "bob"), key=None)
    assert decided.status == 200 and decided.body["status"] == "Rejected"
    after = signed(console_app, "GET", f"requests/{request_id}", "bob")
    assert after["viewer"] == {"canDecide": False, "why": "NOT_AWAITING_APPROVAL"} and after["impact"] is None


def test_my_requests_are_listed_with_requester_me(console_app: App, linked: dict[str, str]) -> None:
    body = {"action": "connect", "source": linked["b"], "target": linked["a"]}
    mine = signed(console_app, "POST", "requests?dryRun=true", "carol", body)
    assert mine["allowed"] is False or mine["wouldDo"] in ("noop", "create")  # a plan, nothing recorded
    request_id = signed(console_app, "POST", "requests", "carol", body)["requestId"]
    page = signed(console_app, "GET", "requests?requester=me&limit=5", "carol")
    assert [r["requestId"] for r in page["value"]][:1] == [request_id]
    assert all(r["requestedBy"]["id"] == identity.USERS["carol"].oid for r in page["value"])


def test_cloud_search_and_a_cloud_page(console_app: App) -> None:
    # In a subscription the app is configured with (the demo fleet's first): search lists only those.
    tag = uuid.uuid4().hex[:6]
    names = [f"pc-find-{tag}-1", f"pc-find-{tag}-2", f"pc-other-{tag}"]
    clouds = load_clouds(
        console_app,
        [
            pc(names[0], "10.0.0.0/22", links=[{"target": names[1]}]),
            pc(names[1], "10.0.4.0/22"),
            pc(names[2], "10.0.8.0/22"),
        ],
        sub=fleet_subscriptions(DEMO_FLEET)[0],
    )
    found = signed(console_app, "GET", f"clouds?q=PC-FIND-{tag.upper()}", "carol")["value"]
    assert [c["id"] for c in found] == [clouds[names[0]], clouds[names[1]]]
    page = signed(console_app, "GET", f"cloud?id={urllib.parse.quote(found[0]['id'], safe='')}", "carol")
    assert page["cloud"]["id"] == clouds[names[0]] and page["cloud"]["name"] == names[0]
    assert page["routed"] == [{"prefix": "10.0.0.0/22", "source": "networkBlock"}] and page["unreadable"] == []
    assert [(x["direction"], x["otherCloud"]) for x in page["links"]["value"]] == [("outgoing", clouds[names[1]])]
    assert page["requests"] == []
    missing = console_app.call("GET", "console/cloud?id=nope", headers=as_user(console_app, "carol"), key=None)
    assert missing.status == 400 and missing.body["error"]["code"] == "INVALID_ID"
