"""The topology document: the links a scope should have, as a platform team keeps it in git. YAML (or JSON).

    apiVersion: interconnect/v1
    kind: Topology
    metadata:                         # optional, for the people reading it
      name: weu-production
      description: the production clouds of West Europe
    scope:                            # what the document manages: at least one subscription or resource group
      subscriptions: [00000000-0000-0000-0000-000000000001]
      resourceGroups: [/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/rg-avs-shared]
    defaults:                         # optional: how short cloud references resolve
      subscription: 00000000-0000-0000-0000-000000000001   # 'name' and 'group/name' are looked for in it only
      resourceGroup: rg-avs-weu                             # a bare 'name' means rg-avs-weu/name
    links:                            # required; an empty list means "no links in scope" and plans their removal
      - between: [pc-weu-prod, pc-weu-dr]                   # either end may hold the link
      - from: rg-avs-weu/pc-weu-prod                        # the link is made on `from`, pointing at `to`
        to: rg-avs-weu/pc-weu-test                          # or the cloud's full ARM id
        description: test restores production backups

A cloud is named by its full ARM id, 'resource-group/name' or 'name' (resolved in interconnect/estate/topology.py
against the clouds read). The document manages a link when both its ends lie in the scope: such a link that is
not declared is removed, a declared one that is missing is made; a link with an end outside the scope is never
touched, and declaring one is an error (TOPOLOGY_OUT_OF_SCOPE). `from`/`to` only says where a new link is made:
an existing link held by the other end already joins the pair, and is not rebuilt to turn it round (that would
cut traffic for a route that would not change).

Reading it is bounded before anything is built: at most MAX_DOCUMENT_BYTES, nesting at most MAX_DEPTH levels, no
YAML anchors or aliases (a few lines of aliases expand to billions of nodes), no tags beyond YAML's core ones,
and no key given twice (YAML and JSON parsers silently keep the last, which would hide half of a reviewed
change). YAML scalars follow YAML 1.2's core schema: `no`, `on` and `2026-01-01` stay text. A document whose
first character is `{` is read as JSON, anything else as YAML.

Every problem is named where it is: its path (`links[3].between[1]`) and, in a YAML document, its line, with a
stable code. Problems of one kind are all reported together, not only the first.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta

from interconnect import boundedjson
from interconnect.avs import ids
from interconnect.errors import TooLargeError, ValidationError
from interconnect.schema import Invalid, convert, pattern

if TYPE_CHECKING:
    import yaml

API_VERSION = "interconnect/v1"
MAX_DOCUMENT_BYTES = 128 * 1024  # 1,000 links at ~100 bytes each, with room for comments
MAX_DEPTH = 8  # the schema nests four levels (links[i].between[j]); a little more so the error can name the key
MAX_LINKS = 1000  # an AVS cloud holds at most 10 links, so 1,000 links spans 200 clouds and more
MAX_SCOPE = 100
MAX_TEXT = 1000
MAX_LISTED = 10  # problems named in an error's message; `details.problems` holds them all

INVALID = "TOPOLOGY_INVALID"


# ------------------------------------------------------------------------------------------------- the schema

_GUID = ids.SUBSCRIPTION.pattern
_GROUP = ids.RESOURCE_GROUP.pattern.replace("\\w", "A-Za-z0-9_")
_NAME = ids.RESOURCE_NAME.pattern.replace("\\w", "A-Za-z0-9_")
Subscription = Annotated[str, pattern(f"^\\s*{_GUID}\\s*$", "a subscription id (a GUID)")]
ResourceGroupId = Annotated[
    str,
    pattern(
        f"^\\s*/(?i:subscriptions)/{_GUID}/(?i:resourceGroups)/{_GROUP}/?\\s*$",
        "a resource group id like /subscriptions/<guid>/resourceGroups/<group>",
    ),
]
ResourceGroup = Annotated[str, pattern(f"^{_GROUP}$", "a resource group name")]
# The exact grammar is held when the reference is resolved (ids.parse_cloud_id, or a short name looked up among the
# clouds read); the pattern only keeps out what can be no cloud at all.
CloudRef = Annotated[
    str,
    pattern(
        f"^\\s*(?:/\\S{{1,{ids.MAX_ID_LENGTH}}}|(?:{_GROUP}/)?{_NAME})\\s*$",
        "a private cloud: its ARM id, 'resource-group/name' or 'name'",
    ),
]
Text = Annotated[str, Meta(max_length=MAX_TEXT, description="Free text for the people reading the document.")]


class _Struct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    pass


class Metadata(_Struct):
    """For the people reading the document; never decided on."""

    name: Annotated[str, Meta(max_length=200)] | None = None
    description: Text | None = None


class Scope(_Struct):
    """What the document manages: links with both ends in these subscriptions or resource groups."""

    subscriptions: Annotated[list[Subscription], Meta(max_length=MAX_SCOPE)] = []
    resource_groups: Annotated[list[ResourceGroupId], Meta(max_length=MAX_SCOPE)] = []


class Defaults(_Struct):
    """How short cloud references resolve: 'name' and 'resource-group/name' are looked for in `subscription`
    only, and a bare 'name' means '`resourceGroup`/name'."""

    subscription: Subscription | None = None
    resource_group: ResourceGroup | None = None


class LinkEntry(_Struct, rename={"source": "from", "target": "to"}):
    """One link: `between` two clouds (either may hold it), or `from` the cloud to hold it `to` the other."""

    between: Annotated[list[CloudRef], Meta(min_length=2, max_length=2)] | None = None
    source: CloudRef | None = None
    target: CloudRef | None = None
    description: Text | None = None


_ONE_FORM = {"oneOf": [{"required": ["between"]}, {"required": ["from", "to"]}]}


class TopologyDocument(_Struct):
    """The links a scope should have. Links with both ends in `scope` that are not listed are removed."""

    api_version: Literal["interconnect/v1"]
    kind: Literal["Topology"]
    scope: Scope
    links: Annotated[list[Annotated[LinkEntry, Meta(extra_json_schema=_ONE_FORM)]], Meta(max_length=MAX_LINKS)]
    metadata: Metadata | None = None
    defaults: Defaults | None = None


def json_schema() -> dict[str, Any]:
    """The document's JSON Schema (2020-12, OpenAPI 3.1's dialect), for the API document to publish."""
    schema: dict[str, Any] = msgspec.json.schema(TopologyDocument)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


# ---------------------------------------------------------------------------------------- where, and problems


@dataclass(frozen=True)
class Where:
    """A place in the document: its path (`links[3].between[1]`, "" for the whole) and its 1-based line, when
    known (a YAML document's every key and item; a JSON document's syntax errors)."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        """`line 4, links[0].between`, `line 4`, `links[0]`, or "" for the document as a whole."""
        return ", ".join(part for part in (f"line {self.line}" if self.line else "", self.path) if part)

    def said(self, message: str) -> str:
        """`message` as said of this place."""
        return f"{self}: {message}" if str(self) else message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, where it is, under a stable code."""

    code: str
    where: Where
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "path": self.where.path,
            "line": self.where.line,
            "message": self.where.said(self.message),
            **self.details,
        }


