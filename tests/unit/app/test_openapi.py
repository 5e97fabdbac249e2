"""The OpenAPI document cannot drift: the checked-in file is a fresh build, it passes the standard validator, the
views the code builds fit its schemas, the hand-validated submit body agrees with its schema by property, and
every error code the app raises on purpose is documented (or named here as never answered over HTTP).

That the document names exactly the registered routes is tests/functions/test_openapi_function.py; that every
answer of the e2e tier fits it is tests/e2e/contract.py.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import interconnect
from interconnect.app import openapi
from interconnect.app.identity import KEY_CALLER
from interconnect.audit.model import AuditRun, Finding
from interconnect.errors import ValidationError
from interconnect.linking.model import (
    Action,
    Approval,
    AuditEvent,
    LinkRequest,
    Operation,
    Reason,
    Requester,
    Status,
)
from interconnect.linking.validation import parse_json, parse_submit
from tests.factories import cloud_id

DOCUMENT: dict[str, Any] = json.loads(openapi.DOCUMENT.read_text())
URI = "urn:interconnect:openapi"
REGISTRY = Registry().with_resource(URI, Resource(contents=DOCUMENT, specification=DRAFT202012))
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def component(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"{URI}#/components/schemas/{name}"}, registry=REGISTRY)


def operation(path: str, method: str) -> dict[str, Any]:
    found: dict[str, Any] = DOCUMENT["paths"][path][method]
    return found


def documented_codes(op: dict[str, Any], status: int) -> set[str]:
    """The codes an error response of `op` lists for `status` (none when it has no body)."""
    schema = op["responses"][str(status)].get("content", {}).get("application/json", {}).get("schema", {})
    return set(schema.get("properties", {}).get("error", {}).get("allOf", [{}, {}])[1].get("properties", {})
               .get("code", {}).get("enum", []))  # fmt: skip


# ---------------------------------------------------------------------------------------------- the document


def test_the_checked_in_document_is_what_the_build_writes() -> None:
    # Regenerate with `python -m interconnect.app.openapi` after changing a route, a shape or a code.
    assert openapi.DOCUMENT.read_text(encoding="utf-8") == openapi.render()


def test_the_document_passes_the_openapi_validator() -> None:
    validate(DOCUMENT)  # raises OpenAPIValidationError naming the first problem
    assert DOCUMENT["openapi"].startswith("3.1")


def test_every_operation_has_a_unique_camel_case_id_a_tag_and_a_summary() -> None:
    ops = [op for item in DOCUMENT["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    tags = {t["name"] for t in DOCUMENT["tags"]}
    assert all(op["tags"] and set(op["tags"]) <= tags and op["summary"] and op["description"] for op in ops)


def test_every_error_code_has_a_meaning_and_every_meaning_a_use() -> None:
    used = {code for op in openapi.OPERATIONS for codes in op.errors.values() for code in codes}
    used |= set(openapi.TOKEN_401) | {"SIGNING_KEYS_UNAVAILABLE"}
    assert used == set(openapi.CODES)


# The codes the app raises that no route answers, and why.
NOT_ANSWERED = {
    "MALFORMED_MESSAGE": "a queue message's problem: the worker quarantines it",
    "QUARANTINE_UNAVAILABLE": "the queue trigger's",
    "CALLBACK_NOT_CONFIGURED": "a delivery's, in the worker",
    "CALLBACK_REFUSED": "a delivery's, in the worker",
    "CALLBACK_URL_REFUSED": "a delivery's, in the worker",
    "ALREADY_EXISTS": "intake catches it and answers the existing request",
    "APPROVAL_MISMATCH": "Slack buttons only, answered as a chat message",
    "INVALID_COLUMN": "a row that does not read back is CORRUPT_RECORD",
    "MAPPING_CONFIG_INVALID": "a setting's: SETTINGS_INVALID",
    "ARM_INVALID_NEXT_LINK": "ARM refusals are facts of a plan or a listing (refusedReads), not answers",
    "INVALID_NAME": "ARM refusals are facts of a plan or a listing (refusedReads), not answers",
}


def raised_codes() -> set[str]:
    """Every `code="..."` the app's source writes (f-strings aside)."""
    root = Path(interconnect.__file__).parent
    found: set[str] = set()
    for path in root.rglob("*.py"):
        found |= set(re.findall(r'\bcode="([A-Z][A-Z_]+)"', path.read_text()))
    return found


