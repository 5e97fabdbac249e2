"""The Table store's transport reads the environment once, and reads it as requests would on every call."""

from __future__ import annotations

import pytest

from interconnect.adapters.tables import for_endpoint, pooled_transport

ENDPOINT = "http://127.0.0.1:10002/devstoreaccount1"


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_proxy_named_by_the_environment_is_used_for_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    transport = pooled_transport(4)
    for_endpoint(transport, ENDPOINT)
    assert transport.session is not None
    assert transport.session.proxies.get("http") == "http://proxy.invalid:3128"
    assert transport.session.trust_env is False  # so requests does not scan the environment on every call


def test_no_proxy_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    transport = pooled_transport(4)
    for_endpoint(transport, ENDPOINT)
    assert transport.session is not None
    assert transport.session.proxies == {}


def test_the_environment_s_ca_bundle_verifies_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = pooled_transport(4)
    for_endpoint(transport, ENDPOINT)
    assert transport.connection_config.verify is True
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/corporate.pem")
    transport = pooled_transport(4)
    for_endpoint(transport, ENDPOINT)
    assert transport.connection_config.verify == "/etc/ssl/certs/corporate.pem"
