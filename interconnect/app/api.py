"""What the REST routes do once the caller is known: one body per use case, shared by the function-key routes
(blueprints linking, audit) and the web console's bearer-only twins (blueprints/console.py), so the two can
never answer differently. Each takes the request (for its query, body and URL) and, where who asks matters, the
caller the route established; none establishes it itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import azure.functions as func

from interconnect.app.bootstrap import services
from interconnect.app.http import api_url, correlation_id, idempotency_key, json_response, query_flag, query_param
from interconnect.avs.ids import MAX_ID_LENGTH, CloudId, parse_cloud_id
from interconnect.errors import DependencyError, NotFoundError, ValidationError
from interconnect.linking.model import Action, LinkRequest, Requester, Status
from interconnect.linking.ports import RequestFilter

log = logging.getLogger("interconnect")

# Impact is read live from ARM, so only while it can still inform a decision: before anything is removed.
BEFORE_REMOVAL = frozenset({Status.ACCEPTED, Status.VALIDATING, Status.AWAITING_APPROVAL})


class RecentImpacts:
    """Impacts read in the last `seconds`, by request and version. A request page polls every 2 s while a
    disconnect awaits approval (up to an hour), and each impact is half a dozen ARM reads: without this, every open
    page (and every script polling `GET /api/requests/{id}`) would spend the subscription's ARM read budget the
    worker needs. A new version of the request reads again. One for both route families: the same request read
    by the console and by a key holder is read from ARM once."""

    def __init__(self, seconds: float = 30, size: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        self._kept: OrderedDict[tuple[str, str], tuple[float, dict[str, Any] | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request: LinkRequest, read: Callable[[LinkRequest], dict[str, Any] | None]) -> dict[str, Any] | None:
        key = (request.id, request.updated_at.isoformat())
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] < self.seconds:
                return kept[1]
        found = read(request)  # outside the lock: ARM reads take a while; a DependencyError keeps nothing
        with self._lock:
            self._kept[key] = (now, found)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return found


IMPACTS = RecentImpacts()


def submit(req: func.HttpRequest, caller: Requester, *, url_base: str = "requests") -> func.HttpResponse:
    """Record and queue a request (202, or 200 for the one an Idempotency-Key already made), or plan it
    (`?dryRun=true`). `url_base`: where the answer's status URL points (the route family the caller used)."""
    from interconnect.linking.validation import parse_json, parse_submit

    command = parse_submit(parse_json(req.get_body()), caller=caller)
    key = idempotency_key(req)  # checked on a dry run too: whether a header is refused never depends on the flag
    if query_flag(req, "dryRun"):
        return json_response(services().queries.plan(command))
    request, created = services().intake.submit(command, idempotency_key=key, correlation_id=correlation_id(req))
    from interconnect.adapters import telemetry

    telemetry.note_request(
        request.id,
        request_action=request.action.value,
        request_status=request.status.value,
        cloud_source=request.source.name,
        cloud_target=request.target.name,
    )
    status_url = api_url(req, f"{url_base}/{request.id}")
    return json_response(
        {"requestId": request.id, "status": request.status.value, "statusUrl": status_url},
        202 if created else 200,
        {"Location": status_url},
    )


def request_view(request_id: str) -> tuple[LinkRequest, dict[str, Any]]:
    """A request as `GET /api/requests/{id}` shows it: its view, its audit trail, and for a disconnect not yet
    under way what it cuts (`impact`, see `impact_of`). The stored request comes back too, for what the caller
    adds (the console's `viewer`)."""
    request, view = services().queries.read(request_id)
    view.update(impact_of(request))
    return request, view


def impact_of(request: LinkRequest) -> dict[str, Any]:
    """`impact`: what a disconnect would cut, read live (at most RecentImpacts.seconds old) while nothing is removed
    yet; null otherwise. When ARM cannot be read now, `impactError` says so and the rest of the answer stands (the
    status matters more)."""
    if request.action is not Action.DISCONNECT or request.status not in BEFORE_REMOVAL:
        return {"impact": None}
    try:
        return {"impact": IMPACTS.get(request, services().queries.impact)}
    except DependencyError as exc:
        log.info("impact of %s not read: %s", request.id, exc.code)
        return {"impact": None, "impactError": exc.to_dict()}


