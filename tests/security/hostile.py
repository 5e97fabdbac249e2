"""Hostile inputs, as hypothesis strategies: what an attacker or a broken client sends to the app's HTTP edge.

Shared by the security tier (tests/security/) and bench/fuzz.py, so the benchmark's 10,000 requests and the CI
tier's 2,000 are drawn from the same generators. A strategy yields a `Case`: one HTTP request plus what the
app must do with it beyond the rules every answer obeys (no 5xx, no hang, the error shape, nothing stored for
a 4xx): `must_reject` when the request is certainly invalid (a 2xx would mean it was accepted), and
`must_fail_signature` when it is not correctly signed (anything but 401 or 413 would mean the signature is
not checked first, a 2xx a bypass).

JSON texts are composed as text rather than dumped from Python objects: 1,000 levels of nesting, `NaN`,
duplicate keys and lone-surrogate escapes cannot all be produced by `json.dumps`.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field, replace
from typing import Literal

from hypothesis import strategies as st

from interconnect.channels.signatures import sign_jira, sign_servicenow, sign_slack, sign_standard_webhook, sign_teams

DEPTH = 1000  # the nesting the issue saw turn into a 500
BIG_ID = 20_000  # a 20 KB id: far beyond any real ARM id, small enough for one request line
Validity = Literal["ok", "bad", "maybe"]  # "maybe": the app may accept or refuse it, both are fine


@dataclass(frozen=True)
class Case:
    """One request to the app. `path` is below `/api/`, already percent-encoded, query included."""

    label: str  # the route (function name) or channel, for reports
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    keyed: bool = False  # a valid function key is sent (as header or ?code=)
    must_reject: bool = False
    must_fail_signature: bool = False
    note: str = ""  # what was hostile about it, for reports

    def describe(self, limit: int = 300) -> str:
        body = (self.body or b"")[:limit]
        path = self.path if len(self.path) <= limit else f"{self.path[:limit]}…({len(self.path)} chars)"
        return (
            f"[{self.label}] {self.method} /api/{path} note={self.note!r} keyed={self.keyed} "
            f"headers={ {k: v[:80] for k, v in self.headers.items()} } body[:{limit}]={body!r}"
            f"{f'…({len(self.body)} bytes)' if self.body and len(self.body) > limit else ''}"
        )


# -- the fleet the hostile inputs aim at --------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a case may name that really exists (so some cases get past the first check) and the secrets the
    app under test is configured with, to sign channel payloads as a real sender would."""

    subscription: str
    resource_group: str
    clouds: tuple[str, ...]  # private cloud names in the fleet
    function_key: str
    jira_source: str
    jira_secret: str
    snow_source: str
    snow_secret: str
    webhook_source: str
    webhook_secret: str
    slack_secret: str
    teams_secret: str

    def cloud_id(self, name: str, *, sub: str | None = None, rg: str | None = None) -> str:
        return (
            f"/subscriptions/{sub if sub is not None else self.subscription}/resourceGroups/"
            f"{rg if rg is not None else self.resource_group}/providers/Microsoft.AVS/privateClouds/{name}"
        )

    def secrets(self) -> dict[str, str]:
        """Every secret value the app is configured with, by a label that says which (never the value)."""
        return {
            "function key": self.function_key,
            "Jira signing secret": self.jira_secret,
            "ServiceNow signing secret": self.snow_secret,
            "webhook signing secret": self.webhook_secret,
            "Slack signing secret": self.slack_secret,
            "Teams secret": self.teams_secret,
        }


# -- atoms ---------------------------------------------------------------------------------------------------


def deep_array(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int = DEPTH) -> str:
    return '{"a":' * depth + "1" + "}" * depth


