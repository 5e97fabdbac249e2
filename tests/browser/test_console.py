"""The web console (issue #18) in a real headless Chromium against the local cloud with the demo fleet, signed in
through the identity stand-in as its demo people: what the issue says the browser tests must show.

Each scenario uses its own pair of demo clouds, so the order they run in does not matter:
- plan: pc-weu-01 / pc-weu-03 (same network block: refused), then connect pc-sea-01 -> pc-sea-02;
- approvals: disconnect pc-eus-01 - pc-eus-02 (Active);
- estate: the audit of the whole demo fleet; its findings here are about pairs no test changes;
- accessibility: a refused connect pc-weu-03 -> pc-weu-01 and a waiting disconnect pc-eus-dev-01 -> pc-eus-01.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Locator, Page, expect

from localdev import identity
from localdev.procs import wait_until
from tests.browser.conftest import OpenPage
from tests.browser.harness import (
    PHONE,
    VIEWPORTS,
    WORK_MS,
    Console,
    assert_accessible,
    go,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.browser

REQUEST_HEADING = re.compile(r"^Request \S+")
REQUEST_ROUTE = re.compile(r"#/requests/([0-9a-fA-F-]{36})$")
STILL_THIS_DOCUMENT = "() => { window.__stillThisDocument = true; }"
IS_STILL_THIS_DOCUMENT = "() => window.__stillThisDocument === true"


def plan(page: Page, source: str, target: str, action: str, verdict: str) -> None:
    """Fill the planner with two cloud names as typed, ask for the dry-run verdict and wait for it to say
    `verdict` ("Allowed" or "Refused"): the previous check's verdict stays on screen until the new one replaces it."""
    page.get_by_label("Source cloud", exact=True).fill(source)
    page.get_by_label("Target cloud", exact=True).fill(target)
    page.get_by_label("Action", exact=True).select_option(action)
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_role("region", name="Verdict", exact=True)).to_contain_text(verdict)


def submit(page: Page, ticket: str) -> str:
    """Submit the checked plan with a ticket reference; the request's page follows. Its id."""
    page.get_by_label("Ticket reference", exact=True).fill(ticket)
    page.get_by_role("button", name="Submit request", exact=True).click()
    expect(page.get_by_role("heading", name=REQUEST_HEADING)).to_be_visible()
    expect(page).to_have_url(REQUEST_ROUTE)
    found = REQUEST_ROUTE.search(page.url)
    assert found, page.url
    return found.group(1)


def finish_builds(console: Console, source: str, target: str) -> None:
    """End the held link build(s) between two clouds as ARM would: Active, the operation Succeeded."""

    def building() -> list[dict[str, Any]]:
        pair = {console.clouds[source].lower(), console.clouds[target].lower()}
        return [
            link
            for link in console.app.links()
            if {link["source"].lower(), link["properties"]["linkedCloud"].lower()} == pair
            and link["properties"].get("status") == "Building"
        ]

    wait_until(lambda: bool(building()), 30, interval=0.2, what=f"a link {source} - {target} being built")
    for link in building():
        console.app.arm.set_link_status(link["source"], link["name"], "Active")


