"""Self-service accounts over real HTTP with a real SMTP server on loopback: sign-up and
confirmation by the emailed code, forgot password, a temporary password replaced at first
sign-in, and an unconfirmed user sent back to confirmation. Codes are read from the mail
Cognate actually sent."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty, pkce, query_of
from tests.smtp import SENDER, MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "N3w-Batt3ry-Staple!"


@dataclass
class Site:
    broker: Broker
    mail: MailServer
    pool: str
    client_id: str

    def rp(self) -> RelyingParty:
        """A fresh browser (its own cookies) for the module's app client."""
        return RelyingParty(self.broker.base_url, self.pool, self.client_id)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    """One server on SQLite + real Redis sending its mail to a real SMTP server."""
    with broker_with_mail(tmp_path_factory.mktemp("accounts"), redis_url) as (broker, mail):
        pool = broker.pool()
        client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
        yield Site(broker, mail, pool, client["ClientId"])


def link(page: requests.Response, text: str) -> str:
    """The absolute URL of the link whose text is ``text``."""
    match = re.search(rf'<a[^>]*href="([^"]+)"[^>]*>\s*{re.escape(text)}\s*</a>', page.text)
    assert match, f"no link {text!r} on {page.url}:\n{page.text}"
    return urljoin(page.url, unescape(match.group(1)))


def path_and_query(location: str) -> tuple[str, dict[str, str]]:
    return urlsplit(location).path, query_of(location)


