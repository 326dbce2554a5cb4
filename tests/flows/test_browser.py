"""The hosted sign-in in a real Chromium (Debian's, driven by Playwright): authorize with
PKCE → fill the form by its labels → the app's callback gets the code → tokens verify with
PyJWT against jwks_uri. The login page shows no console errors or CSP violations, fits a
320 px screen, and the whole path works with JavaScript disabled."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import CSP_PROBE, SCREENSHOTS, browser, console_errors  # noqa: F401 (browser is a fixture)
from tests.rp import RelyingParty, pkce

PASSWORD = "Corr3ct-Horse!"


@dataclass
class Callback:
    """The app's redirect_uri: a tiny HTTP server on loopback that records each query."""

    server: ThreadingHTTPServer
    hits: list[dict[str, str]] = field(default_factory=list)
    hit: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.server.server_address[1]}/callback"

    def wait(self, timeout: float = 10) -> dict[str, str]:
        assert self.hit.wait(timeout), "the callback was never called"
        assert len(self.hits) == 1, self.hits
        return self.hits[0]


@pytest.fixture
def callback() -> Iterator[Callback]:
    hits: list[dict[str, str]] = []
    hit = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's hook name)
            parts = urlsplit(self.path)
            if parts.path == "/favicon.ico":  # (the browser asks the app's page for one; none, and no console error)
                self.send_response(204)
                self.end_headers()
                return
            if parts.path != "/callback":
                self.send_error(404)
                return
            hits.append({k: v[0] for k, v in parse_qs(parts.query).items()})
            body = b"<!doctype html><title>App</title><p>Signed in.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            hit.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Callback(server, hits, hit)
    server.shutdown()
    server.server_close()
    thread.join(5)


def _setup(make_broker, tmp_path: Path, redis_url: str, callback: Callback) -> RelyingParty:
    broker = make_broker(database_url=f"sqlite:///{tmp_path}/b.db", redis_url=redis_url)
    pool = broker.pool()
    broker.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD,
               "--email", "alice@example.com", "--confirmed")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", callback.url)
    return RelyingParty(broker.base_url, pool, client["ClientId"], redirect_uri=callback.url)


def _authorize_url(rp: RelyingParty) -> tuple[str, dict[str, str], str]:
    verifier, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    return f"{rp.config['authorization_endpoint']}?{urlencode(params)}", params, verifier


def _sign_in(page: Page) -> None:
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def _check_tokens(rp: RelyingParty, callback: Callback, params: dict[str, str], verifier: str) -> None:
    answer = callback.wait()
    assert answer.keys() == {"code", "state"} and answer["state"] == params["state"]
    r = rp.exchange(answer["code"], verifier)
    assert r.status_code == 200, r.text
    tokens = r.json()
    claims = rp.verify(tokens["id_token"], audience=rp.client_id)  # PyJWT + jwks_uri
    assert claims["token_use"] == "id" and claims["nonce"] == params["nonce"]
    assert claims["cognito:username"] == "alice" and claims["email"] == "alice@example.com"
    access = rp.verify(tokens["access_token"])
    assert access["token_use"] == "access" and access["sub"] == claims["sub"]


@dataclass
class LoginPage:
    page: Page
    console_errors: list[str]
    params: dict[str, str]
    verifier: str


@contextmanager
def _open_login_page(browser: Browser, rp: RelyingParty, screenshot: str, **options: Any) -> Iterator[LoginPage]:
    """authorize (PKCE) in a fresh browser context → the hosted login page, screenshotted."""
    url, params, verifier = _authorize_url(rp)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, **options)
    if options.get("java_script_enabled", True):
        context.add_init_script(CSP_PROBE)
    page = context.new_page()
    errors = console_errors(page)
    try:
        response = page.goto(url)
        assert response is not None and response.status == 200
        assert page.url.startswith(f"{rp.issuer}/login?txn=") and page.title() == "Sign in"
        assert "script-src 'self'" in (response.header_value("content-security-policy") or "")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / screenshot), full_page=True)
        yield LoginPage(page, errors, params, verifier)
    finally:
        context.close()


def test_sign_in_in_chromium_with_clean_console_and_narrow_screen(make_broker, tmp_path, redis_url, callback,
                                                                 browser: Browser) -> None:
    rp = _setup(make_broker, tmp_path, redis_url, callback)
    with _open_login_page(browser, rp, "login-1280.png") as login:
        page = login.page
        page.set_viewport_size({"width": 320, "height": 640})
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 320, f"horizontal scroll at 320 px: scrollWidth={scroll_width}"
        page.screenshot(path=str(SCREENSHOTS / "login-320.png"), full_page=True)
        assert page.evaluate("window.__cspViolations") == []
        assert login.console_errors == []

        _sign_in(page)
        page.wait_for_url(f"{callback.url}?**")
        assert page.get_by_text("Signed in.").is_visible()
    _check_tokens(rp, callback, login.params, login.verifier)


def test_sign_in_in_chromium_without_javascript(make_broker, tmp_path, redis_url, callback,
                                               browser: Browser) -> None:
    rp = _setup(make_broker, tmp_path, redis_url, callback)
    with _open_login_page(browser, rp, "login-nojs.png", java_script_enabled=False) as login:
        _sign_in(login.page)
        login.page.wait_for_url(f"{callback.url}?**")
        assert login.console_errors == []
    _check_tokens(rp, callback, login.params, login.verifier)
