"""Hostile and broken answers from OAuth/OIDC upstreams, over real HTTP: forged or misshaped
ID tokens, state games, a code injected from another login transaction, a refusal by the
user, an upstream that is down. Each is refused (an error page, or an OAuth error to the
app where RFC 6749 §4.1.2.1 says so), for the right reason (the broker's log names it),
and nothing is created in the pool."""
from __future__ import annotations

import dataclasses
import html
import re
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests

from tests.conftest import Broker
from tests.peers.facebook import FacebookStandIn, running_facebook
from tests.peers.oidc_provider import OIDCProvider, running_google, running_provider
from tests.peers.social import Federation, federation, login
from tests.rp import CALLBACK, query_of

FAILED = "The sign-in with your identity provider did not succeed."
EXPIRED = "Your sign-in session has expired."
UNREACHABLE = "Your identity provider could not be reached."


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    with running_provider() as idp:
        idp.add_user("alice", sub="alice-1", email="alice@corp.example", email_verified=True, name="Alice")
        idp.add_user("mallory", sub="mallory-1", email="mallory@corp.example", email_verified=True, name="Mallory")
        yield idp


@pytest.fixture
def corp(shared_broker: Broker, provider: OIDCProvider) -> Federation:
    return federation(shared_broker, provider, "OIDC", "Corp", "--issuer", provider.issuer,
                      "--scopes", "openid email profile")


@pytest.fixture
def facebook() -> Iterator[FacebookStandIn]:
    with running_facebook() as peer:
        peer.add_user("alice", id="1015800001", name="Alice", email="alice@example.net")
        yield peer


@pytest.fixture
def fb(shared_broker: Broker, facebook: FacebookStandIn) -> Federation:
    urls = facebook.urls()
    return federation(shared_broker, facebook, "Facebook", "Facebook", "--authorize-url", urls["authorize_url"],
                      "--token-url", urls["token_url"], "--userinfo-url", urls["userinfo_url"])


def upstream_answer(fed: Federation, username: str = "alice") -> tuple[dict[str, str], str]:
    """Up to the upstream's redirect back to Cognate, not followed yet."""
    params, r = fed.authorize(identity_provider=fed.name)
    assert r.status_code == 302, r.text
    answer = login(fed.rp.browser, r.headers["Location"], username)
    assert answer.status_code == 302, answer.text
    return params, answer.headers["Location"]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**dict(parse_qsl(parts.query)), **changes})))


def log_size(fed: Federation) -> int:
    assert fed.broker.log is not None
    return len(fed.broker.log.read_text())


def refused(fed: Federation, r: requests.Response, message: str, status: int = 400, reason: str | None = None,
            since: int = 0, params: dict[str, str] | None = None) -> None:
    """An error page (no redirect, no trace), nobody in the pool, ``reason`` in the broker's
    log after offset ``since``; inside a login transaction (``params``), the page leads
    back to the app with the app's state."""
    assert r.status_code == status, r.text
    assert "Location" not in r.headers and "Traceback" not in r.text
    assert message in html.unescape(r.text)
    assert fed.users() == []
    if reason:
        assert fed.broker.log is not None
        assert reason in fed.broker.log.read_text()[since:], f"the log does not say {reason!r}"
    if params:
        back = re.search(r'<a class="redirect-customizable" href="([^"]+)"', r.text)
        assert back, r.text
        link = html.unescape(back.group(1))
        assert link.startswith(CALLBACK + "?") and query_of(link)["state"] == params["state"]
        assert "code" not in query_of(link)


@pytest.mark.parametrize("knob, reason", [
    ("wrong_aud", "ID token aud does not contain our client_id"),
    ("wrong_iss", "/realms/evil' is not the issuer"),
    ("expired", "ID token expired"),
    ("alg_none", "ID token alg 'none' is not allowed"),
    ("hs256", "ID token alg 'HS256' is not allowed"),
    ("other_key", "ID token signature"),
    ("wrong_nonce", "ID token nonce does not match"),
    ("nested_header", "ID token header is not a JSON object"),
    ("userinfo_other_sub", "UserInfo sub differs"),
])
def test_unacceptable_id_token_or_userinfo_is_refused(corp, provider, knob, reason):
    provider.misbehave = knob
    since = log_size(corp)
    params, r = corp.sign_in("alice")
    refused(corp, r, FAILED, reason=reason, since=since, params=params)


def test_discovery_document_of_another_issuer_is_refused(corp, provider):
    """OIDC Discovery §4.3: the document must name the issuer it was fetched for (mix-up)."""
    provider.misbehave = "foreign_discovery"
    since = log_size(corp)
    params, r = corp.authorize(identity_provider="Corp")
    refused(corp, r, FAILED, reason="discovery document names issuer", since=since, params=params)


