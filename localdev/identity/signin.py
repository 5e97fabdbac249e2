"""Browser sign-in on the Entra stand-in: the OAuth 2.0 authorization code flow with PKCE (RFC 6749 section 4.1,
RFC 7636), as Entra's v2 endpoints run it for a single-page application.

The console (interconnect/console) sends the browser to `/<tenant>/oauth2/v2.0/authorize` with its client id, its
own URL as `redirect_uri`, a `state`, an S256 `code_challenge` and `response_mode=fragment`. The stand-in checks
every parameter, then shows a page with one button per demo user (there is no password: anyone who can reach the
stand-in may be anyone, which is why it listens on 127.0.0.1 only). Pressing one issues a one-time code bound to
the client, the redirect URI and the challenge, and sends the browser to `<redirect_uri>#code=...&state=...`.
The console then redeems the code at the token endpoint with its `code_verifier` and gets the same access token
the JSON minting path gives that user.

What is registered: one public client (the API's own registration, which also carries the console's SPA redirect
URIs; see `localdev/identity.CONSOLE_CLIENT_ID`), whose redirect URIs are `http://127.0.0.1:<any port>/api/console`
and `http://localhost:<any port>/api/console` (loopback, any port, as RFC 8252 section 7.3 lets a local client
pick its port). Errors follow RFC 6749 section 4.1.2.1: a bad client or redirect URI is shown on the page and
never redirected to (an open redirector otherwise); any other error goes back to the console as
`#error=...&error_description=...&state=...`.

Not implemented, on purpose: refresh tokens (the console signs in again when its token expires), id tokens (the
console asks the API who the caller is), `response_mode=query` (the Functions host would read `?code=` as a
function key) and `form_post`, and `plain` PKCE.

Everything here is pure but for a clock; tests drive it in-process with a fake one, and over HTTP through the
stand-in (tests/contract/test_identity.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

CONSOLE_PATH = "/api/console"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
OPENID_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})  # MSAL adds these to every ask
CODE_SECONDS = 120.0  # redeemed by script right after the redirect; RFC 6749 section 4.1.2 says at most 10 min
FLOW_SECONDS = 600.0  # how long the sign-in page's buttons stay good
MAX_PENDING = 1000  # flows or codes held at once: a stuck client cannot grow the stand-in's memory without bound
MAX_FORM = 16384  # bytes of a form body; the largest legitimate one is well under 2 KB

# RFC 6749 Appendix A: state and nonce are VSCHAR (printable ASCII); a scope token excludes space, " and \.
_VSCHAR = re.compile(r"[\x20-\x7e]{1,512}")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")
# RFC 7636 section 4.2: an S256 challenge is BASE64URL(SHA256(verifier)) without padding, always 43 characters;
# section 4.1: a verifier is 43-128 unreserved characters.
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_FLOW_ID = re.compile(r"[A-Za-z0-9_-]{20,64}")
_PROMPTS = frozenset({"login", "select_account", "consent", "none"})


class ShownError(Exception):
    """A sign-in error shown on the stand-in's page: the client or redirect URI cannot be trusted with it."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description = error, description


class RedirectedError(Exception):
    """A sign-in error for the client, sent to its (checked) redirect URI as RFC 6749 section 4.1.2.1 says."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description = error, description
        self.location = fragment_location(
            redirect_uri, {"error": error, "error_description": description, "state": state}
        )


class TokenError(Exception):
    """A refused token request (RFC 6749 section 5.2): `error` is the standard code the client branches on."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True)
class Registration:
    """The one client the stand-in knows, and the scopes of the API it may ask for."""

    client_id: str
    resource_scopes: frozenset[str]  # e.g. "<client id>/.default", "api://interconnect-local/Links.Access"


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request: what a code will be bound to."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    code_challenge: str

    @property
    def granted_scope(self) -> str:
        """The scope the access token is for: the API's, without the OpenID ones (no id or refresh token)."""
        return " ".join(s for s in self.scopes if s not in OPENID_SCOPES)


@dataclass(frozen=True)
class Grant:
    """An issued, not yet redeemed code: for whom, and the request it answers."""

    user: str
    request: AuthorizationRequest
    expires: float


