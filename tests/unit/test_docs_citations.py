"""Every citation in the repository resolves to a file (and section) in the repository.

Comments, docstrings, Bicep comments and Markdown justify code by pointing at reference notes: `docs/avs-api.md
§3`. A pointer to a file that is not in the repository, or to a section the file does not have, leaves the reader
of a clone with a claim they cannot check, so this test scans every tracked text file (`git ls-files`) for:

- **Path citations**: a path whose directory part ends in `docs/` or `reference/` and whose name ends in `.md`,
  written relative to the repository root (`docs/avs-api.md`; `shared/reference/avs-api.md` too, which is how
  notes outside the repository used to be named). The file must exist in the checkout. A path that only occurs
  inside a URL (`https://host/docs/x.md`) or an `owner/repo:path` reference to another repository is not ours
  and is not checked: the citation must start at a token boundary.
- **Sections**: `§N` after a cited path (`docs/avs-api.md §1.5`, also ``docs/avs-api.md` §1.5``) must be the
  number that starts a heading of that file: `## 3. Behaviour` is §3, `### 1.5 Routed ...` is §1.5, `### 4c. ...`
  is §4c. A bare `§N` refers to the last path cited before it in the same paragraph (a paragraph ends at a
  blank line, a line holding only comment markers, a heading or a new list item), as prose wraps; with no such
  path, a bare `§N` in a file under `docs/` refers to that file's own headings, and anywhere else it names no
  file and fails.
- **Source tags**: `DOC-XYZ` tags name a source; each must be defined as `**DOC-XYZ**` in a file under `docs/`.
- **Markdown links**: a relative link target in a tracked `.md` file (`[x](localdev/HOST.md)`) must exist,
  relative to that Markdown file. URLs and in-page anchors are not checked.
- **Absolute paths of one machine**: a path under the workspace or a home directory (`/work/`, `/home/`,
  `/root/`, `/Users/`) or under this checkout's own absolute path exists only on the machine that wrote it, so
  it fails wherever it appears. System paths (`/usr/bin/env` in a shebang, `file:///etc/passwd` as a hostile
  test payload) name the same thing on every machine and pass. `/tmp/` is every machine's scratch space: a
  test fixture or an example command that *writes* there (`> /tmp/fleet.json`, `log_path="/tmp/armsim.log"`)
  is legitimate, but a `/tmp/` path to a document (`.md`, `.rst`, `.txt`) is a note someone kept locally and
  cites as if a reader had it, so it fails.

This file itself is not scanned: it has to spell out the forms it forbids.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()

_SECTION = r"\d+[a-z]?(?:\.\d+[a-z]?)*"
# A path citation starts at a token boundary (not after a word character, '.', ':', '/' or '-', so never inside
# a URL or an owner/repo:path), may be absolute, and has a `docs` or `reference` directory right before the name.
CITATION = re.compile(
    r"(?<![\w.:/-])(?P<path>/?(?:[\w.-]+/)*(?:docs|reference)/[\w.-]+\.md)\b"
    rf"(?:`?[ \t]*§[ \t]*(?P<section>{_SECTION}))?"
)
BARE_SECTION = re.compile(rf"§[ \t]*(?P<section>{_SECTION})")
# Where a paragraph ends, so a wrapped sentence keeps its citation: blank (comment markers only), heading, list item.
# (A `#` line is a heading only in Markdown; in Python or Bicep it is a comment that may continue a sentence.)
PARAGRAPH_BREAK = re.compile(r"^\s*(?:(?:#|//|\*|\"\"\"|'''|<!--|-->)\s*)*$|^\s*(?:[-*+]|\d+\.)\s")
MARKDOWN_HEADING = re.compile(r"^#{1,6}\s")
HEADING = re.compile(rf"^#{{1,6}}[ \t]+(?P<section>{_SECTION})\.?(?:[ \t]|$)", re.MULTILINE)
SOURCE_TAG = re.compile(r"\bDOC-[A-Z]+\b")
MARKDOWN_LINK = re.compile(r"\]\((?P<target>[^)\s#]+)(?:#[^)\s]*)?\)")
MACHINE_PATH = re.compile(r"(?<![\w.:/-])/(?:work|home|root|Users)/(?:[^\s`'\"),]*[^\s`'\"),.;:])?")
TMP_DOCUMENT = re.compile(r"(?<![\w.:/-])/tmp/[^\s`'\"),]*\.(?:md|rst|txt)\b")


def tracked_text_files() -> dict[str, str]:
    """Every tracked file that decodes as UTF-8, by its repository-relative path (binary files are skipped)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    files: dict[str, str] = {}
    for name in names.decode().split("\0"):
        if not name or name == SELF or not (ROOT / name).is_file():
            continue
        try:
            files[name] = (ROOT / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return files


@functools.cache
def sections_of(path: str) -> frozenset[str]:
    """The section numbers that start the headings of a Markdown file in the repository."""
    text = (ROOT / path).read_text(encoding="utf-8")
    return frozenset(m["section"].lower() for m in HEADING.finditer(text))


def _section_problem(where: str, path: str, section: str) -> str | None:
    if not (ROOT / path).is_file():
        return None  # reported once, as a missing file
    if section.lower() not in sections_of(path):
        return f"{where}: {path} has no section §{section} (no heading starts with {section!r})"
    return None


def citation_problems(name: str, text: str, defined_tags: frozenset[str]) -> list[str]:
    """What is wrong with the citations in one file's text (empty when everything resolves)."""
    problems = []
    own_doc = name.startswith("docs/") and name.endswith(".md")
    carried: str | None = None  # the last path cited in the current paragraph, before this line
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        if PARAGRAPH_BREAK.match(line) or (name.endswith(".md") and MARKDOWN_HEADING.match(line)):
            carried = None
        spans: list[tuple[int, int]] = []
        cited: list[tuple[int, str]] = []
        for m in CITATION.finditer(line):
            path = m["path"]
            spans.append(m.span())
            cited.append((m.start(), path))
            if path.startswith("/") or not (ROOT / path).is_file():
                problems.append(f"{where}: cites {path}, which is not a file in the repository")
            elif m["section"] and (problem := _section_problem(where, path, m["section"].rstrip("."))):
                problems.append(problem)
        for m in BARE_SECTION.finditer(line):
            if any(start <= m.start() < end for start, end in spans):
                continue
            earlier = [path for start, path in cited if start < m.start()]
            target = earlier[-1] if earlier else carried or (name if own_doc else None)
            if target is None:
                problems.append(f"{where}: §{m['section']} names no file; write docs/<file>.md §{m['section']}")
            elif problem := _section_problem(where, target, m["section"]):
                problems.append(problem)
        if cited:
            carried = cited[-1][1]
        for tag in SOURCE_TAG.findall(line):
            if tag not in defined_tags:
                problems.append(f"{where}: source tag {tag} is defined in no docs/*.md (as **{tag}**)")
        if name.endswith(".md"):
            for m in MARKDOWN_LINK.finditer(line):
                target = m["target"]
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                    continue  # a URL or mailto:, not a repository path
                if not (ROOT / name).parent.joinpath(target).resolve().exists():
                    problems.append(f"{where}: links to {target}, which does not exist next to {name}")
    return problems


def machine_path_problems(name: str, text: str) -> list[str]:
    """Absolute paths in one file's text that exist only on the machine that wrote them."""
    checkout = re.compile(re.escape(ROOT.as_posix()) + r"(?![\w.-])")
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        found = MACHINE_PATH.findall(line) + TMP_DOCUMENT.findall(line) + checkout.findall(line)
        problems.extend(f"{name}:{number}: absolute path of one machine: {path}" for path in found)
    return problems


def defined_source_tags(files: dict[str, str]) -> frozenset[str]:
    return frozenset(
        tag
        for name, text in files.items()
        if name.startswith("docs/") and name.endswith(".md")
        for tag in re.findall(r"\*\*(DOC-[A-Z]+)\*\*", text)
    )


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return tracked_text_files()


def test_every_citation_resolves_to_a_file_and_section_in_the_repository(files):
    tags = defined_source_tags(files)
    problems = [p for name, text in sorted(files.items()) for p in citation_problems(name, text, tags)]
    assert not problems, "unresolvable citations:\n" + "\n".join(problems)


def test_no_tracked_file_names_a_path_that_exists_on_one_machine_only(files):
    problems = [p for name, text in sorted(files.items()) for p in machine_path_problems(name, text)]
    assert not problems, "machine-specific paths:\n" + "\n".join(problems)


def test_the_docs_the_code_cites_exist_and_the_scan_sees_them(files):
    # Guards the scanner itself: if the patterns stopped matching, the tests above would pass on anything.
    cited = {m["path"] for text in files.values() for m in CITATION.finditer(text)}
    assert {"docs/avs-api.md", "docs/functions-platform.md", "docs/servicebus-wire.md"} <= cited
    assert {"3", "1.5", "3.1"} <= sections_of("docs/avs-api.md")
    assert {"0.5", "2", "2.2", "4c"} <= sections_of("docs/functions-platform.md")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# see reference/avs-api.md §3", "not a file in the repository"),
        ("# see shared/reference/avs-api.md", "not a file in the repository"),
        ("# see docs/no-such-page.md §1", "not a file in the repository"),
        ("# see docs/avs-api.md §99", "has no section §99"),
        ("# see `docs/avs-api.md` §1.9", "has no section §1.9"),
        ("# see docs/avs-api.md §3 and §42", "has no section §42"),
        ("# the limit (§3)", "names no file"),
        ("# as DOC-NOPE says", "source tag DOC-NOPE"),
    ],
)
def test_a_broken_citation_is_reported(line, expected):
    problems = citation_problems("interconnect/example.py", line, frozenset({"DOC-IC"}))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "line",
    [
        "# docs/avs-api.md §3.1, DOC-IC",
        "# `docs/avs-api.md` §1.5 and §3",
        "# https://learn.microsoft.com/docs/whatever.md and MicrosoftDocs/azure-docs:docs/reference/x.md",
    ],
)
def test_a_sound_citation_passes(line):
    assert citation_problems("interconnect/example.py", line, frozenset({"DOC-IC"})) == []