def test_a_requester_sees_the_overlapping_prefixes_then_watches_a_clean_connect_succeed_without_reloading(
    console: Console, page: Page, request: pytest.FixtureRequest
) -> None:
    signed_in(page, console, "alice")
    go(page, console, "plan", "Plan a link")

    plan(page, "pc-weu-01", "pc-weu-03", "connect", "Refused")
    overlap = page.get_by_role("table", name="Overlapping prefixes")
    expect(overlap).to_be_visible()
    # Both sides' network block, side by side, each with where it comes from.
    expect(overlap.get_by_role("cell", name="10.30.0.0/22", exact=True)).to_have_count(2)
    expect(page.get_by_text("ADDRESS_OVERLAP").first).to_be_visible()
    screenshot(page, request.node.name, "overlap")

    plan(page, "pc-sea-01", "pc-sea-02", "connect", "Allowed")
    expect(overlap).to_have_count(0)
    page.evaluate(STILL_THIS_DOCUMENT)  # gone if anything from here on reloads the page
    request_id = submit(page, "CHG-2001")

    status = page.get_by_role("status")
    expect(status).to_have_text("InProgress", timeout=WORK_MS)  # the link is being built (held by the test)
    finish_builds(console, "pc-sea-01", "pc-sea-02")
    expect(status).to_have_text("Succeeded", timeout=WORK_MS)  # seen by the page's own polling
    assert page.evaluate(IS_STILL_THIS_DOCUMENT), "the page was reloaded while the request was being watched"
    expect(page.get_by_text("CHG-2001").first).to_be_visible()  # its origin: the ticket
    assert console.app.call("GET", f"requests/{request_id}").body["status"] == "Succeeded"
    screenshot(page, request.node.name, "succeeded", docs="console-request.png")


def test_an_approver_approves_a_disconnect_from_the_inbox_and_the_requester_is_offered_no_approve(
    console: Console, open_page: OpenPage, request: pytest.FixtureRequest
) -> None:
    # Alice holds Links.Request, which the default policy lets file a disconnect; it then waits for approval.
    alice = signed_in(open_page(), console, "alice")
    go(alice, console, "plan", "Plan a link")
    plan(alice, "pc-eus-01", "pc-eus-02", "disconnect", "Allowed")
    request_id = submit(alice, "CHG-2002")
    expect(alice.get_by_role("status")).to_have_text("AwaitingApproval", timeout=WORK_MS)
    alice.evaluate(STILL_THIS_DOCUMENT)
    # Her own request: nothing to approve or reject, and her inbox is empty of it.
    expect(alice.get_by_role("button", name="Approve")).to_have_count(0)
    expect(alice.get_by_role("button", name="Reject")).to_have_count(0)

    bob = signed_in(open_page(), console, "bob")
    go(bob, console, "approvals", "Approvals")
    waiting = bob.get_by_role("article").filter(has_text="pc-eus-01").filter(has_text="pc-eus-02")
    expect(waiting).to_have_count(1, timeout=WORK_MS)
    # What it cuts: pc-eus-01's routed segments (web, db) and pc-eus-02's (app).
    for prefix in ("10.20.1.0/24", "10.20.2.0/24", "10.21.1.0/24"):
        expect(waiting).to_contain_text(prefix)
    screenshot(bob, request.node.name, "inbox", docs="console-approvals.png")
    waiting.get_by_role("button", name="Approve", exact=True).click()
    confirm = bob.get_by_role("dialog")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Confirm approval", exact=True).click()
    expect(waiting).to_have_count(0, timeout=WORK_MS)

    # Alice's page, left open, sees the approved disconnect go through.
    expect(alice.get_by_role("status")).to_have_text("Succeeded", timeout=WORK_MS)
    assert alice.evaluate(IS_STILL_THIS_DOCUMENT), "the requester's page was reloaded"
    view = console.app.call("GET", f"requests/{request_id}").body
    assert view["approval"]["decidedBy"] == f"api:{identity.USERS['bob'].oid}", view["approval"]
    screenshot(alice, request.node.name, "requester")


def test_the_estate_shows_the_demo_fleets_findings_and_topology_picture(
    console: Console, page: Page, request: pytest.FixtureRequest
) -> None:
    signed_in(page, console, "dave")
    go(page, console, "estate", "Estate")
    page.get_by_role("button", name="Start an audit").click()
    findings = page.get_by_role("table", name="Findings")
    # The demo fleet's standing trouble: pc-eus-dev-01 is linked to pc-eus-01 while a routed segment of each
    # overlaps, and pc-weu-02's link to pc-weu-01 has Failed.
    expect(findings).to_contain_text("OVERLAP_ON_LINK", timeout=WORK_MS)
    expect(findings).to_contain_text("LINK_NOT_ACTIVE")
    picture = page.get_by_role("img", name=re.compile("topology", re.IGNORECASE))
    expect(picture).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    screenshot(page, request.node.name, docs="console-estate.png")

    page.get_by_role("link", name="pc-eus-01", exact=True).first.click()
    expect(page.get_by_role("heading", name="pc-eus-01", exact=True)).to_be_visible()
    for section in ("Links", "Routed prefixes", "Requests"):
        expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
    screenshot(page, request.node.name, "cloud")


