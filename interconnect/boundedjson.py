"""JSON from outside, decoded within bounds: a size cap and a nesting cap checked before any object is built.

The standard decoder recurses once per nesting level and raises `RecursionError` (not a `ValueError`) near
1,000 levels, which escaped as HTTP 500 and stopped the sweeper. Here a linear scan measures the depth outside
strings first, so only a document within both caps reaches `json.loads`; decoded strings must be valid
Unicode (a lone surrogate such as "\\ud800" cannot be stored or encoded later).
"""

from __future__ import annotations

import json
import re
from typing import Any

from interconnect.errors import TooLargeError, ValidationError

MAX_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def nesting_depth(data: bytes) -> int:
    """How deep arrays and objects nest in `data`, brackets inside strings not counted."""
    brackets = _STRING.sub(b'""', data).translate(None, _NOT_BRACKETS)
    level = deepest = 0
    for byte in brackets:
        level += 1 if byte in b"[{" else -1
        deepest = max(deepest, level)
    return deepest


def _check_text(value: Any) -> None:
    # Bounded by MAX_DEPTH, so the recursion is too.
    if isinstance(value, str):
        value.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
    elif isinstance(value, dict):
        for key, item in value.items():
            key.encode("utf-8")
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(
    data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH, what: str = "the body", code: str = "INVALID_JSON"
) -> Any:
    """Decode JSON from outside.

    Raises
    ------
    TooLargeError
        code TOO_LARGE when `data` is longer than `max_bytes`.
    ValidationError
        `code` (INVALID_JSON unless told) when it is not UTF-8 JSON, nests deeper than `max_depth`, or holds a
        string that is not valid Unicode. The message names the problem, never the content.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise TooLargeError(
            f"{what} is {len(raw)} bytes; at most {max_bytes} are accepted", details={"limit": max_bytes}
        )
    if nesting_depth(raw) > max_depth:
        raise ValidationError(
            f"{what} nests deeper than {max_depth} levels", code=code, details={"maxDepth": max_depth}
        )
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        _check_text(value)
    except UnicodeError:
        raise ValidationError(f"{what} is not valid UTF-8 text", code=code) from None
    except ValueError as exc:
        # JSONDecodeError's message holds only a position, never the content.
        raise ValidationError(f"{what} is not valid JSON: {exc}", code=code) from None
    return value
