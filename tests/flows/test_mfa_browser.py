"""TOTP two-step verification as a user sees it, in a real Chromium (Debian's, driven by
Playwright) with JavaScript on, over one real server: a pool that requires MFA sends the
first sign-in to enrolment (QR code + key → first code → recovery codes → the app), and a
later sign-in to the code page; the tokens say how the user signed in (amr), verified with
PyJWT against jwks_uri. Every page shown logs no console error and no CSP violation."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
from playwright.sync_api import Browser, expect

from tests.browser import SCREENSHOTS, Tab, browser, tab  # noqa: F401 (browser is a fixture)
from tests.conftest import Broker, start_broker
from tests.rp import CALLBACK, RelyingParty, pkce, query_of

PASSWORD = "Corr3ct-Horse!"
OTP_AMR = ["pwd", "otp", "mfa"]
RECOVERY_CODE = re.compile(r"[a-z2-9]{5}-[a-z2-9]{5}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Broker]:
    tmp = tmp_path_factory.mktemp("mfa-browser")
    broker = start_broker(tmp, database_url=f"sqlite:///{tmp}/mfa.db", redis_url=redis_url)
    try:
        yield broker
    finally:
        broker.stop()
    log = broker.log.read_text() if broker.log and broker.log.exists() else ""
    assert "Traceback" not in log, f"server logged a traceback:\n{log[-4000:]}"


@pytest.fixture
def rp(server: Broker) -> RelyingParty:
    """A fresh pool with MFA required, one confirmed user and a public app client (PKCE)
    whose callback the browser answers itself."""
    pool = server.pool("--mfa", "ON")
    server.cli("user", "create", "--pool", pool, "--username", "mia", "--password", PASSWORD,
               "--email", "mia@example.com", "--confirmed")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
    return RelyingParty(server.base_url, pool, client["ClientId"])


@dataclass
class Authorization:
    url: str
    params: dict[str, str]
    verifier: str


def _authorize(rp: RelyingParty) -> Authorization:
    verifier, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    return Authorization(f"{rp.config['authorization_endpoint']}?{urlencode(params)}", params, verifier)


def _sign_in_with_password(t: Tab, rp: RelyingParty, auth: Authorization) -> None:
    response = t.page.goto(auth.url)
    assert response is not None and response.status == 200
    assert urlsplit(t.page.url).path == f"/{rp.pool_id}/login", t.page.url
    t.assert_clean()
    t.page.get_by_label("Username", exact=True).fill("mia")
    t.page.get_by_label("Password", exact=True).fill(PASSWORD)
    t.page.get_by_role("button", name="Sign in", exact=True).click()


def _submit_code(t: Tab, code: str) -> None:
    t.page.get_by_label(re.compile(r"^Code\b")).fill(code)  # "Code" or "Code or a recovery code"
    t.page.get_by_role("button", name="Verify", exact=True).click()


def _back_at_the_app(t: Tab, rp: RelyingParty, auth: Authorization) -> dict[str, Any]:
    """The browser lands on the callback with a code; the app exchanges it (PKCE) and
    verifies the tokens with PyJWT against jwks_uri. Returns the ID token's claims."""
    t.page.wait_for_url(f"{CALLBACK}?**")
    expect(t.page.get_by_text("Signed in.")).to_be_visible()
    t.assert_clean()
    assert len(t.callbacks) == 1, t.callbacks
    answer = query_of(t.callbacks[0])
    assert answer.keys() == {"code", "state"} and answer["state"] == auth.params["state"], answer
    r = rp.exchange(answer["code"], auth.verifier)
    assert r.status_code == 200, r.text
    tokens = r.json()
    claims = rp.verify(tokens["id_token"], audience=rp.client_id)
    assert claims["token_use"] == "id" and claims["nonce"] == auth.params["nonce"]
    assert claims["cognito:username"] == "mia"
    access = rp.verify(tokens["access_token"])
    assert access["token_use"] == "access" and access["sub"] == claims["sub"] and access["amr"] == claims["amr"]
    return claims