@pytest.fixture(scope="module")
def pages_to_check(console: Console) -> dict[str, str]:
    """Something on every page to check: a refused connect (its verdict with an overlap table), a disconnect
    waiting for approval (an inbox entry with its impact), and a finished audit (findings and the picture)."""
    refused = console.app.call(
        "POST",
        "requests",
        {"action": "connect", "source": console.clouds["pc-weu-03"], "target": console.clouds["pc-weu-01"]},
        headers=console.bearer("alice"),
    )
    assert refused.status == 202, refused.body
    waiting = console.app.call(
        "POST",
        "requests",
        {"action": "disconnect", "source": console.clouds["pc-eus-dev-01"], "target": console.clouds["pc-eus-01"]},
        headers=console.bearer("alice"),
    )
    assert waiting.status == 202, waiting.body
    audit = console.app.call("POST", "audits")
    assert audit.status == 202, audit.body
    console.app.wait(refused.body["requestId"])
    console.app.wait_for(waiting.body["requestId"], "AwaitingApproval")
    console.app.wait_until_found(f"audits/{audit.body['runId']}")
    return {"refused": refused.body["requestId"], "waiting": waiting.body["requestId"]}


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_every_page_passes_the_accessibility_check(
    console: Console, open_page: OpenPage, pages_to_check: dict[str, str], width: str, request: pytest.FixtureRequest
) -> None:
    page = open_page(VIEWPORTS[width])
    found: dict[str, str] = {}

    def check(where: str) -> None:
        """axe on the page as it stands; on the phone also that the page itself never scrolls sideways (wide
        tables scroll in their own box). Every page is checked before the test fails, so one run names them all."""
        screenshot(page, request.node.name, where)
        try:
            assert_accessible(page, where)
        except AssertionError as failed:
            found[where] = str(failed)
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        if page.viewport_size == PHONE and wide > PHONE["width"]:
            found[f"{where} width"] = f"{where} is {wide} px wide on a {PHONE['width']} px phone"

    page.goto(console.url)
    expect(page.get_by_role("button", name="Sign in with Microsoft Entra ID")).to_be_visible()
    check("sign-in")
    signed_in(page, console, "bob")
    go(page, console, "requests", "Requests")
    expect(page.get_by_role("table", name="Requests").get_by_role("row").nth(1)).to_be_visible()
    check("requests")
    go(page, console, f"requests/{pages_to_check['refused']}", REQUEST_HEADING)
    expect(page.get_by_role("status")).to_have_text("Rejected")
    expect(page.get_by_role("table", name="Overlapping prefixes")).to_be_visible()
    check("request")
    go(page, console, f"requests/{pages_to_check['waiting']}", REQUEST_HEADING)
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    check("approve-dialog")
    page.keyboard.press("Escape")  # a <dialog> closes on Escape: nothing decided
    expect(page.get_by_role("dialog")).to_have_count(0)
    go(page, console, "approvals", "Approvals")
    expect(page.get_by_role("article").filter(has_text="pc-eus-dev-01")).to_be_visible()
    check("approvals")
    go(page, console, "plan", "Plan a link")
    check("plan")
    plan(page, "pc-weu-01", "pc-weu-03", "connect", "Refused")
    expect(page.get_by_role("table", name="Overlapping prefixes")).to_be_visible()
    check("plan-verdict")
    go(page, console, "estate", "Estate")
    expect(page.get_by_role("table", name="Findings")).to_contain_text("OVERLAP_ON_LINK")
    expect(page.get_by_role("img", name=re.compile("topology", re.IGNORECASE))).to_be_visible()
    check("estate")
    go(page, console, f"clouds/{quote(console.clouds['pc-eus-01'], safe='')}", "pc-eus-01")
    expect(page.get_by_role("heading", name="Routed prefixes", exact=True)).to_be_visible()
    check("cloud")

    assert not found, "\n\n".join(found.values())
    assert console.app.call("GET", f"requests/{pages_to_check['waiting']}").body["status"] == "AwaitingApproval"


