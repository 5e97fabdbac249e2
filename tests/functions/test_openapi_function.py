"""GET /api/openapi.json serves the checked-in document (GET /api/openapi-v2.json its 2.0 rendering for
connectors), and the document names exactly the routes the app registers: read from function_app.py's
registrations, not from a list kept by hand."""

from __future__ import annotations

import json

from interconnect.app.openapi import DOCUMENT
from interconnect.app.openapi_v2 import DOCUMENT_V2
from tests.functions.harness import FakeApp, answer, request
from tests.functions.test_bindings import FUNCTIONS, trigger


def test_the_document_is_served_anonymously_as_checked_in(app: FakeApp) -> None:
    response = app.call("openapi_document", request("GET", "openapi.json"))
    assert response.status_code == 200
    assert answer(response) == json.loads(DOCUMENT.read_text())
    assert trigger("openapi_document")["authLevel"] == "ANONYMOUS"


def test_the_2_0_rendering_is_served_anonymously_as_checked_in(app: FakeApp) -> None:
    response = app.call("openapi_v2_document", request("GET", "openapi-v2.json"))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_body() == DOCUMENT_V2.read_bytes()
    assert answer(response)["swagger"] == "2.0"
    assert trigger("openapi_v2_document")["authLevel"] == "ANONYMOUS"


def registered_routes() -> set[tuple[str, str]]:
    """(path under /api, method) of every HTTP function function_app.py registers."""
    routes = set()
    for name in FUNCTIONS:
        binding = trigger(name)
        if binding["type"] == "httpTrigger":
            routes |= {("/" + binding["route"], method.lower()) for method in binding["methods"]}
    return routes


def test_the_document_describes_every_registered_route_and_no_other() -> None:
    document = json.loads(DOCUMENT.read_text())
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == registered_routes()


def test_anonymous_routes_are_the_ones_the_document_asks_no_credential_for() -> None:
    document = json.loads(DOCUMENT.read_text())
    anonymous = set()
    for name in FUNCTIONS:
        binding = trigger(name)
        if binding["type"] == "httpTrigger" and binding["authLevel"] == "ANONYMOUS":
            anonymous |= {("/" + binding["route"], method.lower()) for method in binding["methods"]}
    key_free = {
        (path, method)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if not any("functionKey" in requirement for requirement in operation["security"])
    }
    assert key_free == anonymous
