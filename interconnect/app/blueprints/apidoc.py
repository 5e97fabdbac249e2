"""The API's own description: `GET /api/openapi.json` (anonymous), the OpenAPI 3.1 document checked in beside the
app (interconnect/app/openapi.json, written by `python -m interconnect.app.openapi`), and `GET
/api/openapi-v2.json`, its OpenAPI 2.0 rendering for a custom connector (interconnect/app/openapi-v2.json).

Served from the files, each read on its first call and kept: building them needs msgspec and every contract
shape, which a cold instance answering anything else should not pay for.
"""

from __future__ import annotations

import functools
from pathlib import Path

import azure.functions as func

from interconnect.app.http import handles_errors

bp = func.Blueprint()
DOCUMENT = Path(__file__).resolve().parents[1] / "openapi.json"
DOCUMENT_V2 = DOCUMENT.with_name("openapi-v2.json")


@functools.cache
def document(path: Path = DOCUMENT) -> bytes:
    return path.read_bytes()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(document(), status_code=200, mimetype="application/json", charset="utf-8")


@bp.route(route="openapi-v2.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
def openapi_v2_document(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(document(DOCUMENT_V2), status_code=200, mimetype="application/json", charset="utf-8")
