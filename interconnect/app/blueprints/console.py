"""The web console's functions: its page and assets, its sign-in settings, and the data it shows.

A browser must never hold a function key, so every route here is anonymous at the Functions host. The page,
its assets and its sign-in settings are public (they hold nothing of anyone's); every data route demands a
verified Entra bearer token (`api_caller(..., key_checked=False)`) before it reads anything, so no token is 401
AUTHENTICATION_REQUIRED and a function key sent along counts for nothing. The token travels only in the
`Authorization` header (the page keeps it in sessionStorage); there are no cookies, so a cross-site request
carries no credential and CSRF has nothing to ride on.

Each data route does what its function-key twin does (app/api.py holds the shared bodies), plus what a person
looking at it needs: whether they may decide a request, and what a disconnect would cut.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import azure.functions as func

from interconnect.app import api
from interconnect.app.bootstrap import services
from interconnect.app.http import (
    Handler,
    api_caller,
    handles_errors,
    json_response,
    query_param,
    route_uuid,
)
from interconnect.avs.ids import MAX_ID_LENGTH
from interconnect.errors import DependencyError, NotFoundError, ValidationError
from interconnect.linking.model import LinkRequest, Requester, Status
from interconnect.linking.ports import RequestFilter

bp = func.Blueprint()
log = logging.getLogger("interconnect")

ANONYMOUS = func.AuthLevel.ANONYMOUS
MAX_CLOUD_MATCHES = 20
MAX_SEARCH = 100
CLOUD_REQUESTS = 20
INBOX_PAGES = 5  # of 100 requests awaiting approval each: an inbox longer than that is a backlog, not an inbox


def _page_headers() -> dict[str, str]:
    from interconnect.console.signin import page_headers

    try:
        sign_in = services().sign_in()
    except DependencyError:
        sign_in = None  # the page still loads (it says sign-in is unavailable); connect-src is then 'self' only
    return page_headers(sign_in.endpoints.token if sign_in else None)


def _data(handler: Handler) -> Handler:
    """A data route: its answers, errors included, are never cached (what a person may see stays theirs)."""
    from interconnect.console.signin import DATA_HEADERS

    answering = handles_errors(handler)

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        response = answering(req)
        for name, value in DATA_HEADERS.items():
            response.headers[name] = value
        return response

    return wrapper


def _caller(req: func.HttpRequest) -> Requester:
    """Who is signed in: a verified bearer token, or 401. Always the first thing a data route does."""
    return api_caller(req, services().identity, key_checked=False)


# ---------------------------------------------------------------------------------------------- page, assets


@bp.route(route="console", methods=["GET"], auth_level=ANONYMOUS)
@handles_errors
def console_page(req: func.HttpRequest) -> func.HttpResponse:
    from interconnect.console.assets import ASSETS

    page = ASSETS.page()
    if page is None:
        raise NotFoundError("the console is not deployed with this app", code="ASSET_NOT_FOUND")
    return func.HttpResponse(
        page.body, status_code=200, mimetype=page.mimetype, charset=page.charset or "utf-8", headers=_page_headers()
    )


@bp.route(route="console/assets/{name}", methods=["GET"], auth_level=ANONYMOUS)
@handles_errors
def console_asset(req: func.HttpRequest) -> func.HttpResponse:
    from interconnect.console.assets import ASSETS, not_modified

    name = req.route_params.get("name") or ""
    asset = ASSETS.asset(name)  # a lookup by exact name in the allow-list; nothing of `name` becomes a path
    if asset is None:
        raise NotFoundError("no console asset has this name", code="ASSET_NOT_FOUND", details={"length": len(name)})
    headers = {**_page_headers(), "ETag": asset.etag}
    if not_modified(req.headers.get("If-None-Match"), asset.etag):
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(
        asset.body, status_code=200, mimetype=asset.mimetype, charset=asset.charset or "utf-8", headers=headers
    )


@bp.route(route="console/config", methods=["GET"], auth_level=ANONYMOUS)
@handles_errors
def console_config(req: func.HttpRequest) -> func.HttpResponse:
    sign_in = services().sign_in()
    if sign_in is None:
        raise DependencyError(
            "the console's sign-in is not configured: set INTERCONNECT_AUTH_ISSUER, INTERCONNECT_AUTH_AUDIENCE "
            "and INTERCONNECT_CONSOLE_CLIENT_ID",
            code="CONSOLE_SIGN_IN_OFF",
            retry_after=3600,  # a setting, not an outage: nothing changes before the app is configured again
        )
    return json_response(sign_in.view(), headers={"Cache-Control": "no-cache"})


# ------------------------------------------------------------------------------------------------ signed in


@bp.route(route="console/me", methods=["GET"], auth_level=ANONYMOUS)
@_data
def console_me(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    policy = services().policy
    return json_response(
        {
            "caller": str(caller),
            "name": caller.display,
            "roles": sorted(caller.roles),
            "canRequest": policy.may_request(caller),
            "canApprove": caller.verified_person and policy.may_approve(caller),
        }
    )


@bp.route(route="console/requests", methods=["GET"], auth_level=ANONYMOUS)
@_data
def console_list_requests(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    return json_response(api.request_page(req, lambda: caller))


@bp.route(route="console/requests", methods=["POST"], auth_level=ANONYMOUS)
@_data
def console_submit_request(req: func.HttpRequest) -> func.HttpResponse:
    return api.submit(req, _caller(req), url_base="console/requests")


@bp.route(route="console/requests/{id}", methods=["GET"], auth_level=ANONYMOUS)
@_data
def console_get_request(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    request_id = route_uuid(req, what="request id", code="INVALID_REQUEST_ID")  # after sign-in: 401 comes first
    request, view = api.request_view(request_id)
    why = services().approvals.may_decide(request, caller)
    view["viewer"] = {"canDecide": why is None, "why": why}
    return json_response(view)


@bp.route(route="console/approvals", methods=["GET"], auth_level=ANONYMOUS)
@_data
def console_approvals(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    can_approve = caller.verified_person and services().policy.may_approve(caller)
    waiting: list[dict[str, Any]] = []
    if can_approve:  # nobody else reads what awaits approval here: a non-approver's inbox is empty, unread
        for request in _awaiting_approval():
            if services().approvals.may_decide(request, caller) is None:
                waiting.append({**request.to_view(), **api.impact_of(request)})
    return json_response({"value": waiting, "canApprove": can_approve})


@bp.route(route="console/clouds", methods=["GET"], auth_level=ANONYMOUS)
@_data
def console_clouds(req: func.HttpRequest) -> func.HttpResponse:
    _caller(req)
    text = (query_param(req, "q", max_length=MAX_SEARCH) or "").strip().casefold()
    found = sorted(
        (c for c in services().known_clouds.list() if text in c.name.casefold() or text in c.resource_group.casefold()),
        key=lambda c: (c.name.casefold(), c.resource_group.casefold(), c.normalized),
    )
    return json_response(
        {
            "value": [
                {"id": str(c), "name": c.name, "resourceGroup": c.resource_group, "subscription": c.subscription}
                for c in found[:MAX_CLOUD_MATCHES]
            ]
        }
    )


@bp.route(route="console/cloud", methods=["GET"], auth_level=ANONYMOUS)
@_data
def console_cloud(req: func.HttpRequest) -> func.HttpResponse:
    from interconnect.avs.ids import parse_cloud_id

    _caller(req)
    given = query_param(req, "id", max_length=MAX_ID_LENGTH)
    if given is None:
        raise ValidationError("id is required: the private cloud's ARM id", code="INVALID_ID", details={"field": "id"})
    cloud_id = parse_cloud_id(given, field_name="id")
    return json_response(api.cloud_page(cloud_id, requests=CLOUD_REQUESTS))


@bp.route(route="console/audits/{id}", methods=["GET"], auth_level=ANONYMOUS)
@_data
def console_get_audit(req: func.HttpRequest) -> func.HttpResponse:
    _caller(req)
    run_id = route_uuid(req, what="audit id", code="INVALID_AUDIT_ID", also=("latest",))  # after sign-in
    return json_response(api.audit_run(run_id))


@bp.route(route="console/audits", methods=["POST"], auth_level=ANONYMOUS)
@_data
def console_start_audit(req: func.HttpRequest) -> func.HttpResponse:
    _caller(req)
    return api.start_audit(req, url_base="console/audits")


@bp.route(route="console/topology", methods=["GET"], auth_level=ANONYMOUS)
@_data
def console_topology(req: func.HttpRequest) -> func.HttpResponse:
    _caller(req)
    return api.topology(req)


# ---------------------------------------------------------------------------------------------------- parts


def _awaiting_approval() -> list[LinkRequest]:
    requests: list[LinkRequest] = []
    continuation: str | None = None
    for _ in range(INBOX_PAGES):
        page = services().store.recent(
            RequestFilter(status=Status.AWAITING_APPROVAL), limit=100, continuation=continuation
        )
        requests += page.items
        continuation = page.continuation
        if continuation is None:
            break
    return requests
