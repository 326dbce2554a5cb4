"""oidc-client-ts (npm, its browser build from the locked ``tests/node`` packages) in a real
Chromium as the app: ``signinRedirect()`` through the hosted UI, then ``signoutRedirect()``,
which sends ``id_token_hint`` and ``post_logout_redirect_uri`` without ``client_id``. The
session ends, the browser lands on the post-logout URI with the library's own ``state``
(``signoutRedirectCallback()`` accepts it), and the app's back-channel endpoint receives a
logout token for that session."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser import browser, tab  # noqa: F401 (browser is a fixture)
from tests.conftest import Broker
from tests.node_peers import install
from tests.peers.logout_receiver import LogoutReceiver, verified_logout_token

PASSWORD = "Corr3ct-Horse!"

#: The app: oidc-client-ts's UserManager, and what each of its pages does on load.
APP_JS = """
const mgr = new oidc.UserManager({
  authority: SETTINGS.authority, client_id: SETTINGS.client_id, scope: "openid email",
  redirect_uri: SETTINGS.app + "/callback", post_logout_redirect_uri: SETTINGS.app + "/bye",
});
window.app = {
  signIn: () => mgr.signinRedirect(),
  signOut: () => mgr.signoutRedirect({state: {from: "settings-page"}}),
};
function done(title, result) { window.result = result; document.title = title; }
if (location.pathname === "/callback") {
  mgr.signinRedirectCallback().then(
    (user) => done("signed-in", {sub: user.profile.sub, sid: user.profile.sid, id_token: user.id_token}),
    (err) => done("failed", {error: String(err)}));
}
if (location.pathname === "/bye") {
  mgr.signoutRedirectCallback().then(
    async (answer) => done("signed-out", {state: answer.userState, user: await mgr.getUser()}),
    (err) => done("failed", {error: String(err)}));
}
"""


class App:
    """The app's pages and scripts on a loopback HTTP server."""

    def __init__(self, library: Path) -> None:
        self.settings: dict[str, str] = {}
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = urlsplit(self.path).path
                if path == "/oidc-client-ts.min.js":
                    self._send(library.read_bytes(), "application/javascript")
                elif path == "/app.js":
                    self._send(APP_JS.encode(), "application/javascript")
                elif path in ("/", "/callback", "/bye"):
                    page = (f"<!doctype html><title>app</title><script>const SETTINGS = {json.dumps(app.settings)};"
                            "</script><script src='/oidc-client-ts.min.js'></script><script src='/app.js'></script>")
                    self._send(page.encode(), "text/html; charset=utf-8")
                else:
                    self.send_error(404)

            def _send(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    library = install() / "node_modules" / "oidc-client-ts" / "dist" / "browser" / "oidc-client-ts.min.js"
    served = App(library)
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_sign_out_redirect_ends_the_session_and_lands_on_the_post_logout_uri(browser, shared_broker: Broker,  # noqa: F811
                                                                              app: App):
    b = shared_broker
    pool = b.pool()
    b.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD, "--confirmed")
    with LogoutReceiver() as receiver:
        client = b.cli_json("client", "create", "--pool", pool, "--name", "spa", "--callback-url",
                            f"{app.url}/callback", "--logout-url", f"{app.url}/bye", "--backchannel-logout-url",
                            receiver.url("/backchannel"))["ClientId"]
        app.settings.update(authority=f"{b.base_url}/{pool}", client_id=client, app=app.url)
        with tab(browser) as t:
            page, logouts = t.page, []
            page.on("request", lambda r: logouts.append(r.url) if urlsplit(r.url).path.endswith("/logout") else None)
            t.open(f"{app.url}/")
            page.evaluate("() => { app.signIn(); }")
            page.wait_for_url("**/login?**")
            page.get_by_label("Username", exact=True).fill("alice")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in", exact=True).click()
            page.wait_for_url(f"{app.url}/callback?**")  # (the login page's own title is not 'app')
            page.wait_for_function("document.title !== 'app'", timeout=15000)
            signed_in = page.evaluate("window.result")
            assert page.title() == "signed-in", signed_in
            assert signed_in["sid"] and signed_in["sub"]

            page.evaluate("() => { app.signOut(); }")
            page.wait_for_url(f"{app.url}/bye?**")
            page.wait_for_function("document.title !== 'app'", timeout=15000)
            signed_out = page.evaluate("window.result")
            assert page.title() == "signed-out", signed_out
            assert signed_out == {"state": {"from": "settings-page"}, "user": None}
            (asked,) = logouts
            query = parse_qs(urlsplit(asked).query)
            assert "client_id" not in query and query["id_token_hint"] == [signed_in["id_token"]]
            assert query["post_logout_redirect_uri"] == [f"{app.url}/bye"]

            t.open(f"{app.url}/")  # the hosted session is over: signing in again asks for the password
            page.evaluate("() => { app.signIn(); }")
            page.wait_for_url("**/login?**")
            assert page.get_by_label("Password", exact=True).is_visible()

        (post,) = receiver.wait(1)
        issuer = f"{b.base_url}/{pool}"
        claims = verified_logout_token(post.form["logout_token"], issuer, f"{issuer}/.well-known/jwks.json", client)
        assert (claims["sub"], claims["sid"]) == (signed_in["sub"], signed_in["sid"])
