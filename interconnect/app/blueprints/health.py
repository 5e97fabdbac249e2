"""The health probe: every dependency pinged, 200 when all answer, 503 naming those that did not."""

from __future__ import annotations

import azure.functions as func

from interconnect.app.bootstrap import services
from interconnect.app.http import handles_errors, json_response

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def health(req: func.HttpRequest) -> func.HttpResponse:
    ok, report = services().queries.health()
    return json_response({"status": "ok" if ok else "degraded", "checks": report}, 200 if ok else 503)
