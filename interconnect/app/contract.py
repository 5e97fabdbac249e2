"""The REST API's shapes as msgspec Structs: what each route takes and answers, for the OpenAPI document.

interconnect/app/openapi.py turns these into JSON Schema 2020-12 (`msgspec.json.schema_components`), the dialect
OpenAPI 3.1 uses. The handlers build their answers as plain dicts (`LinkRequest.to_view`, `Queries.plan`, ...),
so nothing here runs on a request; the agreement is tested instead: every answer the e2e tier sees is validated
against the document (tests/e2e/contract.py), the views of built objects against these schemas in unit tests,
and the submit body's schema against `parse_submit` by property (tests/unit/app/test_openapi.py).

Structs forbid unknown fields, so a field the code adds and the contract does not name fails those tests.
Ids are patterns derived from the grammar `interconnect/avs/ids.py` holds, not copies of it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from interconnect.audit.topology import Graph
from interconnect.avs import ids
from interconnect.linking.model import Action, Status
from interconnect.linking.validation import MAX_REFERENCE, MAX_REQUESTER


def _any_case(text: str) -> str:
    """`text` as a pattern matching it in any letter case (ARM compares the fixed segments so)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else ("\\." if c == "." else c) for c in text)


def _ascii_word(pattern: str) -> str:
    # The ids' patterns are compiled with re.ASCII; spelled out so every regex dialect reads them alike.
    return pattern.replace("\\w", "A-Za-z0-9_")


_LITERALS = dict(ids._LITERALS)
CLOUD_ID_CORE = (
    f"/{_any_case(_LITERALS[1])}/{ids.SUBSCRIPTION.pattern}/{_any_case(_LITERALS[3])}/"
    f"{_ascii_word(ids.RESOURCE_GROUP.pattern)}/{_any_case(_LITERALS[5])}/{_any_case(_LITERALS[6])}/"
    f"{_any_case(_LITERALS[7])}/{_ascii_word(ids.RESOURCE_NAME.pattern)}"
)
# What `parse_cloud_id` accepts: surrounding whitespace is ignored.
CLOUD_ID_INPUT = f"^\\s*{CLOUD_ID_CORE}\\s*$"
CLOUD_ID_EXAMPLE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-avs-weu"
    "/providers/Microsoft.AVS/privateClouds/pc-weu-prod"
)
# A second cloud for the submit body's target: with the source's example it would be refused as SAME_CLOUD, and
# a request built from the document's examples ("try it", schema fuzzers) is meant to be one the app accepts.
PEER_CLOUD_ID_EXAMPLE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-avs-weu"
    "/providers/Microsoft.AVS/privateClouds/pc-weu-dr"
)


def _cloud_id_input(example: str) -> msgspec.Meta:
    return msgspec.Meta(
        pattern=CLOUD_ID_INPUT,
        max_length=ids.MAX_ID_LENGTH,
        description="A private cloud's ARM id; the fixed segments in any case, each name held to ARM's grammar.",
        examples=[example],
    )


CloudIdInput = Annotated[str, _cloud_id_input(CLOUD_ID_EXAMPLE)]
PeerCloudIdInput = Annotated[str, _cloud_id_input(PEER_CLOUD_ID_EXAMPLE)]
CloudIdText = Annotated[
    str, msgspec.Meta(description="A private cloud's ARM id, as the app spells it.", examples=[CLOUD_ID_EXAMPLE])
]


def _single_line(limit: int, description: str) -> msgspec.Meta:
    # At most `limit` characters and no control character (below U+0020), as parse_submit checks.
    return msgspec.Meta(
        max_length=limit, description=description, extra_json_schema={"not": {"pattern": r"[\x00-\x1f]"}}
    )


Reference = Annotated[str, _single_line(MAX_REFERENCE, "A ticket or change id.")]
RequestedBy = Annotated[
    str, _single_line(MAX_REQUESTER, "A display name; ignored for a signed-in person, whose name comes from the token.")
]


class Struct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    """The API's own shapes: camelCase on the wire, no field beyond those named."""


class Verbatim(msgspec.Struct, kw_only=True):
    """A shape another product defines (Slack, Teams): its names as they are."""


# ------------------------------------------------------------------------------------------------ request bodies


