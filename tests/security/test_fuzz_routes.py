"""A seeded fuzz of every HTTP route function_app.py registers: hostile route values, query strings, headers
and bodies, with and without a function key. Each hypothesis example is one HTTP call, judged by the probe:
no 5xx, no hang, the error shape on every 4xx, nothing stored or queued for a 4xx, no request with a bad
ARM id accepted, nothing served without a key on a keyed route.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from hypothesis import given

from tests.security.conftest import TARGET, Attacked, http_routes, hypothesis_settings
from tests.security.hostile import BAD_NAMES, BAD_TOKENS, Case, Route, deep_array, deep_object, route_case
from tests.security.probe import Outcome, error_body

pytestmark = pytest.mark.security

EXAMPLES_PER_ROUTE = 120  # x 15 routes today; with the signed payloads the tier sends over 2,000 cases
# Every accepted POST /api/audits starts a whole audit run, which the probe waits out before judging the next
# case (about 3 s each): fewer examples keep the tier within minutes; bench/fuzz.py sends many more.
EXAMPLES = {"start_audit": 20}
# A console data route checks the bearer token before it reads anything, and this fuzz sends none that verifies
# (only hostile Authorization values), so past a few dozen cases it only tests the same 401 again. Their bodies
# are the keyed routes' (app/api.py), fuzzed here in full, and test_openapi_fuzz.py sends them valid tokens.
CONSOLE_STATIC = {"console_page", "console_asset", "console_config"}
CONSOLE_DATA_EXAMPLES = 30


def examples_for(route: Route) -> int:
    if route.name.startswith("console_") and route.name not in CONSOLE_STATIC:
        return CONSOLE_DATA_EXAMPLES
    return EXAMPLES.get(route.name, EXAMPLES_PER_ROUTE)


def test_every_registered_route_is_fuzzed(attacked: Attacked) -> None:
    # The fuzz below is parametrised at run time over what the host serves; this pins that it serves them all.
    names = {r.name for r in attacked.routes}
    assert {
        "submit_request",
        "get_request",
        "list_requests",
        "ticket_hook",
        "slack_action",
        "health",
        "get_audit",
    } <= names, names


def fuzz(attacked: Attacked, route: Route, examples: int) -> None:
    probe = attacked.probe
    start, seen, unchecked = probe.cases, len(probe.violations), probe.unchecked

    @hypothesis_settings(examples)
    @given(case=route_case(route, TARGET))
    def run(case: Case) -> None:
        outcome = probe.run(case, keyed_route=route.keyed)
        if case.method == "POST" and outcome.status is not None and outcome.status < 400:
            probe.still_readable(case, TARGET)

    run()
    print(f"{route.name}: {probe.cases - start} cases; {probe.summary(limit=0).splitlines()[0]}")
    new = probe.violations[seen:]
    assert probe.cases - start >= examples * 0.9, "hypothesis ran fewer cases than planned"
    assert not new, f"route {route.name} ({route.template}):\n" + summary(new)
    assert probe.unchecked == unchecked, f"{probe.unchecked - unchecked} 4xx not checked: the app never settled"


def summary(violations: list, limit: int = 4) -> str:  # type: ignore[type-arg]
    kinds: dict[str, list] = {}  # type: ignore[type-arg]
    for v in violations:
        kinds.setdefault(v.kind, []).append(v)
    return "\n".join(
        f"{kind} x{len(found)}:\n" + "\n".join(f"  {v}" for v in found[:limit]) for kind, found in kinds.items()
    )


@pytest.mark.parametrize("route", http_routes(), ids=lambda r: r.name)
def test_fuzz_every_route(attacked: Attacked, route: Route) -> None:
    fuzz(attacked, route, examples_for(route))


# -- named hostile inputs the issue reported, each checked for its exact answer --------------------------------


def checked(attacked: Attacked, case: Case) -> Outcome:
    """Send one named case; fail on any rule it breaks (5xx, error shape, something stored for a 4xx...)."""
    seen, unchecked = len(attacked.probe.violations), attacked.probe.unchecked
    outcome = attacked.probe.run(case, keyed_route=True)
    new = attacked.probe.violations[seen:]
    assert not new, summary(new)
    assert attacked.probe.unchecked == unchecked, "the store check could not be made: the app never settled"
    return outcome


def principal(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("value", [deep_object(), deep_array(), '{"userId":' + deep_array() + "}", "[1]", "null"])
def test_a_hostile_client_principal_header_is_a_4xx_or_ignored_never_a_500(attacked: Attacked, value: str) -> None:
    case = Case(
        "list_requests",
        "GET",
        "requests",
        {"X-MS-CLIENT-PRINCIPAL": principal(value), "x-functions-key": TARGET.function_key},
        keyed=True,
    )
    checked(attacked, case)


# Tokens that cannot be one this API issued, whatever its format; longer ones may meet a length cap first.
PLAUSIBLE = ("", "e30", base64.urlsafe_b64encode(b'{"pk":"a","rk":"b"}').decode())
STRICT_TOKENS = [t for t in BAD_TOKENS if t not in PLAUSIBLE]


@pytest.mark.parametrize("token", STRICT_TOKENS)
def test_a_bad_continuation_token_is_400_invalid_continuation(attacked: Attacked, token: str) -> None:
    case = Case(
        "list_requests",
        "GET",
        f"requests?continuation={urllib.parse.quote(token, safe='')}",
        {"x-functions-key": TARGET.function_key},
        keyed=True,
    )
    outcome = checked(attacked, case)
    if len(token) > 1024:
        assert outcome.status is not None and 400 <= outcome.status < 500, (outcome.status, outcome.body[:300])
        return
    assert outcome.status == 400, (outcome.status, outcome.body[:300])
    assert (error_body(outcome.body) or {}).get("code") == "INVALID_CONTINUATION", outcome.body[:300]


@pytest.mark.parametrize("name", [".", "..", "", "pc-a.", "a%2Fb"])
@pytest.mark.parametrize("where", ["submit", "dry run", "links", "listing"])
def test_a_cloud_name_that_would_change_a_url_is_400_at_intake(attacked: Attacked, name: str, where: str) -> None:
    bad, good = TARGET.cloud_id(name), TARGET.cloud_id("pc-a")
    key = {"x-functions-key": TARGET.function_key}
    before = len(attacked.app.arm.calls())
    if where in ("submit", "dry run"):
        body = json.dumps({"action": "connect", "source": good, "target": bad}).encode()
        case = Case(
            "submit_request",
            "POST",
            "requests" + ("?dryRun=true" if where == "dry run" else ""),
            {**key, "Content-Type": "application/json"},
            body,
            keyed=True,
        )
    else:
        route = "links" if where == "links" else "requests"
        case = Case(route, "GET", f"{route}?cloud={urllib.parse.quote(bad, safe='')}", key, keyed=True)
    outcome = checked(attacked, case)
    assert outcome.status == 400, (outcome.status, outcome.body[:300])
    assert len(attacked.app.arm.calls()) == before, "a refused id still reached ARM"


def test_a_20kb_audit_id_is_a_4xx_that_does_not_echo_it(attacked: Attacked) -> None:
    case = Case("get_audit", "GET", "audits/" + "x" * 20_000, {"x-functions-key": TARGET.function_key}, keyed=True)
    outcome = checked(attacked, case)
    assert outcome.status is not None and 400 <= outcome.status < 500, (outcome.status, outcome.body[:200])
    assert len(outcome.body) < 2_000, f"the answer is {len(outcome.body)} bytes: the id was echoed back"


@pytest.mark.parametrize("name", [n for n in BAD_NAMES[:8] if n])  # empty: `requests/` is the listing
@pytest.mark.parametrize("path", ["requests/{}", "requests/{}/approve", "requests/{}/reject", "audits/{}"])
def test_hostile_ids_in_the_path_are_4xx(attacked: Attacked, name: str, path: str) -> None:
    value = name if name in (".", "..") else urllib.parse.quote(name, safe="")
    method = "POST" if path.endswith(("approve", "reject")) else "GET"
    case = Case(
        path,
        method,
        path.format(value),
        {"x-functions-key": TARGET.function_key},
        b"" if method == "POST" else None,
        keyed=True,
    )
    outcome = checked(attacked, case)
    assert outcome.status is not None and 400 <= outcome.status < 500, (outcome.status, outcome.body[:200])
