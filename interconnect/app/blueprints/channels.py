"""The channels' functions: ticket hooks, Slack commands and buttons, Teams messages, each signed by its sender."""

from __future__ import annotations

import azure.functions as func

from interconnect.app.bootstrap import services
from interconnect.app.http import api_url, body, handles_errors, json_response

bp = func.Blueprint()

# Each handler imports the channel module itself (its body limit lives there, with why it is that size): the
# channels load their documents' schemas (msgspec), which a cold instance answering the REST API never needs.


# Ticketing and chat senders cannot present function keys or Entra tokens: these routes are anonymous at
# the Functions level and authenticated by each channel's signature over the raw body.
@bp.route(route="hooks/{source}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def ticket_hook(req: func.HttpRequest) -> func.HttpResponse:
    from interconnect.channels.inbound import HOOK_BODY_LIMIT

    accepted = services().inbound.hook(req.route_params["source"], dict(req.headers), body(req, HOOK_BODY_LIMIT))
    status_url = api_url(req, f"requests/{accepted.request_id}")
    return json_response(
        {"requestId": accepted.request_id, "status": accepted.status, "statusUrl": status_url},
        202 if accepted.created else 200,
    )


@bp.route(route="chat/slack", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def slack_command(req: func.HttpRequest) -> func.HttpResponse:
    from interconnect.channels.inbound import SLACK_COMMAND_LIMIT

    return json_response(services().inbound.slack_command(dict(req.headers), body(req, SLACK_COMMAND_LIMIT)))


@bp.route(route="chat/slack/actions", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def slack_action(req: func.HttpRequest) -> func.HttpResponse:
    from interconnect.channels.inbound import SLACK_ACTION_LIMIT

    return json_response(services().inbound.slack_action(dict(req.headers), body(req, SLACK_ACTION_LIMIT)))


@bp.route(route="chat/teams", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def teams_message(req: func.HttpRequest) -> func.HttpResponse:
    from interconnect.channels.inbound import TEAMS_LIMIT

    return json_response(services().inbound.teams(dict(req.headers), body(req, TEAMS_LIMIT)))
