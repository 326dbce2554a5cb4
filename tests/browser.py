"""Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright (never a
downloaded browser), plus the probes every browser test uses."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

from tests.conftest import ROOT
from tests.rp import CALLBACK

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
REFERENCES = ROOT / "docs" / "screenshots"
UPDATE_REFERENCES = os.environ.get("COGNATE_UPDATE_SCREENSHOTS") == "1"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
# Collects CSP violations on every page before any page script runs (needs JavaScript).
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def console_errors(page: Page) -> list[str]:
    """Console errors (CSP violations and failed loads among them) and uncaught exceptions, as they come."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


@dataclass
class Tab:
    """A page in a fresh browser context that records console errors, uncaught exceptions and
    CSP violations; the app's callback URL is answered by the browser itself."""

    page: Page
    errors: list[str] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)

    def open(self, url: str, status: int = 200) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == status, (url, response and response.status)
        self.assert_clean(status)

    def assert_clean(self, status: int = 200) -> None:
        """No console error and no CSP violation on the page shown now. A page answered with
        an error status makes Chromium log that status itself: that one line is expected."""
        self.page.wait_for_load_state("load")
        if status >= 400:
            own = f"status of {status} "
            self.errors[:] = [e for e in self.errors if not (own in e and e.endswith(f"({self.page.url})"))]
        assert self.page.evaluate("window.__cspViolations") == [], self.page.url
        assert self.errors == [], self.page.url

    def style(self, selector: str, prop: str) -> str:
        return self.page.locator(selector).evaluate(f"el => getComputedStyle(el)[{prop!r}]")

    def shoot(self, name: str, reference: str | None = None) -> None:
        """A screenshot in test-artifacts/; ``reference`` also refreshes one under docs/ when
        missing or when COGNATE_UPDATE_SCREENSHOTS=1."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / name), full_page=True, animations="disabled")
        if reference and (UPDATE_REFERENCES or not (REFERENCES / reference).exists()):
            REFERENCES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SCREENSHOTS / name, REFERENCES / reference)


@contextmanager
def tab(chromium: Browser, width: int = 1280, height: int = 800) -> Iterator[Tab]:
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    watched = Tab(page, errors=console_errors(page))

    def app_callback(route: Route) -> None:
        watched.callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>App</title><p>Signed in.")

    context.route(f"{CALLBACK}**", app_callback)
    try:
        yield watched
        watched.assert_clean()
    finally:
        context.close()