def refusal(problems: list[Problem]) -> ValidationError:
    """The error that refuses a document: the problems' code when they share one, else TOPOLOGY_INVALID; each
    problem, with its own code, path and line, in `details.problems`."""
    codes = {p.code for p in problems}
    code = codes.pop() if len(codes) == 1 else INVALID
    shown = "; ".join(p.where.said(p.message) for p in problems[:MAX_LISTED])
    more = f" and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    return ValidationError(
        f"the topology document cannot be used: {shown}{more}",
        code=code,
        details={"problems": [p.to_dict() for p in problems]},
    )


def join(path: str, key: object) -> str:
    """A child's path, spelt as interconnect/schema.py spells the paths of its problems."""
    return f"{path}.{key}" if path else str(key)


# ----------------------------------------------------------------------------------------------- the reading


@dataclass(frozen=True)
class ParsedDocument:
    """A document that fits the schema, with the line of every key and item it was read with."""

    document: TopologyDocument
    lines: Mapping[str, int]
    syntax: Literal["yaml", "json"]

    def where(self, path: str) -> Where:
        return Where(path, self.lines.get(path))


def parse_document(data: bytes | str, *, syntax: Literal["yaml", "json"] | None = None) -> ParsedDocument:
    """Read a topology document (see the module docstring), as `syntax` says or, when None, as its first
    character does: `{` for JSON, else YAML.

    Raises
    ------
    TooLargeError
        TOO_LARGE when it is over MAX_DOCUMENT_BYTES.
    ValidationError
        TOPOLOGY_INVALID naming every problem (path, line) in `details.problems`, when it is not one.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise TooLargeError(
            f"the topology document is {len(raw)} bytes; at most {MAX_DOCUMENT_BYTES} are accepted",
            details={"limit": MAX_DOCUMENT_BYTES},
        )
    if syntax is None:
        syntax = "json" if raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "yaml"
    value, lines = _read_json(raw) if syntax == "json" else _read_yaml(raw)
    if value is None:
        raise refusal([Problem(INVALID, Where(""), "the document is empty")])
    try:
        document = convert(value, TopologyDocument)
    except Invalid as exc:
        raise refusal([_located(text, lines) for text in exc.problems]) from None
    problems = []
    if not document.scope.subscriptions and not document.scope.resource_groups:
        problems.append(
            Problem(INVALID, _where("scope", lines), "names no subscription and no resource group: it manages nothing")
        )
    for index, entry in enumerate(document.links):
        path = f"links[{index}]"
        directed = entry.source is not None or entry.target is not None
        if directed == (entry.between is not None) or (directed and (entry.source is None or entry.target is None)):
            problems.append(
                Problem(
                    INVALID,
                    _where(path, lines),
                    "give either `between: [a, b]` or both `from` and `to`",
                )
            )
    if problems:
        raise refusal(problems)
    return ParsedDocument(document, lines, syntax)


def _where(path: str, lines: Mapping[str, int]) -> Where:
    """`path`, at its own line or else the nearest enclosing one's (a missing key is where its parent is)."""
    probe = path
    while probe:
        if probe in lines:
            return Where(path, lines[probe])
        # `a.b[2]` -> `a.b` -> `a` -> "": each pass drops the last step, a key or an index.
        parent = re.sub(r"(?:\.[^.\[]*|\[\d+\])$", "", probe)
        probe = parent if parent != probe else ""
    return Where(path, lines.get(""))


