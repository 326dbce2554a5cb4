"""Account security over real HTTP, with mail read from a real SMTP server on loopback and
state in the real Redis: compromised passwords and password history, invitations and
expiring temporary passwords, lockout that looks like a wrong password, an admin-forced
reset, the audit log, and custom message templates (text and HTML parts)."""
from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import Broker
from tests.flows.test_accounts import expect_callback, expect_redirect, link, post_login, start, tokens_for
from tests.rp import CALLBACK, RelyingParty
from tests.smtp import MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "N3w-Batt3ry-Staple!"
#: In zxcvbn's list of common passwords (as "p@ssw0rd") and within the default policy.
COMPROMISED = "P@ssw0rd"
GENERIC = "Incorrect username or password."
#: Sign-ins here fail on purpose: keep adaptive authentication from stepping in.
ALLOW_ALL = ("--adaptive", "LOW=ALLOW", "--adaptive", "MEDIUM=ALLOW", "--adaptive", "HIGH=ALLOW")


@dataclass
class Secure:
    broker: Broker
    mail: MailServer
    db: Path
    shared: tuple[str, str] | None = None

    def pool(self, *settings: str, fresh: bool = False) -> tuple[str, str]:
        """A pool with an app client; returns (pool, client id). Without settings, one pool
        with the defaults serves the tests that change nothing in it (each CLI call costs a
        second); with settings, a fresh one (also fresh failure counters)."""
        fresh = fresh or bool(settings)
        if not fresh and self.shared is not None:
            return self.shared
        pool = self.broker.pool()
        if settings:
            self.broker.cli("pool", "update", "--pool", pool, *settings)
        client = self.broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
        if not fresh:
            self.shared = pool, client["ClientId"]
        return pool, client["ClientId"]

    def rp(self, pool: str, client_id: str) -> RelyingParty:
        return RelyingParty(self.broker.base_url, pool, client_id)

    def user(self, pool: str, username: str, *extra: str) -> dict:
        return self.broker.cli_json("user", "create", "--pool", pool, "--username", username,
                                    "--email", f"{username}@example.com", *extra)

    def events(self, pool: str, *args: str) -> list[dict]:
        return self.broker.cli_json("events", "list", "--pool", pool, *args)["Events"]


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Secure]:
    tmp = tmp_path_factory.mktemp("security")
    with broker_with_mail(tmp, redis_url) as (broker, mail):
        yield Secure(broker, mail, tmp / "broker.db")


def error_of(page: requests.Response) -> str:
    """The text of the page's error box."""
    match = re.search(r'class="errorMessage-customizable"[^>]*>(.*?)</div>', page.text, re.S)
    assert match, f"no error on the page:\n{page.text}"
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()


def reset_page(secure: Secure, rp: RelyingParty, username: str) -> tuple[requests.Response, str]:
    """Forgot password for ``username`` → the reset form and the emailed code."""
    _params, _verifier, login_page = start(rp)
    page = rp.browser.get(link(login_page, "Forgot your password?"), allow_redirects=False, timeout=10)
    r = rp.post_form(page, {"username": username})
    expect_redirect(r, "/confirmForgotPassword")
    return rp.follow(r), code_in(secure.mail.wait_for(f"{username}@example.com"))


def temporary_password(text: str) -> str:
    match = re.search(r"temporary password is (\S+)\. It works", text)
    assert match, text
    return match.group(1)


