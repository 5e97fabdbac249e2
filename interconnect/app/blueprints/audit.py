"""The audit's functions: the timer and the API that queue a run, read a run, and draw the topology."""

from __future__ import annotations

import logging

import azure.functions as func

from interconnect.app import api
from interconnect.app.bootstrap import services
from interconnect.app.http import handles_errors, json_response, uuid_route
from interconnect.app.settings import AUDIT_SCHEDULE_SETTING

bp = func.Blueprint()
log = logging.getLogger("interconnect")


@bp.timer_trigger(arg_name="timer", schedule=f"%{AUDIT_SCHEDULE_SETTING}%", run_on_startup=False)
def audit(timer: func.TimerRequest) -> None:
    # The run itself happens in the worker: a timer invocation only queues it.
    from interconnect.adapters import telemetry
    from interconnect.app import telemetry as app_telemetry

    app_telemetry.ensure()
    with telemetry.span("timer audit"):
        log.info("audit run %s queued", services().audits_or_fail().start())


@bp.route(route="audits", methods=["POST"])
@handles_errors
def start_audit(req: func.HttpRequest) -> func.HttpResponse:
    return api.start_audit(req)


@bp.route(route="audits/{id}", methods=["GET"])
@handles_errors
@uuid_route(what="audit id", code="INVALID_AUDIT_ID", also=("latest",))
def get_audit(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(api.audit_run(req.route_params["id"]))


@bp.route(route="topology", methods=["GET"])
@handles_errors
def topology_view(req: func.HttpRequest) -> func.HttpResponse:
    return api.topology(req)
