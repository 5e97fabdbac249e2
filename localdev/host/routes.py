"""ASP.NET-style route templates, as the Functions host matches HTTP trigger routes.

Supported: literal segments (case-insensitive), `{name}`, optional `{name?}`, defaults `{name=value}`,
catch-all `{*rest}`, several parameters in one segment (`{name}.{ext}`) and the common inline
constraints (`{id:guid}`, `{n:int:min(1)}`, `{s:regex(^a+$)}`). An unknown constraint is a startup
error, as it is in ASP.NET. When several templates match, the most specific wins (literal before
constrained parameter before parameter before catch-all, segment by segment).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import unquote

from localdev.host.settings import ConfigError

T = TypeVar("T")

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)

# Segment precedence digits, after ASP.NET's RoutePrecedence: lower is more specific.
_LITERAL, _COMPLEX, _CONSTRAINED, _PARAMETER, _CATCH_ALL = range(1, 6)


def _integer(bounds: tuple[int, int]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return re.fullmatch(r"-?\d+", value) is not None and bounds[0] <= int(value) <= bounds[1]

    return check


def _parses(parse: Callable[[str], object]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return check


_SIMPLE_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": _integer(_INT32),
    "long": _integer(_INT64),
    "bool": lambda v: v.lower() in ("true", "false"),
    "guid": _parses(uuid.UUID),
    "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "decimal": _parses(float),
    "double": _parses(float),
    "float": _parses(float),
    "datetime": _parses(dt.datetime.fromisoformat),
    "required": bool,
}


def _constraint(text: str, template: str) -> Callable[[str], bool]:
    name, paren, rest = text.partition("(")
    name = name.lower()
    if not paren:
        if name in _SIMPLE_CONSTRAINTS:
            return _SIMPLE_CONSTRAINTS[name]
        raise ConfigError(f"route {template!r}: unknown constraint {text!r}")
    if not rest.endswith(")"):
        raise ConfigError(f"route {template!r}: constraint {text!r} lacks a closing parenthesis")
    argument = rest[:-1]
    if name == "regex":
        pattern = re.compile(argument, re.IGNORECASE)
        return lambda v: pattern.search(v) is not None
    try:
        numbers = [int(a) for a in argument.split(",")]
    except ValueError:
        raise ConfigError(f"route {template!r}: constraint {text!r} needs integer arguments") from None
    checks: dict[tuple[str, int], Callable[[str], bool]] = {
        ("min", 1): lambda v: _integer(_INT64)(v) and int(v) >= numbers[0],
        ("max", 1): lambda v: _integer(_INT64)(v) and int(v) <= numbers[0],
        ("range", 2): lambda v: _integer(_INT64)(v) and numbers[0] <= int(v) <= numbers[1],
        ("minlength", 1): lambda v: len(v) >= numbers[0],
        ("maxlength", 1): lambda v: len(v) <= numbers[0],
        ("length", 1): lambda v: len(v) == numbers[0],
        ("length", 2): lambda v: numbers[0] <= len(v) <= numbers[1],
    }
    check = checks.get((name, len(numbers)))
    if check is None:
        raise ConfigError(f"route {template!r}: unknown constraint {text!r}")
    return check


@dataclass(frozen=True)
class _Parameter:
    name: str
    optional: bool
    default: str | None
    catch_all: bool
    constraints: tuple[Callable[[str], bool], ...]
    shape: str

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.constraints)


def _split_constraints(body: str) -> list[str]:
    """Split `name:c1:c2(x:y)` on colons outside parentheses."""
    parts, depth, current = [], 0, []
    for char in body:
        if char == ":" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current.append(char)
    parts.append("".join(current))
    return parts


def _parameter(body: str, template: str) -> _Parameter:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    body = body.removesuffix("?")
    name_and_constraints, equals, default = body.partition("=")
    name, *constraints = _split_constraints(name_and_constraints)
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ConfigError(f"route {template!r}: invalid parameter name {name!r}")
    shape = ":".join(c.lower() for c in constraints)
    return _Parameter(
        name,
        optional or bool(equals),
        default if equals else None,
        catch_all,
        tuple(_constraint(c, template) for c in constraints),
        shape,
    )


@dataclass(frozen=True)
class _Segment:
    regex: re.Pattern[str]
    parameters: tuple[_Parameter, ...]
    precedence: int
    shape: str

    @property
    def optional(self) -> bool:
        return len(self.parameters) == 1 and self.parameters[0].optional and self.precedence != _COMPLEX


def _segment(text: str, template: str) -> _Segment:
    pieces = re.split(r"(\{[^{}]*\})", text)
    literal_parts = pieces[0::2]
    parameters = tuple(_parameter(p[1:-1], template) for p in pieces[1::2])
    if any("{" in part or "}" in part for part in literal_parts):
        raise ConfigError(f"route {template!r}: unbalanced braces in segment {text!r}")
    pattern, shape = [], []
    for index, part in enumerate(literal_parts):
        pattern.append(re.escape(part))
        shape.append(part.lower())
        if index < len(parameters):
            # Greedy, so that "{name}.{ext}" splits "a.b.c" at the last dot, as ASP.NET does by
            # matching complex segments from the right.
            pattern.append(f"(?P<{parameters[index].name}>.+)")
            shape.append(("{*" if parameters[index].catch_all else "{") + parameters[index].shape + "}")
    if not parameters:
        precedence = _LITERAL
    elif len(pieces) > 3 or any(literal_parts):
        precedence = _COMPLEX
        if any(p.optional or p.catch_all for p in parameters):
            raise ConfigError(f"route {template!r}: optional and catch-all parameters must fill a segment")
    elif parameters[0].catch_all:
        precedence = _CATCH_ALL
    else:
        precedence = _CONSTRAINED if parameters[0].constraints else _PARAMETER
    return _Segment(re.compile("".join(pattern), re.IGNORECASE | re.DOTALL), parameters, precedence, "".join(shape))


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled route template; `match` takes the path below the route prefix."""

    template: str
    segments: tuple[_Segment, ...]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        text = template.strip("/")
        segments = tuple(_segment(s, template) for s in text.split("/")) if text else ()
        names = [p.name.lower() for s in segments for p in s.parameters]
        if len(names) != len(set(names)):
            raise ConfigError(f"route {template!r}: a parameter name is used twice")
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment.precedence == _CATCH_ALL and not last:
                raise ConfigError(f"route {template!r}: a catch-all parameter must be the last segment")
            if segment.optional and not all(s.optional or s.precedence == _CATCH_ALL for s in segments[index:]):
                raise ConfigError(f"route {template!r}: only trailing parameters can be optional")
        return cls(template, segments)

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.precedence for s in self.segments)

    @property
    def shape(self) -> tuple[str, ...]:
        """What the template accepts, ignoring parameter names: equal shapes are ambiguous."""
        return tuple(s.shape for s in self.segments)

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for `path` (percent-encoded, no leading slash), or None if it does not match."""
        raw = path.removesuffix("/")
        parts = [unquote(p) for p in raw.split("/")] if raw else []
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.precedence == _CATCH_ALL:
                if index < len(parts):
                    values[segment.parameters[0].name] = "/".join(parts[index:])
                parts = parts[:index]
                break
            if index >= len(parts):
                if not segment.optional:
                    return None
                continue
            matched = segment.regex.fullmatch(parts[index])
            if matched is None:
                return None
            values.update(matched.groupdict())
        if len(parts) > len(self.segments):
            return None
        for segment in self.segments:
            for parameter in segment.parameters:
                if parameter.name in values:
                    if not parameter.accepts(values[parameter.name]):
                        return None
                elif parameter.default is not None:
                    values[parameter.name] = parameter.default
        return values


@dataclass(frozen=True)
class RouteMatch(Generic[T]):
    target: T
    route_params: dict[str, str]


@dataclass(frozen=True)
class MethodNotAllowed:
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class _Entry(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str]  # empty: every method
    target: T
    label: str


@dataclass
class RouteTable(Generic[T]):
    """Routes of all HTTP functions; several functions may share a template with different methods."""

    _entries: list[_Entry[T]] = field(default_factory=list)

    def add(self, template: RouteTemplate, methods: Iterable[str], target: T, label: str) -> None:
        wanted = frozenset(m.upper() for m in methods)
        for entry in self._entries:
            overlap = not entry.methods or not wanted or entry.methods & wanted
            if entry.template.shape == template.shape and overlap:
                raise ConfigError(
                    f"functions {entry.label!r} and {label!r} serve the same route "
                    f"{template.template!r} for the same methods"
                )
        self._entries.append(_Entry(template, wanted, target, label))
        self._entries.sort(key=lambda e: e.template.precedence)

    def resolve(self, method: str, path: str) -> RouteMatch[T] | MethodNotAllowed | None:
        allowed: set[str] = set()
        for entry in self._entries:
            values = entry.template.match(path)
            if values is None:
                continue
            if not entry.methods or method.upper() in entry.methods:
                return RouteMatch(entry.target, values)
            allowed |= entry.methods
        return MethodNotAllowed(tuple(sorted(allowed))) if allowed else None
