"""The OpenAPI 3.1 description of every HTTP route, built from the shapes in contract.py and the error codes
each route can answer; `python -m interconnect.app.openapi` writes it to interconnect/app/openapi.json, and its
OpenAPI 2.0 rendering for custom connectors (openapi_v2.py) to interconnect/app/openapi-v2.json.

The checked-in file is what the app serves (`GET /api/openapi.json`, blueprints/apidoc.py): nothing here runs at
cold start. Tests keep it honest: the file equals a fresh build, its paths and methods equal the routes
function_app.py registers, it passes an OpenAPI validator, and every answer of the e2e tier fits it.

Each error response lists its `code`s as an enum, per operation and status, so an answer carrying a code the
document does not name fails validation; `CODES` says what each one means.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from interconnect.app import contract as c
from interconnect.app.http import CORRELATION_ID_SHAPE, IDEMPOTENCY_KEY_SHAPE, MAX_QUERY, UUID_SHAPE
from interconnect.app.identity import ADMIN_ROLE, APPROVE_ROLE, REQUEST_ROLE
from interconnect.app.openapi_v2 import DOCUMENT_V2, render_v2
from interconnect.avs.ids import MAX_ID_LENGTH
from interconnect.linking.model import Status
from interconnect.linking.queries import MAX_PAGE
from interconnect.linking.validation import MAX_DATE, MAX_REQUESTER_FILTER

DOCUMENT = Path(__file__).with_name("openapi.json")
REF = "#/components/schemas/{name}"
# The grammars the edge checks with (http.py), anchored as JSON Schema patterns; the key is stripped first.
UUID_PATTERN = f"^{UUID_SHAPE.pattern}$"
IDEMPOTENCY_KEY_PATTERN = rf"^\s*{IDEMPOTENCY_KEY_SHAPE.pattern}\s*$"
CORRELATION_ID_PATTERN = f"^{CORRELATION_ID_SHAPE.pattern}$"

# What each error code means: the descriptions of the error responses are made of these.
CODES: dict[str, str] = {
    # 400
    "INVALID_JSON": "the body is not a JSON object (or nests deeper than 32 levels, or is not UTF-8)",
    "MISSING_FIELD": "a required field is missing (`details.fields`)",
    "UNKNOWN_FIELD": "a field the API does not know is present (`details.fields`)",
    "INVALID_FIELD": "`reference` or `requestedBy` is not a single-line string of at most 200 characters",
    "INVALID_ACTION": "`action` is not `connect` or `disconnect`",
    "INVALID_ID": "a cloud is not a private cloud ARM id; `details.field` and `details.segment` name the part",
    "SAME_CLOUD": "source and target are the same private cloud",
    "INVALID_IDEMPOTENCY_KEY": "the Idempotency-Key header is not 1-200 letters, digits or `._~:/#@=+!$*(),;-`",
    "INVALID_REQUEST_ID": "the request id in the path is not a UUID",
    "INVALID_AUDIT_ID": "the audit id in the path is neither a UUID nor `latest`",
    "INVALID_QUERY": f"the query string is over {MAX_QUERY} characters, a parameter over its cap, or a flag (dryRun) "
    "neither true nor false",
    "INVALID_STATUS": "`status` is not a request status",
    "INVALID_LIMIT": f"`limit` is not a whole number from 1 to {MAX_PAGE}",
    "INVALID_REQUESTER": "`requester` is not `<channel>:<id>` as requests record it (e.g. api:<object id>), nor `me`",
    "INVALID_DATE": "`since` or `until` is not an ISO 8601 date or date-time, or `since` is after `until`",
    "INVALID_CONTINUATION": "`continuation` is not a token this listing issued",
    "INVALID_FORMAT": "`format` is not json, mermaid, dot or svg",
    "TOPOLOGY_INVALID": "the topology document does not parse or breaks its schema (`details.problems`: path, line)",
    "TOPOLOGY_UNKNOWN_CLOUD": "a cloud the document names is not in its scope's subscriptions (`details.problems`)",
    "TOPOLOGY_AMBIGUOUS_CLOUD": "a short cloud name matches several clouds (`details.problems`)",
    "TOPOLOGY_OUT_OF_SCOPE": "a declared link has an end outside the document's scope (`details.problems`)",
    "TOPOLOGY_SAME_CLOUD": "a declared link joins a cloud to itself (`details.problems`)",
    "TOPOLOGY_DUPLICATE_LINK": "the same pair is declared twice (`details.problems`)",
    "TOPOLOGY_SCOPE_MISMATCH": "the document's scope is not the one registered with it",
    "TOPOLOGY_SCOPE_UNREADABLE": "ARM refuses to list a subscription of the document's scope (`details.armCode`)",
    "INVALID_FINGERPRINT": "`fingerprint` is missing or not a plan's fingerprint (v1:<64 hex digits>)",
    "INVALID_CHANGESET_ID": "the change set id in the path is not a UUID",
    "CHANGESET_TOO_LARGE": "the plan has more steps than one change set can record",
    "INVALID_CLOUD_REF": "`ref` is missing, or no private cloud could have that name",
    "INVALID_PAYLOAD": "the channel's payload is not what it sends (a field's grammar, the form, the JSON)",
    "STORAGE_REFUSED_INPUT": "Table Storage refused a value sent (ids or values it cannot hold)",
    "INVALID_KEY": "a value sent cannot be a table key",
    "ENTITY_TOO_LARGE": "what was sent is more than a table row can hold",
    # 401
    "AUTHENTICATION_REQUIRED": "no `Authorization: Bearer <Entra access token>` was sent",
    "TOKEN_INVALID": "the bearer token is not a valid Entra access token of the configured tenant",
    "TOKEN_EXPIRED": "the bearer token has expired",
    "TOKEN_AUDIENCE": "the bearer token is for another audience",
    "TOKEN_ISSUER": "the bearer token was issued by another authority or tenant",
    "TOKEN_NOT_ACCEPTED": "this app accepts no Entra tokens (INTERCONNECT_AUTH_ISSUER/AUDIENCE are not set)",
    "BAD_SIGNATURE": "the call is not signed by an active secret of its channel (also for an unknown source)",
    # 403
    "APPROVER_NOT_VERIFIED": "the caller is not a person proven by an Entra token (a key or an application)",
    "SELF_APPROVAL": "the approver asked for the request",
    "NOT_AN_APPROVER": "the policy names neither the approver nor a role or group of theirs",
    # 404
    "REQUEST_NOT_FOUND": "no request has this id",
    "AUDIT_NOT_FOUND": "no audit has run yet, or none has this id",
    "CLOUD_NOT_FOUND": "the private cloud does not exist or ARM refuses to show it",
    "ARM_MALFORMED_ANSWER": "ARM's answer for the cloud is not what its API describes",
    "ASSET_NOT_FOUND": "the console has no file of this name (or the console is not deployed)",
    "CHANGESET_NOT_FOUND": "no change set has this id",
    # 409
    "IDEMPOTENCY_KEY_REUSED": "the Idempotency-Key was used before for a different request",
    "NOT_AWAITING_APPROVAL": "the request is not awaiting approval (`details.status`)",
    "APPROVAL_EXPIRED": "the approval window has closed",
    "CONFLICT": "the request changed concurrently; read it again",
    "AMBIGUOUS_CLOUD": "several clouds have that name (`details.candidates`)",
    "PLAN_CHANGED": "the plan is not the one reviewed: the estate or the document changed (`details.fingerprint`: "
    "the new one, `details.plan`: the new plan)",
    # 413, 422
    "TOO_LARGE": "the body (or a value stored from it) is over its size limit (`details.limit`)",
    "MAPPING_FAILED": "the ticket lacks what the source's mapping needs (`details.missing`, `details.invalid`)",
    "PLAN_REFUSED": "a rule refuses the plan (`details.problems`: every reason code; `details.plan`: the plan)",
    "UNSUPPORTED_MEDIA_TYPE": "the body's Content-Type is not one this route reads (`details.accepted`)",
    # 500
    "INTERNAL": "an unexpected error; quote the x-correlation-id",
    "SETTINGS_INVALID": "a setting of the app is missing or malformed",
    "POLICY_INVALID": "the configured requester policy cannot be read",
    "STORAGE_FORBIDDEN": "Table Storage refused the app's identity",
    "CORRUPT_RECORD": "a stored record cannot be read back by this version",
    "TOKEN_KEY_MISSING": "the continuation token key could not be made",
    "AUDIT_UNAVAILABLE": "the audit is not configured",
    # 503
    "DEPENDENCY_UNAVAILABLE": "Table Storage, Service Bus or ARM is unavailable; retry after `Retry-After`",
    "THROTTLED": "ARM throttled the app; retry after `Retry-After`",
    "SIGNING_KEYS_UNAVAILABLE": "the tenant's token signing keys cannot be read",
    "CONSOLE_SIGN_IN_OFF": "the console's sign-in is not configured (Entra sign-in or INTERCONNECT_CONSOLE_CLIENT_ID)",
    "SIGN_IN_UNAVAILABLE": "the tenant's OpenID metadata cannot be read or names no authorization or token endpoint",
    "RENDERER_UNAVAILABLE": "no Graphviz layout engine is available",
    "RENDER_FAILED": "the layout engine failed",
    "RENDER_TIMEOUT": "the layout engine ran out of time",
}

TOKEN_401 = ("TOKEN_INVALID", "TOKEN_EXPIRED", "TOKEN_AUDIENCE", "TOKEN_ISSUER", "TOKEN_NOT_ACCEPTED")
SERVER_500 = ("INTERNAL", "SETTINGS_INVALID", "STORAGE_FORBIDDEN", "CORRUPT_RECORD")
STORE_400 = ("STORAGE_REFUSED_INPUT", "INVALID_KEY", "ENTITY_TOO_LARGE")
STORE_503 = ("DEPENDENCY_UNAVAILABLE",)
ARM_503 = ("DEPENDENCY_UNAVAILABLE", "THROTTLED")


@dataclass(frozen=True)
class Link:
    """An operation a client can call next with a value this answer holds (an OpenAPI link): how API
    Management, connectors and stateful fuzzers chain a submit to its reads and decisions."""

    operation_id: str
    parameter: str  # the parameter of that operation the value goes to
    body_field: str  # the answer's top-level JSON field holding it
    description: str


@dataclass(frozen=True)
class Body:
    """A success answer: its shape (a contract type) per media type, its headers and its links."""

    description: str
    media: dict[str, Any]  # media type -> contract type, or a JSON Schema dict
    headers: tuple[str, ...] = ()
    required_headers: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    operation_id: str
    tag: str
    summary: str
    description: str
    security: str  # "key" (function key, optionally with a bearer token), "bearer", "anonymous", "signed"
    answers: dict[int, Body]
    errors: dict[int, tuple[str, ...]]
    parameters: tuple[dict[str, Any], ...] = ()
    request_body: dict[str, Any] | None = None  # media type -> contract type
    reads_token: bool = False  # a bearer token, when sent, is verified (401 TOKEN_*, 503 SIGNING_KEYS_UNAVAILABLE)
    body_examples: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> OpenAPI Example Object
    extra: dict[str, Any] = field(default_factory=dict)


def _parameter(
    where: str, name: str, schema: dict[str, Any], description: str, *, required: bool, example: Any = None
) -> dict[str, Any]:
    """A Parameter Object `in` the query, the path or a header."""
    # The example is the parameter's, not the schema's: the 2.0 rendering has no place for one on a parameter.
    parameter = {"name": name, "in": where, "required": required, "description": description, "schema": schema}
    return parameter if example is None else {**parameter, "example": example}


def _query(
    name: str, schema: dict[str, Any], description: str, *, required: bool = False, example: Any = None
) -> dict[str, Any]:
    return _parameter("query", name, schema, description, required=required, example=example)


def _path(name: str, schema: dict[str, Any], description: str, *, example: Any = None) -> dict[str, Any]:
    return _parameter("path", name, schema, description, required=True, example=example)


def _header(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return _parameter("header", name, schema, description, required=False)


# Examples are values the app accepts (tests/unit/app/test_openapi.py holds each to the app's own parsers), so a
# call made of them ("try it", a schema fuzzer's example case) reaches the handler's logic, not a 400.
REQUEST_ID_EXAMPLE = "3f2b8c1e-5d4a-4b6f-9c7e-1a2b3c4d5e6f"
CLOUD_QUERY = {"type": "string", "maxLength": MAX_ID_LENGTH, "pattern": c.CLOUD_ID_INPUT}
ID_PATH = _path(
    "id",
    {"type": "string", "pattern": UUID_PATTERN},
    "The request id (a UUID, as `requestId` gives it).",
    example=REQUEST_ID_EXAMPLE,
)
AUDIT_ID_PATH = _path(
    "id",
    {"anyOf": [{"type": "string", "pattern": UUID_PATTERN}, {"const": "latest"}]},
    "The run id (a UUID), or `latest`.",
    example="latest",
)
IDEMPOTENCY_KEY = _header(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    "The same key always maps to the same request: a repeat answers 200 with it and queues nothing.",
)
CORRELATION_ID = _header(
    "x-correlation-id",
    {"type": "string"},
    "Recorded with a request and echoed on errors; one outside this grammar is replaced by a fresh one.",
)


def _request_links(when: str) -> tuple[Link, ...]:
    """What a client can do with the `requestId` a submit answers (`when`: what to know first)."""
    return (
        Link("getRequest", "id", "requestId", f"Follow the request to its outcome{when}."),
        Link("approveRequest", "id", "requestId", f"Approve it when it awaits approval (a signed-in approver){when}."),
        Link("rejectRequest", "id", "requestId", f"Reject it when it awaits approval (a signed-in approver){when}."),
    )


SUBMIT_400 = (
    "INVALID_JSON",
    "MISSING_FIELD",
    "UNKNOWN_FIELD",
    "INVALID_FIELD",
    "INVALID_ACTION",
    "INVALID_ID",
    "SAME_CLOUD",
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "/requests",
        "post",
        "submitRequest",
        "requests",
        "Ask for a link to be made or removed, or plan it with dryRun",
        "Records the request and queues it (202, `Location` to follow it); nothing is stored or queued for any "
        "4xx. With an `Idempotency-Key` a repeat answers 200 with the existing request. With `?dryRun=true` "
        "every pre-flight rule runs on live facts and the plan is answered (200), nothing recorded or queued.",
        "key",
        {
            202: Body(
                "Accepted: recorded and queued.",
                {"application/json": c.RequestAccepted},
                ("Location",),
                ("Location",),
                _request_links(""),
            ),
            200: Body(
                "The request this Idempotency-Key already made (`RequestAccepted`), or the plan of a dry run (`Plan`).",
                {"application/json": {"anyOf": [c.RequestAccepted, c.Plan]}},
                ("Location",),
                links=_request_links(" (a repeat's answer; a dry run's plan has no requestId)"),
            ),
        },
        {
            400: (*SUBMIT_400, "INVALID_IDEMPOTENCY_KEY", "INVALID_QUERY", *STORE_400),
            404: ("REQUEST_NOT_FOUND",),
            409: ("IDEMPOTENCY_KEY_REUSED",),
            413: ("TOO_LARGE",),
            500: (*SERVER_500, "POLICY_INVALID"),
            503: ARM_503,
        },
        parameters=(
            _query(
                "dryRun",
                {"type": "boolean", "default": False},
                "true: answer the plan (every rule on live facts) and record nothing. Also 1/yes, and 0/no for false; "
                "anything else is refused (a mistyped flag must not submit for real).",
            ),
            IDEMPOTENCY_KEY,
        ),
        request_body={"application/json": c.SubmitBody},
        reads_token=True,
        body_examples={
            "connect": {
                "summary": "Link two clouds",
                "value": {
                    "action": "connect",
                    "source": c.CLOUD_ID_EXAMPLE,
                    "target": c.PEER_CLOUD_ID_EXAMPLE,
                    "reference": "CHG0012345",
                },
            },
            "disconnect": {
                "summary": "Remove their link (may await an approver)",
                "value": {
                    "action": "disconnect",
                    "source": c.CLOUD_ID_EXAMPLE,
                    "target": c.PEER_CLOUD_ID_EXAMPLE,
                    "reference": "CHG0012346",
                },
            },
        },
    ),
    Operation(
        "/requests",
        "get",
        "listRequests",
        "requests",
        "List recent requests, newest first",
        "Optionally for one cloud (as source or target), one status, one requester and a creation-time range. "
        "Pass `continuation` back unchanged, with the same filters, for the next page; a page may hold fewer "
        "than `limit` (even none) while `continuation` is set, when the filters matched little of what one call "
        "looks through, so the listing ends only when `continuation` is null. `skipped` counts stored rows of "
        "the page that cannot be read back.",
        "key",
        {200: Body("A page of requests.", {"application/json": c.RequestPage})},
        {
            400: (
                "INVALID_QUERY",
                "INVALID_STATUS",
                "INVALID_LIMIT",
                "INVALID_ID",
                "INVALID_CONTINUATION",
                "INVALID_REQUESTER",
                "INVALID_DATE",
            ),
            500: (*SERVER_500, "TOKEN_KEY_MISSING"),
            503: STORE_503,
        },
        parameters=(
            _query(
                "cloud", CLOUD_QUERY, "Only requests with this cloud as source or target.", example=c.CLOUD_ID_EXAMPLE
            ),
            _query(
                "status",
                {"$ref": REF.format(name="Status")},
                "Only requests in this status.",
                example=Status.AWAITING_APPROVAL.value,
            ),
            _query(
                "requester",
                {"type": "string", "minLength": 2, "maxLength": MAX_REQUESTER_FILTER},
                "Only requests filed by this requester: `<channel>:<id>` of a request's `requestedBy` "
                "(`api:<Entra object id>`, `slack:T01/U02`, ...), in any letter case; `me` is the caller.",
                example="api:0f8e3c1a-1111-4222-8333-444455556666",
            ),
            _query(
                "since",
                {"type": "string", "minLength": 1, "maxLength": MAX_DATE},
                "Only requests created at or after this ISO 8601 date (its first instant) or date-time (UTC "
                "unless it has an offset).",
                example="2026-12-01",
            ),
            _query(
                "until",
                {"type": "string", "minLength": 1, "maxLength": MAX_DATE},
                "Only requests created at or before this ISO 8601 date (all of that day) or date-time (UTC "
                "unless it has an offset).",
                example="2026-12-01T18:00:00Z",
            ),
            _query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50},
                "Page size (sent empty, it is refused like any other value outside the range).",
            ),
            _query(
                "continuation",
                {"type": "string"},
                "The token the previous page answered; empty, like absent, asks for the first page.",
            ),
        ),
    ),
    Operation(
        "/requests/{id}",
        "get",
        "getRequest",
        "requests",
        "Read a request, its outcome and its audit trail",
        "A rejected request lists every failing rule in `reasons`; a failed one says what ARM did. For a "
        "disconnect not yet under way, `impact`: what it cuts, read live (at most 30 s old; null otherwise; when "
        "ARM cannot be read just now, `impactError` says so and the rest stands).",
        "key",
        {200: Body("The request with its events.", {"application/json": c.LinkRequestDetail})},
        {400: ("INVALID_REQUEST_ID",), 404: ("REQUEST_NOT_FOUND",), 500: SERVER_500, 503: STORE_503},
        parameters=(ID_PATH,),
    ),
    *(
        Operation(
            f"/requests/{{id}}/{verb}",
            "post",
            f"{verb}Request",
            "requests",
            f"{verb.capitalize()} a disconnect awaiting approval",
            "Needs a person signed in with Entra ID (`Authorization: Bearer`), not the requester, with the "
            f"{APPROVE_ROLE} or {ADMIN_ROLE} app role or named by the policy; a function key alone never can. "
            "Answers the request as it now stands.",
            "bearer",
            {200: Body("The request after the decision.", {"application/json": c.LinkRequestView})},
            {
                400: ("INVALID_REQUEST_ID",),
                401: ("AUTHENTICATION_REQUIRED", *TOKEN_401),
                403: ("APPROVER_NOT_VERIFIED", "SELF_APPROVAL", "NOT_AN_APPROVER"),
                404: ("REQUEST_NOT_FOUND",),
                409: ("NOT_AWAITING_APPROVAL", "APPROVAL_EXPIRED", "CONFLICT"),
                500: (*SERVER_500, "POLICY_INVALID"),
                503: (*STORE_503, "SIGNING_KEYS_UNAVAILABLE"),
            },
            parameters=(ID_PATH,),
        )
        for verb in ("approve", "reject")
    ),
    Operation(
        "/links",
        "get",
        "listLinks",
        "links",
        "List a cloud's links, read live from AVS",
        "Outgoing cloud links and incoming ones (`externalCloudLinks`). A link listing ARM refuses or answers "
        "malformed is stated, not raised: `complete` is false and `refusedReads` names each such read.",
        "key",
        {200: Body("The cloud's links.", {"application/json": c.CloudLinks})},
        {
            400: ("INVALID_QUERY", "INVALID_ID"),
            404: ("CLOUD_NOT_FOUND", "ARM_MALFORMED_ANSWER"),
            500: SERVER_500,
            503: ARM_503,
        },
        parameters=(
            _query("cloud", CLOUD_QUERY, "The private cloud's ARM id.", required=True, example=c.CLOUD_ID_EXAMPLE),
        ),
    ),
    Operation(
        "/clouds",
        "get",
        "resolveCloud",
        "clouds",
        "Resolve a cloud name to its ARM id",
        "`ref` is a full ARM id, `name` or `resource-group/name`, resolved against the clouds of the configured "
        "subscriptions as chat resolves it. 404 and 409 list `details.candidates`.",
        "key",
        {200: Body("The cloud's ARM id.", {"application/json": c.ResolvedCloud})},
        {
            400: ("INVALID_CLOUD_REF", "INVALID_QUERY"),
            404: ("CLOUD_NOT_FOUND",),
            409: ("AMBIGUOUS_CLOUD",),
            500: SERVER_500,
            503: ARM_503,
        },
        parameters=(
            _query(
                "ref",
                # Empty or only blanks is refused (INVALID_CLOUD_REF): a search pattern for one non-blank character.
                {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": "\\S"},
                "A full ARM id, 'name' or 'resource-group/name'; empty or blank is refused.",
                required=True,
                example="pc-weu-prod",
            ),
        ),
    ),
    Operation(
        "/audits",
        "post",
        "startAudit",
        "audit",
        "Start an audit run",
        "Queues a run of the audit (the worker carries it out); follow `Location`.",
        "key",
        {
            202: Body(
                "Queued.",
                {"application/json": c.AuditStarted},
                ("Location",),
                ("Location",),
                (Link("getAudit", "id", "runId", "Read the run: its findings once the worker has carried it out."),),
            )
        },
        {500: (*SERVER_500, "AUDIT_UNAVAILABLE"), 503: STORE_503},
    ),
    Operation(
        "/audits/{id}",
        "get",
        "getAudit",
        "audit",
        "Read an audit run, or the latest one",
        "Its findings, each `new` or `open`, and the previous run's findings now resolved.",
        "key",
        {200: Body("The audit run.", {"application/json": c.AuditRun})},
        {
            400: ("INVALID_AUDIT_ID",),
            404: ("AUDIT_NOT_FOUND",),
            500: (*SERVER_500, "AUDIT_UNAVAILABLE"),
            503: STORE_503,
        },
        parameters=(AUDIT_ID_PATH,),
    ),
    Operation(
        "/topology",
        "get",
        "getTopology",
        "audit",
        "The latest audit's link topology, as data or a picture",
        "Clouds grouped by region, links with direction and status, findings attached. Links are not transitive.",
        "key",
        {
            200: Body(
                "The graph (json), or its Mermaid, DOT or SVG drawing.",
                {
                    "application/json": c.Topology,
                    "text/plain": {"type": "string", "description": "Mermaid source (format=mermaid)."},
                    "text/vnd.graphviz": {"type": "string", "description": "DOT source (format=dot)."},
                    "image/svg+xml": {"type": "string", "description": "The drawing (format=svg)."},
                },
            )
        },
        {
            400: ("INVALID_FORMAT", "INVALID_QUERY"),
            404: ("AUDIT_NOT_FOUND",),
            500: (*SERVER_500, "AUDIT_UNAVAILABLE"),
            503: (*STORE_503, "RENDERER_UNAVAILABLE", "RENDER_FAILED", "RENDER_TIMEOUT"),
        },
        parameters=(
            _query("format", {"enum": ["json", "mermaid", "dot", "svg"], "default": "json"}, "What to answer."),
        ),
    ),
    Operation(
        "/health",
        "get",
        "getHealth",
        "health",
        "Ping every dependency",
        "200 when Table Storage, Service Bus and ARM all answer; 503 naming those that did not.",
        "anonymous",
        {200: Body("All dependencies answered.", {"application/json": c.Health})},
        {500: SERVER_500},
        extra={"degraded": True},
    ),
    Operation(
        "/hooks/{source}",
        "post",
        "receiveTicketHook",
        "channels",
        "A ticketing webhook (Jira, ServiceNow, Standard Webhooks)",
        "Anonymous at the host and signed by the source over the raw body (its own headers: "
        "`X-Hub-Signature`, `webhook-signature`, ...). The ticket is mapped to a request as the source's mapping "
        "says; a redelivery maps to the same request (200).",
        "signed",
        {
            202: Body("A new request.", {"application/json": c.RequestAccepted}),
            200: Body("The request this ticket already made.", {"application/json": c.RequestAccepted}),
        },
        {
            400: ("INVALID_JSON", "INVALID_PAYLOAD", *STORE_400),
            401: ("BAD_SIGNATURE",),
            409: ("IDEMPOTENCY_KEY_REUSED",),
            413: ("TOO_LARGE",),
            422: ("MAPPING_FAILED",),
            500: SERVER_500,
            503: STORE_503,
        },
        parameters=(_path("source", {"type": "string"}, "The configured hook source's name (INTERCONNECT_HOOKS)."),),
        request_body={"application/json": {"type": "object", "description": "The ticket system's payload."}},
    ),
    Operation(
        "/chat/slack",
        "post",
        "receiveSlackCommand",
        "channels",
        "A Slack slash command",
        "Signed by Slack (`X-Slack-Signature`, `X-Slack-Request-Timestamp`); answers within Slack's 3 s.",
        "signed",
        {200: Body("What Slack shows the user.", {"application/json": c.SlackCommandReply})},
        {
            400: ("INVALID_PAYLOAD",),
            401: ("BAD_SIGNATURE",),
            413: ("TOO_LARGE",),
            500: SERVER_500,
            503: ARM_503,
        },
        request_body={"application/x-www-form-urlencoded": c.SlackCommandForm},
    ),
    Operation(
        "/chat/slack/actions",
        "post",
        "receiveSlackAction",
        "channels",
        "A Slack button (confirm a disconnect, approve, reject)",
        "Signed by Slack like a command.",
        "signed",
        {200: Body("What Slack does with the message.", {"application/json": c.SlackActionReply})},
        {
            400: ("INVALID_PAYLOAD", "INVALID_ID", "INVALID_FIELD", "SAME_CLOUD", *STORE_400),
            401: ("BAD_SIGNATURE",),
            409: ("IDEMPOTENCY_KEY_REUSED",),
            413: ("TOO_LARGE",),
            500: (*SERVER_500, "POLICY_INVALID"),
            503: STORE_503,
        },
        request_body={"application/x-www-form-urlencoded": c.SlackActionForm},
    ),
    Operation(
        "/chat/teams",
        "post",
        "receiveTeamsMessage",
        "channels",
        "A Teams outgoing-webhook message",
        "Signed by Teams (`Authorization: HMAC <base64>`); answers within Teams' 5 s.",
        "signed",
        {200: Body("The reply Teams posts.", {"application/json": c.TeamsReply})},
        {
            400: ("INVALID_PAYLOAD",),
            401: ("BAD_SIGNATURE",),
            413: ("TOO_LARGE",),
            500: SERVER_500,
            503: ARM_503,
        },
        request_body={"application/json": c.TeamsActivity},
    ),
    Operation(
        "/openapi.json",
        "get",
        "getOpenApiDocument",
        "meta",
        "This document",
        "The OpenAPI 3.1 description of the API, as checked in with the app.",
        "anonymous",
        {200: Body("The document.", {"application/json": {"type": "object"}})},
        {500: ("INTERNAL",)},
    ),
    Operation(
        "/openapi-v2.json",
        "get",
        "getSwaggerDocument",
        "meta",
        "This document as OpenAPI 2.0, for a custom connector",
        "The same description rendered as Swagger 2.0 for a Power Platform or Logic Apps custom connector "
        "(openapi_v2.py): the operations a connector can call, in the forms it accepts.",
        "anonymous",
        {200: Body("The 2.0 document.", {"application/json": {"type": "object"}})},
        {500: ("INTERNAL",)},
    ),
)


# ----------------------------------------------------------------------------------------------------- console
# The web console's routes: anonymous at the host (a browser never holds a function key). Its page, assets and
# sign-in settings are public; each data route demands a bearer token before it reads anything and otherwise
# answers as its function-key twin (app/api.py holds the shared bodies), so it is documented from that twin.

BEARER_401 = ("AUTHENTICATION_REQUIRED", *TOKEN_401)
ASSET_NAME = _path(
    "name",
    {"type": "string", "maxLength": 100},
    "The asset's exact file name (`app.js`, `app.css`, ...); any other name is 404 ASSET_NOT_FOUND.",
    example="app.js",
)
PAGE_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def _twin(key_id: str) -> Operation:
    return next(op for op in OPERATIONS if op.operation_id == key_id)


def _signed_in(
    path: str,
    method: str,
    operation_id: str,
    summary: str,
    description: str,
    answers: dict[int, Body],
    errors: dict[int, tuple[str, ...]],
    parameters: tuple[dict[str, Any], ...] = (),
    **more: Any,
) -> Operation:
    """A console data route: a bearer token or 401, then `errors`; 503 also when the signing keys cannot be read."""
    merged = dict(errors)
    merged[401] = (*BEARER_401, *merged.get(401, ()))
    merged[503] = (*merged.get(503, ()), "SIGNING_KEYS_UNAVAILABLE")
    merged[500] = merged.get(500, SERVER_500)
    return Operation(
        path, method, operation_id, "console", summary, description, "bearer", answers, merged, parameters, **more
    )


def _console_request_links() -> tuple[Link, ...]:
    return (
        Link("getConsoleRequest", "id", "requestId", "Follow the request to its outcome."),
        Link("approveRequest", "id", "requestId", "Approve it when it awaits approval (not its requester)."),
        Link("rejectRequest", "id", "requestId", "Reject it when it awaits approval (not its requester)."),
    )


def _console_operations() -> tuple[Operation, ...]:
    listing = _twin("listRequests")
    submitting = _twin("submitRequest")
    reading = _twin("getRequest")
    audit = _twin("getAudit")
    topology = _twin("getTopology")
    return (
        Operation(
            "/console",
            "get",
            "getConsolePage",
            "console",
            "The web console",
            "The console's single page (it signs a person in with Entra and then calls the routes below with "
            "their token). Served with a strict Content-Security-Policy: its own scripts and styles only.",
            "anonymous",
            {200: Body("The page.", {"text/html": {"type": "string"}}, PAGE_HEADERS, PAGE_HEADERS)},
            {404: ("ASSET_NOT_FOUND",), 500: SERVER_500},
        ),
        Operation(
            "/console/assets/{name}",
            "get",
            "getConsoleAsset",
            "console",
            "A script, style sheet or picture of the console",
            "Only the files deployed with the console, by exact name. `ETag` is a hash of the content: send it "
            "back in `If-None-Match` for 304 while it is unchanged.",
            "anonymous",
            {
                200: Body(
                    "The file.",
                    {
                        "text/javascript": {"type": "string"},
                        "text/css": {"type": "string"},
                        "image/svg+xml": {"type": "string"},
                    },
                    (*PAGE_HEADERS, "ETag"),
                    (*PAGE_HEADERS, "ETag"),
                ),
                304: Body("Unchanged since the `If-None-Match` ETag.", {}, ("ETag",), ("ETag",)),
            },
            {404: ("ASSET_NOT_FOUND",), 500: SERVER_500},
            parameters=(ASSET_NAME,),
        ),
        Operation(
            "/console/config",
            "get",
            "getConsoleConfig",
            "console",
            "How the console signs people in",
            "The tenant's authorization and token endpoints (from its OpenID metadata), the console's client id "
            "and the scope to ask for: OAuth 2.0 authorization code with PKCE.",
            "anonymous",
            {200: Body("The sign-in settings.", {"application/json": c.ConsoleConfig})},
            {500: SERVER_500, 503: ("CONSOLE_SIGN_IN_OFF", "SIGN_IN_UNAVAILABLE")},
        ),
        _signed_in(
            "/console/me",
            "get",
            "getConsoleMe",
            "Who is signed in",
            "The caller as the app records them, their app roles, and whether the policy lets them file and "
            "approve requests.",
            {200: Body("The signed-in caller.", {"application/json": c.Me})},
            {500: (*SERVER_500, "POLICY_INVALID")},
        ),
        _signed_in(
            "/console/requests",
            "get",
            "listConsoleRequests",
            "List recent requests, newest first",
            listing.description,
            {200: Body("A page of requests.", {"application/json": c.RequestPage})},
            listing.errors,
            listing.parameters,
        ),
        _signed_in(
            "/console/requests",
            "post",
            "submitConsoleRequest",
            "Ask for a link to be made or removed, or plan it with dryRun",
            submitting.description + " The status URL is the console's (`/console/requests/{id}`).",
            {
                202: Body(
                    "Accepted: recorded and queued.",
                    {"application/json": c.RequestAccepted},
                    ("Location",),
                    ("Location",),
                    _console_request_links(),
                ),
                200: Body(
                    "The request this Idempotency-Key already made (`RequestAccepted`), or the plan of a dry run "
                    "(`Plan`, with `impact` for a disconnect).",
                    {"application/json": {"anyOf": [c.RequestAccepted, c.Plan]}},
                    ("Location",),
                ),
            },
            {k: v for k, v in submitting.errors.items() if k != 401},
            submitting.parameters,
            request_body=submitting.request_body,
            body_examples=submitting.body_examples,
        ),
        _signed_in(
            "/console/requests/{id}",
            "get",
            "getConsoleRequest",
            "Read a request, its trail, and what the viewer may do with it",
            "As `getRequest`, plus `viewer` (may the signed-in person approve or reject it, and if not, why) and, "
            "for a disconnect not yet under way, `impact`: what it cuts, read live (null otherwise; when ARM "
            "cannot be read just now, `impactError` says so and the rest stands).",
            {200: Body("The request as the console shows it.", {"application/json": c.ConsoleRequest})},
            {**reading.errors, 500: (*SERVER_500, "POLICY_INVALID")},
            reading.parameters,
        ),
        _signed_in(
            "/console/approvals",
            "get",
            "listConsoleApprovals",
            "Requests awaiting my approval, with what each cuts",
            "The disconnects awaiting approval that the signed-in person may decide: never their own, and none "
            "for someone the policy does not name as an approver (`canApprove` false).",
            {200: Body("The inbox.", {"application/json": c.Inbox})},
            {500: (*SERVER_500, "POLICY_INVALID"), 503: STORE_503},
        ),
        _signed_in(
            "/console/clouds",
            "get",
            "searchConsoleClouds",
            "Search the known clouds by name",
            "The private clouds of the configured subscriptions whose name or resource group contains `q` (any "
            "case), at most 20, for search as you type.",
            {200: Body("The matching clouds.", {"application/json": c.CloudMatches})},
            {400: ("INVALID_QUERY",), 503: ARM_503},
            (
                _query(
                    "q",
                    {"type": "string", "maxLength": 100},
                    "Text the name or resource group contains; absent or empty lists the first 20.",
                    example="pc-weu",
                ),
            ),
        ),
        _signed_in(
            "/console/cloud",
            "get",
            "getConsoleCloud",
            "A cloud: its links, routed prefixes and latest requests",
            "The cloud as ARM describes it, its links (as `listLinks`), the prefixes it routes (what any link of "
            "it carries; `unreadable` says what could not be read) and its 20 latest requests.",
            {200: Body("The cloud's page.", {"application/json": c.CloudPage})},
            {
                400: ("INVALID_QUERY", "INVALID_ID", "INVALID_CONTINUATION"),
                404: ("CLOUD_NOT_FOUND", "ARM_MALFORMED_ANSWER"),
                500: (*SERVER_500, "TOKEN_KEY_MISSING"),
                503: ARM_503,
            },
            (_query("id", CLOUD_QUERY, "The private cloud's ARM id.", required=True, example=c.CLOUD_ID_EXAMPLE),),
        ),
        _signed_in(
            "/console/audits",
            "post",
            "startConsoleAudit",
            "Start an audit run",
            _twin("startAudit").description,
            {
                202: Body(
                    "Queued.",
                    {"application/json": c.AuditStarted},
                    ("Location",),
                    ("Location",),
                    (Link("getConsoleAudit", "id", "runId", "Read the run once the worker has carried it out."),),
                )
            },
            _twin("startAudit").errors,
        ),
        _signed_in(
            "/console/audits/{id}",
            "get",
            "getConsoleAudit",
            "Read an audit run, or the latest one",
            audit.description,
            {200: Body("The audit run.", {"application/json": c.AuditRun})},
            audit.errors,
            (AUDIT_ID_PATH,),
        ),
        _signed_in(
            "/console/topology",
            "get",
            "getConsoleTopology",
            topology.summary,
            topology.description + " For an `<img>`, fetch the SVG with the token and show it as a blob: URL.",
            topology.answers,
            topology.errors,
            topology.parameters,
        ),
    )


TOPOLOGY_MEDIA = ("application/yaml", "application/x-yaml", "text/yaml", "application/json")
TOPOLOGY_400 = (
    "TOPOLOGY_INVALID",
    "TOPOLOGY_SCOPE_UNREADABLE",
    "TOPOLOGY_UNKNOWN_CLOUD",
    "TOPOLOGY_AMBIGUOUS_CLOUD",
    "TOPOLOGY_OUT_OF_SCOPE",
    "TOPOLOGY_SAME_CLOUD",
    "TOPOLOGY_DUPLICATE_LINK",
)
TOPOLOGY_DOCUMENT = {"$ref": REF.format(name="TopologyDocument")}
TOPOLOGY_EXAMPLE = {
    "apiVersion": "interconnect/v1",
    "kind": "Topology",
    "scope": {"resourceGroups": ["/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-avs-weu"]},
    "defaults": {"subscription": "00000000-0000-0000-0000-000000000001", "resourceGroup": "rg-avs-weu"},
    "links": [{"between": ["pc-weu-prod", "pc-weu-dr"]}],
}
CHANGESET_ID_PATH = {
    **ID_PATH,
    "description": "The change set id (a UUID, as `changeSetId` gives it).",
}


def _estate_operations() -> tuple[Operation, ...]:
    """Links as code: plan a topology document, apply it, follow the change set (blueprints/estate.py)."""
    body = {media: TOPOLOGY_DOCUMENT for media in TOPOLOGY_MEDIA}
    media_note = (
        "The body is the topology document (`TopologyDocument`), as YAML (`application/yaml`, `application/x-yaml`, "
        "`text/yaml`) or JSON (`application/json`), UTF-8, at most 128 KiB; it is refused with its problems, each "
        "with its path and (in YAML) its line, before the estate is read."
    )
    return (
        Operation(
            "/topology/plan",
            "post",
            "planTopology",
            "estate",
            "Plan a topology document: the ordered change and every rule's verdict",
            "Reads the estate of the document's scope (`reads`: the ARM calls it took) and answers the ordered "
            "change: links to create, repair or remove, links that stay and links outside the scope, each step "
            "judged by every pre-flight rule on the state it would meet, and the end state judged again. An unsafe "
            "plan answers 200 with `allowed: false` and every problem with its reason code. Changes nothing. "
            + media_note,
            "key",
            {200: Body("The plan, allowed or not.", {"application/json": c.TopologyPlan})},
            {
                400: (*TOPOLOGY_400, "INVALID_QUERY"),
                413: ("TOO_LARGE",),
                415: ("UNSUPPORTED_MEDIA_TYPE",),
                500: (*SERVER_500, "POLICY_INVALID"),
                503: ARM_503,
            },
            request_body=body,
            reads_token=True,
            body_examples={"pair": {"summary": "Two clouds linked", "value": TOPOLOGY_EXAMPLE}},
        ),
        Operation(
            "/topology/apply",
            "post",
            "applyTopology",
            "estate",
            "Apply a reviewed plan: file its steps in order through the same rules",
            "Plans the document again: a plan whose fingerprint is not `fingerprint` (the estate or the document "
            "changed since the review) is refused 409 PLAN_CHANGED with the new one; a plan some rule refuses is "
            "422 PLAN_REFUSED with its problems. With nothing to change the answer is 200 (re-applying is a no-op); "
            "otherwise a change set files the steps one at a time, each as a request (approvals, audit trail), the "
            "next once the one before succeeded (202, `Location` to follow it). Either way the document is "
            "registered for drift. With an `Idempotency-Key` a repeat answers 200 with the same change set. "
            + media_note,
            "key",
            {
                202: Body(
                    "The change set started.",
                    {"application/json": c.ChangeSetStarted},
                    ("Location",),
                    ("Location",),
                    (Link("getChangeSet", "id", "changeSetId", "Follow the change set to its end."),),
                ),
                200: Body(
                    "Nothing to change (`NothingToChange`), or the change set this Idempotency-Key already started.",
                    {"application/json": {"anyOf": [c.NothingToChange, c.ChangeSetStarted]}},
                    ("Location",),
                ),
            },
            {
                400: (
                    *TOPOLOGY_400,
                    "TOPOLOGY_SCOPE_MISMATCH",
                    "INVALID_FINGERPRINT",
                    "CHANGESET_TOO_LARGE",
                    "INVALID_QUERY",
                    "INVALID_IDEMPOTENCY_KEY",
                    *STORE_400,
                ),
                409: ("PLAN_CHANGED", "IDEMPOTENCY_KEY_REUSED", "CONFLICT"),
                413: ("TOO_LARGE",),
                415: ("UNSUPPORTED_MEDIA_TYPE",),
                422: ("PLAN_REFUSED",),
                500: (*SERVER_500, "POLICY_INVALID"),
                503: ARM_503,
            },
            parameters=(
                _query(
                    "fingerprint",
                    {"type": "string", "pattern": "^v[0-9]{1,3}:[0-9a-f]{64}$"},
                    "The `fingerprint` of the plan that was reviewed (POST /topology/plan).",
                    required=True,
                    example="v1:" + "0" * 64,
                ),
                IDEMPOTENCY_KEY,
            ),
            request_body=body,
            reads_token=True,
            body_examples={"pair": {"summary": "Two clouds linked", "value": TOPOLOGY_EXAMPLE}},
        ),
        Operation(
            "/changesets/{id}",
            "get",
            "getChangeSet",
            "estate",
            "Read a change set and the progress of its steps",
            "Each step names the request it filed (null until filed) and that request's status; a change set that "
            "failed says which step stopped it and why (`reason`), and the steps after it were not filed.",
            "key",
            {200: Body("The change set.", {"application/json": c.ChangeSetView})},
            {
                400: ("INVALID_CHANGESET_ID",),
                404: ("CHANGESET_NOT_FOUND",),
                500: SERVER_500,
                503: STORE_503,
            },
            parameters=(CHANGESET_ID_PATH,),
        ),
    )


OPERATIONS = (*OPERATIONS, *_estate_operations(), *_console_operations())

TAGS = (
    ("requests", "Link requests: submit, plan, read, list, approve, reject."),
    ("links", "Live links of a private cloud."),
    ("clouds", "Cloud names resolved to ARM ids."),
    ("audit", "Audit runs of the whole estate and its topology."),
    ("estate", "Links as code: plan and apply a topology document, follow its change set."),
    ("channels", "Ticketing webhooks and chat, each signed by its sender."),
    ("health", "Dependencies."),
    ("meta", "This description."),
    ("console", "The web console: its page and assets, and what it shows a signed-in person (bearer token only)."),
)


def _security(op: Operation) -> list[dict[str, list[str]]]:
    if op.security == "key":
        # A person adds a bearer token to the key and is then recorded by their Entra object id.
        return [
            {"functionKey": []},
            {"functionKeyQuery": []},
            {"functionKey": [], "entraToken": []},
            {"functionKeyQuery": [], "entraToken": []},
        ]
    if op.security == "bearer":
        return [{"entraToken": []}, {"entraOAuth": []}]
    return []


def _holders(t: Any) -> list[Any]:
    """The contract types in `t`: itself, or those of a hand-written schema's anyOf."""
    if isinstance(t, dict):
        return [h for x in t.get("anyOf", ()) for h in _holders(x)]
    return [t]