def loopback_origin(value: str) -> str | None:
    """`http://127.0.0.1:<port>` (or localhost) when `value` is exactly such an origin or a URL on it, else None.

    Exact means canonical: the URL rebuilt from its parsed parts must be the URL given, so upper-case hosts,
    user info, default or zero-padded ports and other spellings a browser might normalise differently are refused.
    """
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or port is None or not 0 < port < 65536:
        return None
    origin = f"http://{parts.hostname}:{port}"
    return origin if value.startswith(origin) and parts.netloc == f"{parts.hostname}:{port}" else None


def console_redirect_uri(value: str) -> bool:
    """A redirect URI the console's registration lists: `http://127.0.0.1:<port>/api/console` (or localhost)."""
    origin = loopback_origin(value)
    return origin is not None and value == f"{origin}{CONSOLE_PATH}"


def fragment_location(redirect_uri: str, fields: Mapping[str, str | None]) -> str:
    """`<redirect_uri>#name=value&...`, values form-encoded, absent ones left out."""
    return f"{redirect_uri}#{urllib.parse.urlencode({k: v for k, v in fields.items() if v is not None})}"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


def single_values(pairs: Iterable[tuple[str, str]], where: str) -> dict[str, str]:
    """Parameters by name; one given twice is refused (RFC 6749 section 3.1: MUST NOT be included more than once)."""
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise ValueError(f"{name} is given more than once in the {where}")
        values[name] = value
    return values


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """The name/value pairs of a query string or form body (urllib's parser, bounded)."""
    return urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=64)


