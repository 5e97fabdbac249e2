"""How the console signs people in, and the headers its pages carry.

Sign-in is OAuth 2.0 authorization code with PKCE against the tenant (Entra; the identity stand-in locally). The
browser needs the tenant's authorization and token endpoints (from its OpenID metadata, read by an adapter
behind `SignInMetadata`), the console's app registration (INTERCONNECT_CONSOLE_CLIENT_ID) and the scope of this
API. Its token request goes from the page to the token endpoint, so that origin, and only it, joins `'self'` in
the Content-Security-Policy's connect-src.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True)
class SignInEndpoints:
    """The tenant's OAuth 2.0 endpoints, as its OpenID metadata names them."""

    authorization: str
    token: str


class SignInMetadata(Protocol):
    """The tenant's OpenID metadata (an adapter fetches and caches it)."""

    def endpoints(self) -> SignInEndpoints:
        """Raises DependencyError (SIGN_IN_UNAVAILABLE) when the metadata cannot be read or names no endpoint."""


@dataclass(frozen=True)
class SignIn:
    """What the page needs to sign a person in."""

    endpoints: SignInEndpoints
    client_id: str
    scope: str

    def view(self) -> dict[str, Any]:
        return {
            "signIn": {
                "authorizationEndpoint": self.endpoints.authorization,
                "tokenEndpoint": self.endpoints.token,
                "clientId": self.client_id,
                "scope": self.scope,
            }
        }


def scope_for(audiences: tuple[str, ...]) -> str:
    """The scope a browser asks a token for: this API's first audience (its client id or Application ID URI)
    with `/.default`, so the token carries the app roles the API checks."""
    return f"{audiences[0].rstrip('/')}/.default"


def origin(url: str) -> str:
    """`scheme://host[:port]` of an absolute http(s) URL. Raises ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def content_security_policy(token_endpoint: str | None) -> str:
    """The console's CSP: its own scripts and styles only (no inline code, no eval), images of its own or made
    in the page, calls to itself and the token endpoint's origin (None: sign-in unknown, itself only), no forms,
    no base URL, never framed."""
    connect = "'self'" if token_endpoint is None else f"'self' {origin(token_endpoint)}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        f"connect-src {connect}; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


def page_headers(token_endpoint: str | None) -> dict[str, str]:
    """The headers of the page and its assets."""
    return {
        "Content-Security-Policy": content_security_policy(token_endpoint),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }


# What every signed-in answer carries: what a person may see is never kept by a shared cache or the browser's.
DATA_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