def request_page(req: func.HttpRequest, caller: Callable[[], Requester]) -> dict[str, Any]:
    """A page of requests as `GET /api/requests` lists them, by the query's filters. `caller` says who is
    asking, called only when a filter needs it (`requester=me`)."""
    from interconnect.linking.validation import MAX_DATE, MAX_REQUESTER_FILTER, parse_listing_filter

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
    filters = parse_listing_filter(
        query_param(req, "requester", max_length=MAX_REQUESTER_FILTER),
        query_param(req, "since", max_length=MAX_DATE),
        query_param(req, "until", max_length=MAX_DATE),
        caller=caller,
    )
    filters = replace(
        filters,
        cloud=parse_cloud_id(cloud, field_name="cloud") if cloud is not None else None,
        status=Status(status) if status else None,
    )
    return services().queries.recent(filters, limit=limit, continuation=req.params.get("continuation"))


def start_audit(req: func.HttpRequest, *, url_base: str = "audits") -> func.HttpResponse:
    run_id = services().audits_or_fail().start()
    url = api_url(req, f"{url_base}/{run_id}")
    return json_response({"runId": run_id, "statusUrl": url}, 202, {"Location": url})


def audit_run(run_id: str) -> dict[str, Any]:
    """An audit run by id, or the latest one (`latest`)."""
    store = services().audits_or_fail().store
    run = store.latest() if run_id == "latest" else store.get(run_id)
    if run is None:
        raise NotFoundError("no audit has run yet", code="AUDIT_NOT_FOUND")
    return run.to_view()


def topology(req: func.HttpRequest, headers: dict[str, str] | None = None) -> func.HttpResponse:
    fmt = query_param(req, "format", max_length=20)
    # Absent is json; sent empty is refused like any other format no renderer has (INVALID_FORMAT).
    body, mimetype = services().topology("json" if fmt is None else fmt)
    return func.HttpResponse(body, status_code=200, mimetype=mimetype, headers=headers or {})


def cloud_page(cloud_id: CloudId, *, requests: int) -> dict[str, Any]:
    """A cloud as the console's cloud page shows it: the cloud, its links (as `GET /api/links`), its routed
    prefixes (what a link of it carries) and its latest `requests`. Raises NotFoundError as the links do."""
    from interconnect.avs.routed import routed_space
    from interconnect.linking.facts import ReadRecorder
    from interconnect.linking.impact import routed_view

    s = services()
    links = s.queries.links(cloud_id)  # reads the cloud first: a cloud that cannot be read is 404 here
    reads = ReadRecorder()
    cloud = reads(cloud_id, "privateClouds.get", lambda: s.avs.get_cloud(cloud_id))
    if cloud is None:
        raise NotFoundError(
            f"private cloud {cloud_id} does not exist or cannot be read",
            code="CLOUD_NOT_FOUND",
            details={"cloud": str(cloud_id)},
        )
    # What the pre-flight reads for a connect (linking/facts.py); a refused read is said, never left unsaid.
    segments = reads(cloud.id, "segments.list", lambda: s.avs.list_segments(cloud.id)) or []
    reach = reads(cloud.id, "globalReach.list", lambda: s.avs.list_global_reach(cloud.id)) or []
    space = routed_space(cloud, tuple(segments), tuple(reach))
    latest = s.queries.recent(RequestFilter(cloud=cloud.id), limit=requests, continuation=None)
    return {
        "cloud": {
            "id": str(cloud.id),
            "name": cloud.id.name,
            "resourceGroup": cloud.id.resource_group,
            "subscription": cloud.id.subscription,
            "location": cloud.location,
            "provisioningState": cloud.provisioning_state,
        },
        "links": links,
        "routed": routed_view(space),
        "unreadable": [f"{r.what} cannot be read ({r.answer})" for r in reads.refusals] + list(space.problems),
        "requests": latest["value"],
    }
