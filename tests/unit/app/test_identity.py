"""Only a token the tenant signed, for this API, still valid, naming an object id, makes a caller someone."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.adapters.signing_keys import OpenIdSigningKeys
from interconnect.app.identity import KEY_CALLER, TokenRules, Verifier
from interconnect.errors import AuthenticationError, DependencyError, SettingsError

ISSUER = "https://login.example/tenant-1/v2.0"
AUDIENCE = "3c1a6e0d-9b2f-4e51-8d7a-1ce1dc0c00a9"
OID = "A11CE000-0000-4000-8000-00000000A11C"
APP = "5e21ce00-0000-4000-8000-0000005e21ce"
TENANT_KEY = rsa.generate_private_key(65537, 2048)
OTHER_KEY = rsa.generate_private_key(65537, 2048)


class Keys:
    """The tenant publishes one key, `k1`."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def key_for(self, kid: str) -> Any | None:
        self.asked.append(kid)
        return TENANT_KEY.public_key() if kid == "k1" else None


def verifier() -> Verifier:
    return Verifier(TokenRules.from_settings(ISSUER, f"{AUDIENCE},api://interconnect"), Keys())


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "oid": OID,
        "name": "Alice Requester",
        "preferred_username": "alice@contoso.example",
        "scp": "Links.Access",
        "roles": ["Links.Request"],
        "groups": ["g-ops"],
        "tid": "tenant-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(body: dict[str, Any], key: Any = TENANT_KEY, kid: str = "k1", alg: str = "RS256") -> str:
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def refused(token: str) -> str:
    with pytest.raises(AuthenticationError) as err:
        verifier().caller({"authorization": f"Bearer {token}"}, key_checked=True)
    return err.value.code


def test_a_valid_person_token_names_the_object_id_with_display_roles_and_groups() -> None:
    caller = verifier().caller({"authorization": f"Bearer {sign(claims())}"}, key_checked=True)
    assert str(caller) == f"api:{OID.lower()}" and caller.display == "Alice Requester"
    assert caller.verified_person and caller.roles == {"Links.Request"} and caller.groups == {"g-ops"}


def test_the_application_id_uri_is_an_accepted_audience_too() -> None:
    assert verifier().verify(sign(claims(aud="api://interconnect"))).verified_person


def test_an_app_only_token_is_a_service_principal_never_a_person() -> None:
    caller = verifier().verify(
        sign(claims(scp=None, idtyp="app", azp=APP, oid=APP, name=None, roles=["Links.Request"]))
    )
    assert str(caller) == f"api:sp:{APP}" and not caller.verified_person and caller.roles == {"Links.Request"}
    # A v1 app token says `appid` and has no idtyp: no delegated scope makes it an app all the same.
    v1 = verifier().verify(sign(claims(scp=None, appid=APP, name=None)))
    assert str(v1) == f"api:sp:{APP}" and not v1.verified_person


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (sign(claims(), kid="k9"), "TOKEN_INVALID"),  # a key the tenant does not publish
        (sign(claims(), key=OTHER_KEY), "TOKEN_INVALID"),  # the tenant's key id, someone else's key
        (sign(claims(exp=int(time.time()) - 600)), "TOKEN_EXPIRED"),
        (sign(claims(aud="api://someone-else")), "TOKEN_AUDIENCE"),
        (sign(claims(iss="https://login.example/tenant-2/v2.0")), "TOKEN_ISSUER"),
        (sign(claims(nbf=int(time.time()) + 3600)), "TOKEN_INVALID"),
        (sign(claims(oid=None)), "TOKEN_INVALID"),
        (sign(claims(oid="not-a-guid")), "TOKEN_INVALID"),
        (sign(claims(exp=None)), "TOKEN_INVALID"),
        (sign(claims(scp=None, azp=None)), "TOKEN_INVALID"),  # an app token naming no application
    ],
)
def test_tokens_the_app_must_refuse(token: str, code: str) -> None:
    assert refused(token) == code


def test_alg_none_is_refused_before_any_key_is_looked_up() -> None:
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"})
    keys = Keys()
    with pytest.raises(AuthenticationError) as err:
        Verifier(TokenRules.from_settings(ISSUER, AUDIENCE), keys).verify(unsigned)
    assert err.value.code == "TOKEN_INVALID" and keys.asked == []


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    pem = TENANT_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    import hmac
    from hashlib import sha256

    signature = base64.urlsafe_b64encode(hmac.new(pem, header + b"." + payload, sha256).digest()).rstrip(b"=")
    assert refused((header + b"." + payload + b"." + signature).decode()) == "TOKEN_INVALID"