def build() -> dict[str, Any]:
    """The document, as a JSON-ready dict."""
    types: list[Any] = []
    for op in OPERATIONS:
        types += [t for answer in op.answers.values() for t in answer.media.values()]
        types += list((op.request_body or {}).values())
    types += [c.ErrorBody, Status]
    holders = [h for t in types for h in _holders(t)]
    schemas, components = msgspec.json.schema_components(holders, ref_template=REF)
    schema_of = dict(zip(map(id, holders), schemas, strict=True))

    def schema(t: Any) -> dict[str, Any]:
        if isinstance(t, dict):
            if "anyOf" in t:
                return {**t, "anyOf": [schema(x) for x in t["anyOf"]]}
            return t
        return schema_of[id(t)]

    components.update(_topology_schemas())
    closed = {"TeamsActivity", "TeamsSender", "SlackCommandForm", "SlackActionForm"}
    for name, component in components.items():
        # TypedDicts (the topology graph) come without additionalProperties: every shape here is closed.
        if component.get("type") == "object" and "additionalProperties" not in component and name not in closed:
            component["additionalProperties"] = False

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        for status, answer in sorted(op.answers.items()):
            response: dict[str, Any] = {"description": answer.description}
            if answer.media:  # none: an answer without a body (304)
                response["content"] = {media: {"schema": schema(t)} for media, t in answer.media.items()}
            if answer.links:
                response["links"] = {link.operation_id: _link(link) for link in answer.links}
            if answer.headers:
                response["headers"] = {
                    h: {"$ref": f"#/components/headers/{h}"}
                    if h not in answer.required_headers
                    else {"$ref": f"#/components/headers/{h}Required"}
                    for h in answer.headers
                }
            responses[str(status)] = response
        errors = dict(op.errors)
        if op.reads_token:
            errors[401] = (*errors.get(401, ()), *TOKEN_401)
            errors[503] = (*errors.get(503, ()), "SIGNING_KEYS_UNAVAILABLE")
        if op.security == "key":
            errors.setdefault(401, ())
        for status, codes in sorted(errors.items()):
            responses[str(status)] = _error_response(op, status, codes)
        if op.extra.get("degraded"):
            # The health probe answers 503 with its report, not an error body (an error of its own stays one).
            responses["503"] = {
                "description": "A dependency did not answer: `checks` names it with its code and message.",
                "content": {
                    "application/json": {
                        "schema": {"anyOf": [{"$ref": REF.format(name="Health")}, _error_schema(STORE_503)]}
                    }
                },
            }
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "tags": [op.tag],
            "summary": op.summary,
            "description": op.description,
            "security": _security(op),
            "parameters": [*op.parameters, CORRELATION_ID],
            "responses": responses,
        }
        if op.request_body is not None:
            content = {media: {"schema": schema(t)} for media, t in op.request_body.items()}
            if op.body_examples:
                content["application/json"]["examples"] = op.body_examples
            operation["requestBody"] = {"required": True, "content": content}
        paths.setdefault(op.path, {})[op.method] = operation
    _check_links()

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "interconnect",
            "version": "1.0.0",
            "summary": "Safe links between Azure VMware Solution private clouds.",
            "description": (
                "Request AVS cloud links (connect, disconnect) checked against every pre-flight rule, follow them, "
                'approve disconnects, audit the estate. Errors are always `{"error": {"code", "message", '
                '"details"}}` with a stable code; every error response lists the codes it can carry. Routes need '
                "a function key unless anonymous; a person also sends an Entra bearer token and is recorded by "
                f"their object id (app roles {REQUEST_ROLE}, {APPROVE_ROLE}, {ADMIN_ROLE})."
            ),
        },
        "servers": [
            {
                "url": "https://{app}.azurewebsites.net/api",
                "description": "The function app in Azure",
                "variables": {"app": {"default": "interconnect", "description": "The function app's name."}},
            },
            {"url": "http://127.0.0.1:7071/api", "description": "make run (the local cloud)"},
        ],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "headers": _headers(),
            "securitySchemes": _security_schemes(),
        },
    }