DEEP = (deep_array(), deep_object(), deep_array(50_000), '{"x":' + deep_array() + "}")
# Names ARM's grammar refuses: dot segments change a URL's shape, the rest are separators or out of range.
BAD_NAMES = (
    ".",
    "..",
    "",
    " ",
    "pc-a.",
    "a/b",
    "a%2Fb",
    "%2e%2e",
    "..%2F..",
    "a\\b",
    "a?b",
    "a#b",
    "a;b",
    "\x00",
    "\ud800",
    "a\u202eb",
    "Ω",
    "x" * 81,
    "x" * BIG_ID,
    "../../providers",
    "a b",
    "%00",
)
BAD_SUBSCRIPTIONS = ("..", ".", "", "not-a-guid", "00000000-0000-0000-0000-00000000000", "x" * BIG_ID)
BAD_GROUPS = (".", "..", "", "rg.", "a/b", "a%2Fb", "x" * 91, "\ud800")
JSON_WRONG_TYPES = (
    "1",
    "-1",
    "0.5",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '["connect"]',
    '{"name":"a"}',
    "1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 5000,
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"a\\u0000b"',
)
BIG_STRINGS = ('"' + "a" * 100_000 + '"', '"' + "\\u00e9" * 30_000 + '"', '"' + "\\\\" * 50_000 + '"')
RAW_BODIES = (
    b"",
    b" ",
    b"null",
    b"[]",
    b"{}",
    b"{not json",
    b"\xff\xfe\x00\x00",
    b"\xef\xbb\xbf{}",
    b'{"action":"connect"',
    b'{"a":"\xed\xa0\x80"}',
    b'{"a":"\x01\x02\x1f"}',
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'"\\ud800"',
    b"1e999999",
    b"9" * 5000,
    b'{"a":1,"a":2}',
    b"\x00" * 64,
    b'{"' + b"k" * 70_000 + b'":1}',
    b"[" + b"1," * 300_000 + b"1]",
    b"\x80\x81\x82",
    '{"action": "connect"}'.encode("utf-16"),
)
BAD_TOKENS = (
    "",
    ".",
    "..",
    "%2F",
    "not-base64!",
    "x" * BIG_ID,
    "null",
    "e30",
    "W10",  # e30 = {}, W10 = []
    base64.urlsafe_b64encode(b'"\\ud800"').decode(),
    base64.urlsafe_b64encode(b"[1,2]").decode(),
    base64.urlsafe_b64encode(deep_array().encode()).decode(),
    base64.urlsafe_b64encode(deep_object().encode()).decode(),
    base64.urlsafe_b64encode(b'{"nextPartitionKey":"\\ud800","nextRowKey":1}').decode(),
    base64.urlsafe_b64encode(b'{"pk":"a","rk":"b"}').decode(),
    base64.b64encode(b"\xff\xfe\xfd").decode(),
    "%ff%fe",
    "e30=" * 2500,
)


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text).decode()


PRINCIPALS = (
    _b64(deep_object()),
    _b64(deep_array()),
    _b64("[1,2,3]"),
    _b64("null"),
    _b64('"x"'),
    _b64('{"userId":{"a":1}}'),
    _b64('{"userId":"\\ud800"}'),
    _b64('{"userId":' + deep_array() + "}"),
    _b64(b"\xff\xfe"),
    _b64('{"claims":' + '"' + "c" * 15_000 + '"}'),
    "not base64 !!",
    "=" * 50,
    _b64('{"userId":NaN}'),
    "%2F",
    "x" * BIG_ID,
)


def _printable_header(text: str) -> str:
    """What an HTTP client can put in a header value: Latin-1, no CR/LF/NUL (the rest of the junk stays)."""
    return "".join(c for c in text if c not in "\r\n\x00" and ord(c) < 256)


header_junk = st.one_of(
    st.sampled_from(
        (
            "",
            " ",
            ".",
            "..",
            "x" * BIG_ID,
            "\x01\x02\x7f",
            "é" * 200,
            "%2F",
            "null",
            "{}",
            "00-" + "f" * 32 + "-" + "f" * 16 + "-01",
            "\t",
        )
    ),
    st.text(max_size=64).map(_printable_header),
)


def _json_fragment(valid: list[str]) -> st.SearchStrategy[tuple[str, Validity]]:
    """A JSON value for one field: one of `valid` (ok), or something no field of the app may accept (bad)."""
    return st.one_of(
        st.sampled_from(valid).map(lambda v: (json.dumps(v), "ok")),
        st.sampled_from(JSON_WRONG_TYPES + DEEP + BIG_STRINGS).map(lambda v: (v, "bad")),
    )