class SubmitBody(Struct):
    """Ask for one link to be made (`connect`) or removed (`disconnect`)."""

    action: Action
    source: CloudIdInput
    target: PeerCloudIdInput
    reference: Reference | None = None
    requested_by: RequestedBy | None = None


class SlackCommandForm(Verbatim):
    """A Slack slash command as Slack posts it (form-encoded); more fields may come."""

    text: str = ""
    team_id: str = ""
    user_id: str = ""
    user_name: str = ""
    trigger_id: str = ""
    response_url: str = ""
    command: str = ""


class SlackActionForm(Verbatim):
    """A Slack block_actions interaction (form-encoded): `payload` holds the JSON Slack sends."""

    payload: str


class TeamsSender(Verbatim, rename="camel"):
    id: str = ""
    name: str = ""
    aad_object_id: str = ""


class TeamsActivity(Verbatim, rename={"sender": "from"}):
    """A Teams outgoing-webhook activity; only these fields are read, more may come."""

    type: str = "message"
    id: str = ""
    text: str = ""
    sender: TeamsSender | None = None


# ---------------------------------------------------------------------------------------------- shared answers


class ErrorDetail(Struct):
    """What went wrong: a stable code, a sentence for people, and details safe to show."""

    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorBody(Struct):
    """Every error the app answers: `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


class Reason(Struct):
    """Why a request ended as it did, or why a plan would refuse it."""

    code: str
    message: str
    details: dict[str, Any]


class RefusedRead(Struct):
    """A read ARM refused for good or answered malformed."""

    cloud: CloudIdText
    read: str
    status: int
    arm_code: str
    arm_message: str


# -------------------------------------------------------------------------------------------------- requests


class RequestAccepted(Struct):
    """A request recorded and queued (202), or the one an Idempotency-Key already made (200)."""

    request_id: uuid.UUID
    status: Status
    status_url: str


class RequesterView(Struct):
    channel: str
    id: str
    display: str


class OperationView(Struct):
    """The ARM operation the request started and follows."""

    verb: Literal["create", "delete"]
    cloud: CloudIdText
    link_name: str
    started_at: datetime
    deadline: datetime
    checks: int


class ApprovalView(Struct):
    deadline: datetime
    decided_by: str
    decided_at: datetime | None


class LinkRequestView(Struct):
    """A request and where it stands."""

    request_id: uuid.UUID
    action: Action
    status: Status
    source: CloudIdText
    target: CloudIdText
    reference: str
    requested_by: RequesterView
    created_at: datetime
    updated_at: datetime
    correlation_id: str
    outcome: str
    reasons: list[Reason]
    operation: OperationView | None = None
    approval: ApprovalView | None = None


class AuditEventView(Struct):
    """One entry of a request's audit trail."""

    sequence: int
    at: datetime
    actor: str
    kind: Literal["status", "note"]
    status: Status
    previous: Status | None
    message: str
    correlation_id: str
    reasons: list[Reason]


class LinkRequestDetail(LinkRequestView, kw_only=True):
    """A request with its audit trail (oldest event first) and, for a disconnect not yet under way, what it cuts
    (`impact`, read live; null otherwise)."""

    events: list[AuditEventView]
    impact: Impact | None
    impact_error: ErrorDetail | None = None  # present when ARM could not be read for `impact` just now


class RequestPage(Struct):
    """A page of requests, newest first; pass `continuation` back for the next page (null: no more)."""

    value: list[LinkRequestView]
    continuation: str | None
    skipped: int


class RoutedPrefix(Struct):
    prefix: str
    origin: str


class CloudFactsView(Struct):
    cloud: CloudIdText
    location: str
    provisioning_state: str
    routed_prefixes: list[RoutedPrefix]
    unreadable_prefixes: list[str]


class LinkFact(Struct):
    holder: CloudIdText
    name: str
    linked_cloud: CloudIdText
    status: str


class PendingRequest(Struct):
    request_id: uuid.UUID
    source: CloudIdText
    target: CloudIdText


class FactsView(Struct):
    """What ARM and the app's records said when the plan was made; an end is null when it cannot be read."""

    source: CloudFactsView | None
    target: CloudFactsView | None
    links: list[LinkFact]
    neighbors: list[CloudFactsView]
    pending_requests: list[PendingRequest]
    refused_reads: list[RefusedRead]
    policy: str


