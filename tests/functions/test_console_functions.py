"""The web console's functions as the host calls them: its page and assets (allow-listed names, security headers,
ETags), its sign-in settings, and its data routes, each of which demands a verified bearer token first and then
answers as its function-key twin does, plus what a person needs (may I decide this, what does it cut).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from interconnect.console import assets
from interconnect.errors import DependencyError
from interconnect.linking.model import Status
from localdev import identity
from tests.factories import cloud, cloud_id
from tests.functions.harness import BASE, IDENTITY_URL, FakeApp, answer, error_of, raising, request

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    f"connect-src 'self' {IDENTITY_URL}; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
UNKNOWN = "0b6f5c1e-8d0a-4d8e-9a43-2f1f0c7d9e21"


def bearer(app: FakeApp, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.token(user=user)}"}


def signed(
    app: FakeApp,
    path: str,
    user: str | None = None,
    *,
    params: dict[str, str] | None = None,
    route: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> func.HttpRequest:
    """A GET of `path`, with `user`'s bearer token when one is named."""
    sent = {**(bearer(app, user) if user else {}), **(headers or {})}
    return request("GET", path, params=params, route=route, headers=sent)


def asset_request(name: str, headers: dict[str, str]) -> func.HttpRequest:
    return request("GET", f"console/assets/{name}", route={"name": name}, headers=headers)


def submit(app: FakeApp, user: str, action: str = "connect", **params: str) -> func.HttpResponse:
    response: func.HttpResponse = app.call(
        "console_submit_request",
        request(
            "POST",
            "console/requests",
            params=params or None,
            headers=bearer(app, user),
            json_body={"action": action, "source": str(app.a), "target": str(app.b), "reference": "CHG1"},
        ),
    )
    return response


def awaiting(app: FakeApp, user: str) -> str:
    """A disconnect `user` asked for, taken by the worker to AwaitingApproval."""
    request_id: str = answer(submit(app, user, "disconnect"))["requestId"]
    app.drain(wait=False)
    assert app.store.get(request_id).status is Status.AWAITING_APPROVAL
    return request_id


@pytest.fixture
def static(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The console's files, as deployed: a page, a script, a style sheet; and files that must never be served."""
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>Interconnect</title>")
    (folder / "app.js").write_text("export const ok = true;\n")
    (folder / "app.css").write_text("body { margin: 0 }\n")
    (folder / ".env").write_text("SECRET=1")
    (folder / "notes.txt").write_text("not an asset type")
    (tmp_path / "outside.js").write_text("// beside the folder, never inside it")
    monkeypatch.setattr(assets, "ASSETS", assets.Assets(folder))
    return folder


# -- the page and its assets ----------------------------------------------------------------------------------


def test_the_page_is_served_with_the_console_security_headers(app: FakeApp, static: Path) -> None:
    response = app.call("console_page", signed(app, "console"))
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.get_body().startswith(b"<!doctype html>")
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-cache"


def test_without_sign_in_metadata_the_page_still_loads_and_calls_only_itself(app: FakeApp, static: Path) -> None:
    app.metadata.failure = DependencyError("down", code="SIGN_IN_UNAVAILABLE")
    response = app.call("console_page", signed(app, "console"))
    assert response.status_code == 200
    assert "connect-src 'self';" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("name", "mimetype"), [("app.js", "text/javascript"), ("app.css", "text/css")])
def test_an_asset_is_served_by_its_exact_name_with_an_etag(
    app: FakeApp, static: Path, name: str, mimetype: str
) -> None:
    response = app.call("console_asset", signed(app, f"console/assets/{name}", route={"name": name}))
    assert response.status_code == 200 and response.mimetype == mimetype
    assert response.get_body() == (static / name).read_bytes()
    assert response.headers["ETag"].startswith('"') and response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "name",
    [
        "../outside.js",
        "..%2Foutside.js",
        "%2e%2e/outside.js",
        "..\\outside.js",
        "/etc/passwd",
        "index.html",  # the page, not an asset
        ".env",
        "notes.txt",
        "APP.JS",
        "app.js/",
        "app.js%00.css",
        "",
        "x" * 5000,
    ],
)
def test_any_other_name_is_asset_not_found(app: FakeApp, static: Path, name: str) -> None:
    response = app.call("console_asset", signed(app, "console/assets/x", route={"name": name}))
    assert error_of(response, 404)["code"] == "ASSET_NOT_FOUND"