def _topology_schemas() -> dict[str, Any]:
    """The topology document's JSON Schema (estate/document.py), its definitions named Topology* here so they
    cannot clash with the API's own shapes (`LinkEntry`, `Scope`)."""
    from interconnect.estate.document import json_schema

    definitions: dict[str, Any] = json_schema()["$defs"]
    names = {name: name if name.startswith("Topology") else f"Topology{name}" for name in definitions}
    text = json.dumps(definitions)
    for name, published in names.items():
        text = text.replace(f'"#/$defs/{name}"', f'"{REF.format(name=published)}"')
    return {names[name]: _without_empty(schema) for name, schema in json.loads(text).items()}


def _without_empty(schema: Any) -> Any:
    """`required: []` and `default: []` left out: they say nothing, and Swagger 2.0 refuses an empty list."""
    if isinstance(schema, dict):
        return {k: _without_empty(v) for k, v in schema.items() if not (k in ("required", "default") and v == [])}
    if isinstance(schema, list):
        return [_without_empty(v) for v in schema]
    return schema


def _link(link: Link) -> dict[str, Any]:
    return {
        "operationId": link.operation_id,
        "parameters": {link.parameter: f"$response.body#/{link.body_field}"},
        "description": link.description,
    }


def _check_links() -> None:
    """A link names an operation of this document and one of its parameters; a typo would otherwise be
    published (validators do not resolve operationIds) and send clients nowhere."""
    parameters = {op.operation_id: {p["name"] for p in op.parameters} for op in OPERATIONS}
    for op in OPERATIONS:
        for link in (link for answer in op.answers.values() for link in answer.links):
            if link.parameter not in parameters.get(link.operation_id, set()):
                raise ValueError(f"{op.operation_id}: link to {link.operation_id}.{link.parameter}: no such parameter")


