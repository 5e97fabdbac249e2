"""A request's functions: submit (or dry-run), read, approve, reject, list requests and links, and the sweep timer."""

from __future__ import annotations

import logging

import azure.functions as func

from interconnect.app import api
from interconnect.app.bootstrap import services
from interconnect.app.http import api_caller, handles_errors, json_response, query_param, route_uuid, uuid_route
from interconnect.app.settings import SWEEP_SCHEDULE_SETTING
from interconnect.avs.ids import MAX_ID_LENGTH, parse_cloud_id

bp = func.Blueprint()
log = logging.getLogger("interconnect")


@bp.route(route="requests", methods=["POST"])
@handles_errors
def submit_request(req: func.HttpRequest) -> func.HttpResponse:
    return api.submit(req, api_caller(req, services().identity))


@bp.route(route="requests/{id}", methods=["GET"])
@handles_errors
@uuid_route(what="request id", code="INVALID_REQUEST_ID")
def get_request(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(api.request_view(req.route_params["id"])[1])


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
    return json_response(api.request_page(req, lambda: api_caller(req, services().identity)))


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
    from interconnect.adapters import telemetry
    from interconnect.app import telemetry as app_telemetry

    app_telemetry.ensure()
    with telemetry.span("timer sweep"):
        report = services().sweeper.sweep()
        # A change set whose chain of work items was lost (dead-lettered, or a crash between a save and a send)
        # is sent its current one again; the sweeper's own pass only knows requests.
        report["changeSetsRedriven"] = services().changesets.redrive(services().settings.stale_after)
    log.info("sweep: %s", report, extra={"pastDue": timer.past_due, **report})
