"""Which provider an app allows is enforced everywhere, over real HTTP with a real OIDC
provider on loopback: a hosted session made through another provider is no sign-in for an
app that does not allow it; the hosted page, /federate and /login offer and accept only the
app's providers; a federated user has no password to reset; a disabled user cannot sign in
through the IdP; a deleted IdP signs nobody in; prompt=login reaches the upstream."""
from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.peers.oidc_provider import OIDCProvider, running_provider
from tests.peers.social import Federation, federation
from tests.rp import CALLBACK, RelyingParty

PASSWORD = "Corr3ct-Horse!"
NOT_ENABLED = "This identity provider is not enabled for this application."


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    with running_provider() as idp:
        idp.add_user("alice", sub="alice-1", email="alice@corp.example", email_verified=True, name="Alice")
        yield idp


def corp(broker, provider: OIDCProvider) -> Federation:
    """Pool with IdP Corp, a Corp-only app (``fed.rp``) and a password user ``pat``."""
    fed = federation(broker, provider, "OIDC", "Corp", "--issuer", provider.issuer, "--scopes", "openid email")
    broker.cli("user", "create", "--pool", fed.pool, "--username", "pat", "--password", PASSWORD,
               "--email", "pat@example.com", "--confirmed")
    return fed


def app(fed: Federation, *idps: str, browser: requests.Session | None = None) -> RelyingParty:
    """Another app client of the pool allowing ``idps``, in the same browser by default."""
    client = fed.broker.cli_json("client", "create", "--pool", fed.pool, "--name", "other", "--callback-url", CALLBACK,
                                 "--secret", *[a for idp in idps for a in ("--idp", idp)])
    rp = RelyingParty(fed.broker.base_url, fed.pool, client["ClientId"], client["ClientSecret"])
    rp.browser = browser or fed.rp.browser
    return rp


def authorize(rp: RelyingParty, **extra: str) -> requests.Response:
    return rp.browser.get(rp.config["authorization_endpoint"], params=rp.authorize_params(**extra),
                          allow_redirects=False, timeout=10)


def hosted_page(rp: RelyingParty) -> requests.Response:
    """The sign-in page an authorization request leads this browser to."""
    r = authorize(rp)
    assert r.status_code == 302 and "/login?" in r.headers["Location"], r.headers.get("Location")
    return rp.browser.get(urljoin(r.url, r.headers["Location"]), timeout=10)


def query(r: requests.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}


def test_password_session_is_no_sign_in_for_an_app_that_allows_only_its_idp(shared_broker, provider):
    fed = corp(shared_broker, provider)
    password_app = app(fed, "COGNITO")
    _params, code = password_app.sign_in("pat", PASSWORD)
    assert code  # the browser now has a hosted session made with a password
    assert query(authorize(fed.rp, prompt="none"))["error"] == "login_required"
    assert "/login?" in authorize(fed.rp).headers["Location"]  # its page (the Corp button), not a code
    both = app(fed, "COGNITO", "Corp")
    assert "code" in query(authorize(both, prompt="none"))  # an app allowing passwords takes the session
    r = authorize(both, identity_provider="Corp")  # ...unless it asks for Corp by name
    assert r.headers["Location"].startswith(provider.issuer), r.headers["Location"]


def test_idp_session_is_no_sign_in_for_a_password_only_app(shared_broker, provider):
    fed = corp(shared_broker, provider)
    fed.tokens(*fed.sign_in("alice"))
    password_app = app(fed, "COGNITO")
    assert query(authorize(password_app, prompt="none"))["error"] == "login_required"
    assert "/login?" in authorize(password_app).headers["Location"]
    assert "code" in query(authorize(fed.rp, prompt="none"))  # Corp's own app: signed in


