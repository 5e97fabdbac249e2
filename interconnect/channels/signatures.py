"""Check that an inbound webhook or chat request really comes from the sender it claims, before parsing it.

Each source signs differently (Standard Webhooks, Jira, our ServiceNow scheme, Slack, Teams), but every check
here follows the same rules: the MAC is computed over the raw body bytes as received (re-serialised JSON or form
data would not match), compared in constant time, against a *list* of active secrets so that a secret can be
rotated without downtime, and every failure is a `SignatureError`, whatever the headers hold. Callers answer
401 with no detail; the message and `details["reason"]` are for logs and metrics only.

Pure: no I/O and no clock. Secrets and `now` are parameters.

Our ServiceNow scheme (ServiceNow has no native outbound signing; a scripted REST message sends these):

    X-Interconnect-Timestamp: <unix seconds>
    X-Interconnect-Signature: sha256=<lower-case hex HMAC-SHA256(key=UTF-8 secret, msg=b"<timestamp>." + body)>

The usual ServiceNow building block is `GlideCertificateEncryption.generateMac(key, "HmacSHA256", data)`
(a community pattern; it answers base64, so the script converts it to hex). `sign_servicenow` is the reference
implementation the docs and tests use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from interconnect.errors import SignatureError

TOLERANCE = 300  # seconds; Slack and Standard Webhooks both recommend 5 minutes

# Replay window for timestamped schemes (Standard Webhooks, Slack, ServiceNow). Both ends are inclusive:
#
#            now - tolerance                   now                   now + tolerance
#   stale  <-------|============== accepted ====|==== accepted ==============|-------> future
#   (replayed or   ^ a timestamp exactly here                                ^ ... or here still passes
#    queued too long)                                                       (sender clock skew)
#
# The timestamp is inside the MAC, so an attacker who captured a request cannot refresh it; all they can do is
# replay it within the window, which the callers' dedupe on the delivery id (or the request idempotency key)
# absorbs. Schemes without a signed timestamp (Jira, Teams) rely on that dedupe alone.

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # bounded: int() on thousands of digits is slow, then refuses
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,256}")  # printable ASCII, no spaces: it becomes a dedupe key
_MAX_HEADER = 8192  # far above any real signature header; longer is garbage, refused before any work

STANDARD_WEBHOOK_PREFIX = "whsec_"


def _fail(reason: str, message: str) -> SignatureError:
    return SignatureError(message, details={"reason": reason})


# ---------------------------------------------------------------------------------------------------- inputs


def _lower_headers(headers: Mapping[str, str]) -> dict[str, object]:
    """Header names folded to lower case (HTTP names are case-insensitive). Two spellings of one name with
    different values are refused: we cannot know which one the sender signed."""
    try:
        items = list(headers.items())
    except Exception as exc:  # a broken mapping is still only "not verified"
        raise _fail("malformed_header", "headers are not readable") from exc
    folded: dict[str, object] = {}
    for name, value in items:
        key = str(name).lower()
        if key in folded and folded[key] != value:
            raise _fail("malformed_header", f"header {key} given twice with different values")
        folded[key] = value
    return folded


def _header(headers: dict[str, object], name: str) -> str:
    """One header's value, stripped, or SignatureError when absent, empty, not text, non-ASCII or huge."""
    value = headers.get(name)
    if value is None:
        raise _fail("missing_header", f"header {name} is missing")
    if not isinstance(value, str) or not value.isascii() or len(value) > _MAX_HEADER:
        raise _fail("malformed_header", f"header {name} is not short ASCII text")
    value = value.strip()
    if not value:
        raise _fail("missing_header", f"header {name} is empty")
    return value


def _body(body: bytes | bytearray | memoryview) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise _fail("malformed_body", f"the body must be bytes, not {type(body).__name__}")


def _secrets(secrets: Sequence[str], decode: Callable[[str], bytes]) -> list[bytes]:
    """The keys to try. A source with no secret configured must never accept anything, so an empty list (or
    only blank entries) is refused, as is a bare string (iterating it would try each character as a key)."""
    if isinstance(secrets, str | bytes) or not isinstance(secrets, Iterable):
        raise _fail("no_secret", "secrets must be a list of strings")
    keys = []
    for index, secret in enumerate(secrets):
        if not isinstance(secret, str):
            raise _fail("bad_secret", f"secret #{index} is not a string")
        if secret.strip():
            keys.append(decode(secret.strip()))
    if not keys:
        raise _fail("no_secret", "no secret is configured for this source")
    return keys


def _inputs(
    headers: Mapping[str, str],
    body: bytes | bytearray | memoryview,
    secrets: Sequence[str],
    decode: Callable[[str], bytes],
) -> tuple[bytes, list[bytes], dict[str, object]]:
    """What every scheme checks first, in one order: the body as bytes, the keys to try, the folded headers."""
    return _body(body), _secrets(secrets, decode), _lower_headers(headers)