class SignIn:
    """Authorization requests, the sign-in pages' flows and the codes issued, for one registration.

    Thread-safe (the stand-in serves each request on a thread of its own). `clock` is monotonic seconds.
    """

    def __init__(self, registration: Registration, clock: Callable[[], float] = time.monotonic) -> None:
        self.registration = registration
        self._clock = clock
        self._lock = threading.Lock()
        self._flows: dict[str, tuple[AuthorizationRequest, float]] = {}
        self._codes: dict[str, Grant] = {}

    # --- the authorization endpoint -----------------------------------------------------------------------------

    def check(self, query: str) -> AuthorizationRequest:
        """The authorization request in `query`, checked. Raises ShownError or RedirectedError."""
        try:
            ask = single_values(parse_pairs(query), "query")
        except ValueError as exc:  # which parameter came twice cannot be trusted either: shown, not redirected
            raise ShownError("invalid_request", str(exc)) from None
        client_id = ask.get("client_id", "")
        if not client_id:
            raise ShownError("invalid_request", "client_id is missing: the console sends its app registration's id")
        if client_id != self.registration.client_id:
            raise ShownError(
                "unauthorized_client",
                f"no application {client_id[:80]!r} is registered in this tenant; the console's client id is "
                f"{self.registration.client_id} (INTERCONNECT_CONSOLE_CLIENT_ID)",
            )
        redirect_uri = ask.get("redirect_uri", "")
        if not console_redirect_uri(redirect_uri):
            raise ShownError(
                "invalid_request",
                f"redirect_uri {redirect_uri[:200]!r} is not registered for this application: it must be "
                f"http://127.0.0.1:<port>{CONSOLE_PATH} or http://localhost:<port>{CONSOLE_PATH}, exactly",
            )
        state = ask.get("state")
        good_state = state if state is not None and _VSCHAR.fullmatch(state) else None

        def refuse(error: str, description: str) -> RedirectedError:
            return RedirectedError(redirect_uri, good_state, error, description)

        if good_state is None:
            raise refuse("invalid_request", "state is missing or not 1-512 printable ASCII characters")
        response_type = ask.get("response_type")
        if response_type != "code":
            raise refuse(
                "invalid_request" if response_type is None else "unsupported_response_type",
                "response_type must be code (the authorization code flow)",
            )
        if ask.get("response_mode") != "fragment":
            raise refuse(
                "invalid_request",
                "response_mode must be fragment: a code in the query would reach the server (the Functions host "
                "reads ?code= as a function key) and its logs",
            )
        if ask.get("code_challenge_method") != "S256":
            raise refuse("invalid_request", "PKCE is required: code_challenge_method must be S256")
        challenge = ask.get("code_challenge", "")
        if not _S256_CHALLENGE.fullmatch(challenge):
            raise refuse("invalid_request", "code_challenge must be BASE64URL(SHA256(code_verifier)), 43 characters")
        scopes = self._scopes(ask.get("scope"), refuse)
        nonce = ask.get("nonce")
        if nonce is not None and not _VSCHAR.fullmatch(nonce):
            raise refuse("invalid_request", "nonce must be 1-512 printable ASCII characters")
        prompt = ask.get("prompt")
        if prompt is not None and prompt not in _PROMPTS:
            raise refuse("invalid_request", f"prompt must be one of {', '.join(sorted(_PROMPTS))}")
        if prompt == "none":  # the stand-in keeps no session, so a silent sign-in always needs the page
            raise refuse("login_required", "no one is signed in; sign in with the page (omit prompt=none)")
        # Other parameters (login_hint, client_info, x-client-*) are ignored, as RFC 6749 section 3.1 requires.
        return AuthorizationRequest(client_id, redirect_uri, scopes, good_state, challenge)

    def _scopes(self, scope: str | None, refuse: Callable[[str, str], RedirectedError]) -> tuple[str, ...]:
        if not scope or not scope.strip():
            raise refuse("invalid_request", "scope is missing: ask for this API's scope")
        scopes = tuple(dict.fromkeys(scope.split()))
        if any(not _SCOPE_TOKEN.fullmatch(s) for s in scopes):
            raise refuse("invalid_scope", "scope holds characters a scope token may not")
        known = self.registration.resource_scopes
        unknown = [s for s in scopes if s not in known and s not in OPENID_SCOPES]
        if unknown or not any(s in known for s in scopes):
            raise refuse(
                "invalid_scope",
                f"ask for exactly this API's scopes ({', '.join(sorted(known))}) plus any of "
                f"{', '.join(sorted(OPENID_SCOPES))}; unknown: {', '.join(unknown)[:200] or 'none'}",
            )
        return scopes

    def begin(self, request: AuthorizationRequest) -> str:
        """A flow id for the sign-in page's form: the checked request waits server-side, never in the page."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            if len(self._flows) >= MAX_PENDING:
                raise RedirectedError(
                    request.redirect_uri, request.state, "temporarily_unavailable", "too many sign-ins in progress"
                )
            flow = secrets.token_urlsafe(24)
            self._flows[flow] = (request, now + FLOW_SECONDS)
            return flow

    def finish(self, form: str, known_users: Iterable[str]) -> str:
        """The page's form posted: the `Location` to send the browser to (a code, or access_denied on cancel).

        Raises ShownError when the flow is unknown, used or expired, or the user is not a demo user.
        """
        try:
            fields = single_values(parse_pairs(form), "form")
        except ValueError as exc:
            raise ShownError("invalid_request", str(exc)) from None
        flow = fields.get("flow", "")
        with self._lock:
            now = self._clock()
            self._prune(now)
            pending = self._flows.pop(flow, None) if _FLOW_ID.fullmatch(flow) else None
            if pending is None:
                raise ShownError(
                    "invalid_request",
                    "this sign-in page has expired or was already used; start again from the console",
                )
            request, _ = pending
            if "cancel" in fields:  # what Entra answers when the person declines
                cancelled = {"error": "access_denied", "error_description": "the sign-in was cancelled"}
                return fragment_location(request.redirect_uri, {**cancelled, "state": request.state})
            user = fields.get("user", "")
            if user not in set(known_users):
                self._flows[flow] = pending  # a mistyped post may try again with the same page
                raise ShownError("invalid_request", f"no demo user {user[:40]!r}; press one of the page's buttons")
            if len(self._codes) >= MAX_PENDING:
                raise RedirectedError(
                    request.redirect_uri, request.state, "temporarily_unavailable", "too many codes outstanding"
                )
            code = secrets.token_urlsafe(32)
            self._codes[code] = Grant(user, request, now + CODE_SECONDS)
        return fragment_location(request.redirect_uri, {"code": code, "state": request.state})

    # --- the token endpoint ---------------------------------------------------------------------------------------

    def redeem(self, form: str) -> Grant:
        """The grant behind a form-encoded `grant_type=authorization_code` request. Raises TokenError.

        The code is spent by any redemption that names it, even a failed one (RFC 6749 section 4.1.2: used once),
        so a stolen code raced against the console is worth one guess at a verifier nobody can guess.
        """
        try:
            fields = single_values(parse_pairs(form), "form")
        except ValueError as exc:
            raise TokenError("invalid_request", str(exc)) from None
        grant_type = fields.get("grant_type")
        if grant_type != "authorization_code":
            raise TokenError(
                "invalid_request" if grant_type is None else "unsupported_grant_type",
                'grant_type must be authorization_code (or post JSON {"user": ...} to mint a demo token)',
            )
        for name in ("client_id", "code", "redirect_uri", "code_verifier"):
            if not fields.get(name):
                raise TokenError("invalid_request", f"{name} is missing")
        if fields["client_id"] != self.registration.client_id:
            raise TokenError("invalid_client", f"no application {fields['client_id'][:80]!r} in this tenant", 401)
        if not _VERIFIER.fullmatch(fields["code_verifier"]):
            raise TokenError("invalid_request", "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~")
        with self._lock:
            grant = self._codes.pop(fields["code"], None)
        if grant is None or grant.expires <= self._clock():
            raise TokenError("invalid_grant", "the authorization code is unknown, expired or already redeemed")
        if grant.request.client_id != fields["client_id"]:
            raise TokenError("invalid_grant", "the authorization code was issued to another application")
        if grant.request.redirect_uri != fields["redirect_uri"]:
            raise TokenError("invalid_grant", "redirect_uri is not the one the code was issued for")
        if not hmac.compare_digest(s256(fields["code_verifier"]), grant.request.code_challenge):
            raise TokenError("invalid_grant", "code_verifier does not match the code_challenge (PKCE)")
        asked = fields.get("scope")
        if asked is not None and not set(asked.split()) <= set(grant.request.scopes):
            raise TokenError("invalid_scope", "scope asks for more than the code was issued for")
        return grant

    def _prune(self, now: float) -> None:
        for flow in [f for f, (_, expires) in self._flows.items() if expires <= now]:
            del self._flows[flow]
        for code in [c for c, grant in self._codes.items() if grant.expires <= now]:
            del self._codes[code]


# --- the sign-in page -------------------------------------------------------------------------------------------

# Styles live in one <style> element allowed by its hash: the page's CSP allows no inline style otherwise, and no
# script at all. Plain system colours (black on white) and large targets for a phone.
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;padding:1rem;color:#111;background:#fff;line-height:1.4}"
    "main{max-width:32rem;margin:0 auto}"
    "ul{list-style:none;padding:0}li{margin:0 0 .75rem}"
    "button{font:inherit;min-height:44px;padding:.5rem 1rem;cursor:pointer}"
    "button:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}"
    ".who{display:block;color:#333;font-size:.9rem}"
    ".error{border-left:4px solid #a51d2d;padding-left:.75rem}"
    "code{word-break:break-all}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


def page_headers(form_target: str | None) -> dict[str, str]:
    """Security headers of a stand-in page. `form_target`: the origin the sign-in form's redirect lands on.

    Chromium applies form-action to the redirect that answers a form post too, so the console's origin must be
    allowed beside 'self' or the 302 back to it would be blocked.
    """
    form_action = f"'self' {form_target}" if form_target else "'none'"
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action {form_action}; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


@dataclass(frozen=True)
class PageUser:
    key: str  # the form value: alice, bob, ...
    name: str
    username: str
    roles: tuple[str, ...]


def sign_in_page(action: str, flow: str, request: AuthorizationRequest, users: Iterable[PageUser]) -> str:
    """The page listing each demo user as a button "Sign in as <name>", posting the flow id to `action`."""
    origin = loopback_origin(request.redirect_uri) or ""
    items = "\n".join(
        f'<li><button type="submit" name="user" value="{html.escape(u.key)}">Sign in as {html.escape(u.name)}'
        f'</button><span class="who">{html.escape(u.username)}: '
        f"{html.escape(', '.join(u.roles) if u.roles else 'no app role')}</span></li>"
        for u in users
    )
    body = (
        "<h1>Pick an account</h1>\n"
        f"<p>The local cloud's stand-in for Microsoft Entra ID. The console at <code>{html.escape(origin)}</code> "
        "asks who you are; there is no password here, so choose a demo user.</p>\n"
        f'<form method="post" action="{html.escape(action)}">\n'
        f'<input type="hidden" name="flow" value="{html.escape(flow)}">\n'
        f'<ul aria-label="Demo users">\n{items}\n</ul>\n'
        '<button type="submit" name="cancel" value="1">Cancel</button>\n</form>'
    )
    return _document("Sign in - local identity stand-in", body)


def error_page(error: ShownError) -> str:
    body = (
        "<h1>Sign-in failed</h1>\n"
        f'<div class="error" role="alert"><p><strong>{html.escape(error.error)}</strong></p>\n'
        f"<p>{html.escape(error.description)}</p></div>\n"
        "<p>Nothing was sent back to the application. Start again from the console.</p>"
    )
    return _document("Sign-in failed - local identity stand-in", body)