def test_hosted_page_offers_and_accepts_only_the_apps_providers(shared_broker, provider):
    fed = corp(shared_broker, provider)
    password_app = app(fed, "COGNITO", browser=requests.Session())
    r = authorize(password_app, identity_provider="Corp")
    assert query(r)["error"] == "invalid_request"
    page = hosted_page(password_app)
    assert "Continue with Corp" not in page.text and 'name="password"' in page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
    r = password_app.browser.get(shared_broker.url(fed.pool, "/federate"), params={"txn": txn, "idp": "Corp"},
                                 allow_redirects=False, timeout=10)
    assert r.status_code == 404 and NOT_ENABLED in html.unescape(r.text)
    # the Corp-only app: a button, the email field (Corp has a domain), no password form;
    # a password POST is refused
    shared_broker.cli("idp", "update", "--pool", fed.pool, "--name", "Corp", "--identifier", "corp.example")
    page = hosted_page(fed.rp)
    assert "Continue with Corp" in page.text and 'name="email"' in page.text and 'name="password"' not in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    txn = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
    r = fed.rp.browser.post(shared_broker.url(fed.pool, "/login"), allow_redirects=False, timeout=10,
                            data={"csrf_token": csrf, "txn": txn, "username": "pat", "password": PASSWORD})
    assert r.status_code == 403 and "Location" not in r.headers


def test_federated_user_has_no_password_to_reset_or_use(shared_broker, provider):
    fed = corp(shared_broker, provider)
    fed.tokens(*fed.sign_in("alice"))
    password_app = app(fed, "COGNITO", browser=requests.Session())
    assert shared_broker.log is not None
    start = len(shared_broker.log.read_text())
    page = hosted_page(password_app)
    txn = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
    forgot = password_app.browser.get(shared_broker.url(fed.pool, "/forgotPassword"), params={"txn": txn},
                                      timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', forgot.text).group(1)
    r = password_app.browser.post(shared_broker.url(fed.pool, "/forgotPassword"), allow_redirects=False, timeout=10,
                                  data={"csrf_token": csrf, "txn": txn, "username": "corp_alice-1"})
    assert r.status_code == 302  # the same answer as for anyone...
    assert "alice@corp.example" not in shared_broker.log.read_text()[start:]  # ...but no code was sent
    [alice] = [u for u in fed.users() if u["Username"] == "corp_alice-1"]
    assert alice["UserStatus"] == "EXTERNAL_PROVIDER"


def test_disabled_user_cannot_sign_in_through_the_idp(shared_broker, provider):
    fed = corp(shared_broker, provider)
    first, _ = fed.tokens(*fed.sign_in("alice"))
    shared_broker.cli("user", "disable", "--pool", fed.pool, "--username", "corp_alice-1")
    fed.rp.browser = requests.Session()
    _params, answer = fed.sign_in("alice")
    assert answer.status_code == 403 and "Location" not in answer.headers
    assert "disabled" in html.unescape(answer.text)
    shared_broker.cli("user", "enable", "--pool", fed.pool, "--username", "corp_alice-1")
    fed.rp.browser = requests.Session()
    again, _ = fed.tokens(*fed.sign_in("alice"))
    assert again["sub"] == first["sub"]


def test_deleted_idp_signs_nobody_in(shared_broker, provider):
    fed = corp(shared_broker, provider)
    fed.tokens(*fed.sign_in("alice"))
    shared_broker.cli("idp", "delete", "--pool", fed.pool, "--name", "Corp")
    assert query(authorize(fed.rp, identity_provider="Corp"))["error"] == "invalid_request"
    assert query(authorize(fed.rp, prompt="none"))["error"] == "login_required"  # its session is gone too


def test_prompt_login_asks_the_upstream_to_authenticate_again(shared_broker, provider):
    fed = corp(shared_broker, provider)
    plain = query(authorize(fed.rp, identity_provider="Corp"))
    fresh = query(authorize(fed.rp, identity_provider="Corp", prompt="login"))
    assert "prompt" not in plain and fresh["prompt"] == "login"
