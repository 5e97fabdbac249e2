"""A request's functions: submit (or dry-run), read, approve, reject, list requests and links, and the sweep timer."""

from __future__ import annotations

import logging

import azure.functions as func

from interconnect.app.bootstrap import services
from interconnect.app.http import (
    api_caller,
    api_url,
    correlation_id,
    handles_errors,
    idempotency_key,
    json_response,
    query_flag,
    query_param,
    route_uuid,
    uuid_route,
)
from interconnect.app.settings import SWEEP_SCHEDULE_SETTING
from interconnect.avs.ids import MAX_ID_LENGTH, parse_cloud_id
from interconnect.errors import ValidationError
from interconnect.linking.model import Status
from interconnect.linking.validation import parse_json, parse_submit

bp = func.Blueprint()
log = logging.getLogger("interconnect")


@bp.route(route="requests", methods=["POST"])
@handles_errors
def submit_request(req: func.HttpRequest) -> func.HttpResponse:
    command = parse_submit(parse_json(req.get_body()), caller=api_caller(req, services().identity))
    key = idempotency_key(req)  # checked on a dry run too: whether a header is refused never depends on the flag
    if query_flag(req, "dryRun"):
        return json_response(services().queries.plan(command))
    request, created = services().intake.submit(command, idempotency_key=key, correlation_id=correlation_id(req))
    status_url = api_url(req, f"requests/{request.id}")
    return json_response(
        {"requestId": request.id, "status": request.status.value, "statusUrl": status_url},
        202 if created else 200,
        {"Location": status_url},
    )


@bp.route(route="requests/{id}", methods=["GET"])
@handles_errors
@uuid_route(what="request id", code="INVALID_REQUEST_ID")
def get_request(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(services().queries.request(req.route_params["id"]))


# Deciding needs a person signed in with Entra; a function key alone can never approve. So these two routes are
# anonymous at the host and the app demands a verified bearer token before it reads anything (identity.py).
@bp.route(route="requests/{id}/approve", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def approve_request(req: func.HttpRequest) -> func.HttpResponse:
    return _decide(req, approve=True)


@bp.route(route="requests/{id}/reject", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def reject_request(req: func.HttpRequest) -> func.HttpResponse:
    return _decide(req, approve=False)


def _decide(req: func.HttpRequest, *, approve: bool) -> func.HttpResponse:
    approver = api_caller(req, services().identity, key_checked=False)
    request_id = route_uuid(req, what="request id", code="INVALID_REQUEST_ID")  # after sign-in: 401 comes first
    request = services().approvals.decide(request_id, approver, approve=approve)
    return json_response(request.to_view())


@bp.route(route="requests", methods=["GET"])
@handles_errors
def list_requests(req: func.HttpRequest) -> func.HttpResponse:
    cloud = query_param(req, "cloud", max_length=MAX_ID_LENGTH)
    status = query_param(req, "status", max_length=40)
    if status is not None and status not in Status.__members__.values():
        raise ValidationError(f"status must be one of {', '.join(Status)}", code="INVALID_STATUS")
    # A parameter sent empty (`?cloud=`) is refused like any other bad value, not read as absent.
    given_limit = query_param(req, "limit", max_length=6)
    try:
        limit = int(given_limit) if given_limit is not None else 50
    except ValueError:
        raise ValidationError("limit must be a whole number", code="INVALID_LIMIT") from None
    return json_response(
        services().queries.recent(
            cloud=parse_cloud_id(cloud, field_name="cloud") if cloud is not None else None,
            status=Status(status) if status else None,
            limit=limit,
            continuation=req.params.get("continuation"),
        )
    )


@bp.route(route="links", methods=["GET"])
@handles_errors
def list_links(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(
        services().queries.links(
            parse_cloud_id(query_param(req, "cloud", max_length=MAX_ID_LENGTH), field_name="cloud")
        )
    )


@bp.timer_trigger(arg_name="timer", schedule=f"%{SWEEP_SCHEDULE_SETTING}%", run_on_startup=False)
def sweep(timer: func.TimerRequest) -> None:
    report = services().sweeper.sweep()
    log.info("sweep: %s", report, extra={"pastDue": timer.past_due, **report})
