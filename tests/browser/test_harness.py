"""The browser tier's own checks catch what they are there to catch: a page with an unlabelled input and an inline
script under a strict CSP fails both, and a clean page passes both. Pages are served by Playwright's router, so no
local cloud is needed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.harness import BrowserLog, assert_accessible

pytestmark = pytest.mark.browser

ORIGIN = "http://console.test"
CSP = "default-src 'none'; script-src 'self'; style-src 'self'"
CLEAN = "<!doctype html><html lang='en'><title>Clean</title><main><h1>Clean</h1><label>Name <input></label></main>"
DIRTY = (
    "<!doctype html><html lang='en'><title>Dirty</title><main><h1>Dirty</h1><input>"
    "<p style='color: #bbb'>pale</p><script>document.title = 'ran'</script></main>"
)


@pytest.fixture
def served(browser: Browser) -> Iterator[tuple[Page, BrowserLog]]:
    context = browser.new_context()
    page = context.new_page()
    log = BrowserLog()
    log.watch(page)

    def serve(route: Route) -> None:
        body = CLEAN if route.request.url.endswith("/clean") else DIRTY
        route.fulfill(status=200, headers={"Content-Type": "text/html", "Content-Security-Policy": CSP}, body=body)

    page.route(f"{ORIGIN}/**", serve)
    yield page, log
    context.close()


def test_a_clean_page_passes_axe_and_reports_no_csp_violation(served: tuple[Page, BrowserLog]) -> None:
    page, log = served
    page.goto(f"{ORIGIN}/clean")
    assert_accessible(page, "the clean page")
    assert log.csp_violations() == [] and log.page_errors == []


def test_an_unlabelled_input_fails_axe_and_an_inline_script_is_reported(served: tuple[Page, BrowserLog]) -> None:
    page, log = served
    page.goto(f"{ORIGIN}/dirty")
    with pytest.raises(AssertionError, match="label") as failed:
        assert_accessible(page, "the dirty page")
    assert "at input" in str(failed.value)  # the report names where
    expect(page).to_have_title("Dirty")  # the inline script never ran...
    assert any("script-src" in text for text in log.csp_violations())  # ...and the browser said why
