"""The core never imports an Azure SDK, so its rules run on plain data and the audit can reuse them."""

from __future__ import annotations

import ast
from pathlib import Path

import interconnect

PACKAGE = Path(interconnect.__file__).parent
EDGES = {"adapters", "app"}  # the only places allowed to touch azure.*


def test_core_modules_import_no_azure_sdk() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in EDGES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "azure"]
    assert offenders == []
