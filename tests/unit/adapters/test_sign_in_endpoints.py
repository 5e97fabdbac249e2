"""The tenant's sign-in endpoints, read from its OpenID metadata by the signing-keys adapter: cached like the
keys, kept through a passing outage, and refused when they are not URLs the app may send people to."""

from __future__ import annotations

from typing import Any

import pytest

from interconnect.adapters.signing_keys import OpenIdSigningKeys
from interconnect.console.signin import SignInEndpoints
from interconnect.errors import DependencyError

ISSUER = "https://login.example/tenant-1/v2.0"
GOOD = {
    "authorization_endpoint": "https://login.example/tenant-1/oauth2/v2.0/authorize",
    "token_endpoint": "https://login.example/tenant-1/oauth2/v2.0/token",
}


class Tenant:
    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata: dict[str, Any] | None = metadata
        self.fetches = 0

    def fetch(self, url: str) -> dict[str, Any]:
        assert url == f"{ISSUER}/.well-known/openid-configuration"
        self.fetches += 1
        if self.metadata is None:
            raise DependencyError("down", code="SIGNING_KEYS_UNAVAILABLE")
        return self.metadata


def test_endpoints_are_read_once_and_kept_through_an_outage() -> None:
    tenant, now = Tenant(dict(GOOD)), [0.0]
    adapter = OpenIdSigningKeys(ISSUER, clock=lambda: now[0], fetch=tenant.fetch)
    expected = SignInEndpoints(GOOD["authorization_endpoint"], GOOD["token_endpoint"])
    assert adapter.endpoints() == expected and adapter.endpoints() == expected and tenant.fetches == 1
    now[0] = 4000  # past max_age: read again; the tenant is down, so what was read stands
    tenant.metadata = None
    assert adapter.endpoints() == expected and tenant.fetches == 2


def test_no_endpoints_ever_read_is_sign_in_unavailable() -> None:
    tenant = Tenant({})
    tenant.metadata = None
    with pytest.raises(DependencyError) as caught:
        OpenIdSigningKeys(ISSUER, fetch=tenant.fetch).endpoints()
    assert caught.value.code == "SIGN_IN_UNAVAILABLE"


@pytest.mark.parametrize(
    "authorize",
    [
        None,
        42,
        "http://login.example/authorize",
        "javascript:alert(1)",
        "https://",
        "https://a/\nx",
        "https://a/" + "x" * 3000,
    ],
)
def test_an_endpoint_the_app_may_not_send_people_to_is_refused(authorize: Any) -> None:
    with pytest.raises(DependencyError) as caught:
        OpenIdSigningKeys(ISSUER, fetch=Tenant({**GOOD, "authorization_endpoint": authorize}).fetch).endpoints()
    assert caught.value.code == "SIGN_IN_UNAVAILABLE"


def test_loopback_http_is_the_local_stand_in_and_allowed() -> None:
    local = {
        "authorization_endpoint": "http://127.0.0.1:9000/t/authorize",
        "token_endpoint": "http://localhost:9000/t/token",
    }
    assert OpenIdSigningKeys(ISSUER, fetch=Tenant(local).fetch).endpoints().token == local["token_endpoint"]
