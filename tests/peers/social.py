"""Shared ground of the OAuth/OIDC test peers (the OIDC provider, the Google and Facebook
stand-ins): served by werkzeug on loopback in a thread, which a test can also stop (an IdP
that is down), and the one-field login form a person fills at the upstream.

Also the app's side of a federated sign-in through Cognate (:class:`Federation`): a pool
with the peer as IdP (set up with the CLI), authorize with ``identity_provider``, the
upstream's login form, back through ``/oauth2/idpresponse`` to the app's code and tokens.

Example::

    with running_provider() as idp:
        fed = federation(broker, idp, "OIDC", "Corp", "--issuer", idp.issuer)
        id_claims, access_claims = fed.tokens(*fed.sign_in("alice"))
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty, query_of


# --- peers on loopback ------------------------------------------------------------------

LOGIN_FORM = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Upstream sign-in</title></head>
<body><form method="post"><label>Username <input name="username" autocomplete="username" autofocus></label>
<button type="submit">Sign in</button></form></body></html>"""


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log on the test output."""


@dataclass
class Loopback:
    """A WSGI app served by werkzeug on 127.0.0.1, in a daemon thread."""

    app: Any
    port: int = 0

    def __post_init__(self) -> None:
        self.http = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=QuietHandler)
        self.port = self.http.server_port
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)


class Served:
    """A peer's Flask app on loopback, which a test can also take away (an IdP that is down)."""

    app: Flask
    server: Loopback | None = None

    def start(self) -> None:
        self.server = Loopback(self.app)

    def stop(self) -> None:
        """Nothing listens on the port any more."""
        if self.server is not None and self.server.thread.is_alive():
            self.server.stop()

    @property
    def base_url(self) -> str:
        assert self.server is not None, "start() the peer first"
        return self.server.base_url


PeerT = TypeVar("PeerT", bound=Served)


@contextmanager
def running(peer: PeerT) -> Iterator[PeerT]:
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


def login(browser: requests.Session, url: str, username: str) -> requests.Response:
    """A person at the provider's login form: open it, type the username, submit. Returns
    the provider's answer (a redirect back to the relying party)."""
    page = browser.get(url, allow_redirects=False, timeout=10)
    if page.status_code != 200:
        return page
    return browser.post(page.url, data={"username": username}, allow_redirects=False, timeout=10)


# --- the relying party's side of a federated sign-in through Cognate -------------------

@dataclass
class Federation:
    """A pool whose app client signs in through one upstream IdP, and the app itself."""

    broker: Broker
    pool: str
    name: str
    rp: RelyingParty

    def users(self) -> list[dict[str, Any]]:
        return self.broker.cli_json("user", "list", "--pool", self.pool)["Users"]

    def authorize(self, **extra: str) -> tuple[dict[str, str], requests.Response]:
        """The app's authorization request; Cognate's answer (a redirect upstream or to
        the hosted page)."""
        params = self.rp.authorize_params(**extra)
        r = self.rp.browser.get(self.rp.config["authorization_endpoint"], params=params, allow_redirects=False,
                                timeout=10)
        return params, r

    def sign_in(self, username: str, **extra: str) -> tuple[dict[str, str], requests.Response]:
        """identity_provider=NAME → upstream login form → /oauth2/idpresponse; returns the
        authorization parameters and Cognate's answer to the upstream's redirect."""
        params, r = self.authorize(identity_provider=self.name, **extra)
        assert r.status_code == 302, r.text
        return params, self.back_from_upstream(r.headers["Location"], username)

    def back_from_upstream(self, upstream_url: str, username: str) -> requests.Response:
        answer = login(self.rp.browser, upstream_url, username)
        assert answer.status_code == 302, answer.text
        assert answer.headers["Location"].startswith(self.broker.url(self.pool, "/oauth2/idpresponse"))
        return self.rp.browser.get(answer.headers["Location"], allow_redirects=False, timeout=10)

    def tokens(self, params: dict[str, str], answer: requests.Response) -> tuple[dict[str, Any], dict[str, Any]]:
        """The app's side: code at its callback → tokens; (ID token claims, access claims)."""
        assert answer.status_code == 302, answer.text
        back = query_of(answer.headers["Location"])
        assert answer.headers["Location"].startswith(CALLBACK) and back["state"] == params["state"], back
        r = self.rp.exchange(back["code"])
        assert r.status_code == 200, r.text
        tokens = r.json()
        return self.rp.verify(tokens["id_token"], audience=self.rp.client_id), self.rp.verify(tokens["access_token"])


def federation(broker: Broker, peer: Any, provider_type: str, name: str, *idp_args: str,
               client_idps: tuple[str, ...] | None = None) -> Federation:
    """A new pool with ``peer`` as IdP ``name`` (created with the CLI) and a confidential
    app client allowing it; ``peer`` learns Cognate's callback URL."""
    pool = broker.pool()
    client_id, secret = peer.register(broker.url(pool, "/oauth2/idpresponse"))
    broker.cli("idp", "create", "--pool", pool, "--type", provider_type, "--name", name, "--client-id", client_id,
               "--client-secret", secret, *idp_args)
    idp_options = [a for idp in (client_idps or (name,)) for a in ("--idp", idp)]
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                             "--secret", *idp_options)
    return Federation(broker, pool, name, RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"]))


def attributes(user: dict[str, Any]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user["Attributes"]}


def assert_identities(claims: dict[str, Any], subject: str, name: str, provider_type: str) -> None:
    """The ``identities`` claim Cognito puts in a federated user's tokens."""
    assert len(claims["identities"]) == 1
    identity = claims["identities"][0]
    assert identity["dateCreated"].isdigit()
    assert {**identity, "dateCreated": "-"} == {
        "userId": subject, "providerName": name, "providerType": provider_type, "issuer": None,
        "primary": "true", "dateCreated": "-"}