def _utf8_key(secret: str) -> bytes:
    return secret.encode("utf-8")


def _base64_key(secret: str) -> bytes:
    try:
        key = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError) as exc:
        # Never echo the secret, not even in logs.
        raise _fail("bad_secret", "a configured secret is not valid base64") from exc
    if not key:
        raise _fail("bad_secret", "a configured secret decodes to an empty key")
    return key


def standard_webhook_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 after `whsec_`, else the secret's UTF-8 bytes."""
    if secret.startswith(STANDARD_WEBHOOK_PREFIX):
        return _base64_key(secret[len(STANDARD_WEBHOOK_PREFIX) :])
    return _utf8_key(secret)


def teams_key(secret: str) -> bytes:
    """The HMAC key of a Teams outgoing webhook: the security token shown at creation, base64-decoded."""
    return _base64_key(secret)


def _timestamp(value: str, *, now: float, tolerance: int) -> int:
    if not _TIMESTAMP.fullmatch(value):
        raise _fail("malformed_header", "the timestamp is not unix seconds")
    stamp = int(value)
    if now - stamp > tolerance:
        raise _fail("stale", f"the timestamp is {now - stamp:.0f} s old (tolerance {tolerance} s)")
    if stamp - now > tolerance:
        raise _fail("future", f"the timestamp is {stamp - now:.0f} s in the future (tolerance {tolerance} s)")
    return stamp


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _any_equal(given: Iterable[bytes], expected: Iterable[bytes]) -> bool:
    """True when any given signature equals any expected one. Every pair is compared (no early exit on the
    secret that matched), so timing says nothing about which secret, if any, is the right one."""
    wanted = list(expected)
    found = False
    for candidate in given:
        for value in wanted:
            found |= hmac.compare_digest(candidate, value)
    return found


def _require_hex_mac(given: bytes, keys: Iterable[bytes], content: bytes, header: str) -> None:
    """Refuse (`mismatch`) unless `given`, lower-case hex, is the HMAC-SHA256 of `content` under an active key."""
    if not _any_equal([given], (_mac(key, content).hex().encode("ascii") for key in keys)):
        raise _fail("mismatch", f"{header} matches no active secret")


def _hex_signature(value: str, header: str) -> bytes:
    """`sha256=<hex>` as bytes of lower-case hex. Any other method is refused: sha1 is too weak to trust."""
    method, sep, digest = value.partition("=")
    if not sep:
        raise _fail("malformed_header", f"header {header} is not '<method>=<hex>'")
    if method.strip().lower() != "sha256":
        raise _fail("unsupported_algorithm", f"header {header} uses {method[:20]!r}; only sha256 is accepted")
    digest = digest.strip()
    if not _HEX_SHA256.fullmatch(digest):
        raise _fail("malformed_header", f"header {header} does not hold a hex SHA-256 digest")
    return digest.lower().encode("ascii")


# ---------------------------------------------------------------------------------------- Standard Webhooks


def verify_standard_webhook(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now: float, tolerance: int = TOLERANCE
) -> str:
    """Verify a Standard Webhooks delivery and return its `webhook-id`, the id to dedupe deliveries on.

    `webhook-signature` is a space-separated list (`v1,<base64>` entries), so a sender rotating its secret can
    sign with both; entries of other versions (e.g. `v1a`, asymmetric) are ignored.

    Raises
    ------
    SignatureError
        headers missing or malformed, timestamp outside `now ± tolerance`, or no signature matches.
    """
    raw, keys, folded = _inputs(headers, body, secrets, standard_webhook_key)
    msg_id = _header(folded, "webhook-id")
    stamp = _header(folded, "webhook-timestamp")
    signature = _header(folded, "webhook-signature")
    if not _DELIVERY_ID.fullmatch(msg_id):
        raise _fail("malformed_header", "header webhook-id is not printable ASCII without spaces")
    _timestamp(stamp, now=now, tolerance=tolerance)
    given = [
        sig.encode("ascii")
        for version, sep, sig in (entry.partition(",") for entry in signature.split())
        if sep and version == "v1" and sig
    ]
    if not given:
        raise _fail("malformed_header", "header webhook-signature holds no v1 signature")
    content = f"{msg_id}.{stamp}.".encode("ascii") + raw
    if not _any_equal(given, (base64.b64encode(_mac(key, content)) for key in keys)):
        raise _fail("mismatch", "no v1 signature matches an active secret")
    return msg_id


def sign_standard_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a Standard Webhooks sender puts on a delivery (our outbound callbacks; tests)."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(_mac(standard_webhook_key(secret), content)).decode("ascii")
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": f"v1,{signature}"}


# ------------------------------------------------------------------------------------------------------ Jira


