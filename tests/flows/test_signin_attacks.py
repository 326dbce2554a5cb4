"""Attacks on password sign-in over real HTTP, against gunicorn with two workers on
PostgreSQL and the real Redis, mail read from a real SMTP server: a burst of parallel
guesses against the lockout, an adaptive-authentication block used as a test of
passwords, and strangers' failures used to get the real user blocked.

Clients' addresses come in X-Forwarded-For (the server trusts one proxy), so the attacker
and the user sign in from different networks on loopback."""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import Broker, start_broker
from tests.flows.test_accounts import expect_callback, expect_redirect, post_login, start
from tests.flows.test_security import error_of
from tests.rp import CALLBACK, RelyingParty
from tests.smtp import MailServer

PASSWORD = "Corr3ct-Horse!"
WRONG = "Wr0ng-Password!"
GENERIC = "Incorrect username or password."
ATTACKER_IP, USER_IP = "198.51.100.7", "203.0.113.20"
BURST = 30


@dataclass
class Site:
    broker: Broker
    mail: MailServer

    def pool(self, *settings: str, mfa: str = "OFF") -> tuple[str, str]:
        """A pool with ``settings`` (``pool update`` options) and an app client: (pool, client id)."""
        pool = self.broker.pool("--mfa", mfa)
        self.broker.cli("pool", "update", "--pool", pool, *settings)
        client = self.broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
        return pool, client["ClientId"]

    def user(self, pool: str, username: str) -> None:
        self.broker.cli("user", "create", "--pool", pool, "--username", username, "--password", PASSWORD,
                        "--email", f"{username}@example.com", "--confirmed")

    def browser(self, pool: str, client_id: str, ip: str) -> RelyingParty:
        """A fresh browser (its own cookies) whose requests come from ``ip``."""
        rp = RelyingParty(self.broker.base_url, pool, client_id)
        rp.browser.headers["X-Forwarded-For"] = ip
        return rp

    def reasons(self, pool: str, username: str) -> Counter[str]:
        events = self.broker.cli_json("events", "list", "--pool", pool, "--user", username, "--limit", "1000")
        return Counter(e["Details"].get("reason") for e in events["Events"] if e["EventType"] == "SignIn")

    def risk(self, pool: str, username: str) -> str:
        events = self.broker.cli_json("events", "list", "--pool", pool, "--user", username)["Events"]
        return next(e["RiskLevel"] for e in events if e["EventType"] == "RiskDecision")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str, postgres_admin_url: str) -> Iterator[Site]:
    """The growing delay is set out of the way (50 free failures), so that the lockout alone
    bounds the burst and failures can be made quickly."""
    import psycopg

    tmp = tmp_path_factory.mktemp("signin-attacks")
    (tmp / "broker.toml").write_text("lockout_free_attempts = 50\n")
    name = f"cognate_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with MailServer() as mail:
        broker = start_broker(tmp, database_url=f"{postgres_admin_url.rsplit('/', 1)[0]}/{name}",
                              redis_url=redis_url, workers=2, BROKER_TRUSTED_PROXIES="1",
                              BROKER_CONFIG=str(tmp / "broker.toml"), **mail.broker_env())
        try:
            yield Site(broker, mail)
        finally:
            broker.stop()
            text = broker.log.read_text() if broker.log else ""
            assert "Traceback" not in text, text[-4000:]
            with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _burst(site: Site, pool: str, client_id: str, username: str) -> list[requests.Response]:
    """``BURST`` wrong passwords posted at once, each from a browser of its own."""
    pages = []
    for _ in range(BURST):
        rp = site.browser(pool, client_id, ATTACKER_IP)
        pages.append((rp, start(rp)[2]))
    ready = threading.Barrier(BURST)

    def guess(entry: tuple[RelyingParty, requests.Response]) -> requests.Response:
        ready.wait(10)
        return post_login(entry[0], entry[1], username, WRONG)

    with ThreadPoolExecutor(BURST) as pool_of_threads:
        return list(pool_of_threads.map(guess, pages))


def test_a_burst_of_parallel_guesses_gets_no_more_checks_than_the_lockout_allows(site: Site) -> None:
    pool, client_id = site.pool("--lockout-threshold", "5", "--adaptive", "HIGH=ALLOW")
    site.user(pool, "bart")
    answers = _burst(site, pool, client_id, "bart")
    assert all(r.status_code == 400 and error_of(r) == GENERIC for r in answers), [r.status_code for r in answers]
    reasons = site.reasons(pool, "bart")
    assert sum(reasons.values()) == BURST and reasons["wrong_password"] <= 5, reasons
    assert reasons["wrong_password"] + reasons["locked"] == BURST, reasons

    rp = site.browser(pool, client_id, USER_IP)  # the right password now: refused, the account is locked
    _params, _verifier, page = start(rp)
    refused = post_login(rp, page, "bart", PASSWORD)
    assert (refused.status_code, error_of(refused)) == (400, GENERIC)
    assert site.reasons(pool, "bart")["locked"] == reasons["locked"] + 1

    site.user(pool, "carla")  # in normal conditions, a typo then the right password
    params, _verifier, page = start(rp)
    typo = post_login(rp, page, "carla", WRONG)
    assert (typo.status_code, error_of(typo)) == (400, GENERIC)
    expect_callback(post_login(rp, typo, "carla", PASSWORD), params)
    site.broker.cli("user", "unlock", "--pool", pool, "--username", "bart")
    rp = site.browser(pool, client_id, USER_IP)
    params, _verifier, page = start(rp)
    expect_callback(post_login(rp, page, "bart", PASSWORD), params)