def _id_fragment(target: Target) -> st.SearchStrategy[tuple[str, Validity]]:
    good = [target.cloud_id(n) for n in target.clouds]
    bad_ids = (
        [target.cloud_id(n) for n in BAD_NAMES]
        + [target.cloud_id("pc-a", sub=s) for s in BAD_SUBSCRIPTIONS]
        + [target.cloud_id("pc-a", rg=g) for g in BAD_GROUPS]
        + [
            target.cloud_id("pc-a") + "/..",
            target.cloud_id("pc-a") + "/",
            target.cloud_id("pc-a") + "/x",
            target.cloud_id("pc-a").replace("/", "//"),
            target.cloud_id("pc-a").replace("/", "%2F"),
            "/subscriptions/../privateClouds/x",
            "privateClouds/pc-a",
            "pc-a",
            "",
            "/",
        ]
    )
    return st.one_of(
        st.sampled_from(good).map(lambda v: (json.dumps(v), "ok")),
        st.sampled_from(bad_ids).map(lambda v: (json.dumps(v), "bad")),
        st.sampled_from(JSON_WRONG_TYPES + DEEP + BIG_STRINGS).map(lambda v: (v, "bad")),
    )


def _text_fragment() -> st.SearchStrategy[tuple[str, Validity]]:
    return st.one_of(
        st.text(max_size=40).map(lambda v: (json.dumps(v), "maybe")),
        st.sampled_from(("CHG-1", "")).map(lambda v: (json.dumps(v), "ok")),
        st.sampled_from(tuple(v for v in JSON_WRONG_TYPES if v not in ("null",)) + DEEP + BIG_STRINGS).map(
            lambda v: (v, "bad")
        ),
    )


@st.composite
def submit_body(draw: st.DrawFn, target: Target) -> tuple[bytes, bool, str]:
    """A body for POST /api/requests: (bytes, must_reject, note)."""
    if draw(st.integers(0, 4)) == 0:
        raw = draw(st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=64)))
        return raw, True, "raw body"  # none of them is a submit body
    fields: dict[str, tuple[str, Validity]] = {
        "action": draw(_json_fragment(["connect", "disconnect"])),
        "source": draw(_id_fragment(target)),
        "target": draw(_id_fragment(target)),
    }
    for optional in ("reference", "requestedBy"):
        if draw(st.booleans()):
            fields[optional] = draw(_text_fragment())
    if draw(st.integers(0, 5)) == 0:
        fields[draw(st.sampled_from(("extra", "Action", "\ud800", "__proto__", "x" * 300)))] = ("1", "bad")
    if draw(st.integers(0, 5)) == 0:
        del fields[draw(st.sampled_from(("action", "source", "target")))]
        fields["_missing"] = ("", "bad")
    text = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, (v, _) in fields.items() if k != "_missing") + "}"
    bad = [k for k, (_, validity) in fields.items() if validity == "bad"]
    same = fields.get("source") == fields.get("target")
    return text.encode("utf-8", "surrogatepass"), bool(bad) or same, f"bad fields: {bad}" if bad else "submit"


# -- route cases ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """An HTTP function as the local host serves it (read from function_app.py's bindings)."""

    name: str
    template: str  # e.g. "requests/{id}/approve"
    methods: tuple[str, ...]
    auth_level: str

    @property
    def keyed(self) -> bool:
        return self.auth_level != "anonymous"

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"\{\*?([A-Za-z_]\w*)", self.template)


ROUTE_VALUES = (
    ".",
    "..",
    "",
    "%2F",
    "a%2Fb",
    "%2e%2e",
    "%2E",
    "%00",
    "%ff",
    "%ZZ",
    "latest",
    "x" * BIG_ID,
    "%F0%9F%92%A5",
    "%ED%A0%80",
    "a%20b",
    "%5C",
    "%3F",
    "%23",
    "*",
    "null",
    "'",
    "%22",
    "-1",
    "00000000-0000-0000-0000-000000000000",
)
QUERY_NAMES = ("cloud", "status", "limit", "continuation", "dryRun", "format", "since", "", "\ud800")


def _route_value(target: Target) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(ROUTE_VALUES),
        st.text(min_size=1, max_size=30).map(lambda t: urllib.parse.quote(t.encode("utf-8", "surrogatepass"), safe="")),
        st.sampled_from([urllib.parse.quote(target.cloud_id(n), safe="") for n in target.clouds]),
        st.uuids().map(str),
    )


