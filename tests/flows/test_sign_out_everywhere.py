"""Signing a user out everywhere: a global sign-out, a disable (enabling again brings
nothing back), an admin-forced reset and a forgotten-password reset each revoke the user's
tokens and end the user's hosted sign-in sessions in every browser, so the next
/oauth2/authorize asks for the password again; a code not yet exchanged and a sign-in
already past its password die too. Other users, and sign-ins made afterwards, are
untouched. Real HTTP, Redis and SMTP."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.flows import test_accounts as accounts
from tests.flows.test_accounts import NEW_PASSWORD, PASSWORD, expect_redirect, link, post_login, start
from tests.flows.test_security import temporary_password
from tests.rp import CALLBACK, RelyingParty, query_of
from tests.smtp import broker_with_mail, code_in

EXPIRED = "Your sign-in session has expired."


@dataclass
class Site(accounts.Site):
    secret: str = ""

    def rp(self) -> RelyingParty:
        """A fresh browser (its own cookies) for the module's confidential app client."""
        return RelyingParty(self.broker.base_url, self.pool, self.client_id, self.secret)

    def user(self, username: str, invited: bool = False) -> None:
        """A confirmed user with PASSWORD, or one invited by mail (a temporary password)."""
        password = () if invited else ("--password", PASSWORD, "--confirmed")
        self.broker.cli("user", "create", "--pool", self.pool, "--username", username,
                        "--email", f"{username}@example.com", *password)

    def signed_in(self, username: str) -> tuple[RelyingParty, dict]:
        """A fresh browser signed in as ``username`` and the tokens its app got."""
        rp = self.rp()
        _params, code = rp.sign_in(username, PASSWORD)
        assert code
        tokens = rp.exchange(code).json()
        assert "refresh_token" in tokens, tokens
        return rp, tokens

    def sign_out(self, username: str) -> dict:
        return self.broker.cli_json("user", "sign-out", "--pool", self.pool, "--username", username)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    with broker_with_mail(tmp_path_factory.mktemp("sign-out"), redis_url) as (broker, mail):
        pool = broker.pool()
        broker.cli("pool", "update", "--pool", pool, "--adaptive", "MEDIUM=ALLOW", "--adaptive", "HIGH=ALLOW")
        client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                                 "--secret")
        yield Site(broker, mail, pool, client["ClientId"], client["ClientSecret"])


def session_signs_in(rp: RelyingParty) -> bool:
    """Whether the browser's hosted session still signs it in without asking (a code at once)."""
    r = rp.authorize()
    assert r.status_code == 302, r.text
    if r.headers["Location"].startswith(CALLBACK):
        return True
    assert "/login?" in r.headers["Location"], r.headers["Location"]
    return False


def tokens_work(rp: RelyingParty, tokens: dict) -> bool:
    refreshed = rp.refresh(tokens["refresh_token"])
    userinfo = rp.userinfo(tokens["access_token"])
    assert (refreshed.status_code == 200) == (userinfo.status_code == 200), (refreshed.text, userinfo.text)
    return refreshed.status_code == 200


def test_global_sign_out_ends_the_users_sessions_in_every_browser(site: Site) -> None:
    site.user("alice")
    site.user("bob")
    (laptop, laptop_tokens), (phone, phone_tokens) = site.signed_in("alice"), site.signed_in("alice")
    other, other_tokens = site.signed_in("bob")
    assert session_signs_in(laptop) and session_signs_in(phone)

    assert site.sign_out("alice")["RevokedSessions"] == 2
    for rp, tokens in ((laptop, laptop_tokens), (phone, phone_tokens)):
        assert not session_signs_in(rp)
        assert not tokens_work(rp, tokens)
    assert session_signs_in(other) and tokens_work(other, other_tokens)

    # signing in again afterwards is a new session, which counts
    again, again_tokens = site.signed_in("alice")
    assert session_signs_in(again) and tokens_work(again, again_tokens)


