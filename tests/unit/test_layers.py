"""The layering, as the folders show it, held by the imports themselves (parsed, function-level ones too).

    avs        AVS vocabulary: imports only the foundation (errors, boundedjson, schema)
    linking    a request's life: may use avs
    channels   may use linking and avs          audit   may use linking, avs and estate (drift: registered
                                                        topology documents, resolved as a plan resolves them)
    estate     links as code (topology documents, plans): may use linking, avs and channels (cloud names)
    console    the web console's files, headers and sign-in settings: imports only the foundation
    adapters   the only code doing I/O besides app/: never a feature's services, only its models and ports
    app        the edge: wires everything
    function_app.py  registers the blueprints of app/blueprints/: app/ and feature modules, no adapter

Only adapters/ and app/ (and function_app.py) import an Azure SDK or open processes, sockets or HTTP
connections, so the core runs on plain data and the audit can reuse the rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import interconnect

PACKAGE = Path(interconnect.__file__).parent
ROOT = PACKAGE.parent
FOUNDATION = {"interconnect", "interconnect.errors", "interconnect.boundedjson", "interconnect.schema"}
FEATURES = ("avs", "linking", "channels", "audit", "estate", "console")
MAY_USE = {
    "avs": set(),
    "linking": {"avs"},
    "channels": {"linking", "avs"},
    # Drift compares the registered topology documents with the inventory: it reads them with estate's parser
    # and resolver and its registry port (estate never imports audit, so no cycle).
    "audit": {"linking", "avs", "estate"},
    "estate": {"linking", "avs", "channels"},
    "console": set(),
    "adapters": set(FEATURES),
    "app": {*FEATURES, "adapters"},
}
# What a feature does (reads, decides, writes through ports); an adapter may import anything else of a feature:
# its model, ports, config, wire contract and pure formatting.
SERVICES = {
    "interconnect.linking.intake",
    "interconnect.linking.approvals",
    "interconnect.linking.queries",
    "interconnect.linking.sweeper",
    "interconnect.linking.worker",
    "interconnect.linking.facts",
    "interconnect.channels.inbound",
    "interconnect.channels.deliveries",
    "interconnect.audit.service",
    "interconnect.audit.inventory",
    "interconnect.estate.gather",
    "interconnect.estate.apply",
}
SIDE_EFFECTS = ("azure", "azurefunctions", "subprocess", "socket", "urllib.request", "http.client")
EDGES = ("adapters", "app")


def imports(source: str, path: Path) -> list[tuple[int, str]]:
    """Every module `source` imports, anywhere in it, as (line, dotted name); `from a import b` gives a.b too."""
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "interconnect" and len(parts) > 1 and parts[1] in MAY_USE else None


def is_module(name: str) -> bool:
    """`from interconnect.linking import worker` names a module; `from x.model import Status` does not."""
    path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def offences(path: Path, source: str | None = None) -> list[str]:
    """What `path` (with `source`, or as it is on disk) imports against the layering."""
    where = path.relative_to(ROOT)
    own = path.relative_to(PACKAGE).parts[0] if path.is_relative_to(PACKAGE) else None
    found = []
    for line, name in imports(path.read_text() if source is None else source, path):
        side_effect = any(name == s or name.startswith(s + ".") for s in SIDE_EFFECTS)
        if side_effect and own not in EDGES and path != ROOT / "function_app.py":
            found.append(f"{where}:{line} imports {name}: only adapters/ and app/ may")
        if not name.startswith("interconnect") or not is_module(name) or name in FOUNDATION:
            continue
        target = layer(name)
        if path == ROOT / "function_app.py":
            if target == "adapters":
                found.append(f"{where}:{line} imports {name}: function_app.py uses app/ and feature modules only")
        elif own in MAY_USE and target not in (None, own) and target not in MAY_USE[own]:
            found.append(f"{where}:{line} imports {name}: {own} may not use {target}")
        elif own == "adapters" and name in SERVICES:
            found.append(f"{where}:{line} imports {name}: an adapter uses only a feature's models and ports")
        elif own is not None and own not in MAY_USE and target is not None:
            found.append(f"{where}:{line} imports {name}: {path.name} is a foundation and imports no layer")
    return found


def sources() -> list[Path]:
    return [*sorted(PACKAGE.rglob("*.py")), ROOT / "function_app.py"]


def test_every_import_keeps_to_the_layering() -> None:
    assert [o for path in sources() for o in offences(path)] == []


def test_every_package_module_sits_in_a_known_layer() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", "errors", "boundedjson", "schema"}]
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert loose == [] and folders == set(MAY_USE)


def test_the_rule_sees_a_forbidden_import_even_inside_a_function() -> None:
    # The test above is only worth something if it can fail: a planted offence of each kind is caught.
    planted = {
        "avs/planted.py": "def f():\n    from interconnect.linking import model\n",
        "linking/planted.py": "import subprocess\n",
        "channels/planted.py": "from interconnect.audit.model import Finding\n",
        "adapters/planted.py": "from interconnect.linking.worker import Worker\n",
    }
    caught = [o for name, code in planted.items() for o in offences(PACKAGE / name, code)]
    assert {o.split(":")[0] for o in caught} == {f"interconnect/{name}" for name in planted}, caught
