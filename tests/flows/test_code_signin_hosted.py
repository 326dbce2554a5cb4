"""A one-time code by email as the first factor on the hosted sign-in page, driven like a
browser without JavaScript (requests), the code read from the mail a real SMTP server
(aiosmtpd) received: it signs in (amr ``otp``), a name the pool lacks sees the same pages
and gets no mail, wrong codes end the sign-in, and a factor the pool does not allow, or a
form without its CSRF token, is refused."""
from __future__ import annotations

import re

import requests

from tests.flows.passkey_peers import Server, server  # noqa: F401 (server is a fixture)
from tests.rp import RelyingParty, form_fields, pkce, query_of
from tests.smtp import code_in

EMAIL_BUTTON = re.compile(r'<button[^>]*formaction="([^"]+)"[^>]*name="factor" value="EMAIL_OTP"[^>]*>\s*Email me a sign-in code')


def _login_page(rp: RelyingParty) -> tuple[dict[str, str], requests.Response]:
    verifier, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    page = rp.follow(rp.browser.get(rp.config["authorization_endpoint"], params=params, allow_redirects=False,
                                    timeout=10))
    assert page.status_code == 200 and "/login?txn=" in page.url
    return {**params, "verifier": verifier}, page


def _ask_code(rp: RelyingParty, page: requests.Response, username: str, factor: str = "EMAIL_OTP",
              csrf: bool = True) -> requests.Response:
    fields = form_fields(page.text)
    if not csrf:
        fields.pop("csrf_token")
    return rp.browser.post(f"{rp.issuer}/login/code", data={**fields, "username": username, "factor": factor},
                           allow_redirects=False, timeout=10)


def _code_page(rp: RelyingParty, sent: requests.Response) -> requests.Response:
    assert sent.status_code == 302 and "/login/code/verify?txn=" in sent.headers["Location"], sent.text[:300]
    page = rp.follow(sent)
    assert page.status_code == 200
    return page


def _pool(server: Server) -> RelyingParty:  # noqa: F811
    pool = server.pool(first_factors=("PASSWORD", "EMAIL_OTP"))
    server.broker.cli("user", "create", "--pool", pool, "--username", "mia", "--email", "mia@example.com",
                      "--attribute", "email_verified=true", "--confirmed", "--password", "Corr3ct-Horse!")
    return server.site(pool, username=None)


def test_an_emailed_code_signs_in_without_the_password(server: Server) -> None:  # noqa: F811
    rp = _pool(server)
    params, page = _login_page(rp)
    assert EMAIL_BUTTON.search(page.text) and "Text me a sign-in code" not in page.text
    code_page = _code_page(rp, _ask_code(rp, page, "mia"))
    assert "a 6-digit code was sent by email to m***@e***" in code_page.text, code_page.text
    code = code_in(server.mail.wait_for("mia@example.com"))
    done = rp.post_form(code_page, {"code": code})
    assert done.status_code == 302 and done.headers["Location"].startswith(rp.redirect_uri), done.text[:300]
    answer = query_of(done.headers["Location"])
    assert answer["state"] == params["state"]
    tokens = rp.exchange(answer["code"], params["verifier"]).json()
    claims = rp.verify(tokens["id_token"], audience=rp.client_id)
    assert claims["cognito:username"] == "mia" and claims["amr"] == ["otp"]


def test_an_unknown_name_sees_the_same_pages_and_wrong_codes_end_the_sign_in(server: Server) -> None:  # noqa: F811
    rp = _pool(server)
    _params, page = _login_page(rp)
    known = _code_page(rp, _ask_code(rp, page, "mia"))
    server.mail.wait_for("mia@example.com")
    _params, page = _login_page(rp)
    unknown = _code_page(rp, _ask_code(rp, page, "nobody"))
    varying = re.compile(r'sent by email to [^ ]+\.|value="[^"]*"|txn=[\w-]+')  # the destination, the transaction
    assert "sent by email to" in unknown.text
    assert varying.sub("", known.text) == varying.sub("", unknown.text)
    for attempt in range(4):
        wrong = rp.post_form(unknown, {"code": "123456"})
        assert wrong.status_code == 400 and "The code is not valid. Try again." in wrong.text, attempt
    last = rp.post_form(unknown, {"code": "123456"})
    assert last.status_code == 400 and "Too many wrong codes" in last.text
    assert rp.post_form(unknown, {"code": "123456"}).status_code == 400  # the sign-in is over
    assert not [m for m in server.mail.messages if "nobody" in m.to]


def test_codes_not_allowed_or_forged_are_refused(server: Server) -> None:  # noqa: F811
    rp = _pool(server)
    _params, page = _login_page(rp)
    texted = _ask_code(rp, page, "mia", factor="SMS_OTP")
    assert texted.status_code == 400 and "This change is not available." in texted.text
    forged = _ask_code(rp, page, "mia", csrf=False)
    assert forged.status_code == 400 and "The form has expired" in forged.text
    empty = _ask_code(rp, page, "")
    assert empty.status_code == 400 and "Username" in empty.text
    txn = form_fields(page.text)["txn"]
    early = rp.browser.get(f"{rp.issuer}/login/code/verify", params={"txn": txn}, timeout=10)
    assert early.status_code == 400 and "Your sign-in session has expired." in early.text  # no code asked for yet

    password_only = server.site(server.pool(first_factors=("PASSWORD",)), username=None)
    _params, page = _login_page(password_only)
    assert "sign-in code" not in page.text
    assert _ask_code(password_only, page, "mia").status_code == 400


def test_a_pool_that_requires_mfa_offers_no_code_sign_in(server: Server) -> None:  # noqa: F811
    """Cognito: MFA and passwordless codes do not go together; the engine sends none, so the
    page offers none, and a form that asks for one anyway is refused with no mail sent."""
    rp = _pool(server)
    server.broker.cli("pool", "update", "--pool", rp.pool_id, "--mfa", "ON")
    _params, page = _login_page(rp)
    assert not EMAIL_BUTTON.search(page.text) and "sign-in code" not in page.text
    asked = _ask_code(rp, page, "mia")
    assert asked.status_code == 400 and "This change is not available." in asked.text
    assert server.mail.pending("mia@example.com") == []