def tab_to(page: Page, target: Locator, limit: int = 40) -> None:
    """Press Tab until `target` has the focus: it is reachable from the keyboard, in the page's own order."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} not reached after {limit} presses of Tab")


def test_the_planner_and_a_decision_work_from_the_keyboard_alone(
    console: Console, page: Page, pages_to_check: dict[str, str]
) -> None:
    signed_in(page, console, "bob")
    go(page, console, "plan", "Plan a link")
    tab_to(page, page.get_by_label("Source cloud", exact=True))
    page.keyboard.type("pc-weu-01")
    tab_to(page, page.get_by_label("Target cloud", exact=True))
    page.keyboard.type("pc-weu-03")
    tab_to(page, page.get_by_role("button", name="Check", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("region", name="Verdict", exact=True)).to_contain_text("Refused")
    expect(page.get_by_role("table", name="Overlapping prefixes")).to_be_visible()

    # The confirmation takes the focus and Escape leaves everything as it was.
    go(page, console, f"requests/{pages_to_check['waiting']}", REQUEST_HEADING)
    tab_to(page, page.get_by_role("button", name="Approve", exact=True))
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("dialog => dialog.contains(document.activeElement)"), "the focus stayed behind the dialog"
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text("AwaitingApproval")
    assert console.app.call("GET", f"requests/{pages_to_check['waiting']}").body["status"] == "AwaitingApproval"


def test_the_console_is_served_with_a_strict_csp_and_the_browser_holds_no_key_cookie_or_code(
    console: Console, page: Page
) -> None:
    sent: list[tuple[str, dict[str, str]]] = []
    page.on("request", lambda asked: sent.append((asked.url, asked.headers)))
    answer = page.goto(console.url)
    assert answer is not None and answer.ok
    headers = answer.headers
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in headers.get("content-security-policy", "").split(";")
        if directive.strip()
    }
    assert policy.get("default-src") == ["'none'"], headers
    assert policy.get("script-src") == ["'self'"] and policy.get("style-src") == ["'self'"], policy
    assert policy.get("frame-ancestors") == ["'none'"] and policy.get("base-uri") == ["'none'"], policy
    assert policy.get("form-action") == ["'none'"], policy
    assert console.app.cloud.identity_url in policy.get("connect-src", []), policy  # the token endpoint, only
    assert not any("unsafe" in source for sources in policy.values() for source in sources), policy
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("referrer-policy") == "no-referrer"
    assert headers.get("cross-origin-opener-policy") == "same-origin"

    signed_in(page, console, "alice")
    go(page, console, "requests", "Requests")
    with page.expect_response(lambda answer: "/api/console/requests" in answer.url) as listed:
        page.get_by_role("button", name="Apply filters").click()
    assert listed.value.status == 200
    assert page.context.cookies() == []  # nothing for a forged cross-site request to ride on
    to_app = [(url, asked) for url, asked in sent if url.startswith(console.app.cloud.host_url)]
    assert to_app, sent
    assert not [url for url, asked in to_app if "x-functions-key" in asked], "the browser sent a function key"
    assert not [url for url, _ in to_app if "code=" in url], "the authorization code reached the app"
    assert any(asked.get("authorization", "").startswith("Bearer ") for _, asked in to_app)