def start(rp: RelyingParty) -> tuple[dict[str, str], str, requests.Response]:
    """authorize (PKCE) → the login page; returns (authorize params, verifier, login page)."""
    verifier, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    r = rp.browser.get(rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    page = rp.follow(r)
    assert page.status_code == 200 and "Sign in with your username and password" in page.text
    return params, verifier, page


def expect_redirect(r: requests.Response, path: str) -> dict[str, str]:
    """Asserts a 302 to the pool's ``path`` and returns its query."""
    assert r.status_code == 302, f"{r.status_code}: {r.text}"
    got_path, query = path_and_query(r.headers["Location"])
    assert got_path.endswith(path), r.headers["Location"]
    return query


def expect_callback(r: requests.Response, params: dict[str, str]) -> str:
    """Asserts a 302 to the app's callback with a code and the request's state; returns the code."""
    assert r.status_code == 302, f"{r.status_code}: {r.text}"
    location = r.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    answer = query_of(location)
    assert answer.keys() == {"code", "state"} and answer["state"] == params["state"], location
    return answer["code"]


def tokens_for(rp: RelyingParty, code: str, verifier: str, params: dict[str, str]) -> dict:
    r = rp.exchange(code, verifier)
    assert r.status_code == 200, r.text
    claims = rp.verify(r.json()["id_token"], audience=rp.client_id)
    assert claims["token_use"] == "id" and claims["nonce"] == params["nonce"]
    return claims


def post_login(rp: RelyingParty, page: requests.Response, username: str, password: str) -> requests.Response:
    return rp.post_form(page, {"username": username, "password": password})


def sign_up(site: Site, rp: RelyingParty, login_page: requests.Response, username: str, email: str) -> requests.Response:
    page = rp.browser.get(link(login_page, "Sign up"), allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    assert all(f'name="{n}"' in page.text for n in ("username", "email", "password"))
    r = rp.post_form(page, {"username": username, "email": email, "password": PASSWORD})
    query = expect_redirect(r, f"/{site.pool}/confirmUser")
    assert query["username"] == username.lower() and query["txn"]
    return r


def test_sign_up_confirmed_by_emailed_code_signs_in_and_verifies_email(site: Site) -> None:
    rp = site.rp()
    params, verifier, login_page = start(rp)
    r = sign_up(site, rp, login_page, "Carol", "carol@example.com")

    mail = site.mail.wait_for_mail("carol@example.com")
    assert mail.subject == "Your verification code"
    assert mail.sender == SENDER and mail.mail_from == SENDER and mail.to == "carol@example.com"
    code = code_in(mail.text)
    assert mail.text.strip() == f"Your confirmation code is {code}."

    page = rp.follow(r)
    assert page.status_code == 200 and 'value="carol"' in page.text
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    bad = rp.post_form(page, {"username": "carol", "code": wrong})
    assert bad.status_code == 400 and "Invalid verification code provided, please try again." in bad.text

    code_back = expect_callback(rp.post_form(page, {"username": "carol", "code": code}), params)
    claims = tokens_for(rp, code_back, verifier, params)
    assert claims["cognito:username"] == "carol"
    assert claims["email"] == "carol@example.com" and claims["email_verified"] is True
    assert site.mail.pending("carol@example.com") == []
    # the login transaction is over: replaying the confirmation form leads nowhere
    again = rp.post_form(page, {"code": code})
    assert again.status_code == 400 and "Your sign-in session has expired." in again.text


def test_signing_up_a_taken_name_and_confirming_it_signs_nobody_in(site: Site) -> None:
    """Someone who holds uma's confirmation code (not her password) signs up "uma" again in
    their own browser, with a password of their own, and confirms: the name was taken, so
    the answer looks the same but ends on the sign-in page, not with a code for the app."""
    owner = site.rp()
    _params, _verifier, login_page = start(owner)
    sign_up(site, owner, login_page, "uma", "uma@example.com")
    code = code_in(site.mail.wait_for("uma@example.com"))

    other = site.rp()
    _params, _verifier, login_page = start(other)
    r = sign_up(site, other, login_page, "uma", "someone@example.com")
    assert site.mail.wait_for_mail("uma@example.com").subject == "Sign-up attempt"  # the owner is told
    confirmed = other.post_form(other.follow(r), {"username": "uma", "code": code})
    assert expect_redirect(confirmed, f"/{site.pool}/login")["info"] == "confirmed"


def test_forgot_password_resets_by_emailed_code(site: Site) -> None:
    site.broker.cli("user", "create", "--pool", site.pool, "--username", "dave", "--password", PASSWORD,
                    "--email", "dave@example.com", "--confirmed")
    rp = site.rp()
    params, verifier, login_page = start(rp)
    page = rp.browser.get(link(login_page, "Forgot your password?"), allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text

    # an unknown user gets the same answer and no mail (delivery is done when the answer comes)
    received = len(site.mail.messages)
    unknown = rp.post_form(page, {"username": "nobody"})
    assert expect_redirect(unknown, f"/{site.pool}/confirmForgotPassword")["info"] == "sent"
    assert len(site.mail.messages) == received

    r = rp.post_form(page, {"username": "Dave"})
    query = expect_redirect(r, f"/{site.pool}/confirmForgotPassword")
    assert query["username"] == "dave" and query["info"] == "sent"
    mail = site.mail.wait_for_mail("dave@example.com")
    assert mail.subject == "Your password reset code" and mail.sender == SENDER
    code = code_in(mail.text)
    assert mail.text.strip() == f"Your password reset code is {code}."

    reset_page = rp.follow(r)
    assert reset_page.status_code == 200
    assert "If the account exists, a code has been sent to its email address." in reset_page.text
    mismatch = rp.post_form(reset_page, {"code": code, "password": NEW_PASSWORD, "password_confirm": PASSWORD})
    assert mismatch.status_code == 400 and "The passwords do not match." in mismatch.text
    r = rp.post_form(reset_page, {"code": code, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert expect_redirect(r, f"/{site.pool}/login")["info"] == "reset"

    login_again = rp.follow(r)
    assert login_again.status_code == 200
    assert "Your password has been changed. Sign in with your new password." in login_again.text
    old = post_login(rp, login_again, "dave", PASSWORD)
    assert old.status_code == 400 and "Incorrect username or password." in old.text
    code_back = expect_callback(post_login(rp, login_again, "dave", NEW_PASSWORD), params)
    assert tokens_for(rp, code_back, verifier, params)["cognito:username"] == "dave"
    assert site.mail.pending("dave@example.com") == []


def test_temporary_password_must_be_replaced_at_first_sign_in(site: Site) -> None:
    created = site.broker.cli_json("user", "create", "--pool", site.pool, "--username", "erin",
                                   "--password", "Temp-Passw0rd!", "--email", "erin@example.com")
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    rp = site.rp()
    params, verifier, login_page = start(rp)
    r = post_login(rp, login_page, "erin", "Temp-Passw0rd!")
    assert expect_redirect(r, f"/{site.pool}/newPassword")["txn"]

    page = rp.follow(r)
    assert page.status_code == 200 and "Please enter a new password for erin." in page.text
    mismatch = rp.post_form(page, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400 and "The passwords do not match." in mismatch.text
    weak = rp.post_form(page, {"password": "short", "password_confirm": "short"})
    assert weak.status_code == 400 and "Location" not in weak.headers

    code = expect_callback(rp.post_form(page, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}), params)
    claims = tokens_for(rp, code, verifier, params)
    assert claims["sub"] == created["Sub"] and claims["cognito:username"] == "erin"

    # the temporary password is gone; the new one signs in without the extra step
    rp2 = site.rp()
    params2, verifier2, login2 = start(rp2)
    old = post_login(rp2, login2, "erin", "Temp-Passw0rd!")
    assert old.status_code == 400 and "Incorrect username or password." in old.text
    code2 = expect_callback(post_login(rp2, login2, "erin", NEW_PASSWORD), params2)
    assert tokens_for(rp2, code2, verifier2, params2)["sub"] == created["Sub"]


def test_unconfirmed_user_signing_in_is_sent_to_confirmation_with_a_new_code(site: Site) -> None:
    signup_rp = site.rp()
    _p, _v, login_page = start(signup_rp)
    sign_up(site, signup_rp, login_page, "frank", "frank@example.com")
    first_code = code_in(site.mail.wait_for("frank@example.com"))  # never used

    rp = site.rp()
    params, verifier, login_page = start(rp)
    wrong = post_login(rp, login_page, "frank", "Wr0ng-Password!")
    assert wrong.status_code == 400 and "Incorrect username or password." in wrong.text
    assert site.mail.pending("frank@example.com") == []  # a wrong password reveals nothing and sends nothing

    r = post_login(rp, login_page, "frank", PASSWORD)
    query = expect_redirect(r, f"/{site.pool}/confirmUser")
    assert query["username"] == "frank" and query["txn"]
    mail = site.mail.wait_for_mail("frank@example.com")
    assert mail.subject == "Your verification code"
    code = code_in(mail.text)
    assert mail.text.strip() == f"Your confirmation code is {code}."

    page = rp.follow(r)
    assert page.status_code == 200 and 'value="frank"' in page.text
    if first_code != code:  # the new code replaced the first one
        stale = rp.post_form(page, {"code": first_code})
        assert stale.status_code == 400 and "Invalid verification code" in stale.text
    # the password was proven in this login transaction: confirming finishes the sign-in
    code_back = expect_callback(rp.post_form(page, {"code": code}), params)
    claims = tokens_for(rp, code_back, verifier, params)
    assert claims["cognito:username"] == "frank" and claims["email_verified"] is True
