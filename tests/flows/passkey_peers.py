"""What the passkey tests share: a server reached as http://localhost:PORT (browsers offer
WebAuthn only in a secure context on a domain, and localhost is one), Chromium's virtual
authenticator over the DevTools protocol (https://chromedevtools.github.io/devtools-protocol/tot/WebAuthn/),
pools whose first factors and passkey settings the admin sets, and the app's callback."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import CDPSession, Page

from tests.conftest import Broker, free_port, start_broker
from tests.rp import RelyingParty, pkce
from tests.smtp import MailServer

PASSWORD = "Corr3ct-Horse!"
PASSKEY_AMR = ["hwk", "user", "mfa"]


class App(ThreadingHTTPServer):
    """The app's callback: a real HTTP server on loopback that notes each URL it is sent to
    (Chromium takes some navigations, such as a script's form post, past Playwright's routes)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _Callback)
        self.callback = f"http://localhost:{self.server_port}/callback"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Callback(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.server.seen.append(f"http://localhost:{self.server.server_port}{self.path}")  # type: ignore[attr-defined]
        body = b"<!doctype html><html lang=en><title>App</title><p>Signed in."
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Server:
    broker: Broker
    base_url: str
    app: App
    mail: MailServer

    def pool(self, *args: str, first_factors: tuple[str, ...] = ("PASSWORD", "WEB_AUTHN"),
             web_authn: dict[str, Any] | None = None) -> str:
        pool = self.broker.pool(*args)
        self.set_pool(pool, first_factors, web_authn)
        return pool

    def set_pool(self, pool: str, first_factors: tuple[str, ...], web_authn: dict[str, Any] | None = None) -> None:
        """The pool's allowed first factors, passkey relying-party id and further origins, set
        with the admin CLI."""
        factors = [arg for factor in first_factors for arg in ("--first-factor", factor)]
        rp_id = (web_authn or {}).get("RelyingPartyId", "")
        origins = [arg for origin in (web_authn or {}).get("AllowedOrigins", ()) for arg in ("--passkey-origin", origin)]
        self.broker.cli("pool", "update", "--pool", pool, *factors, "--passkey-rp-id", rp_id,
                        *(origins or ["--no-passkey-origins"]))

    def site(self, pool: str, username: str | None = "mia") -> RelyingParty:
        """A confirmed user with a password (unless ``username`` is None) and a public app
        client (PKCE)."""
        if username:
            self.broker.cli("user", "create", "--pool", pool, "--username", username, "--password", PASSWORD,
                            "--email", f"{username}@example.com", "--confirmed")
        client = self.broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url",
                                      self.app.callback)
        return RelyingParty(self.base_url, pool, client["ClientId"], redirect_uri=self.app.callback)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("passkeys")
    port = free_port()
    database_url = f"sqlite:///{tmp}/passkeys.db"
    with MailServer() as mail:
        broker = start_broker(tmp, database_url=database_url, redis_url=redis_url, port=port,
                              BROKER_BASE_URL=f"http://localhost:{port}", **mail.broker_env())
        app = App()
        try:
            yield Server(broker, f"http://localhost:{port}", app, mail)
        finally:
            app.shutdown()
            app.server_close()
            broker.stop()
    log = broker.log.read_text() if broker.log and broker.log.exists() else ""
    assert "Traceback" not in log, f"server logged a traceback:\n{log[-4000:]}"


class Authenticator:
    """A virtual platform authenticator in one page's browser context: resident keys (passkeys),
    user verification that succeeds, presence given at once."""

    def __init__(self, page: Page) -> None:
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
            "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def add(self, credential: dict[str, Any]) -> None:
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})


@dataclass
class Authorization:
    url: str
    params: dict[str, str]
    verifier: str


def authorization(rp: RelyingParty, path: str | None = None) -> Authorization:
    """An authorization request (PKCE) at /oauth2/authorize, or at ``path`` (``/passkeys``)."""
    verifier, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    endpoint = f"{rp.issuer}{path}" if path else rp.config["authorization_endpoint"]
    return Authorization(f"{endpoint}?{urlencode(params)}", params, verifier)


def sign_out_url(rp: RelyingParty) -> str:
    """Cognito's /logout without a logout_uri: the hosted session ends on a page of its own."""
    return f"{rp.issuer}/logout?{urlencode({'client_id': rp.client_id})}"
