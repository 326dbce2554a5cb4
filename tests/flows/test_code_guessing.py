"""Attacks on emailed codes over real HTTP, as a stranger who knows only a username would
make them: cycling "new code + guesses" at password-reset and sign-up codes, from one
address and from many; flooding a user's inbox. Clients at several addresses come through
one trusted proxy (``X-Forwarded-For``); mail is read from a real SMTP server."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import pytest
import requests

from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty, form_fields, pkce
from tests.smtp import MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "N3w-Batt3ry-Staple!"
LIMITED = "Attempt limit exceeded, please try after some time."
WRONG_RESET = "Invalid code provided, please request a code again."
WRONG_SIGN_UP = "Invalid verification code provided, please try again."


@dataclass
class Site:
    broker: Broker
    mail: MailServer

    def pool(self) -> tuple[str, str]:
        """A fresh pool (its own rate buckets) with a client; (pool id, client id)."""
        pool = self.broker.pool()
        client = self.broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
        return pool, client["ClientId"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("guessing")
    with broker_with_mail(tmp, redis_url, BROKER_TRUSTED_PROXIES="1") as (broker, mail):
        yield Site(broker, mail)


class Visitor:
    """A browser at network address ``ip`` (as the trusted proxy reports it)."""

    def __init__(self, site: Site, pool: str, client_id: str, ip: str) -> None:
        self.site, self.pool, self.client_id = site, pool, client_id
        self.browser = requests.Session()
        self.browser.headers["X-Forwarded-For"] = ip

    def url(self, path: str) -> str:
        return self.site.broker.url(self.pool, path)

    def page(self, path: str, **params: str) -> requests.Response:
        """A hosted page opened straight from the app's authorize parameters."""
        params = {"client_id": self.client_id, "redirect_uri": CALLBACK, "response_type": "code",
                  "code_challenge": pkce()[1], "code_challenge_method": "S256", **params}
        r = self.browser.get(self.url(path), params=params, allow_redirects=False, timeout=10)
        assert r.status_code == 200, r.text
        return r

    def post(self, page: requests.Response, path: str, **data: str) -> requests.Response:
        return self.browser.post(urljoin(page.url, self.url(path)), data={**form_fields(page.text), **data},
                                 allow_redirects=False, timeout=10)

    def forgot(self, username: str) -> requests.Response:
        return self.post(self.page("/forgotPassword"), "/forgotPassword", username=username)

    def reset(self, username: str, code: str) -> requests.Response:
        return self.post(self.page("/confirmForgotPassword"), "/confirmForgotPassword", username=username,
                         code=code, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)

    def resend(self, username: str) -> requests.Response:
        return self.post(self.page("/confirmUser"), "/resendCode", username=username)

    def confirm(self, username: str, code: str) -> requests.Response:
        return self.post(self.page("/confirmUser"), "/confirmUser", username=username, code=code)

    def sign_in(self, username: str, password: str) -> requests.Response:
        rp = RelyingParty(self.site.broker.base_url, self.pool, self.client_id)
        rp.browser = self.browser
        r = rp.authorize(code_challenge=pkce()[1], code_challenge_method="S256")
        return rp.post_form(rp.follow(r), {"username": username, "password": password})


def error_of(page: requests.Response) -> str:
    match = re.search(r'class="errorMessage-customizable"[^>]*>(.*?)</div>', page.text, re.S)
    assert match, f"no error on the page ({page.status_code}):\n{page.text[:2000]}"
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def guesses(visitor: Visitor, guess: callable, count: int) -> list[str]:
    """``count`` wrong guesses; the error each got."""
    return [error_of(guess()) for _ in range(count)]


def test_new_reset_codes_bring_no_new_guesses(site: Site) -> None:
    pool, client_id = site.pool()
    site.broker.cli("user", "create", "--pool", pool, "--username", "alice", "--email", "alice@example.com",
                    "--password", PASSWORD, "--confirmed")
    # The owner's own browser: a device alice has completed a sign-in from.
    owner = Visitor(site, pool, client_id, "198.51.100.7")
    assert owner.sign_in("alice", PASSWORD).headers["Location"].startswith(CALLBACK)

    # One address: five guesses, then nothing, whatever new code it asks for.
    mallory = Visitor(site, pool, client_id, "203.0.113.1")
    assert mallory.forgot("alice").status_code == 302
    code = code_in(site.mail.wait_for("alice@example.com"))
    assert guesses(mallory, lambda: mallory.reset("alice", wrong(code)), 5) == [WRONG_RESET] * 5
    assert mallory.forgot("alice").status_code == 302  # a new code ...
    code = code_in(site.mail.wait_for("alice@example.com"))
    refused = mallory.reset("alice", code)  # ... and even the right one is not checked
    assert refused.status_code == 429 and error_of(refused) == LIMITED

    # Many addresses: ten guesses at alice's codes in all, however many addresses try.
    tried = []
    for n in range(2, 5):
        bot = Visitor(site, pool, client_id, f"203.0.113.{n}")
        tried += [bot.reset("alice", wrong(code)) for _ in range(3)]
    assert [r.status_code for r in tried] == [400] * 5 + [429] * 4
    assert all(error_of(r) == LIMITED for r in tried[5:])

    # Strangers spend alice's codes too, but her own browser asks on a quota of its own and
    # still resets her password with the code mailed to her.
    stranger = Visitor(site, pool, client_id, "203.0.113.9")
    assert [stranger.forgot("alice").status_code for _ in range(2)] == [302, 429]
    site.mail.wait_for("alice@example.com")
    assert owner.forgot("alice").status_code == 302
    code = code_in(site.mail.wait_for("alice@example.com"))
    assert Visitor(site, pool, client_id, "198.51.100.8").reset("alice", code).status_code == 429  # not her device
    done = owner.reset("alice", code)
    assert done.status_code == 302 and "/login" in done.headers["Location"], done.text
    assert owner.sign_in("alice", NEW_PASSWORD).headers["Location"].startswith(CALLBACK)


