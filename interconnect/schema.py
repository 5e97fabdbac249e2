"""Config documents checked against declared schemas (msgspec Structs), with errors a person can act on.

The policy, the ticket mappings and the channel settings are JSON written by hand, so a bad one must be
answered with the path of every bad key and what it should hold ("rules[0].scopes[1]: expected '*' or an ARM
id starting with /subscriptions/, not 'rg-1'"), never a stack trace nor only the first problem. msgspec checks
types, unknown keys, lengths and patterns, but stops at the first error, words it for programmers
("Expected `array` of length >= 1 - at `$.rules[0].actions`") and shows a dict key as `[...]`; `convert`
keeps its fast path and, only for a document that fails, walks the schema to name every problem in those
terms. Each parser turns the problems into its own error class and code.

msgspec was chosen over pydantic v2 for its import cost: the parsers run at every Functions cold start
(python -m bench.schema_import: ~28 ms against ~120 ms over a bare `import json`).

No value is echoed in a problem except one refused by a `pattern(...)` or a Literal, so a field holding a
secret must use neither.
"""

from __future__ import annotations

import ast
import enum
import re
import types
import typing
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

# regex -> what a person should write instead, for patterns declared with `pattern`.
_MEANINGS: dict[str, str] = {}
_NOUNS = {
    "str": "a string",
    "array": "a list",
    "object": "an object",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
}
_AT = re.compile(r"(?s)(?P<text>.*?)(?: - at `\$(?P<at>.*)`)?")


class Invalid(Exception):
    """A document does not fit its schema; `problems` names each bad key as "path: what is wrong"."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def pattern(regex: str, meaning: str) -> msgspec.Meta:
    """A string constraint whose failure reads "expected <meaning>, not <the value>"."""
    _MEANINGS[regex] = meaning
    return msgspec.Meta(pattern=regex, description=meaning)


def convert(raw: object, schema: type[T], where: str = "") -> T:
    """`raw` (decoded JSON) as an instance of `schema`; raises Invalid naming every problem.

    `where` is the path of `raw` itself, the start of every problem's path (e.g. "INTERCONNECT_HOOKS.jira").
    """
    try:
        return msgspec.convert(raw, schema)
    except msgspec.ValidationError as exc:
        raise Invalid(_problems(raw, schema, where) or [_translate(str(exc), where, raw, schema)]) from None


def _problems(raw: object, schema: Any, path: str) -> list[str]:
    """Every problem of `raw` against `schema`: descend into objects, lists and dicts; report at the deepest."""
    try:
        msgspec.convert(raw, schema)
        return []
    except msgspec.ValidationError as exc:
        error = str(exc)
    inner = _bare(schema)
    found: list[str] = []
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct) and isinstance(raw, dict):
        fields = {field.encode_name: field for field in msgspec.structs.fields(inner)}
        allowed = ", ".join(sorted(fields))
        found += [f"{_join(path, key)}: unknown field (allowed: {allowed})" for key in raw if key not in fields]
        found += [f"{_join(path, key)}: required" for key, field in fields.items() if field.required and key not in raw]
        for key, field in fields.items():
            if key in raw:
                found += _problems(raw[key], field.type, _join(path, key))
    elif typing.get_origin(inner) is list and isinstance(raw, list):
        (item,) = typing.get_args(inner)
        for index, value in enumerate(raw):
            found += _problems(value, item, f"{path}[{index}]")
    elif typing.get_origin(inner) is dict and isinstance(raw, dict):
        key_type, value_type = typing.get_args(inner)
        for key, value in raw.items():
            found += _problems(key, key_type, _join(path, key)) + _problems(value, value_type, _join(path, key))
    elif _is_union(inner) and raw is not None:
        members = [member for member in typing.get_args(inner) if member is not type(None)]
        if len(members) == 1:
            found += _problems(raw, members[0], path)
    return found or [_translate(error, path, raw, inner)]


def _translate(error: str, path: str, raw: object, schema: Any) -> str:
    """One msgspec error, at `path` of the document, in the words of a config file's reader."""
    match = _AT.fullmatch(error)
    assert match is not None  # the pattern matches any text
    text, at = match["text"], match["at"] or ""
    where = (path + at).lstrip(".")
    if (found := re.fullmatch(r"Object missing required field `(.*)`", text)) is not None:
        where, text = _join(where, found[1]), "required"
    elif (found := re.fullmatch(r"Object contains unknown field `(.*)`", text)) is not None:
        where, text = _join(where, found[1]), "unknown field"
    elif (found := re.fullmatch(r"Expected `str` matching regex (.*)", text, re.S)) is not None:
        regex = ast.literal_eval(found[1])  # msgspec shows the pattern as its repr
        meaning = _MEANINGS.get(regex, f"a string matching {regex}")
        text = f"expected {meaning}" + (f", not {_short(raw)}" if not at else "")
    elif text.startswith("Invalid enum value") and (choices := _choices(schema)) and not at:
        text = f"expected one of {', '.join(choices)}, not {_short(raw)}"
    else:
        text = re.sub(r"`([^`]*)` of length >= 1", _non_empty, text)
        text = re.sub(r"`([^`]*)`", lambda m: _NOUNS.get(m[1], m[1]), text)
        text = text[:1].lower() + text[1:]
    return f"{where}: {text}" if where else text


def _non_empty(match: re.Match[str]) -> str:
    return "a non-empty " + re.sub(r"^an? ", "", _NOUNS.get(match[1], match[1]))


def _choices(schema: Any) -> list[str]:
    """The values a Literal or an Enum admits, as written in JSON."""
    if typing.get_origin(schema) is typing.Literal:
        return [str(value) for value in typing.get_args(schema)]
    if isinstance(schema, type) and issubclass(schema, enum.Enum):
        return [str(member.value) for member in schema]
    return []


def _bare(schema: Any) -> Any:
    """The type under Annotated[...] (its constraints are checked by msgspec.convert at that level)."""
    while typing.get_origin(schema) is typing.Annotated:
        schema = typing.get_args(schema)[0]
    return schema


def _is_union(schema: Any) -> bool:
    return typing.get_origin(schema) in (typing.Union, types.UnionType)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