def test_a_bare_section_refers_to_the_last_path_cited_in_its_paragraph():
    wrapped = "# the limit (docs/avs-api.md §3) and, on the next line,\n# the open question (§6)"
    assert citation_problems("interconnect/example.py", wrapped, frozenset()) == []
    assert citation_problems("interconnect/example.py", wrapped.replace("§6", "§60"), frozenset())
    new_paragraph = "# the limit (docs/avs-api.md §3).\n#\n# the open question (§6)"
    assert any("names no file" in p for p in citation_problems("interconnect/example.py", new_paragraph, frozenset()))
    new_item = "- `docs/avs-api.md` §3 limits\n- the open question (§6)"
    assert any("names no file" in p for p in citation_problems("README.md", new_item, frozenset()))


def test_a_bare_section_in_a_docs_page_refers_to_that_page():
    assert citation_problems("docs/avs-api.md", "open (§6)", frozenset()) == []
    assert citation_problems("docs/avs-api.md", "open (§60)", frozenset())


def test_a_markdown_link_must_resolve_next_to_its_file():
    assert citation_problems("README.md", "[sim](localdev/ARMSIM.md), [web](https://x.test/a.md)", frozenset()) == []
    assert citation_problems("localdev/ARMSIM.md", "[sim](localdev/ARMSIM.md)", frozenset())


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        ("see /work/shared/reference/servicebus-wire.md", True),
        ("open /home/alice/notes/x.py", True),
        ("see /tmp/notes.md for the plan", True),
        (f"cd {ROOT.as_posix()}/localdev", True),
        ("python -m localdev.armsim.generate > /tmp/fleet.json", False),
        ("#!/usr/bin/env bash", False),
        ('{"response_url": "file:///etc/passwd"}', False),
        ("https://example.test/work/x and https://example.test/home/y", False),
    ],
)
def test_machine_paths(line, bad):
    assert bool(machine_path_problems("x.md", line)) is bad
