"""A small reader for the Bicep files under infra/, on tree-sitter-bicep.

No Bicep compiler can run here (docs/functions-platform.md §4c), so tests/infra reads the syntax tree:
declarations (param, var, resource, module, output), object keys and string literals. It understands only
the shapes this repository's templates use; anything it cannot read is reported, not guessed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tree_sitter as ts
import tree_sitter_bicep

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

_PARSER = ts.Parser(ts.Language(tree_sitter_bicep.language()))


def text(node: ts.Node) -> str:
    return (node.text or b"").decode()


def walk(node: ts.Node) -> Iterator[ts.Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def string_value(node: ts.Node) -> str | None:
    """The value of a plain string literal ('abc', no interpolation), else None."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.children):
        return None
    return "".join(text(c) for c in node.children if c.type in ("string_content", "escape_sequence"))


def unwrap_loop(node: ts.Node) -> ts.Node:
    """The body object of `[for x in y: {...}]` / `[for ...: if (c) {...}]` / `if (c) {...}`, else node."""
    while node.type in ("for_statement", "if_statement"):
        objects = [c for c in node.children if c.type in ("object", "if_statement")]
        if not objects:
            break
        node = objects[-1]
    return node


@dataclass(frozen=True)
class Declaration:
    kind: str  # param | var | resource | module | output
    name: str
    node: ts.Node
    type_string: str | None  # resource type@version / module path; None for the others

    @property
    def value(self) -> ts.Node | None:
        """The expression after `=` (for resources and modules: the body, loops unwrapped)."""
        children = self.node.children
        for i, child in enumerate(children):
            if child.type == "=" and i + 1 < len(children):
                return unwrap_loop(children[i + 1])
        return None

    @property
    def decorators(self) -> str:
        """The text of the decorators (@description(...) ...) written above the declaration."""
        previous = self.node.prev_sibling
        return text(previous) if previous is not None and previous.type == "decorators" else ""

    @property
    def resource_type(self) -> str:
        return (self.type_string or "").split("@")[0]


class BicepFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = path.read_bytes()
        self.tree = _PARSER.parse(self.source)
        self.root = self.tree.root_node

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix() if self.path.is_relative_to(ROOT) else str(self.path)

    def problems(self) -> list[str]:
        """Syntax errors: ERROR and MISSING nodes, with their positions."""
        found = []
        for node in walk(self.root):
            if node.type == "ERROR" or node.is_missing:
                row, column = node.start_point
                kind = "missing" if node.is_missing else "unexpected"
                found.append(f"{self.relative}:{row + 1}:{column + 1}: {kind} {text(node)[:40]!r}")
        return found

    @functools.cached_property
    def declarations(self) -> list[Declaration]:
        kinds = {
            "parameter_declaration": "param",
            "variable_declaration": "var",
            "resource_declaration": "resource",
            "module_declaration": "module",
            "output_declaration": "output",
        }
        found = []
        for node in self.root.children:
            kind = kinds.get(node.type)
            if kind is None:
                continue
            name = next(text(c) for c in node.children if c.type == "identifier")
            literal = next((string_value(c) for c in node.children if c.type == "string"), None)
            found.append(Declaration(kind, name, node, literal if kind in ("resource", "module") else None))
        return found

    def of_kind(self, kind: str) -> list[Declaration]:
        return [d for d in self.declarations if d.kind == kind]

    def get(self, kind: str, name: str) -> Declaration:
        for declaration in self.of_kind(kind):
            if declaration.name == name:
                return declaration
        raise KeyError(f"{self.relative} declares no {kind} {name}")

    def resources_of_type(self, resource_type: str) -> list[Declaration]:
        return [d for d in self.of_kind("resource") if d.resource_type.lower() == resource_type.lower()]

    def references(self) -> set[str]:
        """Every identifier used as a value: not declaration names, object keys or property accesses."""
        used = set()
        for node in walk(self.root):
            if node.type != "identifier" or node.parent is None:
                continue
            parent = node.parent
            if parent.type in (
                "parameter_declaration",
                "variable_declaration",
                "resource_declaration",
                "module_declaration",
                "output_declaration",
            ) and node == next(c for c in parent.children if c.type == "identifier"):
                continue
            if parent.type == "object_property" and parent.children[0] == node:
                continue
            if parent.type == "member_expression" and parent.children[0] != node:
                continue
            used.add(text(node))
        return used


def properties(obj: ts.Node) -> dict[str, ts.Node]:
    """An object literal's properties: key -> value node."""
    found = {}
    for prop in obj.children:
        if prop.type != "object_property":
            continue
        key_node = prop.children[0]
        key = string_value(key_node) if key_node.type == "string" else text(key_node)
        values = [c for c in prop.children[1:] if c.type not in (":", "comment")]
        if key is not None and values:
            found[key] = values[0]
    return found


def object_keys(expr: ts.Node, file: BicepFile) -> dict[str, ts.Node]:
    """Keys an object-valued expression can produce: literals, union(...), a ? b : c, variables (resolved)."""
    if expr.type == "object":
        return properties(expr)
    if expr.type == "identifier":
        return object_keys(file.get("var", text(expr)).value or expr, file)
    if expr.type in ("call_expression", "arguments", "ternary_expression", "parenthesized_expression"):
        found: dict[str, ts.Node] = {}
        for child in expr.children:
            if child.type in (
                "object",
                "identifier",
                "call_expression",
                "arguments",
                "ternary_expression",
                "parenthesized_expression",
            ) and not (expr.type == "call_expression" and child == expr.children[0]):
                if expr.type == "ternary_expression" and child == expr.children[0]:
                    continue  # the condition
                found |= object_keys(child, file)
        return found
    raise ValueError(f"{file.relative}: cannot read object keys from {expr.type} {text(expr)[:60]!r}")


def strings_in(node: ts.Node) -> list[str]:
    """Every plain string literal inside node, in order."""
    return [v for n in walk(node) if (v := string_value(n)) is not None]


def bicep_files() -> list[BicepFile]:
    return [BicepFile(p) for p in sorted(INFRA.rglob("*.bicep"))]


@functools.cache
def load(relative: str) -> BicepFile:
    return BicepFile(ROOT / relative)


UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
