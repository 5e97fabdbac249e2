"""What the console's browser tests drive it with: Debian's Chromium under Playwright, the real sign-in through the
identity stand-in, axe-core's accessibility check, screenshots kept as test artifacts, and a watch on the browser's
console for Content-Security-Policy violations and uncaught errors.

Elements are found only by role and accessible name, label or text (the names the console's views give them,
interconnect/console/static/), as a person using a screen reader would find them; never by CSS class or id.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import ConsoleMessage, Error, Page, Response, ViewportSize, expect

from localdev import identity
from localdev.cloud import DEMO_FLEET
from localdev.procs import ROOT
from tests.e2e.conftest import App

# Debian's package (`make setup` installs it); Playwright never downloads a browser of its own here.
CHROMIUM = Path("/usr/bin/chromium")
# No GPU, no QUIC, and none of the browser's own calls home (updates, sync, safe-browsing lists): the only traffic
# is the console's. --no-sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
VIEWPORTS = {"laptop": LAPTOP, "phone": PHONE}

# axe-core from package.json (npm ci in `make setup`): Deque's engine itself, pinned with its integrity hash.
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA: what the "contrast and labels that pass" means.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

ARTIFACTS = ROOT / ".localcloud" / "test-artifacts"  # .localcloud/ is git-ignored
SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS = ROOT / "docs"
# Set to copy the README's screenshots into docs/ as the tests take them (README "Console" says how).
DOCS_SCREENSHOTS = "INTERCONNECT_DOCS_SCREENSHOTS"

# How long a page may take to show what a click asked for (a call or two to the app), and how long the worker or
# the audit may take to move a request or finish a run on a busy 2-core machine. Deadlines, not expectations.
UI_MS = 15_000
WORK_MS = 90_000

# What the simulator's fleet holds for these tests: the demo fleet, with link builds held until a test finishes
# them (armsim's set_link_status), so a test can watch a request in progress and then see it succeed, in that
# order, whatever the machine's speed. Deletes take a second.
HELD_BUILD_SECONDS = 3600


def demo_fleet() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(DEMO_FLEET.read_text())
    document["settings"] = {**document["settings"], "buildSeconds": HELD_BUILD_SECONDS, "deleteSeconds": 1}
    return document


def demo_cloud_ids(document: Mapping[str, Any]) -> dict[str, str]:
    """Each demo cloud's ARM id, by its (fleet-unique) name."""
    return {
        cloud["name"]: f"/subscriptions/{sub['id']}/resourceGroups/{group['name']}"
        f"/providers/Microsoft.AVS/privateClouds/{cloud['name']}"
        for sub in document["subscriptions"]
        for group in sub["resourceGroups"]
        for cloud in group["privateClouds"]
    }


@dataclass
class Console:
    """The app on a local cloud, the console it serves, and the demo fleet's cloud ids."""

    app: App
    clouds: dict[str, str]

    @property
    def url(self) -> str:
        """The console's page, which is also the sign-in redirect URI."""
        return f"{self.app.cloud.host_url}/api/console"

    def page_url(self, route: str) -> str:
        """A console route (`requests`, `requests/<id>`, `approvals`...) as a URL."""
        return f"{self.url}#/{route}"

    def bearer(self, user: str) -> dict[str, str]:
        """A demo user's token minted by the stand-in, for what a test sets up over the API rather than the page."""
        return {"Authorization": f"Bearer {identity.token(self.app.cloud.identity_url, user=user)}"}

    def link_name(self, source: str, target: str) -> str | None:
        """The simulator's name of the link from `source` to `target` (cloud names), if there is one."""
        source_id, target_id = self.clouds[source].lower(), self.clouds[target].lower()
        for link in self.app.links():
            if link["source"].lower() == source_id and link["properties"]["linkedCloud"].lower() == target_id:
                return str(link["name"])
        return None


def signed_in(page: Page, console: Console, user: str) -> Page:
    """Sign `user` in as a person would: the console's sign-in button, the stand-in's page listing the demo users,
    that user's button, and back to the console with a token (authorization code + PKCE, in the page's script)."""
    person = identity.USERS[user].name
    page.goto(console.url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=UI_MS)
    page.get_by_role("button", name="Sign in with Microsoft Entra ID").click()
    page.get_by_role("button", name=f"Sign in as {person}").click()  # the stand-in's authorize page
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=UI_MS)
    expect(page.get_by_text(person).first).to_be_visible()
    # The code came back in the fragment and is gone from the address once exchanged (nor was it ever a query).
    assert "code=" not in page.url, page.url
    return page


def go(page: Page, console: Console, route: str, heading: str | re.Pattern[str]) -> None:
    """Open a console route in the signed-in page (a fragment change: same document, same session) and wait for
    its heading."""
    page.goto(console.page_url(route))
    expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=UI_MS)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation.get('impact')}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"][:10]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " / ")
            if summary:
                lines.append(f"      {summary[:400]}")
    return "\n".join(lines)


def assert_accessible(page: Page, where: str) -> None:
    """axe-core finds no WCAG 2 A/AA violation in the page as it stands. Evaluated over the DevTools protocol,
    so the page's Content-Security-Policy (script-src 'self') neither blocks it nor reports it."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_TAGS
    )
    violations = result["violations"]
    assert not violations, f"axe-core {result['testEngine']['version']} on {where}:\n{describe_violations(violations)}"


def artifact_name(test_name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", test_name).strip("_")


def screenshot(page: Page, test_name: str, label: str = "", docs: str | None = None) -> Path:
    """Save the whole page under .localcloud/test-artifacts/screenshots/<test>[-<label>].png (path printed); with
    INTERCONNECT_DOCS_SCREENSHOTS set, also as docs/<docs> for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{artifact_name(test_name)}{'-' + label if label else ''}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    print(f"screenshot: {path}")
    if docs and os.environ.get(DOCS_SCREENSHOTS):
        shutil.copyfile(path, DOCS / docs)
        print(f"README screenshot: {DOCS / docs}")
    return path


@dataclass
class BrowserLog:
    """What the browser reported while a test ran: console messages, uncaught page errors and answers of 500 and
    over (the app's or the stand-in's: a bug, whatever the page then shows). CSP violations are reported by
    Chromium as console errors naming the Content Security Policy."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, page url)
    page_errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def _on_console(self, message: ConsoleMessage) -> None:
        self.messages.append((message.type, message.text, message.location.get("url", "")))

    def _on_page_error(self, error: Error) -> None:
        self.page_errors.append(f"{error.name}: {error.message}")

    def csp_violations(self) -> list[str]:
        return [text for _, text, _ in self.messages if "Content Security Policy" in text]

    def errors(self) -> list[str]:
        return [f"{text} ({url})" for kind, text, url in self.messages if kind == "error"]
