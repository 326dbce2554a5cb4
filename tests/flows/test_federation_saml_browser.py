"""One SP-initiated SAML sign-in in a real Chromium: the app's authorize URL (PKCE) → the
hosted page's "Continue with Corp" → the IdP's login form (pysaml2, on loopback) → its
auto-submitting POST to the ACS → the app's callback with a code → tokens verified with
PyJWT. No console errors or CSP violations on the way.

The app's callback is a real server on loopback: Chromium follows the ACS's redirect after
a cross-origin POST in a way Playwright's routing does not intercept."""
from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import Browser

from tests.browser import browser, tab  # noqa: F401 (browser is a fixture)
from tests.flows.test_browser import Callback, callback  # noqa: F401 (callback is a fixture)
from tests.flows.test_federation_saml import ALICE, MAPPING
from tests.peers.saml_idp import running_idp
from tests.peers.social import assert_identities
from tests.rp import RelyingParty, pkce


def test_saml_sign_in_in_chromium_from_the_hosted_page_button(shared_broker, tmp_path, browser: Browser,
                                                              callback: Callback) -> None:
    broker = shared_broker
    with running_idp(tmp_path / "idp") as idp:  # no auto_login: the user signs in on the IdP's form
        idp.add_user("alice", ALICE, {"email": ALICE, "firstName": "Alice", "team": "blue"})
        pool = broker.pool()
        metadata = idp.write_metadata(tmp_path / "idp.xml")
        broker.cli("idp", "create", "--pool", pool, "--type", "SAML", "--name", "Corp", "--metadata-file",
                   str(metadata), *MAPPING)
        idp.add_sp_from_url(broker.url(pool, "/saml2/metadata") + "?idp=Corp")
        client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url",
                                 callback.url, "--idp", "COGNITO", "--idp", "Corp")
        rp = RelyingParty(broker.base_url, pool, client["ClientId"], redirect_uri=callback.url)
        verifier, challenge = pkce()
        params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
        with tab(browser) as t:
            t.open(f"{rp.config['authorization_endpoint']}?{urlencode(params)}")
            assert t.page.url.startswith(f"{rp.issuer}/login?txn=")
            t.page.get_by_role("link", name="Continue with Corp").click()
            t.page.wait_for_url(f"{idp.base_url}/sso/redirect?*")
            t.page.get_by_label("Username").fill("alice")
            t.page.get_by_role("button", name="Sign in").click()
            t.page.wait_for_url(f"{callback.url}?*")
            t.assert_clean()
    answer = callback.wait()
    assert answer.keys() == {"code", "state"} and answer["state"] == params["state"]
    r = rp.exchange(answer["code"], verifier)
    assert r.status_code == 200, r.text
    claims = rp.verify(r.json()["id_token"], audience=rp.client_id)
    assert claims["cognito:username"] == "corp_alice@corp.example" and claims["nonce"] == params["nonce"]
    assert claims["email"] == ALICE and claims["given_name"] == "Alice" and claims["custom:team"] == "blue"
    assert_identities(claims, ALICE, "Corp", "SAML")
