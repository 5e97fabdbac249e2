"""A stand-in for Microsoft Entra ID on the local cloud: publishes signing keys and mints access tokens.

The app verifies tokens the same way locally and in Azure (interconnect/app/identity.py): it reads
`<issuer>/.well-known/openid-configuration`, follows `jwks_uri`, and checks RS256 signatures, issuer, audience
and lifetime. This server plays the tenant: an RSA key generated at start (never written anywhere), Entra's URL
shapes (`/<tenant>/v2.0/.well-known/openid-configuration`, `/<tenant>/discovery/v2.0/keys`), and v2 access
tokens with Entra's claims (`oid`, `tid`, `name`, `preferred_username`, `roles`, `groups`, `scp` for people,
`azp` and `idtyp: app` for applications) for the named demo users and applications below.

Minting is `POST /<tenant>/oauth2/v2.0/token` with JSON `{"user": "alice"}` (or `{"app": "automation"}`); tests
may override `roles`, `groups`, `audience` and `expiresIn` to make tokens the app must refuse. It listens on
127.0.0.1 only and exists for the local cloud: anyone who can reach it can mint any demo user's token.
`python -m localdev.identity token --user alice` prints one (see __main__.py).

Browsers sign in as Entra's v2 endpoints let a single-page app do: `GET /<tenant>/oauth2/v2.0/authorize` (the
authorization code flow with PKCE, a page with one button per demo user) and a form-encoded
`grant_type=authorization_code` at the same token endpoint, with CORS for the console's loopback origins
(signin.py has the rules).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from localdev.identity.signin import (
    PageUser,
    RedirectedError,
    Registration,
    ShownError,
    SignIn,
    TokenError,
    error_page,
    loopback_origin,
    page_headers,
    sign_in_page,
)
from localdev.procs import Service, python_module

log = logging.getLogger("localdev.identity")

TENANT = "7e5d1c2a-4b1e-4c3d-9a0f-1ce1dc0c0001"  # a made-up tenant id for the local cloud
CLIENT_ID = "3c1a6e0d-9b2f-4e51-8d7a-1ce1dc0c00a9"  # the app registration of the API (made up)
APP_ID_URI = "api://interconnect-local"
# The console signs in with the API's own registration (one app: its SPA platform lists the console's redirect
# URI, and it asks for a token for itself), so the console's client id is the API's. One registration is what the
# deployment guidance sets up (infra/README.md, "Sign-in"): app roles, the assignment requirement and the tokens'
# audience stay in one place, and no cross-app consent is needed. The app's INTERCONNECT_CONSOLE_CLIENT_ID.
CONSOLE_CLIENT_ID = CLIENT_ID
# What the console may ask for: the API's scope by client id or by Application ID URI ("/.default" or the
# delegated scope by name), as Entra accepts either spelling.
CONSOLE_SCOPES = frozenset(
    {f"{CLIENT_ID}/.default", f"{APP_ID_URI}/.default", f"{CLIENT_ID}/Links.Access", f"{APP_ID_URI}/Links.Access"}
)
OPS_GROUP = "0a5e2b7c-3d41-4f6e-9b8a-1ce1dc0c0a11"  # "AVS platform operations", an Entra group
NETWORK_GROUP = "0a5e2b7c-3d41-4f6e-9b8a-1ce1dc0c0b22"  # "Network engineering"


@dataclass(frozen=True)
class DemoUser:
    oid: str
    name: str
    username: str
    roles: tuple[str, ...]
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoApp:
    app_id: str
    name: str
    roles: tuple[str, ...]


USERS = {
    "alice": DemoUser(
        "a11ce000-0000-4000-8000-00000000a11c",
        "Alice Requester",
        "alice@contoso.example",
        ("Links.Request",),
        (OPS_GROUP,),
    ),
    "bob": DemoUser(
        "b0b00000-0000-4000-8000-000000000b0b", "Bob Approver", "bob@contoso.example", ("Links.Approve",), (OPS_GROUP,)
    ),
    "carol": DemoUser(
        "ca201000-0000-4000-8000-0000000ca201", "Carol Viewer", "carol@contoso.example", (), (NETWORK_GROUP,)
    ),
    "dave": DemoUser("da7e0000-0000-4000-8000-000000000da7", "Dave Admin", "dave@contoso.example", ("Links.Admin",)),
}
APPS = {
    "automation": DemoApp("5e21ce00-0000-4000-8000-0000005e21ce", "change automation", ("Links.Request",)),
}


AUTHORIZE_PATH = f"/{TENANT}/oauth2/v2.0/authorize"
TOKEN_PATH = f"/{TENANT}/oauth2/v2.0/token"
MAX_BODY = 65536


def issuer(base_url: str) -> str:
    return f"{base_url}/{TENANT}/v2.0"


def audience() -> str:
    """The app's INTERCONNECT_AUTH_AUDIENCE: v2 tokens carry the client id; the URI is accepted too."""
    return f"{CLIENT_ID},{APP_ID_URI}"


