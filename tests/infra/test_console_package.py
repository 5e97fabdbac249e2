"""The console's files ship in the deployed package: no .funcignore pattern drops any of them, and the app
serves each by name (interconnect/console/assets.py), so a file added to static/ is deployed and served."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

from interconnect.console import assets
from tests.infra.bicep import ROOT


def ignored(relative: Path, patterns: list[str]) -> bool:
    """.funcignore's patterns (gitignore syntax; these are names and simple globs) against a path and each part."""
    candidates = [relative.as_posix(), *relative.parts]
    return any(fnmatch(c, p.strip("/")) for p in patterns for c in candidates)


def test_no_funcignore_pattern_drops_a_console_file() -> None:
    patterns = [line.strip() for line in (ROOT / ".funcignore").read_text().splitlines() if line.strip()]
    files = [p.relative_to(ROOT) for p in assets.STATIC.iterdir() if p.is_file()]
    assert files and [f for f in files if ignored(f, patterns)] == []
    assert ignored(Path("tests/x.py"), patterns) and ignored(Path("interconnect_cli/main.py"), patterns)  # it can fail


def test_every_console_file_is_served_by_its_name() -> None:
    # A file the allow-list would not serve (an odd name or type) is one the page cannot load.
    on_disk = {p.name for p in assets.STATIC.iterdir() if p.is_file()}
    assert on_disk == assets.allowed_names() and assets.INDEX in on_disk