def test_a_deeply_nested_or_oversized_token_is_refused_not_crashed_on() -> None:
    nested = claims(extra=json.loads("[" * 30 + "]" * 30))
    deep = base64.urlsafe_b64encode(json.dumps(nested).replace("[]", "[" * 2000 + "]" * 2000).encode())
    assert refused("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0." + deep.decode().rstrip("=") + ".c2ln") == "TOKEN_INVALID"
    assert refused(sign(claims(pad="x" * 20_000))) == "TOKEN_INVALID"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.builds(lambda a, b, c: f"{a}.{b}.{c}", st.text(), st.text(), st.text()))
def test_any_garbage_after_bearer_is_a_401_and_never_anything_else(garbage: str) -> None:
    with pytest.raises(AuthenticationError):
        verifier().caller({"authorization": f"Bearer {garbage}x"}, key_checked=True)


def test_principal_headers_a_client_sends_are_never_an_identity() -> None:
    forged = base64.b64encode(json.dumps({"userId": OID, "userDetails": "mallory@contoso.example"}).encode())
    headers = {
        "x-ms-client-principal-id": OID,
        "x-ms-client-principal-name": "mallory@contoso.example",
        "x-ms-client-principal": forged.decode(),
    }
    assert verifier().caller(headers, key_checked=True) == KEY_CALLER
    with pytest.raises(AuthenticationError) as err:
        verifier().caller(headers, key_checked=False)  # an anonymous route: no key was checked either
    assert err.value.code == "AUTHENTICATION_REQUIRED"


@pytest.mark.parametrize("authorization", ["Basic YWxpY2U6cHc=", "Bearer", "Bearer   ", sign(claims())])
def test_an_authorization_header_that_is_not_a_bearer_token_is_refused(authorization: str) -> None:
    with pytest.raises(AuthenticationError) as err:
        verifier().caller({"authorization": authorization}, key_checked=True)
    assert err.value.code == "TOKEN_INVALID"


def test_with_sign_in_off_tokens_are_refused_and_keys_still_work() -> None:
    off = Verifier(TokenRules.from_settings("", ""), None)
    with pytest.raises(AuthenticationError) as err:
        off.caller({"authorization": f"Bearer {sign(claims())}"}, key_checked=True)
    assert err.value.code == "TOKEN_NOT_ACCEPTED"
    assert off.caller({}, key_checked=True) == KEY_CALLER
    with pytest.raises(SettingsError):
        TokenRules.from_settings(ISSUER, "")


# The key cache: the adapter's refresh policy, over a fetch that counts its calls.


def jwks(*keys: tuple[str, Any]) -> dict[str, Any]:
    return {
        "keys": [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())), "kid": kid, "use": "sig"}
            for kid, k in keys
        ]
    }


class Tenant:
    def __init__(self) -> None:
        self.published = jwks(("k1", TENANT_KEY))
        self.fetches = 0
        self.down = False

    def fetch(self, url: str) -> dict[str, Any]:
        if self.down:
            raise DependencyError("down", code="SIGNING_KEYS_UNAVAILABLE")
        if url.endswith("/.well-known/openid-configuration"):
            return {"jwks_uri": "https://login.example/tenant-1/discovery/v2.0/keys"}
        self.fetches += 1
        return self.published


def test_keys_are_cached_and_an_unknown_kid_refreshes_at_most_once_a_minute() -> None:
    tenant, now = Tenant(), [0.0]
    keys = OpenIdSigningKeys(ISSUER, clock=lambda: now[0], fetch=tenant.fetch)
    assert keys.key_for("k1") is not None and tenant.fetches == 1
    for _ in range(50):
        assert keys.key_for("invented") is None
    assert tenant.fetches == 1  # fetched within the last minute: invented ids cost nothing
    tenant.published = jwks(("k1", TENANT_KEY), ("k2", OTHER_KEY))  # the tenant rolls a new key in
    now[0] = 61
    assert keys.key_for("k2") is not None and tenant.fetches == 2
    now[0] = 61 + 3600
    tenant.down = True
    assert keys.key_for("k1") is not None  # an outage keeps the keys we have
    tenant.down, now[0] = False, 61 + 3600 + 30
    assert keys.key_for("k1") is not None and tenant.fetches == 2  # the failed refresh counted as one


def test_no_keys_at_all_is_a_dependency_error_not_an_open_door() -> None:
    tenant = Tenant()
    tenant.down = True
    keys = OpenIdSigningKeys(ISSUER, fetch=tenant.fetch)
    with pytest.raises(DependencyError) as err:
        keys.key_for("k1")
    assert err.value.code == "SIGNING_KEYS_UNAVAILABLE"


def test_a_401_for_a_token_tells_the_client_to_get_a_new_one() -> None:
    from interconnect.app.http import error_response

    missing = error_response(AuthenticationError("sign in", code="AUTHENTICATION_REQUIRED"))
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    expired = error_response(AuthenticationError("expired", code="TOKEN_EXPIRED"))
    assert expired.status_code == 401 and expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert json.loads(expired.get_body())["error"]["code"] == "TOKEN_EXPIRED"
