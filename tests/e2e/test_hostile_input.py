"""Hostile and broken input through the local host: a clear 4xx (or a chat refusal), never a 5xx, nothing kept.

Every test checks the two things a refusal must leave behind: no request row, and no ARM call the app did not
mean (a request that got queued would make the worker read ARM; a name that changed a URL's shape would show
up in the simulator's call log as a path we never asked for).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from interconnect.adapters.avs import AvsSdkGateway
from interconnect.avs.ids import parse_cloud_id
from interconnect.channels.signatures import sign_jira, sign_slack, sign_teams
from interconnect.errors import ArmError
from localdev import identity
from localdev.procs import free_port
from tests.e2e.conftest import FUNCTION_KEY, App, Response, cloud_ids, load_clouds, pc, running_app

pytestmark = pytest.mark.e2e

SUB, RG = "66666666-6666-6666-6666-666666666666", "rg-hostile"
JIRA_SECRET = "jira-fake-secret-for-hostile-tests"
SLACK_SECRET = "slack-fake-signing-secret-hostile"
TEAMS_SECRET = base64.b64encode(b"teams-fake-hmac-key-hostile-01").decode()
A, B = cloud_ids(SUB, RG, "pc-a", "pc-b")
DEEP = b"[" * 2000 + b"]" * 2000


def with_name(cloud: str, name: str) -> str:
    return cloud.rsplit("/", 1)[0] + "/" + name


def with_group(cloud: str, group: str) -> str:
    return cloud.replace(f"/resourceGroups/{RG}/", f"/resourceGroups/{group}/")


# '.', '..' and an empty segment, as a cloud name and as a resource group; a trailing '.' and an encoded '/'.
DOTTED = [
    with_name(A, "."),
    with_name(A, ".."),
    with_name(A, ""),
    with_group(A, "."),
    with_group(A, ".."),
    with_name(A, "pc-a."),
    with_name(A, "pc%2Fa"),
    A + "/",
]


@pytest.fixture(scope="module")
def hostile() -> Iterator[App]:
    yield from running_app(
        INTERCONNECT_APPROVALS="off",
        INTERCONNECT_SUBSCRIPTIONS=SUB,
        INTERCONNECT_HOOKS=json.dumps({"jira-prod": {"type": "jira"}}),
        INTERCONNECT_HOOK_SECRETS=json.dumps({"jira-prod": {"signing": [JIRA_SECRET]}}),
        INTERCONNECT_SLACK_SIGNING_SECRETS=SLACK_SECRET,
        INTERCONNECT_TEAMS_SECRETS=TEAMS_SECRET,
    )


@pytest.fixture
def fleet(hostile: App) -> App:
    load_clouds(hostile, [pc("pc-a", "10.0.0.0/22"), pc("pc-b", "10.0.4.0/22")], sub=SUB, rg=RG)
    return hostile


def post_raw(app: App, path: str, body: bytes, headers: dict[str, str]) -> Response:
    return app.call("POST", path, raw=body, headers=headers, key=None)


def slack(app: App, path: str, form: dict[str, str]) -> Response:
    body = urllib.parse.urlencode(form).encode()
    return post_raw(
        app,
        path,
        body,
        {**sign_slack(SLACK_SECRET, int(time.time()), body), "Content-Type": "application/x-www-form-urlencoded"},
    )


def slash(app: App, text: str) -> Response:
    return slack(
        app,
        "chat/slack",
        {"team_id": "T1", "user_id": "U1", "user_name": "u1", "text": text, "trigger_id": uuid.uuid4().hex},
    )


def click(app: App, action_id: str, value: str) -> Response:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U1", "username": "u1"},
        "trigger_id": uuid.uuid4().hex,
        "actions": [{"action_id": action_id, "value": value}],
    }
    return slack(app, "chat/slack/actions", {"payload": json.dumps(payload)})


def teams(app: App, text: str) -> Response:
    body = json.dumps(
        {
            "type": "message",
            "id": uuid.uuid4().hex,
            "text": f"<at>Interconnect</at> {text}",
            "from": {"id": "29:hostile", "name": "Mallory"},
        }
    ).encode()
    return post_raw(app, "chat/teams", body, sign_teams(TEAMS_SECRET, body))


def refused(answer: Response, status: int, code: str) -> None:
    assert answer.status == status, (answer.status, answer.body)
    assert answer.body["error"]["code"] == code, answer.body


def nothing_kept(app: App, rows_before: int, *, arm_calls_allowed: frozenset[str] = frozenset()) -> None:
    """No request row was written, and ARM saw no call but the `arm_calls_allowed` kinds (none by default)."""
    assert app.request_rows() == rows_before
    assert [c["kind"] for c in app.arm.calls() if c["kind"] not in arm_calls_allowed] == []


def test_deep_json_is_400_on_every_route_that_takes_json(fleet: App) -> None:
    rows = fleet.request_rows()
    refused(fleet.call("POST", "requests", raw=DEEP), 400, "INVALID_JSON")
    refused(fleet.call("POST", "requests?dryRun=true", raw=DEEP), 400, "INVALID_JSON")
    nested = b'{"action": "connect", "source": ' + DEEP + b"}"
    refused(fleet.call("POST", "requests", raw=nested), 400, "INVALID_JSON")
    refused(post_raw(fleet, "hooks/jira-prod", DEEP, sign_jira(JIRA_SECRET, DEEP)), 400, "INVALID_JSON")
    deep_payload = urllib.parse.urlencode({"payload": DEEP.decode()}).encode()
    refused(
        post_raw(fleet, "chat/slack/actions", deep_payload, sign_slack(SLACK_SECRET, int(time.time()), deep_payload)),
        400,
        "INVALID_PAYLOAD",
    )
    refused(click(fleet, "confirm_disconnect", "[" * 900 + "]" * 900), 400, "INVALID_PAYLOAD")
    refused(post_raw(fleet, "chat/teams", DEEP, sign_teams(TEAMS_SECRET, DEEP)), 400, "INVALID_PAYLOAD")
    nothing_kept(fleet, rows)


@pytest.mark.parametrize("bad", DOTTED)
def test_dot_empty_and_encoded_cloud_names_are_400_at_intake_with_nothing_kept(fleet: App, bad: str) -> None:
    rows = fleet.request_rows()
    for body in (
        {"action": "connect", "source": bad, "target": B},
        {"action": "disconnect", "source": B, "target": bad},
    ):
        refused(fleet.call("POST", "requests", body), 400, "INVALID_ID")
        refused(fleet.call("POST", "requests?dryRun=true", body), 400, "INVALID_ID")
    quoted = urllib.parse.quote(bad, safe="")
    refused(fleet.call("GET", f"links?cloud={quoted}"), 400, "INVALID_ID")
    refused(fleet.call("GET", f"requests?cloud={quoted}"), 400, "INVALID_ID")
    nothing_kept(fleet, rows)


def test_a_dot_cloud_name_says_which_part_is_wrong(fleet: App) -> None:
    answer = fleet.call("POST", "requests", {"action": "connect", "source": A, "target": with_name(A, "..")})
    refused(answer, 400, "INVALID_ID")
    assert answer.body["error"]["message"] == (
        "target names '..' as its private cloud name: '.' and '..' are path steps, not names"
    )
    assert answer.body["error"]["details"] == {"field": "target", "segment": "name"}


@pytest.mark.parametrize("bad", [with_name(A, ".."), with_name(A, "."), with_group(A, "..")])
def test_dot_cloud_names_are_refused_in_chat_with_nothing_kept(fleet: App, bad: str) -> None:
    # Chat has no status codes a person sees: Slack and Teams show only a 200's text, so the refusal is the
    # reply, carrying the same code. Resolving the other, short name may list the subscription's clouds.
    rows = fleet.request_rows()
    for text in (f"connect {bad} pc-b", f"disconnect pc-b {bad}", f"plan {bad} pc-b", f"links {bad}"):
        for answer in (slash(fleet, text), teams(fleet, text)):
            assert answer.status == 200, answer.body
            assert "INVALID_ID" in answer.body["text"] and "not a private cloud ARM id" in answer.body["text"]
    for text in ("connect .. pc-b", "connect rg-hostile/.. pc-b", "links ."):
        answer = slash(fleet, text)
        assert answer.status == 200 and "INVALID_ID" in answer.body["text"], answer.body
    nothing_kept(fleet, rows, arm_calls_allowed=frozenset({"privateClouds.listInSubscription"}))


def test_oversized_bodies_are_413_before_anything_reads_them(fleet: App) -> None:
    rows = fleet.request_rows()
    big = {"action": "connect", "source": A, "target": B, "reference": "x" * (64 * 1024)}
    refused(fleet.call("POST", "requests", big), 413, "TOO_LARGE")
    assert fleet.call("POST", "requests", big).body["error"]["details"] == {"limit": 64 * 1024}
    refused(post_raw(fleet, "hooks/jira-prod", b" " * (1024 * 1024 + 1), {}), 413, "TOO_LARGE")
    refused(post_raw(fleet, "chat/slack", b"text=" + b"x" * (16 * 1024), {}), 413, "TOO_LARGE")
    refused(post_raw(fleet, "chat/slack/actions", b"payload=" + b"x" * (256 * 1024), {}), 413, "TOO_LARGE")
    refused(post_raw(fleet, "chat/teams", b" " * (256 * 1024 + 1), {}), 413, "TOO_LARGE")
    nothing_kept(fleet, rows)


def test_huge_ids_headers_and_queries_are_short_400s_that_do_not_echo(fleet: App) -> None:
    huge = "A" * 20_000
    for path, code in ((f"audits/{huge}", "INVALID_AUDIT_ID"), (f"requests/{huge}", "INVALID_REQUEST_ID")):
        answer = fleet.call("GET", path)
        refused(answer, 400, code)
        assert huge[:50] not in json.dumps(answer.body) and len(json.dumps(answer.body)) < 300
    refused(fleet.call("GET", "requests/nope"), 400, "INVALID_REQUEST_ID")
    refused(fleet.call("GET", f"links?cloud={'x' * 600}"), 400, "INVALID_QUERY")
    refused(fleet.call("GET", f"requests?limit=1&pad={'x' * 3000}"), 400, "INVALID_QUERY")
    refused(
        fleet.call(
            "POST", "requests", {"action": "connect", "source": A, "target": B}, headers={"Idempotency-Key": "k" * 201}
        ),
        400,
        "INVALID_IDEMPOTENCY_KEY",
    )
    refused(
        fleet.call(
            "POST",
            "requests",
            {"action": "connect", "source": A, "target": B},
            headers={"Idempotency-Key": "two words"},
        ),
        400,
        "INVALID_IDEMPOTENCY_KEY",
    )
    # An odd correlation id is replaced, never echoed (it is advisory: nothing is refused over it).
    odd = fleet.call("GET", "requests/nope", headers={"x-correlation-id": "<script>" + "c" * 500})
    echoed = {k.lower(): v for k, v in odd.headers.items()}["x-correlation-id"]
    assert odd.status == 400 and "script" not in echoed and len(echoed) == 36


def test_approve_and_reject_check_sign_in_first_then_refuse_a_huge_id_without_echo(fleet: App) -> None:
    huge = "B" * 20_000
    bob = {"Authorization": f"Bearer {identity.token(fleet.cloud.identity_url, user='bob')}"}
    for verb in ("approve", "reject"):
        assert fleet.call("POST", f"requests/{huge}/{verb}", key=None).status == 401
        answer = fleet.call("POST", f"requests/{huge}/{verb}", headers=bob, key=None)
        refused(answer, 400, "INVALID_REQUEST_ID")
        assert huge[:50] not in json.dumps(answer.body)


def test_a_signed_slack_action_with_bad_ids_is_refused_and_stores_nothing(fleet: App) -> None:
    rows = fleet.request_rows()
    poisoned = [
        {"source": {"subscription": "not/a/guid", "resource_group": "x", "name": "y"}, "target": B},
        {"source": {"subscription": SUB, "resource_group": RG, "name": ".."}, "target": B},
        {"source": {"subscription": SUB, "resource_group": "../..", "name": "pc-a"}, "target": B},
        {"source": with_name(A, "."), "target": B},
        {"source": A, "target": A + "/cloudLinks/x"},
        {"source": A, "target": B, "ticket": "<!channel> x"},
    ]
    for value in poisoned:
        answer = click(fleet, "confirm_disconnect", json.dumps(value))
        assert answer.status == 400 and answer.body["error"]["code"] in ("INVALID_ID", "INVALID_FIELD"), answer.body
    refused(click(fleet, "approve", "../../x:y"), 400, "INVALID_PAYLOAD")
    nothing_kept(fleet, rows)
    # Nothing unreadable was stored, so the listing still answers.
    assert fleet.call("GET", "requests?limit=5").status == 200


def test_an_unknown_hook_source_answers_exactly_like_a_bad_signature(fleet: App) -> None:
    body = json.dumps({"issue": {"key": "NET-1"}}).encode()
    unknown = post_raw(fleet, "hooks/no-such-source", body, sign_jira(JIRA_SECRET, body))
    forged = post_raw(fleet, "hooks/jira-prod", body, sign_jira("not-the-secret", body))
    unsigned = post_raw(fleet, "hooks/no-such-source", body, {})
    assert unknown.status == forged.status == unsigned.status == 401
    assert (
        unknown.body
        == forged.body
        == unsigned.body
        == {"error": {"code": "BAD_SIGNATURE", "message": "signature verification failed"}}
    )
    assert set(unknown.headers) - {"Date"} == set(forged.headers) - {"Date"}


def test_a_function_key_in_the_query_and_a_60kb_url_are_not_logged(fleet: App) -> None:
    # Error lines log the URL: without the key, and capped. (tests/security greps every log for secrets.)
    assert fleet.cloud.log_dir is not None, "running_app must give each local cloud a log directory"
    host_log = fleet.cloud.log_dir / "host.log"
    marker = uuid.uuid4().hex
    refused(
        fleet.call("GET", f"requests/nope-{marker}?code={FUNCTION_KEY}&limit=1", key=None), 400, "INVALID_REQUEST_ID"
    )
    refused(
        fleet.call("GET", f"requests/{marker}{'z' * 60_000}?code={FUNCTION_KEY}", key=None), 400, "INVALID_REQUEST_ID"
    )
    fleet.wait_until(lambda: host_log.read_text().count(marker) >= 2, what="both refusals in the host log")
    lines = [line for line in host_log.read_text().splitlines() if marker in line]
    assert any(
        f"GET /api/requests/nope-{marker}?limit=1 (+1 other parameters) -> INVALID_REQUEST_ID" in line for line in lines
    ), lines
    assert all(FUNCTION_KEY not in line and len(line) < 600 for line in lines), lines
    assert FUNCTION_KEY not in host_log.read_text()


HOSTILE_GROUP = "rg.(x)..y_"
HOSTILE_NAMES = ("..pc-x", "pc..y", "_.-")


def test_hostile_but_valid_names_reach_arm_as_exactly_the_segments_meant(hostile: App) -> None:
    clouds = [pc(name, f"10.{i}.0.0/22") for i, name in enumerate(HOSTILE_NAMES)]
    x, y, z = load_clouds(hostile, clouds, rg=HOSTILE_GROUP).values()
    assert hostile.call("GET", f"links?cloud={urllib.parse.quote(x, safe='')}").status == 200
    plan = hostile.call("POST", "requests?dryRun=true", {"action": "connect", "source": x, "target": y})
    assert plan.status == 200 and plan.body["allowed"], plan.body
    done = hostile.wait(hostile.submit("connect", x, y))
    assert done["status"] == "Succeeded", done
    assert hostile.wait(hostile.submit("connect", z, x))["status"] == "Succeeded"
    calls = hostile.arm.calls()
    assert {"cloudLinks.put", "privateClouds.get", "permissions.list"} <= {c["kind"] for c in calls}
    for call in calls:
        assert call["kind"] != "unknown", call
        segments = call["path"].split("/")
        if len(segments) > 4 and segments[3].lower() == "resourcegroups":
            # Each name decodes to exactly what the app meant: one segment, never a step up or sideways.
            assert urllib.parse.unquote(segments[4]) == HOSTILE_GROUP, call
            assert urllib.parse.unquote(segments[8]) in HOSTILE_NAMES, call


class _ForeignNextLink(BaseHTTPRequestHandler):
    """An ARM stand-in whose permissions answer points its nextLink at another host."""

    paths: list[str] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        body = json.dumps(
            {"value": [{"actions": ["*"]}], "nextLink": "http://attacker.invalid/steal?api-version=1"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_permissions_reads_encode_each_name_and_never_follow_a_next_link_to_another_host() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _ForeignNextLink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gateway = AvsSdkGateway(None, base_url=f"http://127.0.0.1:{server.server_address[1]}", retry_total=0)
        cloud = parse_cloud_id(cloud_ids(SUB, HOSTILE_GROUP, "..pc-x")[0])
        with pytest.raises(ArmError) as err:
            gateway.permissions(cloud)
        assert err.value.code == "ARM_INVALID_NEXT_LINK"
        (path,) = _ForeignNextLink.paths  # the foreign nextLink was never requested
        assert path.startswith(
            f"/subscriptions/{SUB}/resourceGroups/rg.%28x%29..y_/providers/Microsoft.AVS/"
            "privateClouds/..pc-x/providers/Microsoft.Authorization/permissions?"
        )
    finally:
        server.shutdown()
        server.server_close()