def verify_jira(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> str | None:
    """Verify a Jira admin webhook (`X-Hub-Signature: sha256=<hex HMAC of the body>`).

    Returns `X-Atlassian-Webhook-Identifier` (stable across Jira's retries: the dedupe id) or None when the
    sender did not send one. Jira signs no timestamp: replays are stopped only by deduping on that id.

    Raises
    ------
    SignatureError
        header missing or malformed, a method other than sha256, or no active secret matches.
    """
    raw, keys, folded = _inputs(headers, body, secrets, _utf8_key)
    given = _hex_signature(_header(folded, "x-hub-signature"), "X-Hub-Signature")
    _require_hex_mac(given, keys, raw, "X-Hub-Signature")
    if folded.get("x-atlassian-webhook-identifier") in (None, ""):
        return None
    identifier = _header(folded, "x-atlassian-webhook-identifier")
    if not _DELIVERY_ID.fullmatch(identifier):
        raise _fail("malformed_header", "header X-Atlassian-Webhook-Identifier is not a short printable token")
    return identifier


def sign_jira(secret: str, body: bytes) -> dict[str, str]:
    """The header Jira puts on a webhook signed with `secret` (for tests and docs)."""
    return {"X-Hub-Signature": "sha256=" + _mac(_utf8_key(secret), body).hex()}


# ------------------------------------------------------------------------------------------------ ServiceNow


def verify_servicenow(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now: float, tolerance: int = TOLERANCE
) -> None:
    """Verify our documented ServiceNow scheme (see the module docstring): HMAC over `<timestamp>.<body>`.

    Raises
    ------
    SignatureError
        headers missing or malformed, timestamp outside `now ± tolerance`, or no active secret matches.
    """
    raw, keys, folded = _inputs(headers, body, secrets, _utf8_key)
    stamp = _header(folded, "x-interconnect-timestamp")
    given = _hex_signature(_header(folded, "x-interconnect-signature"), "X-Interconnect-Signature")
    _timestamp(stamp, now=now, tolerance=tolerance)
    _require_hex_mac(given, keys, f"{stamp}.".encode("ascii") + raw, "X-Interconnect-Signature")


def sign_servicenow(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers a ServiceNow scripted REST message must send (reference implementation of the scheme)."""
    mac = _mac(_utf8_key(secret), f"{timestamp}.".encode() + body).hex()
    return {"X-Interconnect-Timestamp": str(timestamp), "X-Interconnect-Signature": f"sha256={mac}"}


# ----------------------------------------------------------------------------------------------------- Slack


def verify_slack(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now: float, tolerance: int = TOLERANCE
) -> None:
    """Verify a Slack request: `X-Slack-Signature: v0=<hex HMAC of "v0:<timestamp>:" + body>`.

    Slack signing secrets have no overlap on regeneration, so rotation means listing the new secret at once
    and dropping the old one when traffic shows only the new one.

    Raises
    ------
    SignatureError
        headers missing or malformed, timestamp outside `now ± tolerance`, or no active secret matches.
    """
    raw, keys, folded = _inputs(headers, body, secrets, _utf8_key)
    stamp = _header(folded, "x-slack-request-timestamp")
    version, sep, digest = _header(folded, "x-slack-signature").partition("=")
    if not sep or version != "v0" or not _HEX_SHA256.fullmatch(digest):
        raise _fail("malformed_header", "header X-Slack-Signature is not 'v0=<hex>'")
    _timestamp(stamp, now=now, tolerance=tolerance)
    _require_hex_mac(digest.lower().encode("ascii"), keys, f"v0:{stamp}:".encode("ascii") + raw, "X-Slack-Signature")


def sign_slack(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers Slack puts on a request (for tests and docs)."""
    mac = _mac(_utf8_key(secret), f"v0:{timestamp}:".encode() + body).hex()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={mac}"}


# ----------------------------------------------------------------------------------------------------- Teams


def verify_teams(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> None:
    """Verify a Teams outgoing webhook: `Authorization: HMAC <base64 HMAC-SHA256(base64-decoded secret, body)>`.

    Teams signs no timestamp: the caller dedupes on the activity id to stop replays.

    Raises
    ------
    SignatureError
        header missing or malformed, a secret that is not base64, or no active secret matches.
    """
    raw, keys, folded = _inputs(headers, body, secrets, teams_key)
    scheme, _, token = _header(folded, "authorization").partition(" ")
    token = token.strip()
    if scheme.lower() != "hmac" or not token or " " in token:
        raise _fail("malformed_header", "header Authorization is not 'HMAC <base64>'")
    if not _any_equal([token.encode("ascii")], (base64.b64encode(_mac(key, raw)) for key in keys)):
        raise _fail("mismatch", "the Authorization HMAC matches no active secret")


def sign_teams(secret: str, body: bytes) -> dict[str, str]:
    """The header Teams puts on an outgoing-webhook call (for tests and docs)."""
    return {"Authorization": "HMAC " + base64.b64encode(_mac(teams_key(secret), body)).decode("ascii")}
