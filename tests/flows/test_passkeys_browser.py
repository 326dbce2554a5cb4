"""Passkeys on the hosted UI as a user meets them, in Debian's Chromium (Playwright) with a
virtual authenticator over the DevTools protocol: a real browser makes and uses the
credentials, Duo's webauthn library checks them on the server. Registered from the passkey
page after a sign-in, used username-less on the sign-in page, listed, renamed, deleted; a
cloned authenticator (stale sign counter) and a passkey of another relying-party id are
refused; a passkey satisfies a pool's required MFA. The tokens say how the user signed in
(amr, RFC 8176), verified with PyJWT against jwks_uri."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Route, expect

from tests.a11y import Axe, axe  # noqa: F401 (a fixture)
from tests.browser import Tab, browser, tab  # noqa: F401 (browser is a fixture)
from tests.flows.passkey_peers import (PASSKEY_AMR, PASSWORD, Authenticator, Authorization, Server,
                                       authorization, server, sign_out_url)  # noqa: F401 (server is a fixture)
from tests.rp import RelyingParty, query_of


def _tokens(t: Tab, rp: RelyingParty, auth: Authorization) -> dict[str, Any]:
    """The browser is back at the app with a code; the app exchanges it and verifies the
    tokens. The ID token's claims, with the access token's amr under ``_access_amr``."""
    t.page.wait_for_url(f"{rp.redirect_uri}?**")
    t.assert_clean()
    answer = query_of(t.page.url)
    assert answer["state"] == auth.params["state"], answer
    r = rp.exchange(answer["code"], auth.verifier)
    assert r.status_code == 200, r.text
    claims = rp.verify(r.json()["id_token"], audience=rp.client_id)
    return {**claims, "_access_amr": rp.verify(r.json()["access_token"])["amr"]}


def _password(t: Tab, username: str = "mia") -> None:
    t.page.get_by_label("Username", exact=True).fill(username)
    t.page.get_by_label("Password", exact=True).fill(PASSWORD)
    t.page.get_by_role("button", name="Sign in", exact=True).click()


def _sign_out(t: Tab, rp: RelyingParty) -> None:
    t.open(sign_out_url(rp))
    expect(t.page.get_by_text("You have been signed out.")).to_be_visible()


def _add_passkey(t: Tab, name: str) -> None:
    t.page.get_by_label(re.compile(r"^Name\b")).fill(name)
    t.page.get_by_role("button", name="Add a passkey", exact=True).click()
    expect(t.page.get_by_text("The passkey was added. You can now sign in with it.")).to_be_visible()
    t.assert_clean()


def _register(t: Tab, rp: RelyingParty, name: str = "Laptop") -> Authorization:
    """/passkeys → password → the passkey page → add one. Returns the authorization."""
    auth = authorization(rp, "/passkeys")
    t.open(auth.url)
    _password(t)
    t.page.wait_for_url("**/passkeys/manage?txn=**")
    t.assert_clean()
    expect(t.page.get_by_role("heading", level=1)).to_have_text("Passkeys")
    expect(t.page.get_by_text("You have no passkeys yet.")).to_be_visible()
    _add_passkey(t, name)
    return auth


def _passkey_button(t: Tab, rp: RelyingParty, path: str | None = None) -> Authorization:
    """A fresh authorization's sign-in page → "Sign in with a passkey" (no username typed),
    in a browser without conditional mediation (:func:`_without_autofill`)."""
    auth = authorization(rp, path)
    t.open(auth.url)
    username = t.page.get_by_label("Username", exact=True)
    expect(username).to_have_attribute("autocomplete", "username webauthn")
    t.page.get_by_role("button", name="Sign in with a passkey").click()
    return auth


def _autofill(t: Tab, rp: RelyingParty, path: str | None = None) -> Authorization:
    """A fresh authorization's sign-in page, where the page's conditional request (the
    passkeys of the username field's autofill) is answered by the authenticator (it has one
    passkey and needs no gesture): the answer is posted without a click."""
    auth = authorization(rp, path)
    with t.page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login/passkey")) as answer:
        t.page.goto(auth.url)
    assert answer.value.status == 302, answer.value.text()
    return auth


def _without_autofill(t: Tab) -> None:
    """From the next page on, the browser has no conditional mediation (as browsers before
    it had): only the button starts a passkey sign-in."""
    t.page.context.add_init_script(
        "if (window.PublicKeyCredential) { PublicKeyCredential.isConditionalMediationAvailable ="
        " function () { return Promise.resolve(false); }; }")


def test_register_sign_out_sign_in_username_less_then_rename_and_delete(server: Server, browser: Browser,  # noqa: F811
                                                                       axe: Axe) -> None:  # noqa: F811
    rp = server.site(server.pool())
    with tab(browser) as t:
        device = Authenticator(t.page)
        auth = _register(t, rp)
        item = t.page.locator("li.passkey")
        expect(item).to_have_count(1)
        expect(item.get_by_role("heading", level=3)).to_have_text("Laptop")
        expect(item).to_contain_text("Last used")
        expect(item).to_contain_text("Never")
        axe.check(t.page)
        t.shoot("passkeys.png", reference="passkeys.png")
        [made] = device.credentials()
        assert made["isResidentCredential"] is True and made["rpId"] == "localhost"
        t.page.get_by_role("button", name="Done", exact=True).click()
        claims = _tokens(t, rp, auth)
        assert claims["amr"] == ["pwd"] and claims["cognito:username"] == "mia"

        _sign_out(t, rp)
        auth = _autofill(t, rp)  # username-less, from the autofill
        claims = _tokens(t, rp, auth)
        assert claims["cognito:username"] == "mia"
        assert claims["amr"] == PASSKEY_AMR and claims["_access_amr"] == PASSKEY_AMR

        _sign_out(t, rp)
        auth = _autofill(t, rp, "/passkeys")  # the passkey page, signed in with the passkey
        t.page.wait_for_url("**/passkeys/manage?txn=**")
        expect(item).to_have_count(1)
        expect(item).not_to_contain_text("Never")  # last used: just now
        item.get_by_label("New name").fill("Work laptop")
        item.get_by_role("button", name="Rename").click()
        expect(t.page.get_by_text("The passkey was renamed.")).to_be_visible()
        expect(item.get_by_role("heading", level=3)).to_have_text("Work laptop")
        txn = t.page.locator("input[name=txn]").first.input_value()
        forged = t.page.request.post(t.page.url, form={  # this browser's cookies, no CSRF token
            "txn": txn, "action": "delete", "credential_id": made["credentialId"]})
        assert forged.status == 400 and "The form has expired" in forged.text()
        t.open(f"{t.page.url}?txn={txn}")
        expect(item).to_have_count(1)
        item.get_by_role("button", name="Delete").click()
        expect(t.page.get_by_text("The passkey was deleted. It no longer signs you in.")).to_be_visible()
        expect(t.page.get_by_text("You have no passkeys yet.")).to_be_visible()
        t.page.get_by_role("button", name="Done", exact=True).click()
        assert _tokens(t, rp, auth)["amr"] == PASSKEY_AMR

        _sign_out(t, rp)
        assert len(device.credentials()) == 1  # still on the device, but no longer known here
        _without_autofill(t)
        _refused_on_the_sign_in_page(t, rp)


def test_the_button_signs_in_where_the_browser_has_no_autofill(server: Server, browser: Browser,  # noqa: F811
                                                              axe: Axe) -> None:  # noqa: F811
    rp = server.site(server.pool())
    with tab(browser) as t:
        Authenticator(t.page)
        _register(t, rp)
        t.page.get_by_role("button", name="Done", exact=True).click()
        t.page.wait_for_url(f"{rp.redirect_uri}?**")
        _sign_out(t, rp)
        _without_autofill(t)
        t.open(authorization(rp).url)
        expect(t.page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
        axe.check(t.page)
        t.shoot("signin-passkey.png", reference="signin-passkey.png")
        auth = _passkey_button(t, rp)
        claims = _tokens(t, rp, auth)
        assert claims["amr"] == PASSKEY_AMR and claims["cognito:username"] == "mia"


def _refused_on_the_sign_in_page(t: Tab, rp: RelyingParty, path: str | None = None) -> None:
    with t.page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login/passkey")) as answer:
        _passkey_button(t, rp, path)
    assert answer.value.status == 400
    expect(t.page.get_by_role("alert")).to_have_text("The passkey could not sign you in.")
    t.assert_clean(status=400)
    assert urlsplit(t.page.url).path.endswith("/login/passkey")  # still on the sign-in page, no code for the app


def test_a_cloned_authenticator_with_a_stale_counter_is_refused(server: Server, browser: Browser) -> None:  # noqa: F811
    pool = server.pool()
    rp = server.site(pool)
    with tab(browser) as original, tab(browser) as clone:
        device = Authenticator(original.page)
        _register(original, rp)
        [credential] = device.credentials()
        copy = Authenticator(clone.page)
        copy.add({k: credential[k] for k in ("credentialId", "isResidentCredential", "rpId", "privateKey",
                                             "userHandle", "signCount")})
        _sign_out(original, rp)
        auth = _autofill(original, rp)  # the original signs in: its counter moves on
        assert _tokens(original, rp, auth)["amr"] == PASSKEY_AMR
        assert device.credentials()[0]["signCount"] > credential["signCount"]

        _without_autofill(clone)
        _refused_on_the_sign_in_page(clone, rp)  # the copy's counter is behind the server's
    events = server.broker.cli_json("events", "list", "--pool", pool, "--user", "mia", "--limit", "5")["Events"]
    blocked = [e for e in events if e["EventType"] == "SignIn" and e["Details"].get("reason") == "passkey_counter"]
    assert blocked, events


def _tamper_rp_id(page: Page, pattern: str, rp_id: str) -> None:
    """Rewrite the relying-party id in the options the page fetches (as a page of another
    site could ask the browser for its own passkeys)."""
    def rewrite(route: Route) -> None:
        parts = urlsplit(route.request.url)  # Playwright's own fetch resolves no *.localhost name
        response = route.fetch(url=parts._replace(netloc=f"127.0.0.1:{parts.port}").geturl(),
                               headers=route.request.all_headers())
        options = response.json()
        if "rp" in options:
            options["rp"]["id"], options["excludeCredentials"] = rp_id, []
        else:
            options["rpId"] = rp_id
        route.fulfill(response=response, json=options)

    page.route(pattern, rewrite)


def _at_host(rp: RelyingParty, host: str) -> RelyingParty:
    """The same app, sending the user to the pool's pages at http://HOST:PORT (Chromium
    resolves every *.localhost name to this host)."""
    port = urlsplit(rp.issuer).port
    moved = RelyingParty(rp.base_url, rp.pool_id, rp.client_id, redirect_uri=rp.redirect_uri)
    moved.issuer = f"http://{host}:{port}/{rp.pool_id}"
    moved.config = {**rp.config, "authorization_endpoint": f"{moved.issuer}/oauth2/authorize"}
    return moved


def test_a_passkey_of_another_relying_party_id_is_refused(server: Server, browser: Browser) -> None:  # noqa: F811
    """mia's passkey is for ``rp.localhost``; the pool's passkeys then move to
    ``id.rp.localhost``: an assertion or a registration for ``rp.localhost`` (a parent
    domain, which the browser allows a page of id.rp.localhost to ask for) is refused."""
    port = urlsplit(server.broker.base_url).port
    origins = [f"http://rp.localhost:{port}", f"http://id.rp.localhost:{port}"]
    pool = server.pool(web_authn={"RelyingPartyId": "rp.localhost", "AllowedOrigins": origins})
    rp = server.site(pool)
    with tab(browser) as t:
        device = Authenticator(t.page)
        _register(t, _at_host(rp, "rp.localhost"))
        assert device.credentials()[0]["rpId"] == "rp.localhost"
        server.set_pool(pool, ("PASSWORD", "WEB_AUTHN"), {"RelyingPartyId": "id.rp.localhost",
                                                          "AllowedOrigins": origins[1:]})
        moved = _at_host(rp, "id.rp.localhost")
        _without_autofill(t)
        _tamper_rp_id(t.page, "**/login/passkey/options", "rp.localhost")
        _refused_on_the_sign_in_page(t, moved)

        _tamper_rp_id(t.page, "**/passkeys/options", "rp.localhost")
        t.open(authorization(moved, "/passkeys").url)
        _password(t)
        t.page.wait_for_url("**/passkeys/manage?txn=**")
        with t.page.expect_response(lambda r: r.request.method == "POST" and "/passkeys/manage" in r.url) as answer:
            t.page.get_by_role("button", name="Add a passkey", exact=True).click()
        assert answer.value.status == 400
        expect(t.page.get_by_role("alert")).to_have_text("The passkey was made for another site.")
        t.assert_clean(status=400)
        expect(t.page.locator("li.passkey")).to_have_count(1)  # made by the browser, refused by the server


def test_a_passkey_satisfies_required_mfa_without_asking_the_totp(server: Server, browser: Browser) -> None:  # noqa: F811
    import pyotp

    rp = server.site(server.pool("--mfa", "ON"))
    with tab(browser) as t:
        device = Authenticator(t.page)
        auth = authorization(rp, "/passkeys")
        t.open(auth.url)
        _password(t)
        t.page.wait_for_url("**/mfaSetup?txn=**")  # MFA is required: the app first
        totp = pyotp.TOTP(t.page.locator("code.totp-secret").inner_text().strip())
        t.page.get_by_label(re.compile(r"^Code\b")).fill(totp.now())
        t.page.get_by_role("button", name="Verify", exact=True).click()
        t.page.get_by_role("button", name="Continue", exact=True).click()
        t.page.wait_for_url("**/passkeys/manage?txn=**")
        _add_passkey(t, "Phone")
        t.page.get_by_role("button", name="Done", exact=True).click()
        assert _tokens(t, rp, auth)["amr"] == ["pwd", "otp", "mfa"]
        assert len(device.credentials()) == 1

        _sign_out(t, rp)
        auth = _autofill(t, rp)  # no code asked: straight back to the app
        claims = _tokens(t, rp, auth)
        assert claims["amr"] == PASSKEY_AMR and claims["_access_amr"] == PASSKEY_AMR


def test_a_new_account_is_offered_a_passkey_right_after_sign_up(server: Server, browser: Browser,  # noqa: F811
                                                               axe: Axe) -> None:  # noqa: F811
    from tests.smtp import code_in

    rp = server.site(server.pool("--self-signup"), username=None)
    with tab(browser) as t:
        device = Authenticator(t.page)
        auth = authorization(rp)
        t.open(auth.url)
        t.page.get_by_role("link", name="Sign up").click()
        t.page.get_by_label("Username", exact=True).fill("noa")
        t.page.get_by_label("Email", exact=True).fill("noa@example.com")
        t.page.get_by_label("Password", exact=True).fill(PASSWORD)
        t.page.get_by_role("button", name="Sign up", exact=True).click()
        t.page.get_by_label("Verification code").fill(code_in(server.mail.wait_for("noa@example.com")))
        t.page.get_by_role("button", name="Confirm account").click()
        t.page.wait_for_url("**/passkeys/manage?txn=**")
        t.assert_clean()
        expect(t.page.get_by_role("heading", level=1)).to_have_text("Add a passkey")
        expect(t.page.get_by_role("button", name="Not now")).to_be_visible()
        axe.check(t.page)
        t.shoot("passkey-offer.png", reference="passkey-offer.png")
        _add_passkey(t, "Phone")
        expect(t.page.locator("li.passkey")).to_have_count(1)
        t.page.get_by_role("button", name="Done", exact=True).click()
        claims = _tokens(t, rp, auth)
        assert claims["cognito:username"] == "noa" and claims["amr"] == ["pwd"]
        assert device.credentials()[0]["rpId"] == "localhost"

        _sign_out(t, rp)
        assert _tokens(t, rp, _autofill(t, rp))["cognito:username"] == "noa"


def test_a_code_by_email_signs_in_from_the_same_form(server: Server, browser: Browser, axe: Axe) -> None:  # noqa: F811
    from tests.smtp import code_in

    pool = server.pool(first_factors=("PASSWORD", "WEB_AUTHN", "EMAIL_OTP"))
    server.broker.cli("user", "create", "--pool", pool, "--username", "ida", "--email", "ida@example.com",
                      "--attribute", "email_verified=true", "--confirmed", "--password", PASSWORD)
    rp = server.site(pool, username=None)
    with tab(browser) as t:
        auth = authorization(rp)
        t.open(auth.url)
        t.page.get_by_label("Username", exact=True).fill("ida")
        t.page.get_by_role("button", name="Email me a sign-in code").click()  # the password left empty
        t.page.wait_for_url("**/login/code/verify?txn=**")
        t.assert_clean()
        expect(t.page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
        axe.check(t.page)
        t.shoot("signin-code.png", reference="signin-code.png")
        t.page.get_by_label("Code", exact=True).fill(code_in(server.mail.wait_for("ida@example.com")))
        t.page.get_by_role("button", name="Sign in", exact=True).click()
        claims = _tokens(t, rp, auth)
    assert claims["cognito:username"] == "ida" and claims["amr"] == ["otp"] and claims["_access_amr"] == ["otp"]