def _enrol(chromium: Browser, rp: RelyingParty) -> tuple[pyotp.TOTP, str, list[str]]:
    """First sign-in: password → /mfaSetup (QR code + key) → first code → recovery codes →
    Continue → the app, with amr saying a one-time code was used. Returns the authenticator,
    the code that enrolled it and the recovery codes."""
    auth = _authorize(rp)
    with tab(chromium) as t:
        _sign_in_with_password(t, rp, auth)
        t.page.wait_for_url(f"**/{rp.pool_id}/mfaSetup?txn=**")
        t.assert_clean()
        expect(t.page.get_by_role("heading", level=1)).to_have_text("Set up two-step verification")
        assert t.callbacks == []  # no code for the app before the second factor

        qr = t.page.get_by_role("img", name="QR code for your authenticator app")
        expect(qr).to_be_visible()
        assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
        t.page.wait_for_function("img => img.complete", arg=qr.element_handle())
        assert qr.evaluate("img => img.naturalWidth") > 0, "the QR code image did not load"
        key = t.page.locator("code.totp-secret").inner_text().strip()
        assert re.fullmatch(r"[A-Z2-7]{16,}", key), key
        t.shoot("mfa-setup.png")

        totp = pyotp.TOTP(key)
        first_code = totp.now()
        _submit_code(t, first_code)
        expect(t.page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
        t.assert_clean()
        codes = [c.strip() for c in t.page.locator("ul.recovery-codes li code").all_inner_texts()]
        assert len(codes) == 10 and len(set(codes)) == 10, codes
        assert all(RECOVERY_CODE.fullmatch(c) for c in codes), codes
        t.shoot("mfa-recovery-codes.png")
        assert t.callbacks == []

        t.page.get_by_role("button", name="Continue", exact=True).click()
        claims = _back_at_the_app(t, rp, auth)
    assert claims["amr"] == OTP_AMR, claims
    assert abs(claims["auth_time"] - time.time()) < 60
    return totp, first_code, codes


def test_totp_enrolment_in_chromium_then_sign_in_with_the_next_code(browser: Browser,  # noqa: F811
                                                                     rp: RelyingParty) -> None:
    totp, _first_code, _codes = _enrol(browser, rp)

    auth = _authorize(rp)
    with tab(browser) as t:  # a fresh context: nothing remembered from the enrolment
        _sign_in_with_password(t, rp, auth)
        t.page.wait_for_url(f"**/{rp.pool_id}/mfa?txn=**")
        t.assert_clean()
        expect(t.page.get_by_role("heading", level=1)).to_have_text("Two-step verification")
        expect(t.page.get_by_text("Enter the 6-digit code from your authenticator app.")).to_be_visible()
        assert t.callbacks == []
        t.shoot("mfa-challenge.png")
        _submit_code(t, totp.at(time.time() + 30))  # the next time step: not used yet
        claims = _back_at_the_app(t, rp, auth)
    assert claims["amr"] == OTP_AMR, claims


def test_replayed_code_is_refused_on_the_page_and_a_recovery_code_signs_in(browser: Browser,  # noqa: F811
                                                                         rp: RelyingParty) -> None:
    _totp, first_code, codes = _enrol(browser, rp)
    auth = _authorize(rp)
    with tab(browser) as t:
        _sign_in_with_password(t, rp, auth)
        t.page.wait_for_url(f"**/{rp.pool_id}/mfa?txn=**")
        t.assert_clean()
        with t.page.expect_response(lambda r: r.request.method == "POST" and "/mfa" in r.url) as answer:
            _submit_code(t, first_code)  # the code that enrolled the app: a replay
        assert answer.value.status == 400
        expect(t.page.get_by_role("alert")).to_have_text("The code is not valid. Try again.")
        t.assert_clean(status=400)
        assert t.callbacks == []

        _submit_code(t, codes[0].upper())  # as typed from a printout
        claims = _back_at_the_app(t, rp, auth)
    assert claims["amr"] == ["pwd", "mfa"], claims