def test_a_matching_if_none_match_is_304_and_a_stale_one_is_the_file(app: FakeApp, static: Path) -> None:
    first = app.call("console_asset", signed(app, "console/assets/app.js", route={"name": "app.js"}))
    etag = first.headers["ETag"]
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = app.call("console_asset", asset_request("app.js", {"If-None-Match": sent}))
        assert again.status_code == 304 and again.get_body() == b"" and again.headers["ETag"] == etag
    stale = app.call("console_asset", asset_request("app.js", {"If-None-Match": '"x"'}))
    assert stale.status_code == 200 and stale.get_body() == first.get_body()


def test_the_deployed_folder_lists_only_plain_named_files_of_known_types() -> None:
    names = assets.allowed_names()
    assert assets.INDEX in names
    assert all(assets.Path(n).suffix in assets.CONTENT_TYPES and not n.startswith(".") for n in names)


# -- sign-in settings -----------------------------------------------------------------------------------------


def test_config_names_the_tenant_endpoints_the_client_and_the_scope(app: FakeApp) -> None:
    response = app.call("console_config", signed(app, "console/config"))
    assert response.status_code == 200
    assert answer(response) == {
        "signIn": {
            "authorizationEndpoint": f"{IDENTITY_URL}/{identity.TENANT}/oauth2/v2.0/authorize",
            "tokenEndpoint": f"{IDENTITY_URL}/{identity.TENANT}/oauth2/v2.0/token",
            "clientId": identity.CLIENT_ID,
            "scope": f"{identity.CLIENT_ID}/.default",
        }
    }


def test_config_without_a_console_client_id_is_console_sign_in_off(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    monkeypatch.setattr(app.services, "settings", replace(app.services.settings, console_client_id=""))
    assert error_of(app.call("console_config", signed(app, "console/config")), 503)["code"] == "CONSOLE_SIGN_IN_OFF"


def test_config_when_the_tenant_metadata_cannot_be_read_is_503(app: FakeApp) -> None:
    app.metadata.failure = DependencyError("cannot read", code="SIGN_IN_UNAVAILABLE")
    assert error_of(app.call("console_config", signed(app, "console/config")), 503)["code"] == "SIGN_IN_UNAVAILABLE"


# -- signed in ------------------------------------------------------------------------------------------------

DATA_ROUTES: list[tuple[str, str, str, dict[str, str] | None, dict[str, str] | None]] = [
    ("GET", "console_me", "console/me", None, None),
    ("GET", "console_list_requests", "console/requests", None, None),
    ("POST", "console_submit_request", "console/requests", None, None),
    ("GET", "console_get_request", "console/requests/x", None, {"id": UNKNOWN}),
    ("GET", "console_approvals", "console/approvals", None, None),
    ("GET", "console_clouds", "console/clouds", {"q": "pc"}, None),
    ("GET", "console_cloud", "console/cloud", {"id": "x"}, None),
    ("GET", "console_get_audit", "console/audits/latest", None, {"id": "latest"}),
    ("POST", "console_start_audit", "console/audits", None, None),
    ("GET", "console_topology", "console/topology", None, None),
]


@pytest.mark.parametrize(("method", "name", "path", "params", "route"), DATA_ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"x-functions-key": "a-real-looking-function-key"}, {"X-MS-CLIENT-PRINCIPAL-NAME": "bob"}],
    ids=["nothing", "function-key", "claimed-header"],
)
def test_every_data_route_demands_a_bearer_token_before_anything(
    app: FakeApp,
    method: str,
    name: str,
    path: str,
    params: dict[str, str] | None,
    route: dict[str, str] | None,
    headers: dict[str, str],
) -> None:
    before = (len(app.avs.calls), len(app.queue.sent))
    response = app.call(name, request(method, path, params=params, route=route, headers=headers, json_body={}))
    assert error_of(response, 401)["code"] == "AUTHENTICATION_REQUIRED"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"
    assert (len(app.avs.calls), len(app.queue.sent)) == before  # nothing read, nothing queued


