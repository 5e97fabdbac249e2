"""Azure Functions bindings only: decode the trigger, call one service, encode the result."""

from __future__ import annotations

import functools
import logging

import azure.functions as func
import azurefunctions.extensions.bindings.servicebus as servicebus

from interconnect.app.bootstrap import Services, build_services
from interconnect.app.http import (
    api_caller,
    api_url,
    body,
    correlation_id,
    handles_errors,
    idempotency_key,
    is_true,
    json_response,
    query_param,
    route_uuid,
    uuid_route,
)
from interconnect.app.settings import (
    AUDIT_SCHEDULE_SETTING,
    QUEUE_SETTING,
    SERVICEBUS_CONNECTION,
    SWEEP_SCHEDULE_SETTING,
)
from interconnect.avs.ids import MAX_ID_LENGTH, parse_cloud_id
from interconnect.channels.inbound import HOOK_BODY_LIMIT, SLACK_ACTION_LIMIT, SLACK_COMMAND_LIMIT, TEAMS_LIMIT
from interconnect.errors import NotFoundError, ValidationError
from interconnect.linking.model import Status
from interconnect.linking.validation import parse_json, parse_submit

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("interconnect")


@functools.cache
def services() -> Services:
    # Built on first use, not at import: indexing stays fast and a bad setting cannot hide every function.
    return build_services()


@app.route(route="requests", methods=["POST"])
@handles_errors
def submit_request(req: func.HttpRequest) -> func.HttpResponse:
    command = parse_submit(parse_json(req.get_body()), caller=api_caller(req, services().identity))
    if is_true(req.params.get("dryRun")):
        return json_response(services().queries.plan(command))
    request, created = services().intake.submit(command, idempotency_key=idempotency_key(req),
                                                correlation_id=correlation_id(req))
    status_url = api_url(req, f"requests/{request.id}")
    return json_response({"requestId": request.id, "status": request.status.value, "statusUrl": status_url},
                         202 if created else 200, {"Location": status_url})


@app.route(route="requests/{id}", methods=["GET"])
@handles_errors
@uuid_route(what="request id", code="INVALID_REQUEST_ID")
def get_request(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(services().queries.request(req.route_params["id"]))


# Deciding needs a person signed in with Entra; a function key alone can never approve. So these two routes are
# anonymous at the host and the app demands a verified bearer token before it reads anything (identity.py).
@app.route(route="requests/{id}/approve", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def approve_request(req: func.HttpRequest) -> func.HttpResponse:
    approver = api_caller(req, services().identity, key_checked=False)
    request_id = route_uuid(req, what="request id", code="INVALID_REQUEST_ID")  # after sign-in: 401 comes first
    request = services().approvals.decide(request_id, approver, approve=True)
    return json_response(request.to_view())


@app.route(route="requests/{id}/reject", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def reject_request(req: func.HttpRequest) -> func.HttpResponse:
    approver = api_caller(req, services().identity, key_checked=False)
    request_id = route_uuid(req, what="request id", code="INVALID_REQUEST_ID")  # after sign-in: 401 comes first
    request = services().approvals.decide(request_id, approver, approve=False)
    return json_response(request.to_view())


@app.route(route="requests", methods=["GET"])
@handles_errors
def list_requests(req: func.HttpRequest) -> func.HttpResponse:
    cloud = query_param(req, "cloud", max_length=MAX_ID_LENGTH)
    status = query_param(req, "status", max_length=40)
    if status is not None and status not in Status.__members__.values():
        raise ValidationError(f"status must be one of {', '.join(Status)}", code="INVALID_STATUS")
    try:
        limit = int(query_param(req, "limit", max_length=6) or "50")
    except ValueError:
        raise ValidationError("limit must be a whole number", code="INVALID_LIMIT") from None
    return json_response(services().queries.recent(
        cloud=parse_cloud_id(cloud, field_name="cloud") if cloud else None,
        status=Status(status) if status else None, limit=limit, continuation=req.params.get("continuation")))


@app.route(route="links", methods=["GET"])
@handles_errors
def list_links(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(services().queries.links(parse_cloud_id(query_param(req, "cloud", max_length=MAX_ID_LENGTH),
                                                                 field_name="cloud")))


# Ticketing and chat senders cannot present function keys or Entra tokens: these routes are anonymous at
# the Functions level and authenticated by each channel's signature over the raw body.
@app.route(route="hooks/{source}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def ticket_hook(req: func.HttpRequest) -> func.HttpResponse:
    accepted = services().inbound.hook(req.route_params["source"], dict(req.headers),
                                       body(req, HOOK_BODY_LIMIT))
    status_url = api_url(req, f"requests/{accepted.request_id}")
    return json_response({"requestId": accepted.request_id, "status": accepted.status, "statusUrl": status_url},
                         202 if accepted.created else 200)


@app.route(route="chat/slack", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def slack_command(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(services().inbound.slack_command(dict(req.headers), body(req, SLACK_COMMAND_LIMIT)))


@app.route(route="chat/slack/actions", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def slack_action(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(services().inbound.slack_action(dict(req.headers), body(req, SLACK_ACTION_LIMIT)))


@app.route(route="chat/teams", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def teams_message(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(services().inbound.teams(dict(req.headers), body(req, TEAMS_LIMIT)))


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def health(req: func.HttpRequest) -> func.HttpResponse:
    ok, report = services().queries.health()
    return json_response({"status": "ok" if ok else "degraded", "checks": report}, 200 if ok else 503)


@app.timer_trigger(arg_name="timer", schedule=f"%{SWEEP_SCHEDULE_SETTING}%", run_on_startup=False)
def sweep(timer: func.TimerRequest) -> None:
    report = services().sweeper.sweep()
    log.info("sweep: %s", report, extra={"pastDue": timer.past_due, **report})


@app.timer_trigger(arg_name="timer", schedule=f"%{AUDIT_SCHEDULE_SETTING}%", run_on_startup=False)
def audit(timer: func.TimerRequest) -> None:
    # The run itself happens in the worker: a timer invocation only queues it.
    log.info("audit run %s queued", services().audits_or_fail().start())


@app.route(route="audits", methods=["POST"])
@handles_errors
def start_audit(req: func.HttpRequest) -> func.HttpResponse:
    run_id = services().audits_or_fail().start()
    url = api_url(req, f"audits/{run_id}")
    return json_response({"runId": run_id, "statusUrl": url}, 202, {"Location": url})


@app.route(route="audits/{id}", methods=["GET"])
@handles_errors
@uuid_route(what="audit id", code="INVALID_AUDIT_ID", also=("latest",))
def get_audit(req: func.HttpRequest) -> func.HttpResponse:
    store = services().audits_or_fail().store
    run_id = req.route_params["id"]
    run = store.latest() if run_id == "latest" else store.get(run_id)
    if run is None:
        raise NotFoundError("no audit has run yet", code="AUDIT_NOT_FOUND")
    return json_response(run.to_view())


@app.route(route="topology", methods=["GET"])
@handles_errors
def topology_view(req: func.HttpRequest) -> func.HttpResponse:
    body, mimetype = services().topology(query_param(req, "format", max_length=20) or "json")
    return func.HttpResponse(body, status_code=200, mimetype=mimetype)


@app.service_bus_queue_trigger(arg_name="msg", queue_name=f"%{QUEUE_SETTING}%", connection=SERVICEBUS_CONNECTION,
                               auto_complete_messages=False)
def process_work_item(msg: servicebus.ServiceBusReceivedMessage,
                      message_actions: servicebus.ServiceBusMessageActions) -> None:
    services().settle(msg, message_actions)