class ImpactPrefix(Struct):
    prefix: str
    source: str  # where the prefix comes from: networkBlock, segment <name>, Global Reach, ...


class ImpactSide(Struct):
    cloud: CloudIdText
    routed: list[ImpactPrefix]
    unreadable: list[str]  # what of this side's routed space could not be read, one sentence each


class Impact(Struct):
    """What a disconnect cuts: each side's routed prefixes, which the other side stops reaching (linking/impact.py).

    `linked` is unknown when no link between the pair was seen but a listing that could hold one was refused."""

    source: ImpactSide
    target: ImpactSide
    linked: Literal["yes", "no", "unknown"]
    link_status: list[str]
    summary: str


class Plan(Struct):
    """The dry run (`?dryRun=true`): every rule on live facts; nothing recorded or queued. A disconnect's plan
    also says what it would cut (`impact`), read live and shown only: it never changes the verdict."""

    allowed: bool
    would_do: Literal["reject", "noop", "create", "delete"]
    outcome: str
    reasons: list[Reason]
    facts: FactsView
    impact: Impact | None = None


# ---------------------------------------------------------------------------------------------- links, clouds


class LinkEntry(Struct):
    name: str
    direction: Literal["outgoing", "incoming"]
    other_cloud: CloudIdText
    status: str


class CloudLinks(Struct):
    """A cloud's links read live from AVS; check `complete` before reading "no links" into an empty `value`."""

    cloud: CloudIdText
    location: str
    value: list[LinkEntry]
    complete: bool
    refused_reads: list[RefusedRead]


class ResolvedCloud(Struct):
    """The ARM id a cloud name resolves to."""

    cloud: CloudIdText


# ---------------------------------------------------------------------------------------------------- audit


class AuditStarted(Struct):
    run_id: uuid.UUID
    status_url: str


class Finding(Struct):
    code: str
    severity: Literal["critical", "warning", "info"]
    clouds: list[str]
    message: str
    details: dict[str, Any]
    key: str


class OpenFinding(Finding, kw_only=True):
    state: Literal["new", "open"]


class AuditSummary(Struct):
    clouds: int
    links: int
    findings: int
    by_code: dict[str, int]
    new: int
    resolved: int


class AuditRun(Struct):
    """An audit run: its findings (new or still open) and those of the previous run now resolved."""

    run_id: uuid.UUID
    started_at: datetime
    finished_at: datetime
    summary: AuditSummary
    findings: list[OpenFinding]
    resolved: list[Finding]
    problems: list[str]


Topology = Graph  # what interconnect/audit/topology.py builds and the API serves as is


# ------------------------------------------------------------------------------------------ health, channels


class HealthCheck(Struct):
    ok: bool
    code: str = ""
    message: str = ""


class Health(Struct):
    status: Literal["ok", "degraded"]
    checks: dict[str, HealthCheck]


class SlackCommandReply(Verbatim, forbid_unknown_fields=True):
    """What Slack shows the user who typed the command."""

    response_type: Literal["ephemeral", "in_channel"]
    text: str
    blocks: list[dict[str, Any]] = []


class SlackActionReply(Verbatim, forbid_unknown_fields=True):
    """What Slack does with the message that held the button."""

    replace_original: bool
    text: str
    response_type: Literal["ephemeral", "in_channel"] | None = None


class TeamsReply(Verbatim, forbid_unknown_fields=True):
    type: Literal["message"]
    text: str


# --------------------------------------------------------------------------------------------------- console


class SignInSettings(Struct):
    """What the console's page signs a person in with: OAuth 2.0 authorization code with PKCE."""

    authorization_endpoint: str
    token_endpoint: str
    client_id: str
    scope: str


class ConsoleConfig(Struct):
    sign_in: SignInSettings


class Me(Struct):
    """Who is signed in, and what the policy lets them do."""

    caller: str
    name: str
    roles: list[str]
    can_request: bool
    can_approve: bool


class Viewer(Struct):
    """What the signed-in person may do with this request: `why` is the code a decision would be refused with."""

    can_decide: bool
    why: (
        Literal[
            "APPROVER_NOT_VERIFIED", "NOT_AWAITING_APPROVAL", "APPROVAL_EXPIRED", "SELF_APPROVAL", "NOT_AN_APPROVER"
        ]
        | None
    )