def _error_schema(codes: tuple[str, ...]) -> dict[str, Any]:
    detail: dict[str, Any] = {"$ref": REF.format(name="ErrorDetail")}
    if codes:
        detail = {"allOf": [detail, {"properties": {"code": {"enum": sorted(set(codes))}}}]}
    return {
        "type": "object",
        "properties": {"error": detail},
        "required": ["error"],
        "additionalProperties": False,
    }


def _error_response(op: Operation, status: int, codes: tuple[str, ...]) -> dict[str, Any]:
    if not codes:  # only the host answers it (401 for no valid function key): no body, none of our headers
        return {"description": "No or a wrong function key: the Functions host answers 401 with no body."}
    lines = [f"- `{code}`: {CODES[code]}" for code in sorted(set(codes))]
    headers: dict[str, Any] = {"x-correlation-id": {"$ref": "#/components/headers/x-correlation-id"}}
    if status == 401 and set(codes) & {"AUTHENTICATION_REQUIRED", *TOKEN_401}:
        headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WWW-Authenticate"}
    if status == 503:
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    intro = ""
    if status == 401:
        intro = "No or a wrong function key (the host answers with no body), or:" if op.security == "key" else ""
    return {
        "description": "\n".join([intro, *lines]).strip(),
        "headers": headers,
        "content": {"application/json": {"schema": _error_schema(codes)}},
    }


