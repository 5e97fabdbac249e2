"""Who is calling the REST API, proven rather than claimed: Entra access tokens checked by the app itself.

A header a client sends (X-MS-CLIENT-PRINCIPAL*, a name, an id) is never an identity: anyone holding a function
key could type one. Identity comes only from an `Authorization: Bearer` token that passes every check here:

- its header and payload are bounded JSON (size and nesting checked before decoding);
- it is signed with RS256 by a key the tenant publishes (its OpenID metadata's JWKS, fetched and cached by an
  adapter behind `SigningKeys`), so `alg: none`, HS256 keyed with the public key, or a key of our own making fail;
- its issuer and audience are the configured ones; it is not expired nor not yet valid (small leeway for clocks);
- it names the caller by `oid`, the immutable object id (display names change and can repeat).

A person's token becomes `api:<oid>` with the token's app roles and groups; an app-only token (a service
principal or managed identity: `idtyp` is `app`, or no delegated `scp`) becomes `api:sp:<appid>`. A caller with
no token at all is known only by its function key: `api:key`. Role names live here so the policy and the
approvals speak of the same ones.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from interconnect import boundedjson
from interconnect.errors import AuthenticationError, SettingsError, ValidationError
from interconnect.linking.model import Requester

REQUEST_ROLE = "Links.Request"
APPROVE_ROLE = "Links.Approve"
ADMIN_ROLE = "Links.Admin"
APP_ROLES = (REQUEST_ROLE, APPROVE_ROLE, ADMIN_ROLE)

KEY_CALLER = Requester("api", "key", "function key")

ALGORITHMS = ["RS256"]  # what Entra signs access tokens with; anything else is refused before a key is looked up
MAX_TOKEN_BYTES = 16_384  # Entra tokens with many groups stay far below; the overage claim caps groups at 200
MAX_LIST = 250  # roles or groups in one token
MAX_NAME = 256
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KID = re.compile(r"^[A-Za-z0-9_\-=.+/]{1,128}$")


class SigningKeys(Protocol):
    """The tenant's published signing keys, by key id (an adapter fetches and caches them)."""

    def key_for(self, kid: str) -> RSAPublicKey | None:
        """The public key for `kid`, or None when the tenant does not publish it."""


@dataclass(frozen=True)
class TokenRules:
    """What a token must say to be accepted: one issuer, any of the audiences, a leeway for clock skew."""

    issuer: str
    audiences: tuple[str, ...]
    leeway_seconds: int = 60

    @classmethod
    def from_settings(cls, issuer: str, audience: str) -> TokenRules | None:
        """None when sign-in is not configured (then no bearer token is accepted, and nobody can approve)."""
        audiences = tuple(a.strip() for a in audience.split(",") if a.strip())
        if not issuer and not audiences:
            return None
        if not (issuer and audiences):
            raise SettingsError("set both INTERCONNECT_AUTH_ISSUER and INTERCONNECT_AUTH_AUDIENCE, or neither")
        return cls(issuer.rstrip("/"), audiences)