class ConsoleRequest(LinkRequestDetail, kw_only=True):
    """A request with its trail, what the viewer may do, and (a disconnect not yet under way) what it cuts."""

    viewer: Viewer


class AwaitingDecision(LinkRequestView, kw_only=True):
    """A request awaiting this person's approval, with what it cuts."""

    impact: Impact | None
    impact_error: ErrorDetail | None = None


class Inbox(Struct):
    """The requests awaiting approval that the signed-in person may decide (never their own)."""

    value: list[AwaitingDecision]
    can_approve: bool


class CloudMatch(Struct):
    id: CloudIdText
    name: str
    resource_group: str
    subscription: str


class CloudMatches(Struct):
    """Known clouds whose name or resource group holds the search text, at most 20."""

    value: list[CloudMatch]


class CloudSummary(Struct):
    id: CloudIdText
    name: str
    resource_group: str
    subscription: str
    location: str
    provisioning_state: str


class CloudPage(Struct):
    """A cloud: its links (as `GET /api/links`), its routed prefixes, and its latest requests."""

    cloud: CloudSummary
    links: CloudLinks
    routed: list[ImpactPrefix]
    unreadable: list[str]
    requests: list[LinkRequestView]


# ------------------------------------------------------------------------------------------- links as code


class DocumentPlace(Struct):
    """Where the document asks for a step: the path of its entry and, in YAML, its line."""

    path: str
    line: int | None


class TopologyStep(Struct):
    """One request the apply would file, in order, with the pre-flight's verdict on the state it would meet."""

    step: int
    change: Literal["connect", "repair", "disconnect"]
    action: Action
    source: CloudIdText
    target: CloudIdText
    allowed: bool
    would_do: Literal["reject", "noop", "create", "delete"]
    holder: CloudIdText | None
    link_name: str | None
    outcome: str
    reasons: list[Reason]
    declared_at: DocumentPlace | None
    impact: Impact | None


class TopologyLink(Struct):
    holder: CloudIdText
    name: str
    linked_cloud: CloudIdText
    status: str


class TopologyPlanSummary(Struct):
    connect: int
    repair: int
    disconnect: int
    stay: int
    outside: int
    problems: int


class TopologyPlan(Struct):
    """What a topology document changes, in order, each step judged on the state it meets; the end state is
    judged again (`endState`). Planning changes nothing. `fingerprint` is what an apply must name."""

    allowed: bool
    fingerprint: Annotated[str, msgspec.Meta(pattern="^v[0-9]{1,3}:[0-9a-f]{64}$")]
    summary: TopologyPlanSummary
    steps: list[TopologyStep]
    stay: list[TopologyLink]
    outside: list[TopologyLink]
    end_state: list[Reason]
    notes: list[Reason]
    reads: int  # ARM calls the plan needed


class ChangeSetStarted(Struct):
    """A change set started (202), or the one an Idempotency-Key already started (200)."""

    change_set_id: uuid.UUID
    status: Literal["InProgress", "Succeeded", "Failed"]
    status_url: str


class NothingToChange(Struct):
    """The estate already holds what the document declares: no change set (the document is registered)."""

    change_set: uuid.UUID | None  # always null here: no change set was started
    steps: list[TopologyStep]  # always empty here
    message: str
    fingerprint: str


class ChangeSetStep(Struct):
    index: int  # the plan's step number
    action: Action
    source: CloudIdText
    target: CloudIdText
    request_id: uuid.UUID | None
    status: Literal[
        "Pending",
        "Accepted",
        "AwaitingApproval",
        "Validating",
        "InProgress",
        "Succeeded",
        "Rejected",
        "Failed",
        "Expired",
    ]
    impact: Impact | None = None


class ChangeSetView(Struct):
    """An apply's change set: its steps filed one at a time, in order, each through intake."""

    change_set_id: uuid.UUID
    status: Literal["InProgress", "Succeeded", "Failed"]
    fingerprint: str
    created_at: datetime
    updated_at: datetime
    requested_by: RequesterView
    steps: list[ChangeSetStep]
    reason: Reason | None = None
