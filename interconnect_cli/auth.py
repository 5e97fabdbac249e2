"""The credentials the CLI sends: the function key, and a bearer token from Entra or the local cloud's stand-in.

- Function key: `x-functions-key` on every call (the Functions host checks it on function-level routes).
- Entra (`--auth cli|device|managed|default` with `--scope`): a token from azure-identity for the API's scope;
  the app records the person (or the pipeline's managed identity) as the requester, and approve/reject need one.
- Demo identities (`--demo-user alice` with `--identity-url`): `make run`'s identity stand-in mints a token for
  a demo user over HTTP, exactly as `python -m localdev.identity token --user alice` does.

Tokens and keys are never printed nor put in an error message.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from interconnect_cli.config import Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# The made-up tenant of the local cloud's identity stand-in (localdev/identity TENANT; a test holds the two
# equal). Its token endpoint is <identity URL>/<tenant>/oauth2/v2.0/token, Entra's shape.
LOCAL_TENANT = "7e5d1c2a-4b1e-4c3d-9a0f-1ce1dc0c0001"
REFRESH_BEFORE = 300  # seconds before a token expires that a new one is fetched (a long wait outlives one)


class AuthFailed(Exception):
    """No token could be had (exit 7). The message says why and what to try, never a secret."""


class IdentityUnreachable(Exception):
    """The identity provider could not be reached (exit 9)."""


Fetch = Callable[[], tuple[str, float]]  # a fresh token and when it expires (epoch seconds)


@dataclass
class Credentials:
    """The headers for each call; a bearer token is fetched on first use and again shortly before it expires."""

    function_key: str | None = None
    fetch: Fetch | None = None
    now: Callable[[], float] = time.time
    _token: tuple[str, float] | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        headers = {"x-functions-key": self.function_key} if self.function_key else {}
        if self.fetch is not None:
            if self._token is None or self._token[1] - REFRESH_BEFORE <= self.now():
                self._token = self.fetch()
            headers["Authorization"] = f"Bearer {self._token[0]}"
        return headers

    @property
    def signs_in(self) -> bool:
        return self.fetch is not None


def credentials(settings: Settings, http: httpx.Client) -> Credentials:
    if settings.demo_user:
        assert settings.identity_url is not None  # config.checked demands it
        return Credentials(settings.function_key, demo_token(http, settings.identity_url, settings.demo_user))
    if settings.auth != "none":
        assert settings.scope is not None  # config.checked demands it
        return Credentials(settings.function_key, entra_token(entra_credential(settings), settings.scope))
    return Credentials(settings.function_key)


def demo_token(http: httpx.Client, identity_url: str, user: str) -> Fetch:
    """A token the local identity stand-in mints for demo `user` (it answers the tokens' lifetime too)."""

    def fetch() -> tuple[str, float]:
        url = f"{identity_url}/{LOCAL_TENANT}/oauth2/v2.0/token"
        try:
            answer = http.post(url, json={"user": user})
        except httpx.HTTPError as exc:
            raise IdentityUnreachable(f"the identity stand-in at {identity_url} cannot be reached: {exc}") from None
        body: Any = _json(answer)
        if answer.status_code == 400 and isinstance(body, dict) and body.get("error") == "unknown_user":
            raise AuthFailed(f"no demo user {user!r}; the stand-in knows {', '.join(body.get('users', []))}")
        if answer.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise AuthFailed(
                f"the identity stand-in at {identity_url} did not issue a token (HTTP {answer.status_code}); "
                "is it the URL `make run` printed?"
            )
        lifetime = body.get("expires_in")
        expires = time.time() + (float(lifetime) if isinstance(lifetime, int | float) else 3600.0)
        return str(body["access_token"]), expires

    return fetch


def entra_credential(settings: Settings) -> TokenCredential:
    """The azure-identity credential `--auth` names (imported here: the key and demo paths never load it)."""
    from azure.identity import (
        AzureCliCredential,
        DefaultAzureCredential,
        DeviceCodeCredential,
        ManagedIdentityCredential,
    )

    # azure-identity also logs each failure as a warning, which Python's last-resort handler would print to stderr
    # ahead of our own message carrying the same text; a handler of our own on the "azure" logger keeps it quiet.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    tenant, client = settings.tenant_id, settings.client_id
    if settings.auth == "cli":
        return AzureCliCredential(tenant_id=tenant or "")
    if settings.auth == "device":
        # The prompt goes to stderr: stdout carries only the answer (pure JSON with --output json).
        kwargs: dict[str, Any] = {"prompt_callback": _device_prompt}
        if tenant:
            kwargs["tenant_id"] = tenant
        if client:
            kwargs["client_id"] = client
        return DeviceCodeCredential(**kwargs)
    if settings.auth == "managed":
        return ManagedIdentityCredential(client_id=client) if client else ManagedIdentityCredential()
    # The chain reads AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE... itself; --tenant-id and
    # --client-id name the tenant and the user-assigned identity where it takes them as arguments.
    kwargs = {"managed_identity_client_id": client} if client else {}
    if tenant:
        kwargs |= {"workload_identity_tenant_id": tenant, "shared_cache_tenant_id": tenant}
    return DefaultAzureCredential(**kwargs)


def entra_token(credential: TokenCredential, scope: str) -> Fetch:
    def fetch() -> tuple[str, float]:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            token = credential.get_token(scope)
        except ClientAuthenticationError as exc:  # CredentialUnavailableError is one too
            # azure-identity's messages say which source failed and how to fix it (e.g. "run az login").
            raise AuthFailed(f"no Entra token for {scope}: {_first_lines(str(exc.message or exc))}") from None
        return token.token, float(token.expires_on)

    return fetch


def _device_prompt(verification_uri: str, user_code: str, expires_on: datetime) -> None:
    print(
        f"To sign in, open {verification_uri} and enter the code {user_code} (valid until {expires_on:%H:%M}).",
        file=sys.stderr,
        flush=True,
    )


def _first_lines(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[:lines])


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