def _headers() -> dict[str, Any]:
    def header(description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
        return {"description": description, "required": required, "schema": schema}

    location = "The request's (or run's) status URL."
    return {
        "Location": header(location, {"type": "string"}),
        "LocationRequired": header(location, {"type": "string"}, required=True),
        "Retry-After": header("Seconds to wait before retrying.", {"type": "string", "pattern": "^[0-9]+$"}),
        "WWW-Authenticate": header("`Bearer` (RFC 6750): get a (new) Entra token.", {"type": "string"}),
        "x-correlation-id": header(
            "The correlation id of this call (the caller's, or a fresh one): the handle to quote.",
            {"type": "string", "pattern": CORRELATION_ID_PATTERN},
        ),
        **{
            f"{name}Required": header(text, {"type": "string", "minLength": 1}, required=True)
            for name, text in (
                ("Content-Security-Policy", "The console's policy: its own scripts and styles only, no inline code."),
                ("X-Content-Type-Options", "`nosniff`."),
                ("Referrer-Policy", "`no-referrer`."),
                ("X-Frame-Options", "`DENY`: never framed."),
                ("ETag", "A hash of the file's content."),
            )
        },
    }


def _security_schemes() -> dict[str, Any]:
    login = "https://login.microsoftonline.com/organizations/oauth2/v2.0"
    return {
        "functionKey": {
            "type": "apiKey",
            "in": "header",
            "name": "x-functions-key",
            "description": "A function key (or the host key) of the function app.",
        },
        "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code", "description": "The function key."},
        "entraToken": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "An Entra ID access token for this API (audience INTERCONNECT_AUTH_AUDIENCE), verified by the app: "
                f"RS256 by a key the tenant publishes, issuer, audience, expiry. App roles: {REQUEST_ROLE} (file "
                f"requests), {APPROVE_ROLE} and {ADMIN_ROLE} (approve or reject another person's disconnect)."
            ),
        },
        "entraOAuth": {
            "type": "oauth2",
            "description": "The same Entra token, for clients that get it themselves (API Management, connectors).",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{login}/authorize",
                    "tokenUrl": f"{login}/token",
                    "scopes": {"api://interconnect/Links.Access": "Act as the signed-in person."},
                },
                "clientCredentials": {
                    "tokenUrl": f"{login}/token",
                    "scopes": {"api://interconnect/.default": "The application's app roles."},
                },
            },
        },
    }


def render() -> str:
    """The document as checked in: sorted keys would scatter operations, so insertion order, two-space indent."""
    return _dump(build())


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Writes the 3.1 document and its 2.0 rendering for connectors (to the directory argv[1], if given)."""
    folder = Path(argv[1]) if len(argv) > 1 else DOCUMENT.parent
    document = build()
    for name, text in ((DOCUMENT.name, _dump(document)), (DOCUMENT_V2.name, render_v2(document))):
        (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {folder / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
