"""The sign-up triggers at the hosted door, in a real Chromium (Debian's, driven by
Playwright): the sign-up page shows a PreSignUp handler's refusal on the form, an
auto-confirmed sign-up goes straight to a password sign-in (no code), and the hosted
confirmation runs PostConfirmation; and a first federated sign-in through a real OpenID
Connect provider runs PreSignUp_ExternalProvider and PostConfirmation (a later one does not).
Every page shown logs no console error and no CSP violation."""
from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.browser import Tab, browser, tab  # noqa: F401 (browser is a fixture)
from tests.flows.triggers_common import journal, mail, served_with_mail, server  # noqa: F401 (fixtures)
from tests.flows.triggers_common import HANDLERS, PASSWORD, Site, events, site, users
from tests.peers.oidc_provider import OIDCProvider, running_provider
from tests.peers.social import federation
from tests.rp import CALLBACK, RelyingParty, pkce, query_of
from tests.smtp import code_in

DOMAIN = f"{HANDLERS}.signup_domain"
RECORD = f"{HANDLERS}.record:lambda_handler"


def _sign_up(t: Tab, rp: RelyingParty, username: str, address: str) -> dict[str, str]:
    """authorize → login page → "Sign up" → the form filled and sent; the authorize parameters."""
    verifier, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    t.open(f"{rp.config['authorization_endpoint']}?{urlencode(params)}")
    t.page.get_by_role("link", name="Sign up").click()
    t.page.wait_for_url(f"**/{rp.pool_id}/signup?**")
    t.assert_clean()
    t.page.get_by_label("Username", exact=True).fill(username)
    t.page.get_by_label("Email", exact=True).fill(address)
    t.page.get_by_label("Password", exact=True).fill(PASSWORD)
    t.page.get_by_role("button", name="Sign up", exact=True).click()
    return {**params, "verifier": verifier}


def _code_at_the_app(t: Tab, rp: RelyingParty, params: dict[str, str], username: str) -> None:
    t.page.wait_for_url(f"{CALLBACK}?**")
    expect(t.page.get_by_text("Signed in.")).to_be_visible()
    answer = query_of(t.callbacks[-1])
    assert answer["state"] == params["state"]
    tokens = rp.exchange(answer["code"], params["verifier"]).json()
    assert rp.verify(tokens["id_token"], audience=rp.client_id)["cognito:username"] == username


def test_the_hosted_sign_up_page_shows_the_handlers_refusal(server, browser: Browser) -> None:  # noqa: F811
    rp = site(server, f"PreSignUp={DOMAIN}:company_only", flows=None).rp()  # a public client (PKCE)
    with tab(browser) as t:
        _sign_up(t, rp, "mallory", "mallory@freemail.example")
        expect(t.page.get_by_text("PreSignUp failed with error Sign-ups from freemail.example are not allowed.")
               ).to_be_visible()
        assert urlsplit(t.page.url).path == f"/{rp.pool_id}/signup"
        expect(t.page.get_by_label("Username", exact=True)).to_have_value("mallory")  # the form is kept
        t.assert_clean(400)
    assert users(server, rp.pool_id) == {}


def test_an_auto_confirmed_hosted_sign_up_signs_in_without_a_code(server, mail, journal,
                                                                   browser: Browser) -> None:  # noqa: F811
    rp = site(server, f"PreSignUp={DOMAIN}:auto_confirm_company", f"PostConfirmation={RECORD}", flows=None).rp()
    with tab(browser) as t:
        params = _sign_up(t, rp, "nora", "nora@corp.example")
        t.page.wait_for_url(f"**/{rp.pool_id}/login?**")
        expect(t.page.get_by_text("Your account is confirmed. Sign in to continue.")).to_be_visible()
        t.assert_clean()
        t.page.get_by_label("Username", exact=True).fill("nora")
        t.page.get_by_label("Password", exact=True).fill(PASSWORD)
        t.page.get_by_role("button", name="Sign in", exact=True).click()
        _code_at_the_app(t, rp, params, "nora")
    [event] = events(journal, rp.pool_id, "PreSignUp_SignUp")
    assert event["callerContext"]["clientId"] == rp.client_id and event["request"]["validationData"] == {}
    [confirmed] = events(journal, rp.pool_id, "PostConfirmation_ConfirmSignUp")
    assert confirmed["request"]["userAttributes"]["email_verified"] == "true"
    time.sleep(0.5)
    assert mail.pending("nora@corp.example") == []


def test_the_hosted_confirmation_runs_post_confirmation(server, mail, journal, browser: Browser) -> None:  # noqa: F811
    rp = site(server, f"PreSignUp={DOMAIN}:auto_confirm_company", f"PostConfirmation={RECORD}", flows=None).rp()
    with tab(browser) as t:
        params = _sign_up(t, rp, "oscar", "oscar@elsewhere.example")
        t.page.wait_for_url(f"**/{rp.pool_id}/confirmUser?**")
        t.assert_clean()
        code = code_in(mail.wait_for("oscar@elsewhere.example"))
        t.page.get_by_label("Verification code", exact=True).fill(code)
        t.page.get_by_role("button", name="Confirm account", exact=True).click()
        _code_at_the_app(t, rp, params, "oscar")
    [event] = events(journal, rp.pool_id, "PostConfirmation_ConfirmSignUp")
    assert event["userName"] == "oscar" and event["callerContext"]["clientId"] == rp.client_id
    assert event["request"]["userAttributes"]["email"] == "oscar@elsewhere.example"


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    with running_provider() as idp:
        idp.add_user("pat", sub="sub-pat", email="pat@corp.example", email_verified=True, name="Pat")
        idp.add_user("quentin", sub="sub-quentin", email="quentin@freemail.example", email_verified=True)
        yield idp


def test_a_first_federated_sign_in_runs_pre_sign_up_and_post_confirmation(server, journal, provider) -> None:
    fed = federation(server, provider, "OIDC", "Corp", "--issuer", provider.issuer, "--scopes",
                     "openid email profile", "--attribute-mapping", "email=email", "--attribute-mapping", "name=name")
    Site(server, fed.pool, fed.rp.client_id).triggers(f"PreSignUp={DOMAIN}:company_only",
                                                      f"PostConfirmation={RECORD}")
    id_claims, _ = fed.tokens(*fed.sign_in("pat"))
    assert id_claims["cognito:username"] == "corp_sub-pat"
    [pre] = events(journal, fed.pool, "PreSignUp_ExternalProvider")
    assert pre["userName"] == "corp_sub-pat" and pre["callerContext"]["clientId"] == fed.rp.client_id
    assert pre["request"]["userAttributes"] == {"email": "pat@corp.example", "email_verified": "true", "name": "Pat"}
    assert pre["request"]["validationData"] == {}
    [post] = events(journal, fed.pool, "PostConfirmation_ConfirmSignUp")
    assert post["userName"] == "corp_sub-pat"
    assert post["request"]["userAttributes"]["cognito:user_status"] == "EXTERNAL_PROVIDER"

    fed.rp.browser = requests.Session()  # another device: the user exists, no sign-up now
    fed.tokens(*fed.sign_in("pat"))
    assert len(events(journal, fed.pool)) == 2

    fed.rp.browser = requests.Session()
    _params, refused = fed.sign_in("quentin")
    assert refused.status_code == 400
    assert "PreSignUp failed with error Sign-ups from freemail.example are not allowed." in refused.text
    assert [u["Username"] for u in fed.users()] == ["corp_sub-pat"]
