"""Cloud names: what a person typed for a private cloud ('name', 'resource-group/name' or a full ARM id),
resolved to its ARM id the way chat resolves it, for clients (the CLI) that let people type short names."""

from __future__ import annotations

import azure.functions as func

from interconnect.app.bootstrap import services
from interconnect.app.http import handles_errors, json_response, query_param
from interconnect.avs.ids import MAX_ID_LENGTH
from interconnect.errors import ConflictError, NotFoundError, ValidationError

bp = func.Blueprint()


@bp.route(route="clouds", methods=["GET"])
@handles_errors
def resolve_cloud_ref(req: func.HttpRequest) -> func.HttpResponse:
    """200 {"cloud": id}; 400 INVALID_CLOUD_REF (no cloud could have that name), 404 CLOUD_NOT_FOUND (none known
    has it; details.candidates: close matches) or 409 AMBIGUOUS_CLOUD (details.candidates: every cloud that has
    it). Each message is what chat would answer."""
    # Imported here, as the channels' handlers import theirs: indexing the app loads no chat grammar.
    from interconnect.channels.chat import Resolved, resolve_listed

    ref = query_param(req, "ref", max_length=MAX_ID_LENGTH)
    if ref is None:
        raise ValidationError(
            "ref is required: a full ARM id, 'name' or 'resource-group/name'",
            code="INVALID_CLOUD_REF",
            details={"parameter": "ref"},
        )
    # A full id needs no listing to resolve, but takes the spelling the listing has (cached: avs/known.py); with
    # ARM down, a short name is 503 (it cannot be looked up), not 404.
    result = resolve_listed(ref, services().known_clouds.list)
    if isinstance(result, Resolved):
        return json_response({"cloud": str(result.cloud)})
    details = {"candidates": [str(c) for c in result.candidates]}
    if result.why == "ambiguous":
        raise ConflictError(result.reply, code="AMBIGUOUS_CLOUD", details=details)
    if result.why == "unknown":
        raise NotFoundError(result.reply, code="CLOUD_NOT_FOUND", details=details)
    raise ValidationError(result.reply, code="INVALID_CLOUD_REF", details={"parameter": "ref"})