def _located(problem: str, lines: Mapping[str, int]) -> Problem:
    """A problem of interconnect/schema.py ("path: what is wrong") with its line."""
    path, sep, message = problem.partition(": ")
    # The path is everything before the first ": " unless a key itself holds one; the longest known path wins.
    known = [p for p in lines if problem.startswith(p + ": ")]
    if known:
        path = max(known, key=len)
        message = problem[len(path) + 2 :]
    elif not sep:
        path, message = "", problem
    return Problem(INVALID, _where(path, lines), message)


def _read_json(raw: bytes) -> tuple[Any, dict[str, int]]:
    try:
        value = boundedjson.loads(raw, max_bytes=MAX_DOCUMENT_BYTES, max_depth=MAX_DEPTH, what="the document")
    except ValidationError as exc:
        raise refusal([Problem(INVALID, Where(""), exc.message)]) from None
    # boundedjson keeps the last of two equal keys, as every JSON decoder does; read again to find them.
    doubled: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        doubled.extend(sorted({key for key in keys if keys.count(key) > 1}))
        return dict(items)

    json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
    if doubled:
        raise refusal([Problem(INVALID, Where(""), f"the key {key!r} is given twice in one object") for key in doubled])
    return value, {}


# The YAML 1.2 core schema's plain scalars (YAML 1.1's yes/no/on/off booleans, sexagesimal numbers and
# timestamps are left as text: a cloud or a description must never turn into `False` or a date).
_CORE = (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


@functools.cache
def _loader() -> type[Any]:
    """A safe YAML loader with YAML 1.2's core scalars: libyaml's (C) when PyYAML was built with it, else PyYAML's
    own. PyYAML is imported here, when a document is read: ~17 ms that no cold start should pay."""
    import yaml
    from yaml.constructor import SafeConstructor
    from yaml.resolver import BaseResolver

    loader: type[Any]
    try:
        from yaml._yaml import CParser

        class CLoader(CParser, SafeConstructor, BaseResolver):
            def __init__(self, stream: str) -> None:
                CParser.__init__(self, stream)
                SafeConstructor.__init__(self)
                BaseResolver.__init__(self)

        loader = CLoader
    except ImportError:  # pragma: no cover - the wheels PyYAML ships carry libyaml

        class PyLoader(yaml.SafeLoader):
            pass

        loader = PyLoader
    loader.yaml_implicit_resolvers = {}
    for tag, regex, first in _CORE:
        loader.add_implicit_resolver(tag, re.compile(regex), list(first))
    return loader


def _checked_events(text: str) -> None:
    """Refuse anchors, aliases and nesting beyond MAX_DEPTH from the event stream, before any node is built
    (composing follows aliases and recurses once per level)."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=_loader()):
        mark: Any = event.start_mark  # libyaml's marks are typed apart from PyYAML's own, and read alike
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.MarkedYAMLError(
                None, None, "anchors and aliases (&name, *name) are not accepted: write each value out", mark
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise yaml.MarkedYAMLError(None, None, f"the document nests deeper than {MAX_DEPTH} levels", mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _read_yaml(raw: bytes) -> tuple[Any, dict[str, int]]:
    import yaml

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refusal([Problem(INVALID, Where(""), f"the document is not UTF-8 text (byte {exc.start})")]) from None
    loader = None
    try:
        _checked_events(text)
        loader = _loader()(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(part for part in (exc.context, exc.problem) if part) or "the document is not valid YAML"
        raise refusal([Problem(INVALID, Where("", mark.line + 1 if mark else None), what)]) from None
    except yaml.YAMLError as exc:  # the reader's: a character YAML does not allow
        raise refusal([Problem(INVALID, Where(""), f"the document is not valid YAML: {exc}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        return None, {}
    lines: dict[str, int] = {"": root.start_mark.line + 1}
    problems: list[Problem] = []
    value = _node_value(root, "", lines, problems)
    if problems:
        raise refusal(problems)
    return value, lines


def _node_value(node: yaml.Node, path: str, lines: dict[str, int], problems: list[Problem]) -> Any:
    """The plain value of a composed node, recording the line of each key and item (bounded by MAX_DEPTH)."""
    import yaml

    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
        value: dict[str, Any] = {}
        for key_node, item in node.value:
            key_line = key_node.start_mark.line + 1
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR):
                problems.append(Problem(INVALID, Where(path, key_line), "keys must be text"))
                continue
            key, child = key_node.value, join(path, key_node.value)
            if key in value:
                problems.append(
                    Problem(INVALID, Where(child, key_line), f"given twice (first on line {lines.get(child)})")
                )
                continue
            lines[child] = key_line
            value[key] = _node_value(item, child, lines, problems)
        return value
    if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
        items = []
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            lines[child] = item.start_mark.line + 1
            items.append(_node_value(item, child, lines, problems))
        return items
    if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
        text: str = node.value
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(Problem(INVALID, Where(path, line), "holds a character that is not valid Unicode"))
            return None
        if node.tag == _STR:
            return text
        if node.tag == _CORE[0][0]:
            return None
        if node.tag == _CORE[1][0]:
            return text.lower() == "true"
        if node.tag == _CORE[2][0]:
            return int(text)
        if node.tag == _CORE[3][0]:
            return float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))
    problems.append(Problem(INVALID, Where(path, line), f"the tag {node.tag} is not accepted"))
    return None