def test_compromised_password_refused_at_sign_up_and_reset(secure: Secure) -> None:
    pool, client_id = secure.pool()
    rp = secure.rp(pool, client_id)
    _params, _verifier, login_page = start(rp)
    page = rp.browser.get(link(login_page, "Sign up"), allow_redirects=False, timeout=10)
    r = rp.post_form(page, {"username": "mallory", "email": "mallory@example.com", "password": COMPROMISED})
    assert r.status_code == 400 and "Location" not in r.headers
    assert error_of(r) == "Password must not be a commonly used or compromised password."
    assert "mallory" not in [u["Username"] for u in secure.broker.cli_json("user", "list", "--pool", pool)["Users"]]

    secure.user(pool, "nina", "--password", PASSWORD, "--confirmed")
    form, code = reset_page(secure, rp, "nina")
    refused = rp.post_form(form, {"code": code, "password": COMPROMISED.lower().capitalize(),
                                  "password_confirm": COMPROMISED.lower().capitalize()})
    assert refused.status_code == 400, refused.text
    assert "Password must not be a commonly used or compromised password." in error_of(refused)
    done = rp.post_form(form, {"code": code, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    expect_redirect(done, "/login")


def test_password_history_refuses_reuse_at_reset(secure: Secure) -> None:
    pool, client_id = secure.pool("--password-history", "2")
    secure.user(pool, "oscar", "--password", PASSWORD, "--confirmed")
    rp = secure.rp(pool, client_id)
    form, code = reset_page(secure, rp, "oscar")
    reuse = rp.post_form(form, {"code": code, "password": PASSWORD, "password_confirm": PASSWORD})
    assert reuse.status_code == 400
    assert error_of(reuse) == "Password must not be one of your last 2 passwords."
    # the refusal did not use the code up
    done = rp.post_form(form, {"code": code, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    expect_redirect(done, "/login")

    params, verifier, login_page = start(rp)
    code_back = expect_callback(post_login(rp, login_page, "oscar", NEW_PASSWORD), params)
    assert tokens_for(rp, code_back, verifier, params)["cognito:username"] == "oscar"


def test_invitation_gives_a_temporary_password_that_must_be_changed(secure: Secure) -> None:
    pool, client_id = secure.pool()
    created = secure.user(pool, "pia")
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert created["InvitationSentTo"] == "pia@example.com" and "TemporaryPassword" not in created
    mail = secure.mail.wait_for_mail("pia@example.com")
    assert mail.subject == "Your temporary password" and "Your username is pia " in mail.text
    temporary = temporary_password(mail.text)

    rp = secure.rp(pool, client_id)
    params, verifier, login_page = start(rp)
    r = post_login(rp, login_page, "pia", temporary)
    expect_redirect(r, "/newPassword")
    page = rp.follow(r)
    reused = rp.post_form(page, {"password": COMPROMISED, "password_confirm": COMPROMISED})
    assert reused.status_code == 400
    assert error_of(reused) == "Password must not be a commonly used or compromised password."
    code_back = expect_callback(rp.post_form(page, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}),
                                params)
    claims = tokens_for(rp, code_back, verifier, params)
    assert claims["sub"] == created["Sub"] and claims["cognito:username"] == "pia"
    kinds = [(e["EventType"], e["EventResponse"]) for e in secure.events(pool, "--user", "pia")]
    assert kinds[:4] == [("TokenIssued", "Pass"), ("PasswordChange", "Pass"), ("SignIn", "Pass"),
                         ("RiskDecision", "Pass")]  # the risk is weighed before the password is answered
    assert ("AdminCreateUser", "Pass") in kinds


def test_expired_temporary_password_fails_until_a_new_invitation(secure: Secure) -> None:
    pool, client_id = secure.pool("--temp-password-days", "1", *ALLOW_ALL)
    secure.user(pool, "quinn")
    expired = temporary_password(secure.mail.wait_for("quinn@example.com"))
    with sqlite3.connect(secure.db) as db:  # a day and a bit later
        db.execute("UPDATE users SET temp_password_expires_at = '2000-01-01 00:00:00.000000' "
                   "WHERE pool_id = ? AND username = 'quinn'", (pool,))
    rp = secure.rp(pool, client_id)
    _params, _verifier, login_page = start(rp)
    refused = post_login(rp, login_page, "quinn", expired)
    assert refused.status_code == 400 and error_of(refused) == GENERIC
    assert secure.events(pool, "--user", "quinn", "--limit", "1")[0]["Details"]["reason"] == \
        "temporary_password_expired"

    again = secure.broker.cli_json("user", "resend-invitation", "--pool", pool, "--username", "quinn")
    assert again["InvitationSentTo"] == "quinn@example.com" and again["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    fresh = temporary_password(secure.mail.wait_for("quinn@example.com"))
    assert fresh != expired
    expect_redirect(post_login(rp, refused, "quinn", fresh), "/newPassword")


def test_lockout_answers_like_an_unknown_user_until_unlocked(secure: Secure) -> None:
    pool, client_id = secure.pool("--lockout-threshold", "3", *ALLOW_ALL)
    secure.user(pool, "rita", "--password", PASSWORD, "--confirmed")
    rp = secure.rp(pool, client_id)
    params, verifier, page = start(rp)

    def attempts(username: str, password: str) -> requests.Response:
        """Three wrong passwords, then ``password`` once the growing delay allows it."""
        nonlocal page
        for _ in range(3):
            page = post_login(rp, page, username, "Wr0ng-Password!")
            assert page.status_code == 400 and error_of(page) == GENERIC
        time.sleep(1.1)  # three free failures, then one second before the next try
        page = post_login(rp, page, username, password)
        return page

    locked = attempts("rita", PASSWORD)
    unknown = attempts("nobody-here", PASSWORD)
    assert (locked.status_code, error_of(locked)) == (unknown.status_code, error_of(unknown)) == (400, GENERIC)
    events = secure.events(pool, "--user", "rita")
    assert events[0]["Details"]["reason"] == "locked" and events[0]["IpAddress"] == "127.0.0.1"
    assert [e["EventType"] for e in events].count("Lockout") == 1

    assert secure.broker.cli_json("user", "unlock", "--pool", pool, "--username", "rita")["Unlocked"] is True
    code_back = expect_callback(post_login(rp, page, "rita", PASSWORD), params)
    assert tokens_for(rp, code_back, verifier, params)["cognito:username"] == "rita"


def test_admin_reset_sends_a_code_and_the_next_sign_in_asks_for_it(secure: Secure) -> None:
    pool, client_id = secure.pool()
    secure.user(pool, "sam", "--password", PASSWORD, "--confirmed")
    out = secure.broker.cli_json("user", "reset-password", "--pool", pool, "--username", "sam")
    assert out == {"Username": "sam", "UserStatus": "RESET_REQUIRED", "CodeSentTo": "sam@example.com",
                   "RevokedSessions": 0}
    mail = secure.mail.wait_for_mail("sam@example.com")
    assert mail.subject == "Your password reset code"
    code_in(mail.text)

    rp = secure.rp(pool, client_id)
    params, verifier, login_page = start(rp)
    r = post_login(rp, login_page, "sam", PASSWORD)
    assert expect_redirect(r, "/confirmForgotPassword")["username"] == "sam"
    code = code_in(secure.mail.wait_for("sam@example.com"))  # the sign-in sent a fresh one
    done = rp.post_form(rp.follow(r), {"code": code, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    expect_redirect(done, "/login")
    login_again = rp.follow(done)
    code_back = expect_callback(post_login(rp, login_again, "sam", NEW_PASSWORD), params)
    assert tokens_for(rp, code_back, verifier, params)["cognito:username"] == "sam"


def test_events_list_shows_sign_in_failures_and_successes_newest_first(secure: Secure) -> None:
    pool, client_id = secure.pool()
    secure.user(pool, "tess", "--password", PASSWORD, "--confirmed")
    rp = secure.rp(pool, client_id)
    params, _verifier, page = start(rp)
    wrong = post_login(rp, page, "tess", "Wr0ng-Password!")
    expect_callback(post_login(rp, wrong, "tess", PASSWORD), params)

    events = [e for e in secure.events(pool, "--user", "tess") if e["EventType"] == "SignIn"]
    assert [e["EventResponse"] for e in events] == ["Pass", "Fail"]
    assert events[1]["Details"]["reason"] == "wrong_password"
    assert len(events[1]["Details"]["device"]) == 16  # the browser's tag, which risk scoring compares
    assert all(e["Username"] == "tess" and e["IpAddress"] == "127.0.0.1" for e in events)
    assert events[0]["CreationDate"] >= events[1]["CreationDate"]
    everyone = secure.events(pool, "--limit", "2")
    assert len(everyone) == 2 and everyone[0]["EventId"] == events[0]["EventId"]
    assert everyone[1]["EventType"] == "RiskDecision" and everyone[1]["RiskLevel"] in {"LOW", "MEDIUM", "HIGH"}


def test_custom_verification_template_is_sent_as_text_and_html(secure: Secure, tmp_path: Path) -> None:
    pool, client_id = secure.pool(fresh=True)
    (tmp_path / "t.txt").write_text("Hello {username}! Your code: {####}. Kept as is: {0} %(code)s {password_}\n")
    (tmp_path / "h.html").write_text("<p>Hello <b>{username}</b>, your code is <code>{####}</code>.</p>\n")
    secure.broker.cli("pool", "set-message", "--pool", pool, "--kind", "verification", "--subject",
                      "Welcome, {username}", "--text-file", str(tmp_path / "t.txt"),
                      "--html-file", str(tmp_path / "h.html"))
    rp = secure.rp(pool, client_id)
    _params, _verifier, login_page = start(rp)
    page = rp.browser.get(link(login_page, "Sign up"), allow_redirects=False, timeout=10)
    r = rp.post_form(page, {"username": "Uma", "email": "uma@example.com", "password": PASSWORD})
    expect_redirect(r, "/confirmUser")

    mail = secure.mail.wait_for_mail("uma@example.com")
    code = code_in(mail.text)
    assert mail.subject == "Welcome, uma"
    assert mail.text.strip() == f"Hello uma! Your code: {code}. Kept as is: {{0}} %(code)s {{password_}}"
    assert mail.html is not None
    assert mail.html.strip() == f"<p>Hello <b>uma</b>, your code is <code>{code}</code>.</p>"
