"""The audit's functions: the timer and the API that queue a run, read a run, and draw the topology."""

from __future__ import annotations

import logging

import azure.functions as func

from interconnect.app.bootstrap import services
from interconnect.app.http import api_url, handles_errors, json_response, query_param, uuid_route
from interconnect.app.settings import AUDIT_SCHEDULE_SETTING
from interconnect.errors import NotFoundError

bp = func.Blueprint()
log = logging.getLogger("interconnect")


@bp.timer_trigger(arg_name="timer", schedule=f"%{AUDIT_SCHEDULE_SETTING}%", run_on_startup=False)
def audit(timer: func.TimerRequest) -> None:
    # The run itself happens in the worker: a timer invocation only queues it.
    log.info("audit run %s queued", services().audits_or_fail().start())


@bp.route(route="audits", methods=["POST"])
@handles_errors
def start_audit(req: func.HttpRequest) -> func.HttpResponse:
    run_id = services().audits_or_fail().start()
    url = api_url(req, f"audits/{run_id}")
    return json_response({"runId": run_id, "statusUrl": url}, 202, {"Location": url})


@bp.route(route="audits/{id}", methods=["GET"])
@handles_errors
@uuid_route(what="audit id", code="INVALID_AUDIT_ID", also=("latest",))
def get_audit(req: func.HttpRequest) -> func.HttpResponse:
    store = services().audits_or_fail().store
    run_id = req.route_params["id"]
    run = store.latest() if run_id == "latest" else store.get(run_id)
    if run is None:
        raise NotFoundError("no audit has run yet", code="AUDIT_NOT_FOUND")
    return json_response(run.to_view())


@bp.route(route="topology", methods=["GET"])
@handles_errors
def topology_view(req: func.HttpRequest) -> func.HttpResponse:
    fmt = query_param(req, "format", max_length=20)
    # Absent is json; sent empty is refused like any other format no renderer has (INVALID_FORMAT).
    body, mimetype = services().topology("json" if fmt is None else fmt)
    return func.HttpResponse(body, status_code=200, mimetype=mimetype)
