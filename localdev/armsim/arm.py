"""ARM request handlers: a matched route becomes a state call and an ARM-shaped answer.

This is where the ARM conventions the SDK depends on live: `nextLink` paging, the async-operation pattern
(201 + Azure-AsyncOperation for PUT; 202 + Location and Azure-AsyncOperation for DELETE; 204 for a
DELETE of nothing), Retry-After on everything still running, and absolute URLs built from the Host the
client used, so whatever port the simulator got is the one the SDK polls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from localdev.armsim import render
from localdev.armsim.errors import ArmError
from localdev.armsim.faults import Faults
from localdev.armsim.state import Operation, World


@dataclass(frozen=True)
class Request:
    path: str  # as received, still URL-encoded: reused verbatim in nextLink
    query: dict[str, str]
    params: dict[str, str]  # route captures, URL-decoded
    body: bytes
    base_url: str

    @property
    def api_version(self) -> str:
        return self.query["api-version"]


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def seconds(value: float) -> str:
    """A Retry-After value: whole seconds as ARM writes them, fractions only when configured so."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def error_response(err: ArmError, headers: dict[str, str] | None = None) -> Response:
    return Response(err.status, err.body(), headers or {})


def _page(req: Request, items: list[dict[str, Any]], page_size: int) -> Response:
    token = req.query.get("$skiptoken", "0")
    if not token.isdigit():
        raise ArmError(400, "InvalidSkipToken", f"'{token}' is not a skip token this service issued.")
    start = int(token)
    body: dict[str, Any] = {"value": items[start : start + page_size]}
    if start + page_size < len(items):
        query = urlencode({"api-version": req.api_version, "$skiptoken": start + page_size})
        body["nextLink"] = f"{req.base_url}{req.path}?{query}"
    return Response(200, body)


def _operation_url(req: Request, op: Operation, collection: str) -> str:
    return f"{req.base_url}{render.operation_path(op, collection)}?{urlencode({'api-version': req.api_version})}"


def _cloud_args(req: Request) -> tuple[str, str, str]:
    return req.params["sub"], req.params["rg"], req.params["cloud"]


def _put_link(req: Request, world: World, faults: Faults) -> Response:
    created, body, op = world.put_link(*_cloud_args(req), req.params["link"], req.body, faults.link_outcome)
    headers = (
        {}
        if op is None
        else {
            "Azure-AsyncOperation": _operation_url(req, op, "operationStatuses"),
            "Retry-After": seconds(world.settings.retry_after),
        }
    )
    return Response(201 if created else 200, body, headers)


def _delete_link(req: Request, world: World, faults: Faults) -> Response:
    op = world.delete_link(*_cloud_args(req), req.params["link"])
    if op is None:
        return Response(204)
    return Response(
        202,
        None,
        {
            "Location": _operation_url(req, op, "operationResults"),
            "Azure-AsyncOperation": _operation_url(req, op, "operationStatuses"),
            "Retry-After": seconds(world.settings.retry_after),
        },
    )


def _poll(req: Request, world: World, faults: Faults) -> Response:
    op = world.operation(req.params["sub"], req.params["operation"])
    running = op.status == "InProgress"
    retry = {"Retry-After": seconds(world.settings.retry_after)} if running else {}
    if "/operationstatuses/" in req.path.lower():
        return Response(200, render.operation(op), retry)
    # The Location flavour speaks in status codes: 202 while running, then the outcome itself.
    if running:
        return Response(202, None, {"Location": _operation_url(req, op, "operationResults"), **retry})
    if op.status == "Succeeded":
        return Response(204)
    code, message = op.error or ("OperationFailed", f"The operation ended {op.status}.")
    return error_response(ArmError(400, code, message))


Handler = Callable[[Request, World, Faults], Response]

# The provider's operation list (a subset): what `GET /providers/Microsoft.AVS/operations` answers, which
# is also the cheapest way for the app to see that ARM is reachable.
_OPERATIONS = [
    {
        "name": name,
        "isDataAction": False,
        "display": {"provider": "Microsoft Azure VMware Solution", "resource": resource, "operation": operation},
    }
    for name, resource, operation in (
        ("Microsoft.AVS/privateClouds/read", "privateClouds", "Read private clouds"),
        ("Microsoft.AVS/privateClouds/cloudLinks/read", "cloudLinks", "Read cloud links"),
        ("Microsoft.AVS/privateClouds/cloudLinks/write", "cloudLinks", "Create or update cloud links"),
        ("Microsoft.AVS/privateClouds/cloudLinks/delete", "cloudLinks", "Delete cloud links"),
        ("Microsoft.AVS/privateClouds/workloadNetworks/segments/read", "segments", "Read segments"),
        (
            "Microsoft.AVS/privateClouds/globalReachConnections/read",
            "globalReachConnections",
            "Read Global Reach connections",
        ),
    )
]

HANDLERS: dict[str, Handler] = {
    "operations.list": lambda req, world, _: Response(200, {"value": _OPERATIONS}),
    "privateClouds.listInSubscription": lambda req, world, _: _page(
        req, world.list_clouds(req.params["sub"], None), world.settings.page_size
    ),
    "privateClouds.list": lambda req, world, _: _page(
        req, world.list_clouds(req.params["sub"], req.params["rg"]), world.settings.page_size
    ),
    "privateClouds.get": lambda req, world, _: Response(200, world.get_cloud(*_cloud_args(req))),
    "cloudLinks.list": lambda req, world, _: _page(req, world.list_links(*_cloud_args(req)), world.settings.page_size),
    "cloudLinks.get": lambda req, world, _: Response(200, world.get_link(*_cloud_args(req), req.params["link"])),
    "cloudLinks.put": _put_link,
    "cloudLinks.delete": _delete_link,
    "segments.list": lambda req, world, _: _page(req, world.list_segments(*_cloud_args(req)), world.settings.page_size),
    "globalReach.list": lambda req, world, _: _page(
        req, world.list_global_reach(*_cloud_args(req)), world.settings.page_size
    ),
    "permissions.list": lambda req, world, _: Response(200, {"value": world.permissions(*_cloud_args(req))}),
    "operation.poll": _poll,
}


def handle(kind: str, req: Request, world: World, faults: Faults) -> Response:
    try:
        return HANDLERS[kind](req, world, faults)
    except ArmError as err:
        return error_response(err)
