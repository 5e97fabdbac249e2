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

from localdev.procs import Service, python_module

log = logging.getLogger("localdev.identity")

TENANT = "7e5d1c2a-4b1e-4c3d-9a0f-1ce1dc0c0001"  # a made-up tenant id for the local cloud
CLIENT_ID = "3c1a6e0d-9b2f-4e51-8d7a-1ce1dc0c00a9"  # the app registration of the API (made up)
APP_ID_URI = "api://interconnect-local"
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

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": issuer(self.base_url),
            "jwks_uri": f"{self.base_url}/{TENANT}/discovery/v2.0/keys",
            "token_endpoint": f"{self.base_url}/{TENANT}/oauth2/v2.0/token",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def mint(self, ask: dict[str, Any]) -> dict[str, Any]:
        """A signed access token for `ask['user']` or `ask['app']`. Raises KeyError for an unknown name."""
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
                azp=str(uuid.UUID(int=1)),
                scp="Links.Access",
                roles=list(ask.get("roles", user.roles)),
                groups=list(ask.get("groups", user.groups)),
            )
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return {"token_type": "Bearer", "access_token": token, "expires_in": lifetime}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.command, self.path.split("?")[0][:200])  # never a token: they are in bodies

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        authority = self.server.authority
        if self.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            self._send(HTTPStatus.OK, authority.openid_configuration())
        elif self.path == f"/{TENANT}/discovery/v2.0/keys":
            self._send(HTTPStatus.OK, authority.jwks())
        elif self.path == "/users":
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

    def do_POST(self) -> None:
        if self.path != f"/{TENANT}/oauth2/v2.0/token":
            self._send(HTTPStatus.NOT_FOUND, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            ask = json.loads(self.rfile.read(min(length, 65536)) or b"{}")
            if not isinstance(ask, dict) or ("user" in ask) == ("app" in ask):
                raise ValueError("name either a user or an app")
            self._send(HTTPStatus.OK, self.server.authority.mint(ask))
        except KeyError:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "unknown_user", "users": sorted(USERS), "apps": sorted(APPS)})
        except (ValueError, TypeError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "invalid_request", "error_description": str(exc)})


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