def test_every_code_the_app_raises_is_documented_or_never_answered() -> None:
    documented = set(openapi.CODES)
    assert raised_codes() - documented == set(NOT_ANSWERED)
    assert not set(NOT_ANSWERED) & documented


# --------------------------------------------------------------------------------- the views fit the schemas


def request(**changes: Any) -> LinkRequest:
    base = LinkRequest(
        id=str(uuid.uuid4()),
        action=Action.DISCONNECT,
        source=cloud_id("pc-a"),
        target=cloud_id("pc-b"),
        requester=Requester("api", "key", "alice"),
        created_at=NOW,
        updated_at=NOW,
        reference="CHG-1",
        correlation_id="c-1",
    )
    return base.with_changes(**changes)


@pytest.mark.parametrize(
    "built",
    [
        request(),
        request(
            status=Status.REJECTED,
            reasons=(Reason("ADDRESS_OVERLAP", "overlap", {"overlaps": []}),),
            outcome="refused",
            operation=Operation("delete", cloud_id("pc-a"), "ic-pc-b-1234567890", NOW, NOW + timedelta(hours=1), 2),
            approval=Approval(NOW + timedelta(hours=1), "api:bob", NOW),
        ),
        request(status=Status.AWAITING_APPROVAL, approval=Approval(NOW + timedelta(hours=1))),
    ],
)
def test_a_request_view_fits_its_schema(built: LinkRequest) -> None:
    view = built.to_view()
    component("LinkRequestView").validate(view)
    event = AuditEvent(built.id, 2, NOW, "worker", "status", Status.VALIDATING, Status.ACCEPTED, "validating")
    component("LinkRequestDetail").validate({**view, "events": [event.to_view()], "impact": None})
    component("RequestPage").validate({"value": [view], "continuation": None, "skipped": 0})


def test_an_audit_run_view_fits_its_schema() -> None:
    finding = Finding("LINK_NOT_ACTIVE", "critical", (str(cloud_id("pc-a")),), "broken", {"link": "l1"})
    run = AuditRun(str(uuid.uuid4()), NOW, NOW, [finding], [finding.key], [finding], {}, ["a problem"], 2, 1)
    component("AuditRun").validate(run.to_view())


def test_a_view_with_a_field_the_contract_does_not_name_fails() -> None:
    # The e2e contract check is only worth something if an unnamed field fails it.
    with pytest.raises(jsonschema.ValidationError):
        component("LinkRequestView").validate({**request().to_view(), "secret": "x"})


# ------------------------------------------------------------------ the submit body: schema and parse_submit agree

SUBMIT = operation("/requests", "post")
SUBMIT_SCHEMA = {"$ref": "#/components/schemas/SubmitBody"}
BODY = jsonschema.Draft202012Validator({"$ref": URI + SUBMIT_SCHEMA["$ref"]}, registry=REGISTRY)
REFUSED_400 = documented_codes(SUBMIT, 400)
# Refusals a schema cannot express: what the two ids name, not how they are spelt.
SEMANTIC = {"SAME_CLOUD"}


