"""Every answer the e2e tier sees (App.call) and the function tests see (FakeApp.call), held to the OpenAPI
document (interconnect/app/openapi.json).

`check` finds the operation a call went to (the path templates under /api, literal segments compared as the
host compares them, without case), then asserts: the status is one the operation documents; the body fits the
schema of that status and content type (so an error's `code` is one of those the document lists there); the
headers the document requires are present. Schemas are checked with jsonschema (Draft 2020-12, the dialect of
OpenAPI 3.1), their `$ref`s resolved within the document.

What the Functions host answers by itself is not the app's and carries no body: 404 for a path no function
serves, 405 for a method the route does not take, 401 when a function-level route gets no valid key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from interconnect.app.openapi import DOCUMENT

URI = "urn:interconnect:openapi"


class ContractViolation(AssertionError):
    """An answer the document does not allow."""


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return loaded


@cache
def registry() -> Registry:
    return Registry().with_resource(URI, Resource(contents=document(), specification=DRAFT202012))


def pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def operation_for(method: str, path: str) -> tuple[str, str | None]:
    """The document's path template `path` falls under (or "") and the method if it documents it."""
    segments = [unquote(s) for s in urlsplit(path).path.strip("/").split("/")]
    for template, item in document()["paths"].items():
        parts = template.strip("/").split("/")
        if len(parts) == len(segments) and all(
            (p.startswith("{") and s != "") or p.lower() == s.lower() for p, s in zip(parts, segments, strict=True)
        ):
            return template, method.lower() if method.lower() in item else None
    return "", None


def is_key_route(operation: Mapping[str, Any]) -> bool:
    return any("functionKey" in requirement for requirement in operation["security"])


def check(method: str, path: str, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Raise ContractViolation unless the document allows this answer to `method path`."""
    template, verb = operation_for(method, path)
    where = f"{method} /api/{path.lstrip('/')} -> {status}"
    if not template or verb is None:
        if status in (404, 405) and not body:
            return  # the host's: no function serves this path, or not with this method
        raise ContractViolation(f"{where}: no operation of the document serves this call")
    operation = document()["paths"][template][verb]
    responses = operation["responses"]
    if str(status) not in responses:
        raise ContractViolation(f"{where}: status not documented for {operation['operationId']}: {body[:300]!r}")
    if status == 401 and not body and is_key_route(operation):
        return  # the host's: no valid function key
    response = responses[str(status)]
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, header in response.get("headers", {}).items():
        resolved = _resolve(header)
        if resolved.get("required") and name.lower() not in lowered:
            raise ContractViolation(f"{where}: required header {name} is missing")
        if name.lower() in lowered:
            _validate(resolved["schema"], lowered[name.lower()], f"{where}: header {name}")
    content = response.get("content")
    if not content:
        if body:
            raise ContractViolation(f"{where}: the document says no body, got {body[:300]!r}")
        return
    media = lowered.get("content-type", "").split(";")[0].strip().lower()
    if media not in content:
        raise ContractViolation(f"{where}: content type {media!r} is not one of {sorted(content)}")
    value: Any
    if media.endswith("json"):
        try:
            value = json.loads(body)
        except ValueError:
            raise ContractViolation(f"{where}: the body is not JSON: {body[:300]!r}") from None
    else:
        value = body.decode("utf-8")
    ref = "#/" + pointer("paths", template, verb, "responses", str(status), "content", media, "schema")
    _validate({"$ref": URI + ref}, value, f"{where} ({operation['operationId']})")


def _resolve(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    if "$ref" not in obj:
        return obj
    node: Any = document()
    for part in obj["$ref"].removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return _resolve(node)


def _validate(schema: Mapping[str, Any], value: Any, where: str) -> None:
    validator = jsonschema.Draft202012Validator(schema, registry=registry())
    errors = sorted(validator.iter_errors(value), key=lambda e: str(list(e.absolute_path)))
    if errors:
        shown = "; ".join(
            f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors[:5]
        )
        raise ContractViolation(f"{where}: {shown}")
