"""Contract tests: the identity stand-in speaks Entra's shapes, and the app's key adapter follows a key rollover.

Browser sign-in (the authorization code flow with PKCE the console uses) is driven over HTTP as a browser would:
the page is read for its buttons, each redirect is looked at rather than followed.

The adapter (interconnect/adapters/signing_keys.py) is driven over real HTTP against the stand-in, as it is
driven against Entra in Azure: OpenID metadata, then `jwks_uri`. A restarted stand-in has a new key, which is
what a tenant's key rollover looks like to the app.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import jwt
import pytest

from interconnect.adapters.signing_keys import OpenIdSigningKeys, metadata_url
from interconnect.app.identity import TokenRules, Verifier
from interconnect.errors import AuthenticationError
from localdev import identity
from localdev.identity import signin
from localdev.procs import Service, free_port

pytestmark = pytest.mark.contract


@pytest.fixture
def stand_in() -> Iterator[Service]:
    service = identity.service(free_port()).start()
    try:
        yield service
    finally:
        service.stop()


def url(service: Service) -> str:
    return f"http://127.0.0.1:{service.port}"


def get(address: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(address, timeout=10) as answer:
        return json.loads(answer.read())


def test_the_metadata_and_keys_have_entras_shapes(stand_in: Service) -> None:
    metadata = get(metadata_url(identity.issuer(url(stand_in))))
    assert metadata["issuer"] == f"{url(stand_in)}/{identity.TENANT}/v2.0"
    assert metadata["jwks_uri"] == f"{url(stand_in)}/{identity.TENANT}/discovery/v2.0/keys"
    [key] = get(metadata["jwks_uri"])["keys"]
    assert key["kty"] == "RSA" and key["use"] == "sig" and key["kid"] and key["n"] and key["e"] == "AQAB"
    assert "d" not in key  # the public half only


def test_a_person_and_an_application_as_the_app_sees_them(stand_in: Service) -> None:
    verifier = Verifier(
        TokenRules.from_settings(identity.issuer(url(stand_in)), identity.audience()),
        OpenIdSigningKeys(identity.issuer(url(stand_in))),
    )
    alice = verifier.verify(identity.token(url(stand_in), user="alice"))
    assert (alice.id, alice.display, alice.verified_person) == (identity.USERS["alice"].oid, "Alice Requester", True)
    assert alice.roles == {"Links.Request"} and alice.groups == {identity.OPS_GROUP}
    app = verifier.verify(identity.token(url(stand_in), app="automation"))
    assert str(app) == f"api:sp:{identity.APPS['automation'].app_id}" and not app.verified_person


def test_after_a_key_rollover_new_tokens_verify_and_old_ones_do_not() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    keys = OpenIdSigningKeys(identity.issuer(base), min_refresh=0)
    verifier = Verifier(TokenRules.from_settings(identity.issuer(base), identity.audience()), keys)
    first = identity.service(port).start()
    try:
        old = identity.token(base, user="bob")
        assert verifier.verify(old).display == "Bob Approver"
    finally:
        first.stop()
    second = identity.service(port).start()  # a new RSA key, a new key id: the tenant rolled its key
    try:
        new = identity.token(base, user="bob")
        assert verifier.verify(new).display == "Bob Approver"  # unknown kid: the keys were fetched again
        with pytest.raises(AuthenticationError) as err:
            verifier.verify(old)
        assert err.value.code == "TOKEN_INVALID"
    finally:
        second.stop()


def test_the_stand_in_refuses_an_unknown_user(stand_in: Service) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        identity.token(url(stand_in), user="mallory")
    err.value.close()  # an HTTPError holds the connection open
    assert err.value.code == 400


# --- Browser sign-in: the authorization code flow with PKCE, as the console runs it against Entra ---------------

CONSOLE_PORT = 7071  # any loopback port is registered; the stand-in never calls the console
REDIRECT = f"http://127.0.0.1:{CONSOLE_PORT}{signin.CONSOLE_PATH}"
SCOPE = f"{identity.CLIENT_ID}/.default"


class _Page(HTMLParser):
    """The sign-in page's form: where it posts, its hidden fields, and its buttons (name, value, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.hidden: dict[str, str] = {}
        self.buttons: list[tuple[str, str, str]] = []
        self._button: tuple[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = named["action"]
        elif tag == "input" and named.get("type") == "hidden":
            self.hidden[named["name"]] = named["value"]
        elif tag == "button":
            self._button, self._text = (named.get("name", ""), named.get("value", "")), []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons.append((*self._button, "".join(self._text).strip()))
            self._button = None


def verifier_and_challenge() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def authorize_query(challenge: str, **overrides: str | None) -> dict[str, str]:
    query: dict[str, str | None] = {
        "client_id": identity.CONSOLE_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": f"openid profile offline_access {SCOPE}",
        "state": "s-1234",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "response_mode": "fragment",
        "nonce": "n-1",
        **overrides,
    }
    return {k: v for k, v in query.items() if v is not None}


@pytest.fixture
def browser(stand_in: Service) -> Iterator[httpx.Client]:
    """A client that, like a browser at the console, sees each redirect rather than following it."""
    with httpx.Client(base_url=url(stand_in), follow_redirects=False, timeout=10) as client:
        yield client


def metadata(client: httpx.Client) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/{identity.TENANT}/v2.0/.well-known/openid-configuration").json()
    return found


def sign_in(client: httpx.Client, challenge: str, user: str = "alice", **overrides: str | None) -> dict[str, str]:
    """Open the sign-in page, press "Sign in as <user>"; the fields of the fragment the browser is sent to."""
    page_answer = client.get(metadata(client)["authorization_endpoint"], params=authorize_query(challenge, **overrides))
    assert page_answer.status_code == 200, page_answer.text
    page = _Page()
    page.feed(page_answer.text)
    [(name, value, _)] = [b for b in page.buttons if b[2] == f"Sign in as {identity.USERS[user].name}"]
    answer = client.post(page.action, data={**page.hidden, name: value})
    assert answer.status_code == 302
    return fragment(answer.headers["location"])


def fragment(location: str) -> dict[str, str]:
    before, _, after = location.partition("#")
    assert before == REDIRECT and "?" not in location  # nothing in the query: it would reach the console's host
    return dict(urllib.parse.parse_qsl(after))


def redeem(client: httpx.Client, code: str, verifier: str, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": identity.CONSOLE_CLIENT_ID,
        "code_verifier": verifier,
        **overrides,
    }
    return client.post(metadata(client)["token_endpoint"], data=form, headers={"Origin": REDIRECT_ORIGIN})


REDIRECT_ORIGIN = f"http://127.0.0.1:{CONSOLE_PORT}"


def test_the_metadata_names_the_authorization_endpoint_and_pkce(stand_in: Service, browser: httpx.Client) -> None:
    found = metadata(browser)
    assert found["authorization_endpoint"] == f"{url(stand_in)}/{identity.TENANT}/oauth2/v2.0/authorize"
    assert found["token_endpoint"] == f"{url(stand_in)}/{identity.TENANT}/oauth2/v2.0/token"
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert found["response_types_supported"] == ["code"] and found["response_modes_supported"] == ["fragment"]
    assert found["grant_types_supported"] == ["authorization_code"]


def test_a_person_signs_in_with_a_code_and_pkce_and_gets_the_apis_token(
    stand_in: Service, browser: httpx.Client
) -> None:
    verifier, challenge = verifier_and_challenge()
    page = browser.get(metadata(browser)["authorization_endpoint"], params=authorize_query(challenge))
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert f"form-action 'self' {REDIRECT_ORIGIN};" in csp  # the post's redirect lands on the console
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text and "style=" not in page.text
    parsed = _Page()
    parsed.feed(page.text)
    labels = [text for name, _, text in parsed.buttons if name == "user"]
    assert labels == [f"Sign in as {u.name}" for u in identity.USERS.values()]
    assert "Links.Approve" in page.text and "no app role" in page.text  # each user's roles are shown

    answer = sign_in(browser, challenge, "bob")
    assert answer["state"] == "s-1234" and answer["code"]
    token = redeem(browser, answer["code"], verifier)
    assert token.status_code == 200, token.text
    assert token.headers["access-control-allow-origin"] == REDIRECT_ORIGIN
    assert token.headers["cache-control"] == "no-store"
    body = token.json()
    assert set(body) == {"token_type", "access_token", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["scope"] == SCOPE and body["expires_in"] > 0
    verifier_of_app = Verifier(
        TokenRules.from_settings(identity.issuer(url(stand_in)), identity.audience()),
        OpenIdSigningKeys(identity.issuer(url(stand_in))),
    )
    bob = verifier_of_app.verify(body["access_token"])
    assert (bob.id, bob.display, bob.verified_person) == (identity.USERS["bob"].oid, "Bob Approver", True)
    assert bob.roles == {"Links.Approve"} and bob.groups == {identity.OPS_GROUP}
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == identity.CLIENT_ID and claims["azp"] == identity.CONSOLE_CLIENT_ID
    # The JSON minting the tests and the CLI use is unchanged beside it.
    assert verifier_of_app.verify(identity.token(url(stand_in), user="bob")).id == bob.id


def test_a_code_redeemed_with_the_wrong_verifier_is_refused_and_spent(browser: httpx.Client) -> None:
    verifier, challenge = verifier_and_challenge()
    code = sign_in(browser, challenge)["code"]
    other, _ = verifier_and_challenge()
    refused = redeem(browser, code, other)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    assert "PKCE" in refused.json()["error_description"]
    assert refused.headers["access-control-allow-origin"] == REDIRECT_ORIGIN  # the console can read why
    late = redeem(browser, code, verifier)  # one attempt per code: a stolen code gets one guess
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")


def test_a_code_is_redeemed_once(browser: httpx.Client) -> None:
    verifier, challenge = verifier_and_challenge()
    code = sign_in(browser, challenge)["code"]
    assert redeem(browser, code, verifier).status_code == 200
    again = redeem(browser, code, verifier)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    assert "already redeemed" in again.json()["error_description"]


def test_a_code_is_bound_to_its_redirect_uri(browser: httpx.Client) -> None:
    verifier, challenge = verifier_and_challenge()
    code = sign_in(browser, challenge)["code"]
    moved = redeem(browser, code, verifier, redirect_uri=f"http://localhost:{CONSOLE_PORT}/api/console")
    assert (moved.status_code, moved.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/api/console",
        "http://evil.example:7071/api/console",
        "http://127.0.0.1:7071/api/console/",
        "http://127.0.0.1:7071/api/consolex",
        "http://127.0.0.1/api/console",  # no port: not the console's URL
        "http://user@127.0.0.1:7071/api/console",
        "http://127.0.0.1:07071/api/console",
        "http://LOCALHOST:7071/api/console",
        "http://127.0.0.1:7071/api/console?x=1",
        "http://127.0.0.1:7071/api/console#x",
        "javascript:alert(1)",
        None,
    ],
)
def test_a_bad_redirect_uri_is_shown_on_the_page_and_never_redirected_to(
    browser: httpx.Client, redirect_uri: str | None
) -> None:
    _, challenge = verifier_and_challenge()
    answer = browser.get(
        metadata(browser)["authorization_endpoint"], params=authorize_query(challenge, redirect_uri=redirect_uri)
    )
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "invalid_request" in answer.text and "redirect_uri" in answer.text
    assert "form-action 'none'" in answer.headers["content-security-policy"]


def test_an_unknown_client_is_shown_the_error_at_either_endpoint(browser: httpx.Client) -> None:
    verifier, challenge = verifier_and_challenge()
    stranger = str(uuid.uuid4())
    answer = browser.get(
        metadata(browser)["authorization_endpoint"], params=authorize_query(challenge, client_id=stranger)
    )
    assert answer.status_code == 400 and "location" not in answer.headers and "unauthorized_client" in answer.text
    code = sign_in(browser, challenge)["code"]
    refused = redeem(browser, code, verifier, client_id=stranger)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_mode": "query"}, "invalid_request"),
        ({"scope": "openid"}, "invalid_scope"),
        ({"scope": f"{SCOPE} https://graph.microsoft.com/User.Read"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_other_bad_parameters_go_back_to_the_console_in_the_fragment_with_the_state(
    browser: httpx.Client, overrides: dict[str, str | None], error: str
) -> None:
    _, challenge = verifier_and_challenge()
    answer = browser.get(metadata(browser)["authorization_endpoint"], params=authorize_query(challenge, **overrides))
    assert answer.status_code == 302
    found = fragment(answer.headers["location"])
    assert found["error"] == error and found["state"] == "s-1234" and found["error_description"]


def test_a_parameter_given_twice_is_refused(stand_in: Service, browser: httpx.Client) -> None:
    _, challenge = verifier_and_challenge()
    query = urllib.parse.urlencode(authorize_query(challenge)) + "&redirect_uri=http%3A%2F%2Fevil.example%2F"
    answer = browser.get(f"{metadata(browser)['authorization_endpoint']}?{query}")
    assert answer.status_code == 400 and "location" not in answer.headers and "more than once" in answer.text


def test_cancelling_tells_the_console_access_denied(browser: httpx.Client) -> None:
    _, challenge = verifier_and_challenge()
    page = browser.get(metadata(browser)["authorization_endpoint"], params=authorize_query(challenge))
    parsed = _Page()
    parsed.feed(page.text)
    answer = browser.post(parsed.action, data={**parsed.hidden, "cancel": "1"})
    assert fragment(answer.headers["location"]) == {
        "error": "access_denied",
        "error_description": "the sign-in was cancelled",
        "state": "s-1234",
    }
    used = browser.post(parsed.action, data={**parsed.hidden, "user": "alice"})  # the page's flow is spent
    assert used.status_code == 400 and "expired or was already used" in used.text


def test_the_token_endpoint_answers_the_consoles_cors_preflight_only(browser: httpx.Client) -> None:
    token_endpoint = metadata(browser)["token_endpoint"]
    for origin in (REDIRECT_ORIGIN, "http://localhost:5173"):
        preflight = browser.options(
            token_endpoint,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == origin
        assert preflight.headers["access-control-allow-methods"] == "POST"
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
    for origin in ("https://evil.example", "http://127.0.0.1.evil.example:80", "null"):
        refused = browser.options(token_endpoint, headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    # A refused token answer to a foreign origin carries no CORS header either: the page cannot read it.
    foreign = browser.post(
        token_endpoint, data={"grant_type": "authorization_code"}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers


def test_codes_and_pages_expire() -> None:
    # In-process with a clock the test moves: no waiting on the wall clock.
    now = [1000.0]
    flows = signin.SignIn(signin.Registration(identity.CONSOLE_CLIENT_ID, identity.CONSOLE_SCOPES), lambda: now[0])
    verifier, challenge = verifier_and_challenge()
    request = flows.check(urllib.parse.urlencode(authorize_query(challenge)))
    flow = flows.begin(request)
    now[0] += signin.FLOW_SECONDS
    with pytest.raises(signin.ShownError, match="expired"):
        flows.finish(urllib.parse.urlencode({"flow": flow, "user": "alice"}), identity.USERS)
    flow = flows.begin(request)
    code = fragment(flows.finish(urllib.parse.urlencode({"flow": flow, "user": "alice"}), identity.USERS))["code"]
    now[0] += signin.CODE_SECONDS
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": identity.CONSOLE_CLIENT_ID,
        "code_verifier": verifier,
    }
    with pytest.raises(signin.TokenError) as err:
        flows.redeem(urllib.parse.urlencode(form))
    assert err.value.error == "invalid_grant"
