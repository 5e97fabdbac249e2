"""The tenant's token signing keys, fetched from its OpenID metadata and cached.

Entra publishes `<issuer>/.well-known/openid-configuration`, whose `jwks_uri` lists the current public keys;
it rolls them every few weeks and announces a new key before signing with it. So keys are cached, refreshed
every `max_age`, and refreshed early when a token names an unknown key id, but at most once per `min_refresh`:
a stream of tokens with invented key ids cannot turn the app into a client hammering the metadata endpoint.
Plain stdlib HTTP (as notifier.py): two small GETs, and no Azure SDK does this.

The same metadata names the tenant's authorization and token endpoints, which the web console's sign-in needs
(`endpoints()`, kept for `max_age` like the keys, and kept through a passing outage once read).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from interconnect import boundedjson
from interconnect.console.signin import SignInEndpoints
from interconnect.errors import DependencyError, ValidationError

log = logging.getLogger("interconnect.identity")

TIMEOUT = 10
MAX_DOCUMENT = 1_000_000


def metadata_url(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


def _allowed(url: str) -> bool:
    # https in Azure; plain http only to the local cloud's identity stand-in on loopback.
    parsed = urllib.parse.urlparse(url)
    return parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost"))


def _get_json(url: str) -> dict[str, Any]:
    if not _allowed(url):
        raise DependencyError("signing keys must be fetched over https", code="SIGNING_KEYS_UNAVAILABLE")
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=TIMEOUT
        ) as response:
            raw = response.read(MAX_DOCUMENT + 1)
        document = boundedjson.loads(raw, max_bytes=MAX_DOCUMENT, what="the OpenID document")
    except (urllib.error.URLError, OSError, ValidationError) as exc:
        raise DependencyError(
            f"the tenant's signing keys cannot be read from {url}: {type(exc).__name__}",
            code="SIGNING_KEYS_UNAVAILABLE",
        ) from exc
    if not isinstance(document, dict):
        raise DependencyError(f"{url} did not answer a JSON object", code="SIGNING_KEYS_UNAVAILABLE")
    return document


def _endpoint(metadata: dict[str, Any], name: str) -> str:
    value = metadata.get(name)
    usable = isinstance(value, str) and len(value) <= 2048 and value.isprintable() and _allowed(value)
    if not (usable and urllib.parse.urlparse(str(value)).hostname):
        raise DependencyError(f"the OpenID metadata names no usable {name}", code="SIGN_IN_UNAVAILABLE")
    return str(value)


class OpenIdSigningKeys:
    """`SigningKeys` over a tenant's OpenID metadata. Thread-safe: the host runs HTTP functions on threads."""

    def __init__(
        self,
        issuer: str,
        *,
        max_age: float = 3600,
        min_refresh: float = 60,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str], dict[str, Any]] = _get_json,
    ) -> None:
        self.issuer = issuer
        self.max_age, self.min_refresh, self.clock, self.fetch = max_age, min_refresh, clock, fetch
        self._keys: dict[str, RSAPublicKey] = {}  # RS256 only: the RSA keys the tenant publishes
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self._endpoints: tuple[float, SignInEndpoints] | None = None

    def endpoints(self) -> SignInEndpoints:
        """The tenant's authorization and token endpoints. Raises DependencyError (SIGN_IN_UNAVAILABLE) when the
        metadata cannot be read, or names no http(s) endpoint this app may send people to, and none is kept."""
        with self._lock:
            now = self.clock()
            kept = self._endpoints
            if kept is not None and now - kept[0] < self.max_age:
                return kept[1]
            try:
                metadata = self.fetch(metadata_url(self.issuer))
                found = SignInEndpoints(
                    _endpoint(metadata, "authorization_endpoint"), _endpoint(metadata, "token_endpoint")
                )
            except DependencyError as exc:
                if kept is not None:  # a passing outage must not stop sign-in that worked a moment ago
                    log.warning("sign-in endpoints not refreshed: %s", exc.code)
                    self._endpoints = (now, kept[1])
                    return kept[1]
                raise DependencyError(
                    f"the tenant's sign-in endpoints cannot be read: {exc.message}", code="SIGN_IN_UNAVAILABLE"
                ) from exc
            self._endpoints = (now, found)
            return found

    def key_for(self, kid: str) -> RSAPublicKey | None:
        with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.max_age
            may_refresh = self._fetched_at is None or now - self._fetched_at >= self.min_refresh
            if stale or (kid not in self._keys and may_refresh):
                self._refresh(now)
            return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        import jwt  # here, not at the top: only a bearer token needs it (and `cryptography` under it)

        try:
            jwks_uri = self.fetch(metadata_url(self.issuer)).get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise DependencyError("the OpenID metadata names no jwks_uri", code="SIGNING_KEYS_UNAVAILABLE")
            keys = jwt.PyJWKSet.from_dict(self.fetch(jwks_uri)).keys
        except (DependencyError, jwt.PyJWTError) as exc:
            if self._keys:  # keep serving the keys we have; a passing outage must not lock everyone out
                log.warning("signing keys not refreshed: %s", getattr(exc, "code", type(exc).__name__))
                self._fetched_at = now
                return
            if isinstance(exc, DependencyError):
                raise
            raise DependencyError(
                "the tenant publishes no usable signing key", code="SIGNING_KEYS_UNAVAILABLE"
            ) from exc
        self._keys = {k.key_id: k.key for k in keys if k.key_id and k.key_type == "RSA"}
        self._fetched_at = now