def test_a_forged_token_is_refused(app: FakeApp) -> None:
    response = app.call("console_me", signed(app, "console/me", headers={"Authorization": "Bearer a.b.c"}))
    assert error_of(response, 401)["code"] == "TOKEN_INVALID"


@pytest.mark.parametrize(
    ("user", "roles", "can_request", "can_approve"),
    [
        ("alice", ["Links.Request"], True, False),
        ("bob", ["Links.Approve"], True, True),
        ("dave", ["Links.Admin"], True, True),
    ],
)
def test_me_says_who_is_signed_in_and_what_the_policy_lets_them_do(
    app: FakeApp, user: str, roles: list[str], can_request: bool, can_approve: bool
) -> None:
    response = app.call("console_me", signed(app, "console/me", user))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    demo = identity.USERS[user]
    assert answer(response) == {
        "caller": f"api:{demo.oid}",
        "name": demo.name,
        "roles": roles,
        "canRequest": can_request,
        "canApprove": can_approve,
    }


def test_an_application_token_may_never_approve(app: FakeApp) -> None:
    token = app.token(app="automation")
    me = answer(app.call("console_me", signed(app, "console/me", headers={"Authorization": f"Bearer {token}"})))
    assert me["caller"].startswith("api:sp:") and me["canApprove"] is False


def test_submit_records_the_signed_in_person_and_points_at_the_console_route(app: FakeApp) -> None:
    response = submit(app, "alice")
    assert response.status_code == 202
    body = answer(response)
    assert response.headers["Location"] == body["statusUrl"] == f"{BASE}/api/console/requests/{body['requestId']}"
    stored = app.store.get(body["requestId"])
    assert str(stored.requester) == f"api:{identity.USERS['alice'].oid}" and stored.reference == "CHG1"


def test_a_dry_run_disconnect_says_what_it_would_cut(app: FakeApp) -> None:
    response = submit(app, "alice", "disconnect", dryRun="true")
    plan = answer(response)
    assert response.status_code == 200 and app.queued() == []
    assert plan["impact"]["source"]["cloud"] == str(app.a)
    assert plan["impact"]["source"]["routed"] == [{"prefix": "10.0.0.0/22", "source": "networkBlock"}]


def test_the_list_is_the_request_page_of_the_key_route(app: FakeApp) -> None:
    ids = []
    for _ in range(2):
        ids.append(answer(submit(app, "alice"))["requestId"])
        app.clock.now += timedelta(seconds=1)  # newest first: each a second after the one before
    page = answer(app.call("console_list_requests", signed(app, "console/requests", "carol", params={"limit": "1"})))
    assert [r["requestId"] for r in page["value"]] == ids[-1:] and page["continuation"]
    refused = app.call("console_list_requests", signed(app, "console/requests", "carol", params={"limit": "0"}))
    assert error_of(refused, 400)["code"] == "INVALID_LIMIT"


def test_the_requester_may_not_decide_their_own_request_and_sees_why(app: FakeApp) -> None:
    request_id = awaiting(app, "dave")  # an admin may approve, but not what they asked for themselves
    view = answer(app.call("console_get_request", signed(app, "console/requests/x", "dave", route={"id": request_id})))
    assert view["viewer"] == {"canDecide": False, "why": "SELF_APPROVAL"}
    assert view["status"] == "AwaitingApproval" and view["events"][0]["status"] == "Accepted"
    assert view["impact"]["target"]["cloud"] == str(app.b)


