"""The OpenAPI 2.0 rendering for custom connectors cannot drift and stays importable: the checked-in file is a
fresh rendering of the 3.1 build, it passes the 2.0 validator, it holds to what a connector takes (the limits
are listed in interconnect/app/openapi_v2.py with where each comes from), and each 3.1 construct the document
uses is rendered as its closest 2.0 form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

from interconnect.app import openapi
from interconnect.app.openapi_v2 import (
    DOCUMENT_V2,
    FORMATS,
    LEFT_OUT,
    Swagger2Error,
    check_summary,
    render_v2,
    swagger2,
)

TEXT = DOCUMENT_V2.read_text(encoding="utf-8")
V2: dict[str, Any] = json.loads(TEXT)
V3: dict[str, Any] = json.loads(openapi.DOCUMENT.read_text(encoding="utf-8"))
OPERATIONS = [op for item in V2["paths"].values() for op in item.values()]

# What a connector's schema object may hold (microsoft/PowerPlatformConnectors:
# schemas/apiDefinition.swagger.schema.json, definitions.schema): no anyOf, oneOf, not, const, examples.
SCHEMA_KEYWORDS = {
    "$ref", "format", "title", "description", "default", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxProperties",
    "minProperties", "required", "enum", "additionalProperties", "type", "items", "allOf", "properties",
    "discriminator", "readOnly", "xml", "externalDocs", "example", "x-ms-summary", "x-ms-visibility",
}  # fmt: skip
# The x-ms- extensions used here, each one the connector schema names; an unknown x-ms- one is refused there.
X_MS = {"x-ms-summary", "x-ms-visibility", "x-ms-url-encoding"}


# ---------------------------------------------------------------------------------------------- the document


def test_the_checked_in_rendering_is_what_the_build_writes() -> None:
    # Regenerate with `python -m interconnect.app.openapi` (it writes both documents).
    assert render_v2(openapi.build()) == TEXT


def test_the_rendering_passes_the_swagger_2_validator() -> None:
    validate(V2, cls=OpenAPIV2SpecValidator)
    assert V2["swagger"] == "2.0"


def test_it_keeps_every_operation_but_those_left_out_with_their_ids_statuses_and_parameters() -> None:
    v3 = {op["operationId"]: (path, method, op) for path, item in V3["paths"].items() for method, op in item.items()}
    assert set(LEFT_OUT) <= set(v3)
    kept = {op["operationId"] for op in OPERATIONS}
    assert kept == set(v3) - set(LEFT_OUT)
    for path, item in V2["paths"].items():
        for method, op in item.items():
            assert v3[op["operationId"]][:2] == (path, method)
            source = v3[op["operationId"]][2]
            assert set(op["responses"]) == set(source["responses"])
            names = [p["name"] for p in op["parameters"] if p["in"] != "body"]
            assert names == [p["name"] for p in source.get("parameters", [])]
            assert any(p["in"] == "body" for p in op["parameters"]) == ("requestBody" in source)


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_reference_resolves_and_every_definition_is_used() -> None:
    pointed = set(refs(V2))
    assert {r.removeprefix("#/definitions/") for r in pointed} == set(V2["definitions"])
    assert all(r.startswith("#/definitions/") for r in pointed)


# ------------------------------------------------------------------------------------- what a connector takes


def test_it_is_under_a_connectors_1_mb() -> None:
    assert len(TEXT.encode("utf-8")) < 1_000_000


def test_the_title_and_description_are_what_a_connector_accepts() -> None:
    info = V2["info"]
    assert len(info["title"]) <= 30
    assert 30 <= len(info["description"]) <= 500
    for text in (info["title"], info["description"]):
        assert not re.search(r"\b(api|connector)\b", text, re.IGNORECASE), text
        assert not re.search(r"power apps|power automate|logic apps", text, re.IGNORECASE), text


def test_one_host_without_placeholders() -> None:
    assert re.fullmatch(r"[^{}/ :\\]+(?::\d+)?", V2["host"])
    assert V2["basePath"] == "/api"
    assert V2["schemes"] == ["https"]


def test_every_operation_has_a_unique_id_a_short_clean_summary_and_a_description() -> None:
    ids = [op["operationId"] for op in OPERATIONS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", i) for i in ids), ids
    for op in OPERATIONS:
        assert op["summary"] and op["description"]
        assert check_summary(op["summary"]) == [], (op["operationId"], check_summary(op["summary"]))
        assert op["summary"] != op["description"]


def test_the_summary_check_refuses_what_the_designer_refuses() -> None:
    assert check_summary("List a cloud's links") == []
    assert check_summary("x" * 81) == ["81 characters, over 80"]
    assert check_summary("Read a/b") == ["a character of /\\<>*%&?"]
    assert check_summary("Is it done?") == ["a character of /\\<>*%&?", "does not end in a letter or digit"]
    assert check_summary("Read a run (or latest)") == ["does not end in a letter or digit"]


def test_every_parameter_has_a_description_and_a_title() -> None:
    for op in OPERATIONS:
        for parameter in op["parameters"]:
            assert parameter["description"], (op["operationId"], parameter["name"])
            title = parameter["x-ms-summary"]  # title case: every word capitalised but the small ones
            assert title and all(w[0].isupper() or w in {"a", "and", "of", "or", "the"} for w in title.split())


def schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object of the rendering, with where it is."""

    def walk(where: str, schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        yield where, schema
        for name, sub in schema.get("properties", {}).items():
            yield from walk(f"{where}.{name}", sub)
        for keyword in ("items", "additionalProperties"):
            if isinstance(schema.get(keyword), dict):
                yield from walk(f"{where}/{keyword}", schema[keyword])
        for i, sub in enumerate(schema.get("allOf", ())):
            yield from walk(f"{where}/allOf/{i}", sub)

    for name, definition in V2["definitions"].items():
        yield from walk(name, definition)
    for op in OPERATIONS:
        for parameter in op["parameters"]:
            if "schema" in parameter:
                yield from walk(f"{op['operationId']} body", parameter["schema"])
        for status, response in op["responses"].items():
            if "schema" in response:
                yield from walk(f"{op['operationId']} {status}", response["schema"])


def test_no_schema_uses_what_a_connector_cannot_read() -> None:
    seen = 0
    for where, schema in schemas():
        seen += 1
        extensions = {k for k in schema if k.startswith("x-") and not k.startswith("x-ms-")}
        assert set(schema) - extensions <= SCHEMA_KEYWORDS, (where, set(schema) - SCHEMA_KEYWORDS)
        assert not isinstance(schema.get("type"), list), where
        assert schema.get("format", "int32") in FORMATS, where
        assert "$ref" not in schema or set(schema) == {"$ref"}, where  # 2.0 ignores a $ref's siblings
    assert seen > 100  # the walk reached the schemas


def test_no_definition_holds_more_than_512_schemas() -> None:
    # The designer refuses a definition whose schemas (properties, items, ...) number over 512.
    for name in V2["definitions"]:
        assert sum(1 for where, _ in schemas() if where == name or where.startswith((f"{name}.", f"{name}/"))) <= 512


def extensions(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("x-ms-"):
                yield key, value
            yield from extensions(value)
    elif isinstance(node, list):
        for value in node:
            yield from extensions(value)


def test_only_x_ms_extensions_a_connector_knows_are_used() -> None:
    used = dict(extensions(V2))
    assert set(used) <= X_MS
    assert {v for k, v in extensions(V2) if k == "x-ms-visibility"} <= {"important", "advanced", "internal"}


def test_the_security_definitions_are_the_function_key_first_then_entra_authorization_code() -> None:
    definitions = V2["securityDefinitions"]
    first = next(iter(definitions.values()))
    assert first == {**first, "type": "apiKey", "in": "header", "name": "x-functions-key"}
    oauth = definitions["entraOAuth"]
    assert oauth["flow"] == "accessCode"  # a connector has no client-credentials (application) flow
    assert oauth["authorizationUrl"].startswith("https://") and oauth["tokenUrl"].startswith("https://")
    assert "organizations" in oauth["description"] and "Application ID URI" in oauth["description"]
    used = {name for op in OPERATIONS for requirement in op["security"] for name in requirement}
    assert used == set(definitions)
    assert all(op["security"] and all(op["security"]) for op in OPERATIONS)  # nothing anonymous, nothing emptied


def test_no_default_response_carries_a_schema() -> None:
    assert not [op["operationId"] for op in OPERATIONS if "schema" in op["responses"].get("default", {})]


# ------------------------------------------------------------------------------------- the 3.1 forms rendered


def document(schemas: dict[str, Any], *, response: dict[str, Any], parameter: dict[str, Any] | None = None) -> Any:
    """A minimal 3.1 document with one operation answering `response` (a schema) and taking `parameter`."""
    operation: dict[str, Any] = {
        "operationId": "getThing",
        "summary": "Read a thing",
        "description": "Reads it.",
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "parameters": [parameter] if parameter else [],
        "responses": {"200": {"description": "It.", "content": {"application/json": {"schema": response}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "summary": "s."},
        "servers": [{"url": "https://{app}.example.net/api", "variables": {"app": {"default": "a"}}}],
        "paths": {"/things": {"get": operation}},
        "components": {
            "schemas": schemas,
            "headers": {},
            "securitySchemes": V3["components"]["securitySchemes"],
        },
    }


def rendered(schema: dict[str, Any], **components: Any) -> dict[str, Any]:
    operation = swagger2(document(components, response=schema))["paths"]["/things"]["get"]
    answered: dict[str, Any] = operation["responses"]["200"]["schema"]
    return answered


def test_a_type_array_with_null_is_one_type_and_x_nullable() -> None:
    assert rendered({"type": ["string", "null"], "maxLength": 3}) == {
        "type": "string",
        "maxLength": 3,
        "x-nullable": True,
    }


def test_an_optional_reference_is_an_all_of_marked_nullable() -> None:
    thing = {"type": "object", "properties": {"a": {"type": "integer"}}}
    optional = {"anyOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "null"}], "default": None}
    assert rendered(optional, Thing=thing) == {"allOf": [{"$ref": "#/definitions/Thing"}], "x-nullable": True}


def test_const_and_an_untyped_enum_get_their_type() -> None:
    assert rendered({"const": "latest"}) == {"enum": ["latest"], "type": "string"}
    assert rendered({"enum": [1, 2]}) == {"enum": [1, 2], "type": "integer"}


def test_alternatives_of_objects_are_one_object_with_every_property_and_say_so() -> None:
    a = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"], "additionalProperties": False}
    b = {"type": "object", "properties": {"y": {"type": "integer"}}, "required": ["y"], "additionalProperties": False}
    schema = {"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]}
    assert rendered(schema, A=a, B=b) == {
        "description": "One of: `A`, `B`.",
        "type": "object",
        "properties": {"x": {"type": "string"}, "y": {"type": "integer"}},
    }


def test_alternatives_of_strings_are_a_string_whose_description_keeps_the_lost_constraints() -> None:
    parameter = {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "The run id, or latest.",
        "schema": {"anyOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"const": "latest"}]},
    }
    doc = document({}, response={"type": "string"}, parameter={**parameter})
    doc["paths"] = {"/audits/{id}": doc["paths"]["/things"]}
    (param,) = swagger2(doc)["paths"]["/audits/{id}"]["get"]["parameters"]
    assert param["type"] == "string" and "pattern" not in param
    assert param["description"] == 'The run id, or latest. One of: a string matching `^[0-9]+$`, `"latest"`.'
    assert param["x-ms-summary"] == "Audit Run ID"


def test_a_parameter_with_no_title_fails_the_build() -> None:
    parameter = {"name": "colour", "in": "query", "description": "d", "schema": {"type": "string"}}
    with pytest.raises(Swagger2Error, match="colour"):
        swagger2(document({}, response={"type": "string"}, parameter=parameter))


@pytest.mark.parametrize(
    "schema",
    [{"type": "string", "contentEncoding": "base64"}, {"type": "string", "format": "uuid7"}, {"type": "null"}],
)
def test_a_construct_with_no_2_0_form_fails_the_build(schema: dict[str, Any]) -> None:
    with pytest.raises(Swagger2Error):
        rendered(schema)


def test_the_query_key_requirement_is_dropped_not_emptied() -> None:
    op = swagger2(document({}, response={"type": "string"}))["paths"]["/things"]["get"]
    assert op["security"] == [{"functionKey": []}]


NOT_CONTROL = rendered({"type": "string", "not": {"pattern": "[\\x00-\\x1f]"}})["pattern"]


@given(st.text(max_size=20))
def test_a_negated_pattern_becomes_a_pattern_that_accepts_exactly_the_same_strings(text: str) -> None:
    assert (re.search(NOT_CONTROL, text) is not None) == (re.search("[\\x00-\\x1f]", text) is None)
