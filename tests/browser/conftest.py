"""The console in a real headless Chromium: one local cloud and host for the tier (the e2e tier's, with the demo
fleet loaded; stopped when the tier is done, not kept for the rest of `make test`), one browser, and a fresh
browser context (its own sessionStorage, so its own signed-in person) per page a test opens. Every page is watched:
a Content-Security-Policy violation, an uncaught script error or an answer of 500 or over anywhere fails the test
that saw it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect, sync_playwright

from tests.browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LAPTOP,
    UI_MS,
    BrowserLog,
    Console,
    demo_cloud_ids,
    demo_fleet,
    screenshot,
)
from tests.e2e.conftest import running_app

expect.set_options(timeout=UI_MS)

OpenPage = Callable[..., Page]
FAILED = pytest.StashKey[bool]()  # set on a test whose body failed, for open_page's teardown to keep its pages


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture(scope="package")
def console() -> Iterator[Console]:
    # The e2e tier's local cloud and host as they are (approvals on, the console's sign-in set up for the stand-in).
    for app in running_app():
        fleet = demo_fleet()
        app.arm.load_fleet(fleet)
        yield Console(app, demo_cloud_ids(fleet))


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium for the browser tests")
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def open_page(browser: Browser, browser_log: BrowserLog, request: pytest.FixtureRequest) -> Iterator[OpenPage]:
    """open_page(viewport=LAPTOP): a page in a context of its own (a separate person's browser), watched."""
    contexts = []

    def open_one(viewport: ViewportSize = LAPTOP) -> Page:
        context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC")
        contexts.append(context)
        page = context.new_page()
        browser_log.watch(page)
        return page

    yield open_one
    if request.node.stash.get(FAILED, False):  # what each page showed when the test failed
        for number, context in enumerate(contexts):
            for page in context.pages:
                screenshot(page, request.node.name, f"failed-{number}")
    for context in contexts:
        context.close()
    # After the test: what every page of it reported.
    violations, page_errors = browser_log.csp_violations(), browser_log.page_errors
    for error in browser_log.errors():
        print(f"browser console error: {error}")
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)
    assert not page_errors, "uncaught errors in the console's script:\n" + "\n".join(page_errors)
    assert not browser_log.server_errors, "server errors (see the host log):\n" + "\n".join(browser_log.server_errors)


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    """One laptop-sized page."""
    return open_page()