@pytest.mark.parametrize(("user", "viewer"), [("bob", (True, None)), ("carol", (False, "NOT_AN_APPROVER"))])
def test_another_person_may_decide_when_the_policy_names_them(
    app: FakeApp, user: str, viewer: tuple[bool, str | None]
) -> None:
    request_id = awaiting(app, "dave")
    view = answer(app.call("console_get_request", signed(app, "console/requests/x", user, route={"id": request_id})))
    assert (view["viewer"]["canDecide"], view["viewer"]["why"]) == viewer


def test_a_connect_has_no_impact_and_a_finished_request_cannot_be_decided(app: FakeApp) -> None:
    request_id = answer(submit(app, "alice"))["requestId"]
    app.drain()
    view = answer(app.call("console_get_request", signed(app, "console/requests/x", "bob", route={"id": request_id})))
    assert view["status"] == "Succeeded" and view["impact"] is None
    assert view["viewer"] == {"canDecide": False, "why": "NOT_AWAITING_APPROVAL"}


def test_when_arm_cannot_be_read_the_request_still_shows_without_its_impact(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = awaiting(app, "dave")
    monkeypatch.setattr(app.avs, "get_cloud", raising(DependencyError("ARM is down")))
    view = answer(app.call("console_get_request", signed(app, "console/requests/x", "bob", route={"id": request_id})))
    assert view["impact"] is None and view["impactError"]["code"] == "DEPENDENCY_UNAVAILABLE"
    assert view["viewer"]["canDecide"] is True


@pytest.mark.parametrize(
    ("given", "status", "code"), [("nope", 400, "INVALID_REQUEST_ID"), (UNKNOWN, 404, "REQUEST_NOT_FOUND")]
)
def test_a_bad_or_unknown_request_id(app: FakeApp, given: str, status: int, code: str) -> None:
    response = app.call("console_get_request", signed(app, "console/requests/x", "bob", route={"id": given}))
    assert error_of(response, status)["code"] == code


def test_the_inbox_holds_what_awaits_me_with_what_it_cuts_and_never_my_own(app: FakeApp) -> None:
    by_dave = awaiting(app, "dave")
    by_bob = awaiting(app, "bob")
    for user, expected in (("bob", [by_dave]), ("dave", [by_bob])):
        inbox = answer(app.call("console_approvals", signed(app, "console/approvals", user)))
        assert inbox["canApprove"] is True
        assert [r["requestId"] for r in inbox["value"]] == expected
        assert inbox["value"][0]["impact"]["summary"]


@pytest.mark.parametrize("user", ["alice", "carol"])
def test_someone_without_the_approver_right_has_an_empty_inbox(app: FakeApp, user: str) -> None:
    awaiting(app, "dave")
    inbox = answer(app.call("console_approvals", signed(app, "console/approvals", user)))
    assert inbox == {"value": [], "canApprove": False}


def test_cloud_search_matches_name_or_resource_group_in_any_case(app: FakeApp) -> None:
    found = answer(app.call("console_clouds", signed(app, "console/clouds", "carol", params={"q": "PC-B"})))
    assert found == {
        "value": [
            {
                "id": str(app.b),
                "name": "pc-b",
                "resourceGroup": app.b.resource_group,
                "subscription": app.b.subscription,
            }
        ]
    }
    everything = answer(app.call("console_clouds", signed(app, "console/clouds", "carol")))
    assert [c["name"] for c in everything["value"]] == ["pc-a", "pc-b", "pc-c"]
    by_group = answer(
        app.call("console_clouds", signed(app, "console/clouds", "carol", params={"q": app.a.resource_group[-4:]}))
    )
    assert len(by_group["value"]) == 3


def test_cloud_search_answers_at_most_twenty(app: FakeApp) -> None:
    for n in range(25):
        app.avs.add(cloud(cloud_id(f"pc-many-{n:02}"), block=f"10.{100 + n}.0.0/22"))
    found = answer(app.call("console_clouds", signed(app, "console/clouds", "carol", params={"q": "many"})))
    assert [c["name"] for c in found["value"]] == [f"pc-many-{n:02}" for n in range(20)]


def test_cloud_search_with_arm_down_is_503(app: FakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.avs, "list_clouds", raising(DependencyError("ARM is down")))
    response = app.call("console_clouds", signed(app, "console/clouds", "carol", params={"q": "pc"}))
    assert error_of(response, 503)["code"] == "DEPENDENCY_UNAVAILABLE"


def test_a_cloud_page_has_its_links_routed_prefixes_and_latest_requests(app: FakeApp) -> None:
    request_id = answer(submit(app, "alice"))["requestId"]
    app.drain()
    page = answer(app.call("console_cloud", signed(app, "console/cloud", "carol", params={"id": str(app.a)})))
    assert page["cloud"] == {
        "id": str(app.a),
        "name": "pc-a",
        "resourceGroup": app.a.resource_group,
        "subscription": app.a.subscription,
        "location": "westeurope",
        "provisioningState": "Succeeded",
    }
    assert [(link["direction"], link["otherCloud"]) for link in page["links"]["value"]] == [("outgoing", str(app.b))]
    assert page["routed"] == [{"prefix": "10.0.0.0/22", "source": "networkBlock"}] and page["unreadable"] == []
    assert [r["requestId"] for r in page["requests"]] == [request_id]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "INVALID_ID"),
        ({"id": "pc-a"}, 400, "INVALID_ID"),
        ({"id": str(cloud_id("pc-gone"))}, 404, "CLOUD_NOT_FOUND"),
    ],
)
def test_a_cloud_page_refuses_a_bad_or_unknown_id(app: FakeApp, params: dict[str, str], status: int, code: str) -> None:
    response = app.call("console_cloud", signed(app, "console/cloud", "carol", params=params))
    assert error_of(response, status)["code"] == code