def test_enabling_a_disabled_user_again_brings_no_session_back(site: Site) -> None:
    site.user("carol")
    rp, tokens = site.signed_in("carol")
    site.broker.cli("user", "disable", "--pool", site.pool, "--username", "carol")
    site.broker.cli("user", "enable", "--pool", site.pool, "--username", "carol")
    assert not session_signs_in(rp)
    assert not tokens_work(rp, tokens)


def test_admin_reset_signs_the_user_out_everywhere(site: Site) -> None:
    site.user("dave")
    rp, tokens = site.signed_in("dave")
    out = site.broker.cli_json("user", "reset-password", "--pool", site.pool, "--username", "dave")
    assert out["UserStatus"] == "RESET_REQUIRED" and out["RevokedSessions"] == 1
    assert not session_signs_in(rp)
    assert not tokens_work(rp, tokens)


def test_a_forgotten_password_reset_signs_out_whoever_had_the_old_one(site: Site) -> None:
    site.user("erin")
    intruder, stolen = site.signed_in("erin")
    owner = site.rp()
    _params, _verifier, login_page = start(owner)
    page = owner.browser.get(link(login_page, "Forgot your password?"), allow_redirects=False, timeout=10)
    sent = owner.post_form(page, {"username": "erin"})
    expect_redirect(sent, "/confirmForgotPassword")
    form = owner.follow(sent)
    code = code_in(site.mail.wait_for("erin@example.com"))
    assert session_signs_in(intruder)  # the code alone changes nothing
    done = owner.post_form(form, {"code": code, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    expect_redirect(done, "/login")

    assert not session_signs_in(intruder)
    assert not tokens_work(intruder, stolen)
    reset = [e for e in site.broker.cli_json("events", "list", "--pool", site.pool, "--user", "erin")["Events"]
             if e["EventType"] == "ConfirmForgotPassword"]
    assert [(e["EventResponse"], e["Details"].get("families")) for e in reset] == [("Pass", 1)]


def test_a_code_not_yet_exchanged_dies_with_the_sign_out(site: Site) -> None:
    site.user("fay")
    rp = site.rp()
    _params, code = rp.sign_in("fay", PASSWORD)
    assert code
    site.sign_out("fay")
    refused = rp.exchange(code)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_sign_in_past_its_password_ends_with_the_sign_out(site: Site) -> None:
    """Invited, signed in with the temporary password, on the page for a new one when an
    admin signs the user out everywhere: the page's form no longer signs anyone in."""
    site.user("gus", invited=True)
    rp = site.rp()
    _params, _verifier, login_page = start(rp)
    r = post_login(rp, login_page, "gus", temporary_password(site.mail.wait_for("gus@example.com")))
    expect_redirect(r, "/newPassword")
    form = rp.follow(r)
    site.sign_out("gus")
    refused = rp.post_form(form, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert refused.status_code == 400 and EXPIRED in refused.text and "Location" not in refused.headers
    assert not session_signs_in(rp)
    users = site.broker.cli_json("user", "list", "--pool", site.pool)["Users"]
    assert [u["UserStatus"] for u in users if u["Username"] == "gus"] == ["FORCE_CHANGE_PASSWORD"]  # unchanged


def test_a_deleted_users_session_and_code_do_not_pass_to_the_next_user_with_its_id(site: Site) -> None:
    """SQLite gives a deleted user's id to the next user created: xavier's browser and
    unused code must not sign anyone in as yvonne."""
    site.user("xavier")
    rp, _tokens = site.signed_in("xavier")
    unused = query_of(rp.authorize().headers["Location"])["code"]  # the hosted session answers at once
    database = site.broker.env["DATABASE_URL"].removeprefix("sqlite:///")

    def user_id(name: str) -> int:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT id FROM users WHERE username = ?", (name,)).fetchone()[0]

    xavier = user_id("xavier")
    site.broker.cli("user", "delete", "--pool", site.pool, "--username", "xavier")
    site.user("yvonne")
    assert user_id("yvonne") == xavier
    assert not session_signs_in(rp)
    refused = rp.exchange(unused)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