def _high_risk(site: Site, pool: str, client_id: str, username: str) -> tuple[RelyingParty, requests.Response]:
    """Three wrong passwords from a new browser on a new network: the next try is HIGH risk."""
    rp = site.browser(pool, client_id, ATTACKER_IP)
    _params, _verifier, page = start(rp)
    for _ in range(3):
        page = post_login(rp, page, username, WRONG)
        assert (page.status_code, error_of(page)) == (400, GENERIC)
    return rp, page


def test_a_blocked_right_password_is_answered_like_a_wrong_one_and_the_user_is_told(site: Site) -> None:
    pool, client_id = site.pool("--lockout-threshold", "20", "--adaptive", "HIGH=BLOCK")
    site.user(pool, "dora")
    rp, page = _high_risk(site, pool, client_id, "dora")
    wrong = post_login(rp, page, "dora", "An0ther-Wrong-One!")
    right = post_login(rp, wrong, "dora", PASSWORD)
    assert (right.status_code, error_of(right)) == (wrong.status_code, error_of(wrong)) == (400, GENERIC)
    assert "Location" not in right.headers and "protection" not in right.text
    assert site.risk(pool, "dora") == "HIGH" and site.reasons(pool, "dora")["blocked"] == 1
    latest = site.broker.cli_json("events", "list", "--pool", pool, "--user", "dora", "--limit", "1")["Events"][0]
    assert (latest["EventType"], latest["EventResponse"]) == ("SignIn", "Block")  # the operator sees a block

    notice = site.mail.wait_for_mail("dora@example.com")
    assert notice.subject == "A sign-in to your account was blocked"
    assert ATTACKER_IP in notice.text and "python-requests" in notice.text and " UTC " in notice.text
    assert not site.mail.pending("dora@example.com")


def test_a_user_with_a_second_factor_is_asked_for_it_instead_of_blocked(site: Site) -> None:
    pool, client_id = site.pool("--lockout-threshold", "20", "--adaptive", "HIGH=BLOCK", mfa="OPTIONAL")
    site.user(pool, "emil")
    site.broker.cli("user", "mfa", "set", "--pool", pool, "--username", "emil", "--email-otp")
    rp, page = _high_risk(site, pool, client_id, "emil")
    stepped = post_login(rp, page, "emil", PASSWORD)
    expect_redirect(stepped, "/mfa")
    assert site.risk(pool, "emil") == "HIGH"
    assert site.mail.wait_for_mail("emil@example.com").subject == "Your sign-in code"


def _known_device(site: Site, pool: str, client_id: str, username: str) -> RelyingParty:
    """The user's own browser, which completed a sign-in from their network."""
    rp = site.browser(pool, client_id, USER_IP)
    params, _verifier, page = start(rp)
    expect_callback(post_login(rp, page, username, PASSWORD), params)
    rp.browser.cookies.set("cognate", None)  # signed out of the hosted session; the device cookie stays
    return rp


def test_strangers_failures_do_not_block_the_user_on_a_known_device(site: Site) -> None:
    pool, client_id = site.pool("--lockout-threshold", "20", "--adaptive", "HIGH=BLOCK")
    site.user(pool, "fred")
    own = _known_device(site, pool, client_id, "fred")
    stranger = site.browser(pool, client_id, ATTACKER_IP)
    _params, _verifier, page = start(stranger)
    for _ in range(12):
        page = post_login(stranger, page, "fred", WRONG)
        assert page.status_code == 400

    params, _verifier, page = start(own)
    expect_callback(post_login(own, page, "fred", PASSWORD), params)
    assert site.risk(pool, "fred") in ("LOW", "MEDIUM")

    new_device = site.browser(pool, client_id, ATTACKER_IP)  # the signal still works elsewhere
    _params, _verifier, page = start(new_device)
    refused = post_login(new_device, page, "fred", PASSWORD)
    assert (refused.status_code, error_of(refused)) == (400, GENERIC)
    assert site.risk(pool, "fred") == "HIGH"
    site.mail.wait_for_mail("fred@example.com")  # the notice of the block

    site.broker.cli("user", "unlock", "--pool", pool, "--username", "fred")  # ends the failures before it
    params, _verifier, page = start(new_device)
    expect_callback(post_login(new_device, page, "fred", PASSWORD), params)
    assert site.risk(pool, "fred") == "MEDIUM"  # a new device on a new network, no failures


def test_a_burst_cannot_pass_the_growing_delay_together(make_broker, redis_url: str, tmp_path: Path) -> None:
    """With the default three free failures, a burst gets three checks; the rest are told to wait."""
    broker = make_broker(database_url=f"sqlite:///{tmp_path}/broker.db", redis_url=redis_url)
    site = Site(broker, None)  # type: ignore[arg-type]
    pool, client_id = site.pool("--adaptive", "HIGH=ALLOW")
    site.user(pool, "gus")
    answers = _burst(site, pool, client_id, "gus")
    assert {r.status_code for r in answers} <= {400, 429}
    reasons = site.reasons(pool, "gus")
    assert reasons["wrong_password"] <= 3 and reasons["throttled"] >= BURST - 5, reasons
    assert all("Too many failed attempts" in error_of(r) for r in answers if r.status_code == 429)