def _query_value(target: Target) -> st.SearchStrategy[str]:
    """Already percent-encoded."""
    plain = st.one_of(
        st.sampled_from(BAD_TOKENS),
        st.sampled_from([target.cloud_id(n) for n in BAD_NAMES[:12]] + [target.cloud_id(n) for n in target.clouds]),
        st.sampled_from(
            (
                "true",
                "1",
                "yes",
                "-1",
                "0",
                "99999999999999999999",
                "Succeeded",
                "json",
                "dot",
                "svg",
                "mermaid",
                "NaN",
                "1e9",
                "x" * BIG_ID,
            )
        ),
        st.text(max_size=30),
    )
    return st.one_of(
        plain.map(lambda v: urllib.parse.quote(v.encode("utf-8", "surrogatepass"), safe="")),
        st.sampled_from(("%2F", "%ff%fe", "%ZZ", "%", "a%2Fb%2F..")),
    )


@st.composite
def route_case(draw: st.DrawFn, route: Route, target: Target) -> Case:
    """One hostile request to `route`: bad route values, query, headers and body, with or without a key."""
    method = draw(st.sampled_from(route.methods or ("GET", "POST")))
    path = route.template
    notes = []
    for name in route.parameters:
        value = draw(_route_value(target))
        path = re.sub(r"\{\*?" + name + r"[^}]*\}", lambda _, v=value: v, path)
        notes.append(f"{name}={value[:40]!r}")
    query: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(QUERY_NAMES))
        encoded = urllib.parse.quote(name.encode("utf-8", "surrogatepass"), safe="")
        query.append(f"{encoded}={draw(_query_value(target))}")
    content_types = (
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "application/json; charset=latin-1",
    )
    headers: dict[str, str] = {"Content-Type": draw(st.sampled_from(content_types))}
    for name in draw(
        st.lists(
            st.sampled_from(
                (
                    "X-MS-CLIENT-PRINCIPAL",
                    "X-MS-CLIENT-PRINCIPAL-ID",
                    "X-MS-CLIENT-PRINCIPAL-NAME",
                    "x-correlation-id",
                    "Idempotency-Key",
                    "traceparent",
                    "Authorization",
                )
            ),
            max_size=3,
            unique=True,
        )
    ):
        headers[name] = draw(st.sampled_from(PRINCIPALS) if name == "X-MS-CLIENT-PRINCIPAL" else header_junk)
    key = draw(st.sampled_from(("header", "query", "none", "wrong")))
    if key == "header":
        headers["x-functions-key"] = target.function_key
    elif key == "query":
        query.append(f"code={urllib.parse.quote(target.function_key, safe='')}")
    elif key == "wrong":
        headers["x-functions-key"] = draw(st.sampled_from(("", "x", target.function_key + "x", "é")))
    body, must_reject, note = None, False, "no body"
    if method in ("POST", "PUT", "PATCH"):
        if route.name == "submit_request":
            body, must_reject, note = draw(submit_body(target))
        else:
            body = draw(
                st.one_of(st.sampled_from(RAW_BODIES), st.sampled_from(DEEP).map(str.encode), st.binary(max_size=64))
            )
            note = "junk body"
    notes.append(note)
    if query:
        path += "?" + "&".join(query)
        notes.append("query")
    return Case(
        route.name,
        method,
        path,
        headers,
        body,
        keyed=key in ("header", "query"),
        must_reject=must_reject and key in ("header", "query"),
        note="; ".join(notes),
    )


# -- signed channel payloads ---------------------------------------------------------------------------------

CHANNELS = ("jira", "servicenow", "webhook", "slack_command", "slack_action", "teams")


def _fields(target: Target) -> st.SearchStrategy[str]:
    """A value for a ticket/chat cloud field: a real cloud (half the time, so some payloads get as far as a
    verdict), a bad name or a bad id."""
    good = st.sampled_from([target.cloud_id(n) for n in target.clouds] + list(target.clouds))
    return st.one_of(
        good,
        good,
        st.sampled_from(BAD_NAMES),
        st.sampled_from([target.cloud_id(n) for n in BAD_NAMES]),
        st.sampled_from([target.cloud_id("pc-a", rg=g) for g in BAD_GROUPS]),
    )


def _json_value(target: Target) -> st.SearchStrategy[str]:
    """A JSON text for one field of a channel payload."""
    return st.one_of(_fields(target).map(lambda v: json.dumps(v)), st.sampled_from(JSON_WRONG_TYPES + DEEP))