def strategy(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid under `schema`, for the keywords the submit body's schema uses; any other keyword fails the
    test rather than being ignored (a new constraint must be generated too)."""
    if "$ref" in schema:
        return strategy(DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    if "anyOf" in schema:
        return st.one_of([strategy(branch) for branch in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("type") == "null":
        return st.none()
    if schema.get("type") == "object":
        known = {"title", "description", "type", "properties", "required", "additionalProperties"}
        assert set(schema) <= known, set(schema) - known
        required = {k: strategy(v) for k, v in schema["properties"].items() if k in schema["required"]}
        optional = {k: strategy(v) for k, v in schema["properties"].items() if k not in schema["required"]}
        return st.fixed_dictionaries(required, optional=optional)
    assert schema.get("type") == "string", schema
    assert set(schema) <= {"type", "description", "examples", "pattern", "maxLength", "not", "default"}, schema
    text = st.from_regex(schema["pattern"], fullmatch=True) if "pattern" in schema else st.text()
    if "maxLength" in schema:
        text = text.filter(lambda s: len(s) <= schema["maxLength"])
    if "not" in schema:
        assert set(schema["not"]) == {"pattern"}, schema["not"]
        text = text.filter(lambda s: re.search(schema["not"]["pattern"], s) is None)
    return text


def submitted(raw: dict[str, Any]) -> str | None:
    """The code parse_submit refuses `raw` with (as sent over HTTP: JSON text), or None when it accepts it."""
    try:
        parse_submit(parse_json(json.dumps(raw, ensure_ascii=False).encode()), caller=KEY_CALLER)
    except ValidationError as exc:
        return exc.code
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategy(SUBMIT_SCHEMA))
def test_a_body_the_schema_accepts_is_never_refused_as_malformed(body: dict[str, Any]) -> None:
    assert BODY.is_valid(body)
    assert submitted(body) in (None, *SEMANTIC)


ID_TEXT = st.one_of(
    st.sampled_from([str(cloud_id("pc-a")), str(cloud_id("pc-b")), " " + str(cloud_id("pc-c")) + "\n"]),
    st.builds(
        lambda sub, rg, name: f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/{name}",
        st.sampled_from(["11111111-1111-1111-1111-111111111111", "1111", "", "G1111111-1111-1111-1111-111111111111"]),
        st.sampled_from(["rg", "rg.", "r g", "..", "(rg)", "rg%2F", "x" * 91]),
        st.sampled_from(["pc", "pc.", ".", "p/c", "pc_1", "ü", "x" * 81]),
    ),
    st.text(max_size=30),
)
VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(["connect", "disconnect", "Connect", "", "x" * 201, "line\nbreak", "tab\t"]),
    ID_TEXT,
    st.text(max_size=210),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
FIELD = st.sampled_from(["action", "source", "target", "reference", "requestedBy", "requested_by", "extra"])


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(FIELD, VALUE, max_size=6))
def test_a_body_the_schema_refuses_is_refused_with_a_documented_400(body: dict[str, Any]) -> None:
    code = submitted(body)
    if BODY.is_valid(body):
        assert code in (None, *SEMANTIC)
    else:
        assert code is not None, body
        assert code in REFUSED_400, code


def test_the_codes_the_property_tests_allow_are_documented_for_submit() -> None:
    assert SEMANTIC <= REFUSED_400
    assert {"MISSING_FIELD", "UNKNOWN_FIELD", "INVALID_ACTION", "INVALID_ID", "INVALID_FIELD"} <= REFUSED_400


# ---------------------------------------------------------------------- the e2e contract check can fail


def test_the_e2e_contract_check_refuses_what_the_document_does_not_allow() -> None:
    from tests.e2e.contract import ContractViolation, check

    json_type = {"Content-Type": "application/json; charset=utf-8"}

    def error(code: str) -> bytes:
        return json.dumps({"error": {"code": code, "message": "m"}}).encode()

    accepted = json.dumps({"requestId": str(uuid.uuid4()), "status": "Accepted", "statusUrl": "u"}).encode()
    check("GET", "requests/x", 400, json_type, error("INVALID_REQUEST_ID"))
    check("POST", "requests", 202, {**json_type, "Location": "u"}, accepted)
    check("GET", "no/such/route", 404, {}, b"")  # the host's own answer
    check("GET", "links?cloud=x", 401, {}, b"")  # the host's: no function key
    for call in [
        ("GET", "requests/x", 400, json_type, error("INVALID_AUDIT_ID")),  # a code not listed there
        ("GET", "requests/x", 418, json_type, b"{}"),  # a status not listed
        ("POST", "requests", 202, json_type, accepted),  # Location missing
        ("GET", "health", 200, {"Content-Type": "text/plain"}, b"ok"),  # another content type
        ("GET", "no/such/route", 200, json_type, b"{}"),  # no operation serves it
        ("GET", "requests/x/approve", 200, json_type, b"{}"),  # a method the path does not document
    ]:
        with pytest.raises(ContractViolation):
            check(*call)


# ---------------------------------------------------------------------- examples the app accepts, links that lead


def fits(schema: dict[str, Any], value: Any) -> bool:
    """Whether `value` is valid under `schema`, a part of the document (its refs resolved in the document)."""
    anchored = json.loads(json.dumps(schema).replace('"#/components/', f'"{URI}#/components/'))
    return jsonschema.Draft202012Validator(anchored, registry=REGISTRY).is_valid(value)


def parameter_examples() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{op['operationId']}.{p['name']}", p)
        for item in DOCUMENT["paths"].values()
        for op in item.values()
        for p in op.get("parameters", ())
        if "example" in p
    ]


def schema_examples(node: Any, where: str = "") -> list[tuple[str, dict[str, Any], Any]]:
    """Every (where, schema, example) of a JSON Schema `examples` keyword in the document."""
    if isinstance(node, list):
        return [found for i, x in enumerate(node) for found in schema_examples(x, f"{where}/{i}")]
    if not isinstance(node, dict):
        return []
    own = [(where, node, e) for e in node["examples"]] if isinstance(node.get("examples"), list) else []
    return own + [found for k, v in node.items() for found in schema_examples(v, f"{where}/{k}")]


def test_the_query_and_path_examples_are_values_the_app_accepts() -> None:
    from interconnect.avs.ids import parse_cloud_id
    from interconnect.channels.chat import Resolved, resolve_cloud

    examples = dict(parameter_examples())
    assert {"getRequest.id", "listRequests.cloud", "listRequests.status", "resolveCloud.ref", "getAudit.id"} <= set(
        examples
    )
    for where, parameter in examples.items():
        value = parameter["example"]
        assert fits(parameter["schema"], value), where
        if parameter["name"] == "cloud" or where == "getConsoleCloud.id":
            parse_cloud_id(value, field_name="cloud")  # raises ValidationError if refused
        elif parameter["name"] == "status":
            Status(value)
        elif parameter["name"] == "id":
            assert value == "latest" or uuid.UUID(value)
        elif parameter["name"] == "ref":
            named = cloud_id("pc-weu-prod", rg="rg-avs-weu")
            assert resolve_cloud(value, [named, cloud_id("pc-weu-dr", rg="rg-avs-weu")]) == Resolved(named)
            assert resolve_cloud(value, []).why == "unknown"  # a name, not refused as malformed: 404, not 400


def test_empty_or_blank_values_the_app_refuses_are_refused_by_the_schema_too() -> None:
    refused = {
        ("resolveCloud", "ref"): ["", "  "],
        ("listRequests", "cloud"): [""],
        ("listLinks", "cloud"): [""],
        ("listRequests", "status"): [""],
        ("getTopology", "format"): [""],
    }
    parameters = {
        (op["operationId"], p["name"]): p["schema"]
        for item in DOCUMENT["paths"].values()
        for op in item.values()
        for p in op.get("parameters", ())
    }
    for key, values in refused.items():
        assert not any(fits(parameters[key], v) for v in values), key
    # An empty continuation asks for the first page, as absent does.
    assert fits(parameters["listRequests", "continuation"], "")


def test_the_submit_examples_are_requests_the_app_accepts_not_same_cloud() -> None:
    media = SUBMIT["requestBody"]["content"]["application/json"]
    assert media["examples"]
    for name, example in media["examples"].items():
        assert BODY.is_valid(example["value"]), name
        assert submitted(example["value"]) is None, name
    # A body made of the schema's per-property examples (what a fuzzer or a form fills in) is accepted too.
    properties = DOCUMENT["components"]["schemas"]["SubmitBody"]["properties"]
    body = {"action": "connect", **{k: properties[k]["examples"][0] for k in ("source", "target")}}
    assert submitted(body) is None


def test_every_schema_example_fits_its_schema() -> None:
    found = schema_examples(DOCUMENT)
    assert found
    for where, schema, example in found:
        assert fits({k: v for k, v in schema.items() if k != "examples"}, example), where


def test_every_link_names_an_operation_its_parameter_and_a_field_the_answer_has() -> None:
    operations = {op["operationId"]: op for item in DOCUMENT["paths"].values() for op in item.values()}
    schemas = DOCUMENT["components"]["schemas"]

    def fields(schema: dict[str, Any]) -> set[str]:
        if "$ref" in schema:
            return fields(schemas[schema["$ref"].rsplit("/", 1)[1]])
        return set(schema.get("properties", {})) | {f for b in schema.get("anyOf", ()) for f in fields(b)}

    linked = set()
    for op in operations.values():
        for status, response in op["responses"].items():
            for name, link in response.get("links", {}).items():
                target = operations[link["operationId"]]
                (parameter, expression), *more = link["parameters"].items()
                assert not more and parameter in {p["name"] for p in target["parameters"]}, name
                pointer = expression.removeprefix("$response.body#/")
                assert pointer in fields(response["content"]["application/json"]["schema"]), (name, pointer)
                linked.add((op["operationId"], status, link["operationId"]))
    assert {
        ("submitRequest", "202", "getRequest"),
        ("submitRequest", "200", "approveRequest"),
        ("submitRequest", "202", "rejectRequest"),
        ("startAudit", "202", "getAudit"),
    } <= linked