@dataclass(frozen=True)
class Verifier:
    """Turns a request's credentials into a Requester; `rules` None means Entra sign-in is off."""

    rules: TokenRules | None
    keys: SigningKeys | None

    def caller(self, headers: Mapping[str, str], *, key_checked: bool) -> Requester:
        """Who is calling. `headers` are lower-cased; `key_checked` says the host checked a function key.

        Raises
        ------
        AuthenticationError
            A bearer token that fails any check (TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_AUDIENCE, TOKEN_ISSUER,
            TOKEN_NOT_ACCEPTED when sign-in is off), or no credential at all where no key was checked.
        """
        authorization = headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError(
                    "the Authorization header must be 'Bearer <Entra access token>'", code="TOKEN_INVALID"
                )
            return self.verify(token.strip())
        if key_checked:
            return KEY_CALLER
        raise AuthenticationError(
            "sign in: send an Entra access token for this API as 'Authorization: Bearer <token>'",
            code="AUTHENTICATION_REQUIRED",
        )

    def verify(self, token: str) -> Requester:
        if self.rules is None or self.keys is None:
            raise AuthenticationError(
                "this app does not accept Entra tokens: INTERCONNECT_AUTH_ISSUER and "
                "INTERCONNECT_AUTH_AUDIENCE are not set",
                code="TOKEN_NOT_ACCEPTED",
            )
        header = _bounded_segment(token, 0)
        _bounded_segment(token, 1)  # the payload: PyJWT decodes it only after this bound
        if header.get("alg") not in ALGORITHMS:
            raise _invalid("the token must be signed with RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.match(kid):
            raise _invalid("the token names no signing key")
        key = self.keys.key_for(kid)
        if key is None:
            raise _invalid("the token is not signed by a key of the configured tenant")
        # Imported here, not at the top: PyJWT loads `cryptography` (~50 ms), which a request without a
        # bearer token never needs, and the first request of a cold instance is often one.
        import jwt

        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=list(self.rules.audiences),
                issuer=self.rules.issuer,
                leeway=self.rules.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the token has expired: get a new one", code="TOKEN_EXPIRED") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError(
                f"the token is for another audience; ask for one for {self.rules.audiences[0]}", code="TOKEN_AUDIENCE"
            ) from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError(
                "the token was issued by another authority or tenant", code="TOKEN_ISSUER"
            ) from None
        except jwt.ImmatureSignatureError:
            raise _invalid("the token is not valid yet") from None
        except jwt.PyJWTError:
            raise _invalid("the token's signature or claims do not check out") from None
        return requester_from_claims(claims)


def requester_from_claims(claims: Mapping[str, Any]) -> Requester:
    """The caller a verified token describes. Raises AuthenticationError (TOKEN_INVALID) on missing ids."""
    roles = _names(claims.get("roles"))
    app_only = claims.get("idtyp") == "app" or "scp" not in claims
    if app_only:
        app_id = claims.get("azp") or claims.get("appid")
        if not isinstance(app_id, str) or not _GUID.match(app_id):
            raise _invalid("an app-only token must name its application (azp or appid)")
        return Requester("api", f"sp:{app_id.lower()}", f"application {app_id.lower()}", roles=roles)
    oid = claims.get("oid")
    if not isinstance(oid, str) or not _GUID.match(oid):
        raise _invalid("the token carries no object id (oid)")
    display = next(
        (v for v in (claims.get("name"), claims.get("preferred_username")) if isinstance(v, str) and v.strip()), ""
    )
    return Requester(
        "api", oid.lower(), _printable(display), roles=roles, groups=_names(claims.get("groups")), verified_person=True
    )


def _bounded_segment(token: str, index: int) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_BYTES:
        raise _invalid(f"the token is longer than {MAX_TOKEN_BYTES} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid("the token is not a signed JWT (header.payload.signature)")
    try:
        raw = base64.urlsafe_b64decode(parts[index] + "=" * (-len(parts[index]) % 4))
    except (binascii.Error, ValueError):
        raise _invalid("the token is not base64url") from None
    try:
        decoded = boundedjson.loads(raw, max_bytes=MAX_TOKEN_BYTES, what="the token", code="TOKEN_INVALID")
    except ValidationError:
        raise _invalid("the token is not bounded JSON") from None
    if not isinstance(decoded, dict):
        raise _invalid("the token's header and payload must be JSON objects")
    return decoded


def _names(value: Any) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value[:MAX_LIST] if isinstance(v, str) and 0 < len(v) <= MAX_NAME and v.isprintable())


def _printable(value: str) -> str:
    return "".join(ch for ch in value[:MAX_NAME] if ch.isprintable())


def _invalid(message: str) -> AuthenticationError:
    return AuthenticationError(message, code="TOKEN_INVALID")
