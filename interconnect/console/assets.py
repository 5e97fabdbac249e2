"""The console's static files: served only by an exact name from an allow-list made once from the folder
static/, never by a path built from the request, so no spelling of `..`, `%2e`, `\\` or an absolute path can
reach any other file.

A file is on the list when its name is plain (lower-case letters, digits, `.`, `_`, `-`; no leading dot) and its
extension is one of CONTENT_TYPES; index.html is the page itself (`GET /api/console`), not an asset. Each is read
once and kept with its ETag (a hash of its content), so a browser revalidating (`If-None-Match`) gets 304 while
the deployed files are unchanged and the new ones the moment a deployment changes them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).with_name("static")
INDEX = "index.html"
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".html": "text/html",
}
TEXT = {".js", ".css", ".svg", ".html"}  # served with charset=utf-8
_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*")
MAX_NAME = 100


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    mimetype: str
    charset: str | None
    etag: str  # quoted, as the header carries it


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    suffix = path.suffix.lower()
    return Asset(
        path.name,
        body,
        CONTENT_TYPES[suffix],
        "utf-8" if suffix in TEXT else None,
        f'"{hashlib.sha256(body).hexdigest()[:32]}"',
    )


def allowed_names(folder: Path = STATIC) -> frozenset[str]:
    """The names the console serves: the plain-named files of `folder` with a known extension, index.html too."""
    return frozenset(
        p.name
        for p in folder.iterdir()
        if p.is_file()
        and not p.is_symlink()
        and len(p.name) <= MAX_NAME
        and _PLAIN_NAME.fullmatch(p.name)
        and p.suffix.lower() in CONTENT_TYPES
    )


class Assets:
    """The allow-listed files of one folder, each read on first use and kept (they change only by deployment)."""

    def __init__(self, folder: Path = STATIC) -> None:
        self.folder = folder
        self._names: frozenset[str] | None = None
        self._loaded: dict[str, Asset] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> frozenset[str]:
        if self._names is None:
            self._names = allowed_names(self.folder)
        return self._names

    def page(self) -> Asset | None:
        """index.html, or None when it is not deployed."""
        return self._get(INDEX)

    def asset(self, name: str) -> Asset | None:
        """The asset `name` exactly (index.html is the page, not an asset); None for any other name."""
        return None if name == INDEX else self._get(name)

    def _get(self, name: str) -> Asset | None:
        if name not in self.names:  # a set lookup: the name given never becomes part of a path
            return None
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = _load(self.folder / name)
            return self._loaded[name]


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Does an `If-None-Match` header name `etag` (weak or strong, or `*`)? RFC 9110 section 13.1.2: weak comparison."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


ASSETS = Assets()  # the deployed files; nothing is read until the first request asks