@dataclass
class Authority:
    """The tenant's key and the tokens it signs."""

    base_url: str
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))

    @property
    def kid(self) -> str:
        numbers = self.key.public_key().public_numbers()
        digest = hashlib.sha256(f"{numbers.n}:{numbers.e}".encode()).digest()
        return base64.urlsafe_b64encode(digest[:15]).decode().rstrip("=")

    sign_in: SignIn = field(default_factory=lambda: SignIn(Registration(CONSOLE_CLIENT_ID, CONSOLE_SCOPES)))

    def openid_configuration(self) -> dict[str, Any]:
        """Entra's v2 metadata fields, each listing only what the stand-in implements."""
        return {
            "issuer": issuer(self.base_url),
            "jwks_uri": f"{self.base_url}/{TENANT}/discovery/v2.0/keys",
            "authorization_endpoint": f"{self.base_url}{AUTHORIZE_PATH}",
            "token_endpoint": f"{self.base_url}{TOKEN_PATH}",
            "response_types_supported": ["code"],
            "response_modes_supported": ["fragment"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "token_endpoint_auth_methods_supported": ["none"],  # public clients only: PKCE, no secret
            "id_token_signing_alg_values_supported": ["RS256"],
            "request_uri_parameter_supported": False,
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def mint(self, ask: dict[str, Any], client_id: str | None = None) -> dict[str, Any]:
        """A signed access token for `ask['user']` or `ask['app']`. Raises KeyError for an unknown name.

        `client_id`: the application a person's token was issued to (`azp`), when the stand-in knows it (the
        console's sign-in); the JSON path names none, as if a command-line tool had asked.
        """
        now = int(time.time())
        lifetime = int(ask.get("expiresIn", 3600))
        claims: dict[str, Any] = {
            "iss": issuer(self.base_url),
            "aud": ask.get("audience", CLIENT_ID),
            "tid": TENANT,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "ver": "2.0",
            "uti": uuid.uuid4().hex,
        }
        if "app" in ask:
            app = APPS[ask["app"]]
            claims.update(
                sub=app.app_id, oid=app.app_id, azp=app.app_id, idtyp="app", roles=list(ask.get("roles", app.roles))
            )
        else:
            user = USERS[ask["user"]]
            claims.update(
                sub=hashlib.sha256(user.oid.encode()).hexdigest()[:43],
                oid=user.oid,
                name=user.name,
                preferred_username=user.username,
                azp=client_id or str(uuid.UUID(int=1)),
                scp="Links.Access",
                roles=list(ask.get("roles", user.roles)),
                groups=list(ask.get("groups", user.groups)),
            )
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return {"token_type": "Bearer", "access_token": token, "expires_in": lifetime}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        # The path only: a query (state, challenge) or a body (codes, verifiers, tokens) is never logged.
        log.info("%s %s", self.command, self.path.split("?")[0][:200])

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _redirect(self, location: str) -> None:
        self._send_bytes(
            HTTPStatus.FOUND, b"", {"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        )

    def _page(self, status: int, page: str, form_target: str | None = None) -> None:
        self._send_bytes(status, page.encode(), page_headers(form_target))

    def _body(self) -> bytes | None:
        """The request body, or None (after answering 413) when it is larger than any this server accepts."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True  # the body is left unread
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "invalid_request", "error_description": "body"})
            return None
        return self.rfile.read(length)

    def _cors(self) -> dict[str, str]:
        """CORS for the console's loopback origins, as Entra answers an SPA's registered redirect URI origins."""
        origin = self.headers.get("Origin", "")
        allowed = loopback_origin(origin) == origin
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if allowed else {"Vary": "Origin"}

    def do_GET(self) -> None:
        authority = self.server.authority
        path, _, query = self.path.partition("?")
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            self._send(HTTPStatus.OK, authority.openid_configuration())
        elif path == f"/{TENANT}/discovery/v2.0/keys":
            self._send(HTTPStatus.OK, authority.jwks())
        elif path == AUTHORIZE_PATH:
            self._authorize(query)
        elif path == "/users":
            self._send(
                HTTPStatus.OK,
                {
                    "users": {
                        k: {"oid": u.oid, "name": u.name, "roles": u.roles, "groups": u.groups}
                        for k, u in USERS.items()
                    },
                    "apps": {k: {"appId": a.app_id, "roles": a.roles} for k, a in APPS.items()},
                },
            )
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": "not_found"})

    def _authorize(self, query: str) -> None:
        sign_in = self.server.authority.sign_in
        try:
            request = sign_in.check(query)
            flow = sign_in.begin(request)
        except ShownError as exc:
            self._page(HTTPStatus.BAD_REQUEST, error_page(exc))
            return
        except RedirectedError as exc:
            self._redirect(exc.location)
            return
        users = [PageUser(k, u.name, u.username, u.roles) for k, u in USERS.items()]
        page = sign_in_page(AUTHORIZE_PATH, flow, request, users)
        self._page(HTTPStatus.OK, page, form_target=loopback_origin(request.redirect_uri))

    def do_OPTIONS(self) -> None:
        if self.path.partition("?")[0] != TOKEN_PATH:
            self._send(HTTPStatus.NOT_FOUND, {"error": "not_found"})
            return
        cors = self._cors()
        if "Access-Control-Allow-Origin" not in cors:
            self._send(
                HTTPStatus.FORBIDDEN,
                {"error": "origin_not_allowed", "error_description": "only the console's loopback origins"},
                cors,
            )
            return
        preflight = {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        }
        self._send_bytes(HTTPStatus.NO_CONTENT, b"", {**cors, **preflight})

    def do_POST(self) -> None:
        path = self.path.partition("?")[0]
        if path not in (TOKEN_PATH, AUTHORIZE_PATH):
            self._send(HTTPStatus.NOT_FOUND, {"error": "not_found"})
            return
        body = self._body()
        if body is None:
            return
        form = self.headers.get_content_type() == "application/x-www-form-urlencoded"
        if path == AUTHORIZE_PATH:
            self._signed_in(body if form else None)
        elif form:
            self._redeem(body)
        else:
            self._mint(body)

    def _signed_in(self, body: bytes | None) -> None:
        """The sign-in page's form: a button pressed. Answers the redirect to the console, or an error page."""
        try:
            if body is None:
                raise ShownError("invalid_request", "post the sign-in page's form (application/x-www-form-urlencoded)")
            location = self.server.authority.sign_in.finish(_text(body), USERS)
        except UnicodeDecodeError:
            self._page(HTTPStatus.BAD_REQUEST, error_page(ShownError("invalid_request", "the form is not ASCII")))
            return
        except ShownError as exc:
            self._page(HTTPStatus.BAD_REQUEST, error_page(exc))
            return
        except RedirectedError as exc:
            self._redirect(exc.location)
            return
        self._redirect(location)

    def _redeem(self, body: bytes) -> None:
        """`grant_type=authorization_code`: the console trades its code (and PKCE verifier) for a token."""
        cors = {**self._cors(), "Cache-Control": "no-store", "Pragma": "no-cache"}
        authority = self.server.authority
        try:
            grant = authority.sign_in.redeem(_text(body))
        except TokenError as exc:
            self._send(exc.status, {"error": exc.error, "error_description": exc.description}, cors)
            return
        except UnicodeDecodeError:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "invalid_request", "error_description": "not ASCII"}, cors)
            return
        minted = authority.mint({"user": grant.user}, client_id=grant.request.client_id)
        self._send(HTTPStatus.OK, {**minted, "scope": grant.request.granted_scope}, cors)

    def _mint(self, body: bytes) -> None:
        try:
            ask = json.loads(body or b"{}")
            if not isinstance(ask, dict) or ("user" in ask) == ("app" in ask):
                raise ValueError("name either a user or an app")
            self._send(HTTPStatus.OK, self.server.authority.mint(ask))
        except KeyError:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "unknown_user", "users": sorted(USERS), "apps": sorted(APPS)})
        except (ValueError, TypeError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "invalid_request", "error_description": str(exc)})


def _text(body: bytes) -> str:
    """A form body as text. Raises UnicodeDecodeError: a form-encoded body is ASCII (anything else is escaped)."""
    return body.decode("ascii")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    authority: Authority


def serve(port: int, ready: threading.Event | None = None) -> None:
    server = _Server(("127.0.0.1", port), _Handler)
    server.authority = Authority(f"http://127.0.0.1:{port}")
    if ready is not None:
        ready.set()
    try:
        server.serve_forever()
    finally:
        server.server_close()


def service(port: int, log_path: Any = None) -> Service:
    """The stand-in as a not-yet-started `Service` on `port`."""
    return Service(
        name="identity",
        argv=python_module("localdev.identity", "serve", "--port", str(port)),
        port=port,
        log_path=log_path,
    )


def token(base_url: str, *, timeout: float = 10, **ask: Any) -> str:
    """A token from a running stand-in: token(url, user="alice"), token(url, app="automation", expiresIn=-600)."""
    request = urllib.request.Request(
        f"{base_url}/{TENANT}/oauth2/v2.0/token",
        data=json.dumps(ask).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return str(json.loads(response.read())["access_token"])
