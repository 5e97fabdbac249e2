"""Links as code over HTTP: plan a topology document, apply it as a change set, and follow the change set.

The document is the body (YAML or JSON, as its Content-Type says), bounded before it is parsed. Planning reads
the estate through the AVS gateway and changes nothing; applying plans again and files the plan's steps only
when the plan is the one reviewed (its fingerprint) and allowed (interconnect/estate/apply.py files them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import azure.functions as func

from interconnect.app.bootstrap import services
from interconnect.app.http import (
    api_caller,
    api_url,
    body,
    handles_errors,
    idempotency_key,
    json_response,
    query_param,
    route_uuid,
)
from interconnect.errors import (
    ArmError,
    ConflictError,
    InterconnectError,
    UnsupportedMediaTypeError,
    ValidationError,
)

if TYPE_CHECKING:  # the planner (msgspec, YAML) loads on the first plan, not with the app (cold start)
    from interconnect.estate.changeset import ChangeSet
    from interconnect.estate.plan import Plan
    from interconnect.estate.topology import Topology
    from interconnect.linking.model import Requester

bp = func.Blueprint()

MEDIA_TYPES: dict[str, Literal["yaml", "json"]] = {
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "application/json": "json",
}
FINGERPRINT_SHAPE = re.compile(r"v[0-9]{1,3}:[0-9a-f]{64}")


def syntax_of(req: func.HttpRequest) -> Literal["yaml", "json"]:
    """The document's syntax from its Content-Type (parameters allowed; a charset only if UTF-8, which is what
    the document is read as). Raises UnsupportedMediaTypeError (415) for anything else, absent included."""
    given = req.headers.get("Content-Type") or ""
    media, *parameters = (part.strip().lower() for part in given.split(";"))
    syntax = MEDIA_TYPES.get(media)
    charsets = [p.partition("=")[2].strip('"') for p in parameters if p.partition("=")[0].strip() == "charset"]
    if syntax is None or any(c not in ("utf-8", "utf8", "us-ascii") for c in charsets):
        raise UnsupportedMediaTypeError(
            f"send the topology document as {', '.join(MEDIA_TYPES)} (UTF-8)",
            details={"accepted": list(MEDIA_TYPES)},
        )
    return syntax


def _planned(req: func.HttpRequest, caller: Requester) -> tuple[bytes, Topology, Plan, int]:
    """The document (bounded, then parsed as its media type says), its resolved topology, its plan, and the
    ARM reads planning took."""
    from interconnect.estate.document import MAX_DOCUMENT_BYTES
    from interconnect.estate.gather import plan_document

    syntax = syntax_of(req)
    document = body(req, MAX_DOCUMENT_BYTES)  # 413 before any parsing
    s = services()
    reader = s.estate_reader()
    try:
        topology, plan = plan_document(document, reader, caller, s.policy, syntax=syntax)
    except ArmError as exc:
        # Only a subscription's listing raises (every other read is a fact of the plan): the scope the document
        # names cannot be read, which no retry changes; the document (or the app's access) has to.
        raise ValidationError(
            f"a subscription of the document's scope cannot be listed: {exc.message}",
            code="TOPOLOGY_SCOPE_UNREADABLE",
            details={"armCode": exc.code, **{k: v for k, v in exc.details.items() if k in ("status", "armCode")}},
        ) from exc
    return document, topology, plan, reader.reads


@bp.route(route="topology/plan", methods=["POST"])
@handles_errors
def plan_topology(req: func.HttpRequest) -> func.HttpResponse:
    caller = api_caller(req, services().identity)
    _, _, plan, reads = _planned(req, caller)
    return json_response({**plan.to_view(), "reads": reads})


@bp.route(route="topology/apply", methods=["POST"])
@handles_errors
def apply_topology(req: func.HttpRequest) -> func.HttpResponse:
    caller = api_caller(req, services().identity)
    reviewed = query_param(req, "fingerprint", max_length=80)
    if reviewed is None or not FINGERPRINT_SHAPE.fullmatch(reviewed):
        raise ValidationError(
            "apply needs ?fingerprint= set to the fingerprint of the plan that was reviewed (v1:<64 hex digits>)",
            code="INVALID_FINGERPRINT",
            details={"parameter": "fingerprint"},
        )
    key = idempotency_key(req)
    s = services()
    if key is not None:
        syntax_of(req)  # the same refusals whether or not the key was seen
        earlier = s.changesets.existing(caller, key, reviewed)
        if earlier is not None:
            return _started(req, earlier, created=False)
    document, topology, plan, _ = _planned(req, caller)
    if plan.fingerprint != reviewed:
        raise ConflictError(
            "the estate or the document changed since that plan: review the new plan and apply its fingerprint",
            code="PLAN_CHANGED",
            details={"fingerprint": plan.fingerprint, "plan": plan.to_view()},
        )
    if not plan.allowed:
        problems = plan.reasons
        refused = InterconnectError(
            f"the plan breaks {len(problems)} rule(s): "
            + "; ".join(f"{r.code}: {r.message}" for r in problems[:5])
            + ("; ..." if len(problems) > 5 else ""),
            code="PLAN_REFUSED",
            details={"problems": [r.to_dict() for r in problems], "plan": plan.to_view()},
        )
        return json_response({"error": refused.to_dict()}, 422)
    s.topology_registry.register(document, topology.scope, by=caller, fingerprint=plan.fingerprint)
    if not plan.steps:
        return json_response(
            {"changeSet": None, "steps": [], "message": "nothing to change", "fingerprint": plan.fingerprint}
        )
    changeset, created = s.changesets.start(plan, caller, key=key)
    return _started(req, changeset, created=created)


def _started(req: func.HttpRequest, changeset: ChangeSet, *, created: bool) -> func.HttpResponse:
    url = api_url(req, f"changesets/{changeset.id}")
    answer: dict[str, Any] = {"changeSetId": changeset.id, "status": changeset.status.value, "statusUrl": url}
    return json_response(answer, 202 if created else 200, {"Location": url})


@bp.route(route="changesets/{id}", methods=["GET"])
@handles_errors
def get_changeset(req: func.HttpRequest) -> func.HttpResponse:
    changeset_id = route_uuid(req, what="change set id", code="INVALID_CHANGESET_ID")
    return json_response(services().changeset_store.get(changeset_id).to_view())
