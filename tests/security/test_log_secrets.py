"""No function key, token or configured secret in any log the e2e and security tiers' local clouds wrote.

Every local cloud those tiers start logs under one directory per test session (tests/e2e/conftest.py), the
local host's log carrying the worker's too. This test runs after every other test of the session (see
tests/security/conftest.py), first sends the requests most likely to be logged with a secret in them (errors
with the function key in `?code=`, a bearer token, badly signed payloads), then reads every line of every
log. A failure names the file, the line and which secret, never the secret itself. Lines longer than 8 KiB
fail too: logged values are capped, so such a line holds an attacker-controlled value whole.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from tests.e2e.conftest import SESSION_LOGS, STARTED_SETTINGS
from tests.security.conftest import TARGET, Attacked
from tests.security.hostile import Case, sign

pytestmark = pytest.mark.security

# A JWT is three base64url parts, the first two JSON objects (so `eyJ`); a bearer credential of any shape.
TOKEN = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*|Bearer\s+[A-Za-z0-9._~+/-]{20,}")
CONNECTION_KEYS = re.compile(r"(?:AccountKey|SharedAccessKey)=([^;]+)")
SHORTEST = 8  # shorter "secrets" would match ordinary text; none of the configured ones is
# Logged values are capped: a longer line holds an attacker-controlled value whole (the fuzz sends 20 KB ids).
LONGEST_LINE = 8 * 1024


def leaves(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)


def configured_secrets(settings: dict[str, str]) -> dict[str, str]:
    """secret value -> the name of the setting it came from."""
    found: dict[str, str] = {}
    for name, value in settings.items():
        if name == "LOCALHOST_FUNCTION_KEYS":
            found.update({key.strip(): "a function key" for key in value.split(",")})
        elif "SECRET" in name:
            try:
                values = list(leaves(json.loads(value)))
            except ValueError:
                values = value.split(",")
            found.update({v.strip(): f"a value of {name}" for v in values})
        for key in CONNECTION_KEYS.findall(value):
            found[key] = f"the account key in {name}"
    return {secret: label for secret, label in found.items() if len(secret) >= SHORTEST}


def fake_token() -> str:
    return jwt.encode(
        {"sub": "eve", "aud": "api://interconnect", "iss": "https://login.example/fake"},
        "fake-signing-key-for-the-log-test-only",
        algorithm="HS256",
    )


def provoke(attacked: Attacked) -> None:
    """Requests whose handling is most likely to write a secret into a log, if anything does."""
    code = urllib.parse.quote(TARGET.function_key, safe="")
    bearer = {"Authorization": f"Bearer {fake_token()}"}
    cases = [
        Case("get_request", "GET", f"requests/no-such-request?code={code}"),
        Case("list_requests", "GET", f"requests?code={code}&continuation=not-a-token"),
        Case("list_links", "GET", f"links?cloud=..&code={code}"),
        Case("submit_request", "POST", f"requests?code={code}", {"Content-Type": "application/json"}, b"{bad"),
        Case("submit_request", "POST", "requests", bearer, b'{"action":"connect"}'),
        Case("get_audit", "GET", f"audits/{'x' * 5000}?code={code}", bearer),
        Case("list_requests", "GET", "requests", {"x-functions-key": TARGET.function_key, **bearer}),
        Case("nowhere", "GET", f"no/such/route?code={code}", bearer),
    ]
    body = b'{"action":"connect"}'
    for channel in ("jira", "servicenow", "webhook", "slack_command", "teams"):
        path = {
            "jira": "hooks/jira-prod",
            "servicenow": "hooks/snow",
            "webhook": "hooks/cmdb",
            "slack_command": "chat/slack",
            "teams": "chat/teams",
        }[channel]
        cases.append(Case(channel, "POST", f"{path}?code={code}", sign(channel, TARGET, body + b" "), body))
        cases.append(Case(channel, "POST", "hooks/unknown-source", sign(channel, TARGET, body), body))
    for case in cases:
        attacked.probe.send(case)


def test_no_log_carries_a_function_key_token_or_configured_secret(attacked: Attacked) -> None:
    provoke(attacked)
    secrets: dict[str, str] = {}
    for settings in STARTED_SETTINGS:
        secrets.update(configured_secrets(settings))
    assert TARGET.function_key in secrets and TARGET.slack_secret in secrets  # the settings were read
    logs = sorted(SESSION_LOGS.rglob("*.log"))
    assert any(p.name == "host.log" and p.stat().st_size for p in logs), f"no host log under {SESSION_LOGS}"
    found: list[str] = []
    for path in logs:
        found += leaks(path, secrets)
    assert not found, f"{len(found)} log line(s) carry a secret or a whole value:\n" + "\n".join(found[:40])


def leaks(path: Path, secrets: dict[str, str]) -> list[str]:
    found = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            what = [label for secret, label in secrets.items() if secret in line]
            if TOKEN.search(line):
                what.append("a bearer token")
            if len(line) > LONGEST_LINE:
                what.append(f"a {len(line)}-character line (a value logged whole)")
            if what:
                found.append(f"{path}:{number}: {', '.join(sorted(set(what)))}")
    return found


def test_the_grep_names_file_line_and_kind_never_the_secret(tmp_path: Path) -> None:
    # The check above passes only if it can fail: a planted key, secret, token and whole value are all found.
    settings = {
        "LOCALHOST_FUNCTION_KEYS": "k-fake-function-key",
        "INTERCONNECT_HOOK_SECRETS": json.dumps(
            {"jira": {"signing": ["jira-fake-signing"], "callbackAuthorization": "Basic ZmFrZTpmYWtl"}}
        ),
        "INTERCONNECT_SLACK_SIGNING_SECRETS": "slack-fake-one,slack-fake-two",
        "ServiceBusConnection": "Endpoint=sb://x/;SharedAccessKeyName=n;SharedAccessKey=sb-fake-key-value",
    }
    secrets = configured_secrets(settings)
    assert set(secrets) == {
        "k-fake-function-key",
        "jira-fake-signing",
        "Basic ZmFrZTpmYWtl",
        "slack-fake-one",
        "slack-fake-two",
        "sb-fake-key-value",
    }
    log = tmp_path / "host.log"
    log.write_text(
        "fine\nGET /api/requests?code=k-fake-function-key -> 400\nfine\n"
        f"Authorization: Bearer {fake_token()}\nsigned with slack-fake-two\n{'x' * 9000}\n"
    )
    found = leaks(log, secrets)
    assert found == [
        f"{log}:2: a function key",
        f"{log}:4: a bearer token",
        f"{log}:5: a value of INTERCONNECT_SLACK_SIGNING_SECRETS",
        f"{log}:6: a 9001-character line (a value logged whole)",
    ]