def test_audits_and_topology_answer_as_the_key_routes_do(app: FakeApp) -> None:
    assert (
        error_of(
            app.call("console_get_audit", signed(app, "console/audits/latest", "carol", route={"id": "latest"})), 404
        )["code"]
        == "AUDIT_NOT_FOUND"
    )
    started = app.call("console_start_audit", request("POST", "console/audits", headers=bearer(app, "carol")))
    body: dict[str, Any] = answer(started)
    assert started.status_code == 202
    assert started.headers["Location"] == body["statusUrl"] == f"{BASE}/api/console/audits/{body['runId']}"
    app.drain()
    for given in ("latest", body["runId"]):
        run = answer(app.call("console_get_audit", signed(app, "console/audits/x", "carol", route={"id": given})))
        assert run["runId"] == body["runId"]
    bad = app.call("console_get_audit", signed(app, "console/audits/x", "carol", route={"id": "../x"}))
    assert error_of(bad, 400)["code"] == "INVALID_AUDIT_ID"
    svg = app.call("console_topology", signed(app, "console/topology", "carol", params={"format": "json"}))
    assert svg.status_code == 200 and answer(svg)["nodes"]
    assert svg.headers["Cache-Control"] == "no-store"


def test_a_polled_request_reads_its_impact_from_arm_at_most_every_thirty_seconds(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interconnect.app import api

    now = [0.0]
    monkeypatch.setattr(api, "IMPACTS", api.RecentImpacts(seconds=30, clock=lambda: now[0]))
    request_id = awaiting(app, "dave")

    def poll() -> tuple[dict[str, Any], int]:
        before = len(app.avs.calls)
        view = answer(
            app.call("console_get_request", signed(app, "console/requests/x", "bob", route={"id": request_id}))
        )
        return view, len(app.avs.calls) - before

    first, reads = poll()
    assert reads > 0 and first["impact"]["linked"] in ("yes", "no")
    again, reads = poll()
    assert reads == 0 and again["impact"] == first["impact"]  # within 30 s: what was read stands
    now[0] = 31
    _, reads = poll()
    assert reads > 0