def test_unknown_usernames_meet_the_same_limits(site: Site) -> None:
    pool, client_id = site.pool()
    site.broker.cli("user", "create", "--pool", pool, "--username", "bruno", "--email", "bruno@example.com",
                    "--password", PASSWORD, "--confirmed")
    answers = {}
    for name in ("bruno", "nobody"):
        visitor = Visitor(site, pool, client_id, "203.0.113.20" if name == "bruno" else "203.0.113.21")
        answers[name] = [visitor.forgot(name).status_code for _ in range(4)]
        answers[name] += [visitor.reset(name, "000000").status_code for _ in range(6)]
    assert answers["bruno"] == answers["nobody"] == [302, 302, 302, 429] + [400] * 5 + [429]


def test_sign_up_codes_cannot_be_guessed_by_asking_for_new_ones(site: Site) -> None:
    pool, client_id = site.pool()
    owner = Visitor(site, pool, client_id, "198.51.100.30")
    signed_up = owner.post(owner.page("/signup"), "/signup", username="carol", email="carol@example.com",
                           password=PASSWORD)
    assert signed_up.status_code == 302, signed_up.text
    code_in(site.mail.wait_for("carol@example.com"))

    mallory = Visitor(site, pool, client_id, "203.0.113.30")
    assert mallory.resend("carol").status_code == 200
    code = code_in(site.mail.wait_for("carol@example.com"))
    assert guesses(mallory, lambda: mallory.confirm("carol", wrong(code)), 5) == [WRONG_SIGN_UP] * 5
    assert mallory.resend("carol").status_code == 200
    code = code_in(site.mail.wait_for("carol@example.com"))
    refused = mallory.confirm("carol", code)
    assert refused.status_code == 429 and error_of(refused) == LIMITED
    users = site.broker.cli_json("user", "list", "--pool", pool)["Users"]
    assert [u["UserStatus"] for u in users if u["Username"] == "carol"] == ["UNCONFIRMED"]

    # The stranger's guesses from one address left carol's own: she confirms with her code.
    assert owner.confirm("carol", code).status_code == 302
    users = site.broker.cli_json("user", "list", "--pool", pool)["Users"]
    assert [u["UserStatus"] for u in users if u["Username"] == "carol"] == ["CONFIRMED"]


def test_requests_for_codes_and_taken_names_do_not_flood_the_inbox(site: Site) -> None:
    pool, client_id = site.pool()
    site.broker.cli("user", "create", "--pool", pool, "--username", "dora", "--email", "dora@example.com",
                    "--password", PASSWORD, "--confirmed")
    flood = Visitor(site, pool, client_id, "203.0.113.40")
    answers = [flood.forgot("dora") for _ in range(25)]
    assert [r.status_code for r in answers] == [302] * 3 + [429] * 22
    assert error_of(answers[-1]) == LIMITED

    for n in range(10):
        sign_up = Visitor(site, pool, client_id, f"203.0.113.{50 + n}")
        r = sign_up.post(sign_up.page("/signup"), "/signup", username="dora", email="mallory@example.com",
                         password=PASSWORD)
        assert r.status_code == 302 and "/confirmUser" in r.headers["Location"]  # looks like any sign-up

    for _ in range(4):  # what was queued arrives: three codes and one notice
        site.mail.wait_for("dora@example.com")
    with pytest.raises(AssertionError, match="no mail"):
        site.mail.wait_for("dora@example.com", timeout=3)
    assert site.mail.pending("mallory@example.com") == []


def test_one_address_cannot_ask_codes_for_everyone(site: Site) -> None:
    pool, client_id = site.pool()
    spray = Visitor(site, pool, client_id, "203.0.113.70")
    answers = [spray.forgot(f"user{n}").status_code for n in range(21)]
    assert answers == [302] * 20 + [429]
    assert Visitor(site, pool, client_id, "203.0.113.71").forgot("user0").status_code == 302