@st.composite
def channel_body(draw: st.DrawFn, channel: str, target: Target) -> tuple[bytes, str]:
    """A hostile payload for `channel` (before signing) and a note of what is hostile about it."""
    if draw(st.integers(0, 6)) == 0:
        raw = draw(st.sampled_from(RAW_BODIES + tuple(d.encode() for d in DEEP)))
        return raw, "raw body"
    v = lambda: draw(_json_value(target))  # noqa: E731 - short local helpers read better here
    some_id = lambda: uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))  # noqa: E731
    # Fields that are not clouds: ordinary most of the time, hostile one time in four.
    o = lambda normal: draw(  # noqa: E731
        st.one_of(
            st.just(json.dumps(normal)),
            st.just(json.dumps(normal)),
            st.just(json.dumps(normal)),
            st.sampled_from(JSON_WRONG_TYPES + DEEP),
        )
    )
    action = draw(
        st.sampled_from(('"connect"', '"Connect"', '"disconnect"', '"Disconnect"'))
        | st.sampled_from(JSON_WRONG_TYPES + DEEP)
    )
    if channel == "jira":
        text = (
            '{"webhookEvent":"jira:issue_updated","user":{"accountId":'
            + o("5b10ac8d")
            + '},"issue":{"key":'
            + o(f"NET-{draw(st.integers(0, 10**6))}")
            + ',"fields":{"customfield_10052":{"value":'
            + action
            + '},"customfield_10050":'
            + v()
            + ',"customfield_10051":'
            + v()
            + "}}}"
        )
    elif channel == "servicenow":
        text = (
            '{"number":'
            + o(f"CHG{draw(st.integers(0, 10**7)):07d}")
            + ',"sys_id":'
            + o(some_id().hex)
            + ',"u_action":'
            + action.lower()
            + ',"u_source_cloud":'
            + v()
            + ',"u_target_cloud":'
            + v()
            + ',"sys_updated_by":'
            + o("jdoe")
            + "}"
        )
    elif channel == "webhook":
        text = (
            '{"action":'
            + action.lower()
            + ',"source":'
            + v()
            + ',"target":'
            + v()
            + ',"reference":'
            + o(f"CMDB-{draw(st.integers(0, 999))}")
            + ',"requestedBy":'
            + o("pipeline")
            + "}"
        )
    elif channel == "teams":
        words = " ".join(draw(st.lists(_fields(target), min_size=1, max_size=3)))
        text = (
            '{"type":"message","id":'
            + o(uuid.UUID(int=draw(st.integers(0, 2**64))).hex)
            + ',"text":'
            + draw(
                st.one_of(
                    st.just(json.dumps(f"<at>Interconnect</at> connect {words}")),
                    st.sampled_from(JSON_WRONG_TYPES + DEEP),
                )
            )
            + ',"from":{"id":"29:x","name":"Eve","aadObjectId":'
            + o(str(some_id()))
            + "}}"
        )
    elif channel == "slack_command":
        verb = draw(st.sampled_from(("connect", "disconnect", "plan", "status", "links", "help", "")))
        words = " ".join(draw(st.lists(_fields(target), max_size=3)))
        form = {
            "team_id": draw(st.sampled_from(("T1", "", "x" * 300, "\ud800"))),
            "user_id": "U1",
            "user_name": "eve",
            "command": "/avs",
            "text": f"{verb} {words}",
            "trigger_id": uuid.UUID(int=draw(st.integers(0, 2**64))).hex,
            "response_url": draw(st.sampled_from(("", "http://127.0.0.1:9/x", "file:///etc/passwd", ".."))),
        }
        return urllib.parse.urlencode(
            {k: s.encode("utf-8", "surrogatepass") for k, s in form.items()}
        ).encode(), f"slack command {verb} {words[:60]!r}"
    else:  # slack_action
        action_id = draw(st.sampled_from(("confirm_disconnect", "approve", "reject", "other")))
        if action_id == "confirm_disconnect":
            part = st.fixed_dictionaries(
                {
                    "subscription": st.sampled_from((target.subscription, *BAD_SUBSCRIPTIONS)),
                    "resource_group": st.sampled_from((target.resource_group, *BAD_GROUPS)),
                    "name": st.sampled_from(target.clouds + BAD_NAMES),
                }
            )
            value = draw(
                st.one_of(
                    st.tuples(part, part).map(lambda p: json.dumps({"source": p[0], "target": p[1], "ticket": "T"})),
                    st.sampled_from(
                        DEEP
                        + JSON_WRONG_TYPES
                        + ('{"source":{},"target":{}}', '{"source":{"name":"a","x":1},"target":[]}')
                    ),
                )
            )
        else:
            value = draw(st.sampled_from((":", "..:..", "x" * BIG_ID, "%2F:", "\ud800:x", "")) | st.text(max_size=40))
        payload = (
            '{"type":"block_actions","team":{"id":"T1"},"user":{"id":'
            + draw(st.sampled_from(('"U1"', '"U2"', "1", "null", deep_object())))
            + ',"username":"eve"},"trigger_id":'
            + json.dumps(uuid.UUID(int=draw(st.integers(0, 2**64))).hex)
            + ',"response_url":"http://127.0.0.1:9/x","actions":[{"action_id":'
            + json.dumps(action_id)
            + ',"value":'
            + json.dumps(value)
            + "}]}"
        )
        if draw(st.integers(0, 4)) == 0:
            payload = draw(st.sampled_from(DEEP + JSON_WRONG_TYPES + ('{"actions":[]}', '{"actions":{}}')))
        return urllib.parse.urlencode(
            {"payload": payload.encode("utf-8", "surrogatepass")}
        ).encode(), f"slack action {action_id} value={value[:80]!r}"
    return text.encode("utf-8", "surrogatepass"), "payload"


