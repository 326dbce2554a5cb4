"""Federated sign-in in a real browser (Debian's Chromium): the hosted page's button, the
upstream's own login form, back through Cognate to the app's callback with a code, for a
generic OIDC provider, the Google stand-in and the Facebook stand-in. No console error and
no CSP violation on Cognate's pages on the way."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.a11y import Axe, axe  # noqa: F401 - the fixture
from tests.browser import browser, tab  # noqa: F401 - the fixture
from tests.peers.facebook import running_facebook
from tests.peers.oidc_provider import running_google, running_provider
from tests.peers.social import Federation, assert_identities, federation
from tests.rp import CALLBACK, query_of


@contextmanager
def oidc(broker: Any) -> Iterator[tuple[Any, Federation]]:
    with running_provider() as peer:
        peer.add_user("alice", sub="alice-7", email="alice@corp.example", email_verified=True, name="Alice")
        yield peer, federation(broker, peer, "OIDC", "Corp", "--issuer", peer.issuer, "--scopes", "openid email profile",
                               client_idps=("COGNITO", "Corp"))


@contextmanager
def google(broker: Any) -> Iterator[tuple[Any, Federation]]:
    with running_google() as peer:
        peer.add_user("alice", sub="1098", email="alice@gmail.com", email_verified=True, name="Alice")
        yield peer, federation(broker, peer, "Google", "Google", "--issuer", peer.issuer,
                               client_idps=("COGNITO", "Google"))


@contextmanager
def facebook(broker: Any) -> Iterator[tuple[Any, Federation]]:
    with running_facebook() as peer:
        peer.add_user("alice", id="1015", email="alice@example.net", name="Alice")
        urls = peer.urls()
        yield peer, federation(broker, peer, "Facebook", "Facebook", "--authorize-url", urls["authorize_url"],
                               "--token-url", urls["token_url"], "--userinfo-url", urls["userinfo_url"],
                               client_idps=("COGNITO", "Facebook"))


@pytest.mark.parametrize("upstream, subject, provider_type", [
    (oidc, "alice-7", "OIDC"), (google, "1098", "Google"), (facebook, "1015", "Facebook"),
])
def test_federated_sign_in_in_chromium(browser, shared_broker, upstream: Callable, subject: str,  # noqa: F811
                                       provider_type: str):
    with upstream(shared_broker) as (peer, fed):
        params = fed.rp.authorize_params()
        with tab(browser) as t:
            t.open(f"{fed.rp.config['authorization_endpoint']}?{urlencode(params)}")
            t.page.get_by_role("link", name=f"Continue with {fed.name}").click()
            t.page.wait_for_url(f"{peer.base_url}/**")
            t.page.get_by_label("Username").fill("alice")
            t.page.get_by_role("button", name="Sign in").click()
            t.page.wait_for_url(f"{CALLBACK}**")
            assert len(t.callbacks) == 1
        back = query_of(t.callbacks[0])
        assert back["state"] == params["state"] and back["code"]
        r = fed.rp.exchange(back["code"])
        assert r.status_code == 200, r.text
        claims = fed.rp.verify(r.json()["id_token"], audience=fed.rp.client_id)
        assert claims["name"] == "Alice" and claims["email_verified"] is True
        assert_identities(claims, subject, fed.name, provider_type)
        assert len(fed.users()) == 1


def test_sign_in_page_with_providers_has_no_serious_axe_violations(browser, shared_broker, axe: Axe):  # noqa: F811
    """The buttons, the corporate email field and the password form together."""
    with oidc(shared_broker) as (_peer, fed):
        shared_broker.cli("idp", "update", "--pool", fed.pool, "--name", fed.name, "--identifier", "corp.example")
        with tab(browser) as t:
            t.open(f"{fed.rp.config['authorization_endpoint']}?{urlencode(fed.rp.authorize_params())}")
            assert t.page.get_by_role("link", name="Continue with Corp").is_visible()
            assert t.page.get_by_label("Corporate email").is_visible()
            assert t.page.get_by_label("Password").is_visible()
            axe.check(t.page)
