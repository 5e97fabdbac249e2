"""The OpenAPI 2.0 (Swagger) rendering of the API, for a Power Platform or Logic Apps custom connector, which
imports only 2.0; `python -m interconnect.app.openapi` writes it to interconnect/app/openapi-v2.json beside the
3.1 document it is derived from (`swagger2(document)`, pure: no second description is kept by hand).

What a connector takes, and so what this rendering holds to (tests/unit/app/test_openapi_v2.py checks each):
- Swagger 2.0 under 1 MB; one host; the *first* security definition is the one a connector uses, and it has no
  OAuth client-credentials flow (learn.microsoft.com: connectors/custom-connectors/define-openapi-definition).
- Its schema objects know no anyOf/oneOf/not/const/examples and no type arrays; `format` is one of a fixed set
  (FORMATS); unknown `x-ms-` extensions are refused (microsoft/PowerPlatformConnectors:
  schemas/apiDefinition.swagger.schema.json). Nullability is autorest's `x-nullable`.
- An operation's `summary` is its name in the designer: at most 80 characters, no slash, not ending in a
  punctuation mark or space (connector-string-guidance); the swagger validator also refuses `\\<>*%&?` in it. Every
  parameter has a `description` and an `x-ms-summary` (title case). The title is at most 30 characters; title
  and description do not say "API" nor name a Power Platform product.

Where a 3.1 construct has no 2.0 form, the closest one is taken and the description says what was lost (an
anyOf of objects becomes one object with every branch's properties; an anyOf of strings a string). A keyword
this module does not know fails the build instead of passing through unchecked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from interconnect.app.http import UUID_SHAPE

DOCUMENT_V2 = Path(__file__).with_name("openapi-v2.json")
SCHEMAS = "#/components/schemas/"
UUID_PATTERN = f"^{UUID_SHAPE.pattern}$"  # the edge's grammar (http.py), as openapi.py anchors it

# The formats a connector's schema accepts; a 3.1 format outside them becomes the pattern it stands for.
FORMATS = frozenset(
    {
        "int32",
        "int64",
        "float",
        "double",
        "byte",
        "binary",
        "date",
        "date-time",
        "password",
        "date-no-tz",
        "html",
        "uri",
    }
)
FORMAT_PATTERNS = {"uuid": UUID_PATTERN}

# Operations a connector has no use for, and why. Left out rather than marked `x-ms-visibility: internal`: an
# internal operation is still part of the connector (its schemas count toward the size and schema limits, and
# dynamic values may call it), and none of these could be called from a flow to any purpose.
CONSOLE = "the web console's: its page, or a bearer-only twin of an operation the connector has"
LEFT_OUT: dict[str, str] = {
    "receiveTicketHook": "signed by the ticket system over the raw body; a connector cannot sign, so always 401",
    "receiveSlackCommand": "signed by Slack; a connector cannot sign, so always 401",
    "receiveSlackAction": "signed by Slack; a connector cannot sign, so always 401",
    "receiveTeamsMessage": "signed by Teams; a connector cannot sign, so always 401",
    "getHealth": "an anonymous probe for monitors and operators, not an action of a flow",
    "getOpenApiDocument": "the description itself",
    "getSwaggerDocument": "the description itself",
    # The web console's own routes: its page for a browser, and bearer-only twins of the operations above.
    "getConsolePage": CONSOLE,
    "getConsoleAsset": CONSOLE,
    "getConsoleConfig": CONSOLE,
    "getConsoleMe": CONSOLE,
    "listConsoleRequests": CONSOLE,
    "submitConsoleRequest": CONSOLE,
    "getConsoleRequest": CONSOLE,
    "listConsoleApprovals": CONSOLE,
    "searchConsoleClouds": CONSOLE,
    "getConsoleCloud": CONSOLE,
    "startConsoleAudit": CONSOLE,
    "getConsoleAudit": CONSOLE,
    "getConsoleTopology": CONSOLE,
}

# The designer's label of each parameter (x-ms-summary, title case); a path's `id` is named by its collection.
TITLES: dict[str, str] = {
    "dryRun": "Dry Run",
    "Idempotency-Key": "Idempotency Key",
    "x-correlation-id": "Correlation ID",
    "cloud": "Cloud ID",
    "status": "Status",
    "requester": "Requester",
    "since": "Created From",
    "until": "Created To",
    "limit": "Page Size",
    "continuation": "Continuation Token",
    "ref": "Cloud Name or ID",
    "format": "Format",
    "requests.id": "Request ID",
    "audits.id": "Audit Run ID",
    "changesets.id": "Change Set ID",
    "fingerprint": "Plan Fingerprint",
    "body": "Request",
}
# Parameters most callers leave alone: the designer shows them under "advanced".
ADVANCED = frozenset({"Idempotency-Key", "x-correlation-id", "continuation"})

# 3.1 security schemes -> 2.0 ones. `functionKeyQuery` is the same key in the query string: the header form is
# enough for a connector. `entraToken` (http bearer) has no 2.0 form; the oauth2 scheme sends the same header.
SECURITY = {"functionKey": "functionKey", "entraOAuth": "entraOAuth", "entraToken": "entraOAuth"}

DESCRIPTION = (
    "Ask for links to be made or removed, each checked against every pre-flight rule; "
    "plan one first, follow it to its outcome, approve or reject a disconnect, read live links and audit runs. "
    'Errors are {"error": {"code", "message", "details"}} with a stable code. Set the host to your function '
    "app's. The connection asks for a function key; for people signed in with Entra ID, choose OAuth 2.0 "
    "(see entraOAuth)."
)

# Keywords of a 3.1 schema this module renders; anything else fails the build.
KNOWN = frozenset(
    {
        "$ref",
        "title",
        "description",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "default",
        "examples",
        "pattern",
        "maxLength",
        "minLength",
        "minimum",
        "maximum",
        "maxItems",
        "minItems",
        "uniqueItems",
        "format",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
    }
)
# What a 2.0 non-body parameter or header may carry of its schema.
SIMPLE = ("type", "format", "items", "default", "maximum", "minimum", "maxLength", "minLength", "pattern", "enum")


class Swagger2Error(ValueError):
    """The 3.1 document uses something this rendering has no 2.0 form for: extend this module."""


def swagger2(document: dict[str, Any]) -> dict[str, Any]:
    """The 2.0 rendering of the 3.1 `document`: the operations a connector can use, their schemas, and the
    security definitions a connector understands."""
    return _Renderer(document).render()


def render_v2(document: dict[str, Any]) -> str:
    """As checked in: insertion order (operations stay grouped), two-space indent."""
    return json.dumps(swagger2(document), indent=2, ensure_ascii=False) + "\n"


class _Renderer:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components: dict[str, Any] = document["components"]["schemas"]

    def render(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        tags: set[str] = set()
        for path, item in self.document["paths"].items():
            for method, operation in item.items():
                if operation["operationId"] in LEFT_OUT:
                    continue
                paths.setdefault(path, {})[method] = self.operation(path, operation)
                tags |= set(operation.get("tags", ()))
        used = self.reachable(paths)
        info = self.document["info"]
        host, base_path, scheme = self.server()
        return {
            "swagger": "2.0",
            "info": {
                "title": info["title"],
                "version": info["version"],
                "description": f"{info['summary']} {DESCRIPTION}",
            },
            "host": host,
            "basePath": base_path,
            "schemes": [scheme],
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "tags": [t for t in self.document.get("tags", ()) if t["name"] in tags],
            "paths": paths,
            "definitions": {name: self.schema(self.components[name]) for name in sorted(used)},
            "securityDefinitions": self.security_definitions(),
        }

    # ---------------------------------------------------------------------------------------------- the frame

    def server(self) -> tuple[str, str, str]:
        """The first server, its variables at their defaults: a connector has one host (edited when imported)."""
        server = self.document["servers"][0]
        url: str = server["url"]
        for name, variable in server.get("variables", {}).items():
            url = url.replace("{" + name + "}", variable["default"])
        parts = urlsplit(url)
        return parts.netloc, parts.path or "/", parts.scheme

    def security_definitions(self) -> dict[str, Any]:
        schemes = self.document["components"]["securitySchemes"]
        key = schemes["functionKey"]
        oauth = schemes["entraOAuth"]
        code_flow = oauth["flows"]["authorizationCode"]
        return {
            # First: a connector takes the first definition, and every action but approve/reject needs the key.
            "functionKey": {
                "type": "apiKey",
                "in": key["in"],
                "name": key["name"],
                "description": f"{key['description']} A connector uses the first security definition: this one.",
            },
            "entraOAuth": {
                "type": "oauth2",
                "flow": "accessCode",
                "authorizationUrl": code_flow["authorizationUrl"],
                "tokenUrl": code_flow["tokenUrl"],
                "scopes": code_flow["scopes"],
                "description": (
                    f"{oauth['description']} Placeholders: for a single-tenant app registration put the tenant id "
                    "in place of `organizations` in both URLs, and the registration's Application ID URI "
                    "(INTERCONNECT_AUTH_AUDIENCE) in place of `api://interconnect` in the scope. A connector has "
                    "no client-credentials flow, so only the authorization-code one is here. A connection of "
                    "this kind carries no function key: approve and reject need none, the other actions need "
                    "API Management in front of the app to add it."
                ),
            },
        }

    # ------------------------------------------------------------------------------------------- operations

    def operation(self, path: str, operation: dict[str, Any]) -> dict[str, Any]:
        parameters = [self.parameter(path, p) for p in operation.get("parameters", ())]
        consumes: list[str] = []
        if "requestBody" in operation:
            body, consumes = self.body(operation["requestBody"])
            parameters.insert(0, body)
        responses: dict[str, Any] = {}
        produces: list[str] = []
        for status, response in operation["responses"].items():
            responses[status], media = self.response(response)
            produces += [m for m in media if m not in produces]
        rendered: dict[str, Any] = {
            "operationId": operation["operationId"],
            "tags": operation.get("tags", []),
            "summary": operation["summary"],
            "description": operation["description"],
        }
        if consumes:
            rendered["consumes"] = consumes
        rendered["produces"] = produces or ["application/json"]
        rendered["security"] = self.security(operation.get("security", []))
        rendered["parameters"] = parameters
        rendered["responses"] = responses
        return rendered

    def security(self, requirements: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
        """Each 3.1 alternative in 2.0 terms; one naming a scheme with no 2.0 form is dropped (its twin stays),
        never emptied (an empty requirement would mean "no credential")."""
        rendered: list[dict[str, list[str]]] = []
        for requirement in requirements:
            if not set(requirement) <= set(SECURITY):
                continue
            mapped = {SECURITY[name]: scopes for name, scopes in requirement.items()}
            if mapped not in rendered:
                rendered.append(mapped)
        if requirements and not rendered:
            raise Swagger2Error(f"no 2.0 form for any of the security requirements {requirements}")
        return rendered

    def parameter(self, path: str, parameter: dict[str, Any]) -> dict[str, Any]:
        name = parameter["name"]
        key = f"{path.strip('/').split('/')[0]}.{name}" if parameter["in"] == "path" else name
        if key not in TITLES:
            raise Swagger2Error(f"parameter {key!r} has no x-ms-summary: add its title to TITLES")
        rendered: dict[str, Any] = {
            "name": name,
            "in": parameter["in"],
            "required": parameter.get("required", False),
            "description": parameter["description"],
            "x-ms-summary": TITLES[key],
        }
        keywords, lost = self.simple(parameter["schema"], f"parameter {name}")
        if lost:
            rendered["description"] += " " + lost
        rendered.update(keywords)
        if parameter["in"] == "path":
            rendered["x-ms-url-encoding"] = "single"
        if name in ADVANCED:
            rendered["x-ms-visibility"] = "advanced"
        return rendered

    def body(self, request_body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        content: dict[str, Any] = request_body["content"]
        if "application/json" not in content:
            raise Swagger2Error(f"a request body of {list(content)}: only application/json is rendered")
        schema = content["application/json"]["schema"]
        description = request_body.get("description") or self.resolve(schema).get("description") or "The body."
        if len(content) > 1:  # 2.0 has one schema per body: the JSON form stands for the others (a topology's YAML)
            description += (
                f" Also accepted, in the 3.1 document: {', '.join(m for m in content if m != 'application/json')}."
            )
        return {
            "name": "body",
            "in": "body",
            "required": request_body.get("required", False),
            "description": description,
            "x-ms-summary": TITLES["body"],
            "schema": self.schema(schema),
        }, ["application/json"]

    def response(self, response: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        rendered: dict[str, Any] = {"description": response["description"]}
        content: dict[str, Any] = response.get("content", {})
        media = sorted(content, key=lambda m: m != "application/json")
        if media:
            rendered["schema"] = self.schema(content[media[0]]["schema"])
            if len(media) > 1:
                # 2.0 has one schema per response: the JSON answer's; say what the others are.
                rendered["description"] += (
                    f" The schema is the {media[0]} answer's; {', '.join(media[1:])} answer text it does not describe."
                )
        if "headers" in response:
            rendered["headers"] = {name: self.header(h) for name, h in response["headers"].items()}
        return rendered, media

    def header(self, header: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in header:
            header = self.document["components"]["headers"][header["$ref"].rsplit("/", 1)[1]]
        # 2.0 response headers have no `required`: a required header is said so in its description.
        description = header["description"] + (" Always sent." if header.get("required") else "")
        keywords, lost = self.simple(header["schema"], "a header")
        return {"description": f"{description} {lost}".strip(), **keywords}

    # ---------------------------------------------------------------------------------------------- schemas

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return self.resolve(self.components[schema["$ref"].removeprefix(SCHEMAS)])
        return schema

    def simple(self, schema: dict[str, Any], where: str) -> tuple[dict[str, Any], str]:
        """A parameter's or header's schema as the inline keywords 2.0 gives them (no $ref, no object), and
        what the conversion says in a description of its own (what a union lost), for the caller to append."""
        rendered = self.schema(self.resolve(schema))
        lost = rendered.pop("description", "") if "description" not in self.resolve(schema) else ""
        keywords = {k: v for k, v in rendered.items() if k in SIMPLE}
        dropped = set(rendered) - set(SIMPLE) - {"title", "description", "x-nullable"}
        if dropped or keywords.get("type") in (None, "object"):
            raise Swagger2Error(f"{where}: no 2.0 parameter form for {schema}")
        return keywords, lost

    def schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """One 3.1 (JSON Schema 2020-12) schema as a Swagger 2.0 schema a connector accepts."""
        unknown = set(schema) - KNOWN
        if unknown:
            raise Swagger2Error(f"no 2.0 form for the keywords {sorted(unknown)} of {schema}")
        for union in ("anyOf", "oneOf"):
            if union in schema:
                return self.union(schema, schema[union])
        if "$ref" in schema:
            ref = {"$ref": "#/definitions/" + schema["$ref"].removeprefix(SCHEMAS)}
            rest = {k: v for k, v in schema.items() if k != "$ref" and not (k == "default" and v is None)}
            # 2.0 ignores a $ref's siblings: keep them on an allOf around it.
            return {"allOf": [ref], **self.schema(rest)} if rest else ref
        rendered: dict[str, Any] = {}
        nullable = False
        for keyword, value in schema.items():
            if keyword == "type" and isinstance(value, list):
                types = [t for t in value if t != "null"]
                if len(types) != 1:
                    raise Swagger2Error(f"a type of {value}: 2.0 has one type (and x-nullable)")
                rendered["type"], nullable = types[0], "null" in value
            elif keyword == "const":
                rendered["enum"] = [value]
            elif keyword == "enum":
                rendered["enum"] = [v for v in value if v is not None]
                nullable = nullable or None in value
            elif keyword == "examples":
                rendered["example"] = value[0]
            elif keyword == "default":
                if value is not None:
                    rendered["default"] = value
            elif keyword == "format":
                if value in FORMATS:
                    rendered["format"] = value
                elif value in FORMAT_PATTERNS:
                    rendered.setdefault("pattern", FORMAT_PATTERNS[value])
                else:
                    raise Swagger2Error(f"format {value!r} is not one a connector accepts")
            elif keyword == "not":
                rendered.update(self.negation(value, schema))
            elif keyword == "properties":
                rendered["properties"] = {name: self.schema(s) for name, s in value.items()}
            elif keyword in ("items", "additionalProperties") and isinstance(value, dict):
                rendered[keyword] = self.schema(value)
            elif keyword == "allOf":
                rendered["allOf"] = [self.schema(s) for s in value]
            elif keyword == "pattern":
                rendered.setdefault("pattern", value)
            else:
                rendered[keyword] = value
        if "enum" in rendered and "type" not in rendered and _type_of(rendered["enum"]):
            rendered["type"] = _type_of(rendered["enum"])
        if "allOf" in rendered and "properties" not in rendered and len(rendered["allOf"]) > 1:
            rendered.setdefault("type", "object")
        if schema.get("type") == "null" or rendered.get("type") == "null":
            raise Swagger2Error("a bare null type has no 2.0 form")
        if nullable:
            rendered["x-nullable"] = True
        return rendered

    def negation(self, negated: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
        """`not: {pattern: P}` (a string with no match of P) as the one pattern 2.0 can hold: a lookahead."""
        if set(negated) != {"pattern"} or "pattern" in schema:
            raise Swagger2Error(f"no 2.0 form for not {negated} beside {sorted(schema)}")
        return {"pattern": f"^(?![\\s\\S]*(?:{negated['pattern']}))"}

    def union(self, schema: dict[str, Any], branches: list[dict[str, Any]]) -> dict[str, Any]:
        """anyOf/oneOf: a nullable branch is x-nullable; several others become the closest single form."""
        outer = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        if outer and all(set(b) == {"required"} for b in branches):
            # Alternatives that only say which fields go together (a topology link: `between`, or `from` and
            # `to`): the schema beside them stands, and the description says which.
            either = " or ".join(" and ".join(f"`{f}`" for f in b["required"]) for b in branches)
            lead = outer.get("description", "")
            return self.schema({**outer, "description": f"{lead} Give {either}.".strip()})
        others = [b for b in branches if b != {"type": "null"}]
        nullable = len(others) < len(branches)
        rendered = self.schema({**others[0], **outer}) if len(others) == 1 else self.closest(others, outer)
        if nullable:
            # 2.0 ignores a $ref's siblings: the flag goes on an allOf around it.
            rendered = {"allOf": [rendered]} if "$ref" in rendered else rendered
            rendered["x-nullable"] = True
        return rendered

    def closest(self, branches: list[dict[str, Any]], outer: dict[str, Any]) -> dict[str, Any]:
        """Alternatives as one schema: objects merged (every branch's properties, none required), or one
        primitive type (the branches' own constraints dropped); the description names the alternatives."""
        resolved = [self.resolve(b) for b in branches]
        names = [_alternative(b, r) for b, r in zip(branches, resolved, strict=True)]
        lead = outer.get("description", "")
        described = {**outer, "description": f"{lead} One of: {', '.join(names)}.".strip()}
        if all(r.get("type") == "object" for r in resolved):
            properties: dict[str, Any] = {}
            for r in resolved:
                for name, s in r.get("properties", {}).items():
                    properties.setdefault(name, s)
            return self.schema({**described, "type": "object", "properties": properties})
        types = {
            r.get("type") or _type_of([*r.get("enum", ()), *([r["const"]] if "const" in r else [])]) for r in resolved
        }
        if len(types) == 1 and None not in types and "object" not in types:
            return self.schema({**described, "type": types.pop()})
        raise Swagger2Error(f"no closest 2.0 form for the alternatives {branches}")

    def reachable(self, paths: dict[str, Any]) -> set[str]:
        """The components the kept operations use, directly or through one another."""
        found: set[str] = set()
        pending: list[Any] = [paths]
        while pending:
            node = pending.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("#/definitions/"):
                    name = ref.removeprefix("#/definitions/")
                    if name not in found:
                        found.add(name)
                        pending.append(self.schema(self.components[name]))
                pending += list(node.values())
            elif isinstance(node, list):
                pending += node
        return found


def _type_of(values: list[Any]) -> str | None:
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    found = {kinds.get(type(v)) for v in values}
    return found.pop() if len(found) == 1 else None


def _alternative(branch: dict[str, Any], resolved: dict[str, Any]) -> str:
    if "$ref" in branch:
        return f"`{branch['$ref'].removeprefix(SCHEMAS)}`"
    if "const" in resolved:
        return f"`{json.dumps(resolved['const'])}`"
    if "pattern" in resolved:
        return f"a {resolved.get('type', 'value')} matching `{resolved['pattern']}`"
    return f"a {resolved.get('type', 'value')}"


def check_summary(summary: str) -> list[str]:
    """What a connector's designer refuses in an operation's summary (its name there)."""
    problems = []
    if len(summary) > 80:
        problems.append(f"{len(summary)} characters, over 80")
    if re.search(r"[/\\<>*%&?]", summary):
        problems.append("a character of /\\<>*%&?")
    if not summary[-1:].isalnum():
        problems.append("does not end in a letter or digit")
    return problems