def channel_path(channel: str, target: Target) -> str:
    return {
        "jira": f"hooks/{target.jira_source}",
        "servicenow": f"hooks/{target.snow_source}",
        "webhook": f"hooks/{target.webhook_source}",
        "slack_command": "chat/slack",
        "slack_action": "chat/slack/actions",
        "teams": "chat/teams",
    }[channel]


def sign(
    channel: str,
    target: Target,
    body: bytes,
    *,
    secret: str | None = None,
    now: int | None = None,
    msg_id: str | None = None,
) -> dict[str, str]:
    """The headers a real sender of `channel` would send, signed with the configured secret (or `secret`)."""
    now = int(time.time()) if now is None else now
    if channel == "jira":
        return {
            **sign_jira(secret or target.jira_secret, body),
            "Content-Type": "application/json",
            "X-Atlassian-Webhook-Identifier": msg_id or uuid.uuid4().hex,
        }
    if channel == "servicenow":
        return {**sign_servicenow(secret or target.snow_secret, now, body), "Content-Type": "application/json"}
    if channel == "webhook":
        return {
            **sign_standard_webhook(secret or target.webhook_secret, msg_id or f"msg_{uuid.uuid4().hex}", now, body),
            "Content-Type": "application/json",
        }
    if channel == "teams":
        return {**sign_teams(secret or target.teams_secret, body), "Content-Type": "application/json"}
    return {**sign_slack(secret or target.slack_secret, now, body), "Content-Type": "application/x-www-form-urlencoded"}


WRONG_SECRETS = {
    "jira": "wrong-secret",
    "servicenow": "wrong-secret",
    "slack_command": "wrong-secret",
    "slack_action": "wrong-secret",
    "webhook": "whsec_" + base64.b64encode(b"w" * 24).decode(),
    "teams": base64.b64encode(b"w" * 30).decode(),
}
FORGERIES = ("unsigned", "wrong secret", "tampered", "stale", "unknown source")


@st.composite
def channel_case(draw: st.DrawFn, channel: str, target: Target, *, forged: bool | None = None) -> Case:
    """A correctly signed hostile payload for `channel`, or (forged) the same payload badly signed."""
    body, note = draw(channel_body(channel, target))
    path = channel_path(channel, target)
    forge = draw(st.booleans()) if forged is None else forged
    if not forge:
        return Case(channel, "POST", path, sign(channel, target, body), body, note=note)
    how = draw(st.sampled_from(FORGERIES if channel in ("jira", "servicenow", "webhook") else FORGERIES[:4]))
    if how == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif how == "wrong secret":
        headers = sign(channel, target, body, secret=WRONG_SECRETS[channel])
    elif how == "tampered":
        headers = sign(channel, target, body + b" ")
    elif how == "stale":
        # Jira and Teams signatures carry no time; for them a stale variant is a signature over other bytes.
        headers = (
            sign(channel, target, body, now=int(time.time()) - 3600)
            if channel not in ("jira", "teams")
            else sign(channel, target, b"{}")
        )
    else:
        headers = sign(channel, target, body)
        path = "hooks/" + draw(st.sampled_from(("unknown", "..", "%2F", "x" * 300, "jira-prod%00")))
    return replace(Case(channel, "POST", path, headers, body, note=f"{how}: {note}"), must_fail_signature=True)
