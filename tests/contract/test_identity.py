"""Contract tests: the identity stand-in speaks Entra's shapes, and the app's key adapter follows a key rollover.

The adapter (interconnect/adapters/signing_keys.py) is driven over real HTTP against the stand-in, as it is
driven against Entra in Azure: OpenID metadata, then `jwks_uri`. A restarted stand-in has a new key, which is
what a tenant's key rollover looks like to the app.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from interconnect.adapters.signing_keys import OpenIdSigningKeys, metadata_url
from interconnect.app.identity import TokenRules, Verifier
from interconnect.errors import AuthenticationError
from localdev import identity
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