def test_google_id_token_for_another_app_is_refused(shared_broker):
    with running_google() as google:
        google.add_user("alice", sub="1098", email="alice@gmail.com", email_verified=True)
        fed = federation(shared_broker, google, "Google", "Google", "--issuer", google.issuer)
        google.misbehave = "wrong_aud"
        since = log_size(fed)
        params, r = fed.sign_in("alice")
        refused(fed, r, FAILED, reason="ID token aud does not contain our client_id", since=since, params=params)


@pytest.mark.parametrize("state", ["", "x" * 200, "Zm9yZ2VkLXN0YXRlLXRoYXQtd2FzLW5ldmVyLWlzc3VlZA"])
def test_answer_with_a_state_cognate_never_issued_is_refused(corp, state):
    _params, url = upstream_answer(corp)
    r = corp.rp.browser.get(with_query(url, state=state), allow_redirects=False, timeout=10)
    refused(corp, r, EXPIRED)


def test_answer_delivered_to_another_browser_is_refused(corp):
    """Login CSRF: the upstream's answer for my login, opened in the victim's browser."""
    _params, url = upstream_answer(corp)
    r = requests.get(url, allow_redirects=False, timeout=10)
    refused(corp, r, EXPIRED)


def test_replayed_answer_is_refused(corp):
    params, url = upstream_answer(corp)
    corp.tokens(params, corp.rp.browser.get(url, allow_redirects=False, timeout=10))
    [user] = corp.users()
    r = corp.rp.browser.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and EXPIRED in html.unescape(r.text)
    assert corp.users() == [user]


def test_code_from_another_login_transaction_is_refused(corp, provider):
    """Code injection: mallory's code, issued for mallory's login (her PKCE verifier and
    nonce), pasted into alice's callback with alice's own valid state."""
    _params, mallory_url = upstream_answer(corp, "mallory")
    victim = dataclasses.replace(corp, rp=dataclasses.replace(corp.rp))  # a fresh browser
    params, alice_url = upstream_answer(victim, "alice")
    injected = with_query(alice_url, code=query_of(mallory_url)["code"])
    since = log_size(corp)
    r = victim.rp.browser.get(injected, allow_redirects=False, timeout=10)
    refused(corp, r, FAILED, reason="token request: invalid_grant", since=since, params=params)


def test_made_up_code_is_refused(corp):
    params, url = upstream_answer(corp)
    since = log_size(corp)
    r = corp.rp.browser.get(with_query(url, code=secrets.token_urlsafe(36)), allow_redirects=False, timeout=10)
    refused(corp, r, FAILED, reason="token request: invalid_grant", since=since, params=params)


@pytest.mark.parametrize("fed_fixture, peer_fixture", [("corp", "provider"), ("fb", "facebook")])
def test_upstream_access_denied_goes_back_to_the_app_with_its_state(request, fed_fixture, peer_fixture):
    """RFC 6749 §4.1.2.1: the user said no; the app hears it, with its own state."""
    fed, peer = request.getfixturevalue(fed_fixture), request.getfixturevalue(peer_fixture)
    peer.misbehave = "access_denied"
    params, url = upstream_answer(fed)
    assert query_of(url)["error"] == "access_denied"
    r = fed.rp.browser.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK + "?")
    back = query_of(r.headers["Location"])
    assert back["error"] == "access_denied" and back["state"] == params["state"] and "code" not in back
    assert fed.users() == []


def test_provider_that_is_down_gets_a_clear_page(corp, provider):
    provider.stop()
    since = log_size(corp)
    params, r = corp.authorize(identity_provider="Corp")
    refused(corp, r, UNREACHABLE, 502, reason="ConnectionError", since=since, params=params)


def test_facebook_graph_refusing_the_appsecret_proof_creates_nobody(fb, facebook):
    """Graph checks the proof against a secret that is not ours: its answer is an error,
    never a user."""
    facebook.misbehave = "other_secret"
    since = log_size(fb)
    params, r = fb.sign_in("alice")
    refused(fb, r, FAILED, reason="Invalid appsecret_proof", since=since, params=params)


@pytest.mark.parametrize("fed_fixture, peer_fixture", [("corp", "provider"), ("fb", "facebook")])
def test_upstream_failing_at_the_token_endpoint_gets_a_clear_page(request, fed_fixture, peer_fixture):
    fed, peer = request.getfixturevalue(fed_fixture), request.getfixturevalue(peer_fixture)
    params, url = upstream_answer(fed)
    peer.misbehave = "down"
    since = log_size(fed)
    r = fed.rp.browser.get(url, allow_redirects=False, timeout=10)
    refused(fed, r, UNREACHABLE, 502, reason="token request: HTTP 503", since=since, params=params)
