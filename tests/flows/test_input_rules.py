"""What a user may type, over real HTTP with a real SMTP server on loopback: passwords built
from common ones by the usual rules, email fields holding several addresses, usernames that
look like another user's, and ``custom:*`` attributes an app client may not write or read."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest
import requests

from tests.flows import test_accounts as accounts
from tests.flows.test_accounts import expect_callback, expect_redirect, link, start, tokens_for
from tests.flows.test_security import ALLOW_ALL, GENERIC, error_of
from tests.rp import CALLBACK, RelyingParty
from tests.smtp import broker_with_mail, code_in

STRONG = "Lantern-Orbit-Quietly-47"
COMPROMISED = "Password must not be a commonly used or compromised password."
BAD_EMAIL = "Enter a valid email address."
LOOK_ALIKE = "The username must not use letters that can be mistaken for others."


class Site(accounts.Site):
    """The accounts site, with clients and pools of the test's choosing."""

    def rp(self, client_id: str | None = None, pool: str | None = None) -> RelyingParty:  # type: ignore[override]
        return RelyingParty(self.broker.base_url, pool or self.pool, client_id or self.client_id)

    def usernames(self, pool: str | None = None) -> list[str]:
        return [u["Username"] for u in self.broker.cli_json("user", "list", "--pool", pool or self.pool)["Users"]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    with broker_with_mail(tmp_path_factory.mktemp("input"), redis_url) as (broker, mail):
        pool = broker.pool()
        client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
        yield Site(broker, mail, pool, client["ClientId"])


def signup_page(rp: RelyingParty) -> requests.Response:
    _params, _verifier, login_page = start(rp)
    page = rp.browser.get(link(login_page, "Sign up"), allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    return page


def test_common_passwords_dressed_up_to_meet_the_policy_are_refused_at_sign_up(site: Site) -> None:
    """Each meets the default policy (length, upper, lower, digit, symbol) and is among an
    attacker's first guesses: a listed word, capitalised, leetspeak, a number, a year, a symbol."""
    rp = site.rp()
    page = signup_page(rp)
    for n, password in enumerate(["Password1!", "Welcome1!", "Summer2024!", "Admin@123", "P4ssw0rd!",
                                  "Michael1!", "!Qwerty123", "Dragon2025$", "Iloveyou1!", "Football#1"]):
        r = rp.post_form(page, {"username": f"weak{n}", "email": f"weak{n}@example.com", "password": password})
        assert r.status_code == 400 and "Location" not in r.headers, password
        assert error_of(r) == COMPROMISED, password
    assert not [u for u in site.usernames() if u.startswith("weak")]
    r = rp.post_form(page, {"username": "strong", "email": "strong@example.com", "password": STRONG})
    expect_redirect(r, f"/{site.pool}/confirmUser")
    assert code_in(site.mail.wait_for("strong@example.com"))


@pytest.mark.parametrize("email", [
    "x,attacker@evil.example",  # a mailer reads two recipients: "x" and the attacker
    "x;attacker@evil.example",
    "x<attacker@evil.example>",
    "victim@example.com,attacker@evil.example",
    "victim@example.com attacker@evil.example",
    '"a"@b',
    "a@b.c>, <c@d.example",
    "Victim <victim@example.com>",
    "victim@[127.0.0.1]",
    "victim@localhost",
])
def test_an_email_field_holding_more_than_one_address_is_refused(site: Site, email: str) -> None:
    name = "listed" + hashlib.sha256(email.encode()).hexdigest()[:8]
    rp = site.rp()
    page = signup_page(rp)
    received = len(site.mail.messages)
    r = rp.post_form(page, {"username": name, "email": email, "password": STRONG})
    assert r.status_code == 400 and "Location" not in r.headers
    assert error_of(r) == BAD_EMAIL
    assert name not in site.usernames()
    created = site.broker.cli("user", "create", "--pool", site.pool, "--username", name,
                              "--email", email, "--confirmed", check=False)
    assert created.returncode == 2 and BAD_EMAIL in created.stderr
    assert name not in site.usernames()
    assert len(site.mail.messages) == received  # nobody got anything


def test_an_admin_update_cannot_put_two_addresses_in_the_email(site: Site) -> None:
    site.broker.cli("user", "create", "--pool", site.pool, "--username", "vera", "--email", "vera@example.com",
                    "--password", STRONG, "--confirmed")
    received = len(site.mail.messages)
    r = site.broker.cli("user", "update", "--pool", site.pool, "--username", "vera",
                        "--attribute", "email=vera@example.com,attacker@evil.example", check=False)
    assert r.returncode == 2 and BAD_EMAIL in r.stderr
    [vera] = [u for u in site.broker.cli_json("user", "list", "--pool", site.pool)["Users"] if u["Username"] == "vera"]
    assert {a["Name"]: a["Value"] for a in vera["Attributes"]}["email"] == "vera@example.com"
    assert len(site.mail.messages) == received


def test_look_alike_usernames_are_refused_and_full_width_is_the_same_user(site: Site) -> None:
    """``аlice`` (Cyrillic а), ``асе`` (all Cyrillic, reads "ace") and ``alıce`` (dotless ı)
    are refused; full-width ``ａｌｉｃｅ`` is ``alice`` itself: taken at sign-up, and the way in
    at sign-in."""
    site.broker.cli("user", "create", "--pool", site.pool, "--username", "alice", "--email", "alice@example.com",
                    "--password", STRONG, "--confirmed")
    rp = site.rp()
    page = signup_page(rp)
    for name in ["\u0430lice", "\u0430\u0441\u0435", "al\u0131ce"]:
        r = rp.post_form(page, {"username": name, "email": "mallory@example.com", "password": STRONG})
        assert r.status_code == 400 and error_of(r) == LOOK_ALIKE, name
        created = site.broker.cli("user", "create", "--pool", site.pool, "--username", name, check=False)
        assert created.returncode == 2 and LOOK_ALIKE in created.stderr, name
    r = rp.post_form(page, {"username": "\uff41\uff4c\uff49\uff43\uff45", "email": "mallory@example.com",
                            "password": STRONG})
    expect_redirect(r, f"/{site.pool}/confirmUser")  # a taken name looks like success...
    assert site.mail.wait_for_mail("alice@example.com").subject == "Sign-up attempt"  # ...and alice is told
    assert site.mail.pending("mallory@example.com") == []
    assert [u for u in site.usernames() if "lice" in u or "\uff4c" in u] == ["alice"]
    assert site.broker.cli("user", "create", "--pool", site.pool, "--username", "\uff21LICE",
                           check=False).returncode == 2  # "already exists"

    signer = site.rp()
    params, verifier, login_page = start(signer)
    code = expect_callback(signer.post_form(login_page, {"username": "\uff21\uff2c\uff29\uff23\uff25",
                                                          "password": STRONG}), params)
    assert tokens_for(signer, code, verifier, params)["cognito:username"] == "alice"
    # names in other scripts, and mixes UTS #39 allows, still work
    for name in ["\u0430\u043b\u0438\u0441\u0430", "\u7530\u4e2d\u3055\u3093", "jos\u00e9"]:
        site.broker.cli("user", "create", "--pool", site.pool, "--username", name, "--password", STRONG)


def test_full_width_variants_of_a_name_share_its_failure_count(site: Site) -> None:
    """``ｌena``, ``lｅna`` and ``leｎa`` are all lena: three wrong passwords under three
    spellings lock her at a threshold of three, not one try per spelling (32 spellings of a
    five-letter name would multiply the guesses before a lockout by 32)."""
    pool = site.broker.pool()
    site.broker.cli("pool", "update", "--pool", pool, "--lockout-threshold", "3", *ALLOW_ALL)
    client = site.broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
    site.broker.cli("user", "create", "--pool", pool, "--username", "lena", "--password", STRONG, "--confirmed")
    rp = site.rp(client["ClientId"], pool)
    _params, _verifier, page = start(rp)
    for spelling in ["\uff4cena", "l\uff45na", "le\uff4ea"]:
        page = rp.post_form(page, {"username": spelling, "password": "Wr0ng-Lantern-Orbit!"})
        assert page.status_code == 400 and error_of(page) == GENERIC
    time.sleep(1.1)  # three free failures, then one second before the next try
    locked = rp.post_form(page, {"username": "lena", "password": STRONG})
    assert locked.status_code == 400 and error_of(locked) == GENERIC


@pytest.fixture(scope="module")
def tiered(site: Site) -> dict[str, str]:
    """A pool whose sign-up asks for ``custom:tier``, with three app clients: one with the
    defaults, one that may not read it, one through which users may not write it."""
    pool = site.broker.pool("--required-attribute", "email", "--required-attribute", "custom:tier")

    def client(name: str, *options: str) -> str:
        return site.broker.cli_json("client", "create", "--pool", pool, "--name", name,
                                    "--callback-url", CALLBACK, *options)["ClientId"]

    return {"pool": pool, "default": client("default"),
            "reader": client("reader", "--read-attribute", "email", "--read-attribute", "email_verified"),
            "writer": client("writer", "--write-attribute", "email")}


def test_a_client_without_write_permission_cannot_set_a_custom_attribute_at_sign_up(site: Site, tiered) -> None:
    rp = site.rp(tiered["writer"], tiered["pool"])
    page = signup_page(rp)
    assert 'name="custom:tier"' in page.text
    r = rp.post_form(page, {"username": "greedy", "email": "greedy@example.com", "password": STRONG,
                            "custom:tier": "platinum"})
    assert r.status_code == 400 and error_of(r) == "Tier cannot be set through this application."
    assert site.usernames(tiered["pool"]) == [] and site.mail.pending("greedy@example.com") == []
    described = site.broker.cli_json("client", "describe", "--pool", tiered["pool"], "--client", tiered["writer"])
    assert described["UserPoolClient"]["WriteAttributes"] == ["email"]
    assert "ReadAttributes" not in described["UserPoolClient"]  # as Cognito: shown only when set
    refused = site.broker.cli("client", "update", "--pool", tiered["pool"], "--client", tiered["writer"],
                              "--write-attribute", "email_verified", check=False)
    assert refused.returncode == 2 and "email_verified" in refused.stderr


def test_a_custom_attribute_reaches_only_the_clients_that_may_read_it(site: Site, tiered) -> None:
    rp = site.rp(tiered["default"], tiered["pool"])
    params, verifier, login_page = start(rp)
    page = rp.browser.get(link(login_page, "Sign up"), allow_redirects=False, timeout=10)
    r = rp.post_form(page, {"username": "tina", "email": "tina@example.com", "password": STRONG,
                            "custom:tier": "gold"})
    expect_redirect(r, f"/{tiered['pool']}/confirmUser")
    confirm = rp.follow(r)
    code = code_in(site.mail.wait_for("tina@example.com"))
    got = expect_callback(rp.post_form(confirm, {"username": "tina", "code": code}), params)
    answer = rp.exchange(got, verifier).json()
    assert rp.verify(answer["id_token"], audience=rp.client_id)["custom:tier"] == "gold"
    assert rp.userinfo(answer["access_token"]).json()["custom:tier"] == "gold"

    reader = site.rp(tiered["reader"], tiered["pool"])
    params, verifier, login_page = start(reader)
    got = expect_callback(reader.post_form(login_page, {"username": "tina", "password": STRONG}), params)
    answer = reader.exchange(got, verifier).json()
    claims = reader.verify(answer["id_token"], audience=reader.client_id)
    assert "custom:tier" not in claims and claims["email"] == "tina@example.com" and claims["email_verified"] is True
    info = reader.userinfo(answer["access_token"]).json()
    assert "custom:tier" not in info and info["email"] == "tina@example.com"
    described = site.broker.cli_json("client", "describe", "--pool", tiered["pool"], "--client", tiered["reader"])
    assert described["UserPoolClient"]["ReadAttributes"] == ["email", "email_verified"]
