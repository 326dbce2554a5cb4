"""Signing a user out everywhere: a global sign-out, a disable (enabling again brings
nothing back), an admin-forced reset and a forgotten-password reset each revoke the user's
tokens and end the user's hosted sign-in sessions in every browser, so the next
/oauth2/authorize asks for the password again. Other users, and sign-ins made afterwards,
are untouched. Real HTTP, Redis and SMTP."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import Broker
from tests.flows.test_accounts import expect_redirect, link, start
from tests.rp import CALLBACK, RelyingParty
from tests.smtp import MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "N3w-Batt3ry-Staple!"


@dataclass
class Site:
    broker: Broker
    mail: MailServer
    pool: str
    client: dict

    def browser(self) -> RelyingParty:
        return RelyingParty(self.broker.base_url, self.pool, self.client["ClientId"], self.client["ClientSecret"])

    def user(self, username: str) -> None:
        self.broker.cli("user", "create", "--pool", self.pool, "--username", username, "--password", PASSWORD,
                        "--email", f"{username}@example.com", "--confirmed")

    def signed_in(self, username: str) -> tuple[RelyingParty, dict]:
        """A fresh browser signed in as ``username`` and the tokens its app got."""
        rp = self.browser()
        _params, code = rp.sign_in(username, PASSWORD)
        assert code
        tokens = rp.exchange(code).json()
        assert "refresh_token" in tokens, tokens
        return rp, tokens


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("sign-out")
    with broker_with_mail(tmp, redis_url) as (broker, mail):
        pool = broker.pool()
        broker.cli("pool", "update", "--pool", pool, "--adaptive", "MEDIUM=ALLOW", "--adaptive", "HIGH=ALLOW")
        client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                                 "--secret")
        yield Site(broker, mail, pool, client)


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

    out = site.broker.cli_json("user", "sign-out", "--pool", site.pool, "--username", "alice")
    assert out["RevokedSessions"] >= 2
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
    owner = site.browser()
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
