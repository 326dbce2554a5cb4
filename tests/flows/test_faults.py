"""Faults: Redis restarted in the middle of a sign-in, PostgreSQL stopped and started again,
each a private server this test owns. While a store is away requests answer 503 with
Retry-After (never a 500 or a stack trace); afterwards everything works again without
restarting Cognate, and nothing kept in PostgreSQL is lost."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.conftest import PostgresServer
from tests.rp import CALLBACK, RelyingParty
from tests.test_state_urls import RedisServer

PASSWORD = "Corr3ct-Horse!"


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def _setup(broker) -> tuple[RelyingParty, str]:
    pool = broker.pool()
    broker.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD,
               "--email", "alice@example.com", "--confirmed")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                             "--secret")
    return RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"]), pool


def _signed_in(rp: RelyingParty) -> dict[str, str]:
    """A whole sign-in in a new browser; the tokens."""
    rp.browser.cookies.clear()
    _params, code = rp.sign_in("alice", PASSWORD)
    assert code
    r = rp.exchange(code)
    assert r.status_code == 200, r.text
    return r.json()


def _unavailable(r: requests.Response, api: bool) -> None:
    """A 503 that says to come back, without a trace of the failure inside."""
    assert r.status_code == 503, (r.status_code, r.text[:500])
    assert int(r.headers["Retry-After"]) > 0
    assert "Traceback" not in r.text and 'File "' not in r.text and "psycopg" not in r.text.lower()
    if api:
        assert r.json()["error"] == "temporarily_unavailable"
    else:
        assert r.headers["Content-Type"].startswith("text/html") and "temporarily unavailable" in r.text


def test_redis_restarted_mid_login_asks_for_a_retry_and_keeps_refresh_tokens(make_broker, postgres_url,
                                                                              private_redis):
    broker = make_broker(database_url=postgres_url, redis_url=private_redis.url, workers=2)
    rp, _pool = _setup(broker)
    before = _signed_in(rp)

    rp.browser.cookies.clear()
    page = rp.follow(rp.authorize())
    assert page.status_code == 200 and 'name="password"' in page.text
    private_redis.stop()
    for _ in range(2):  # whichever worker takes it
        _unavailable(rp.post_form(page, {"username": "alice", "password": PASSWORD}), api=False)
    private_redis.start()  # empty: the login transaction is gone

    again = rp.post_form(page, {"username": "alice", "password": PASSWORD})
    assert again.status_code == 400 and "sign in again" in again.text, again.text[:500]
    assert "Traceback" not in again.text
    after = _signed_in(rp)  # starting again from /oauth2/authorize works
    assert rp.userinfo(after["access_token"]).status_code == 200

    r = rp.refresh(before["refresh_token"])  # refresh tokens live in PostgreSQL
    assert r.status_code == 200, r.text
    assert rp.userinfo(r.json()["access_token"]).json()["email"] == "alice@example.com"
    rp.browser.close()


def test_postgres_stopped_answers_503_then_recovers_by_itself_with_nothing_lost(make_broker, redis_url, postgres):
    broker = make_broker(database_url=postgres.url, redis_url=redis_url, workers=2)
    rp, pool = _setup(broker)
    tokens = _signed_in(rp)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    login_page = broker.url(pool, "/login")
    authorize_params = rp.authorize_params()

    postgres.stop()
    for _ in range(2):  # each gunicorn worker has its own pool of connections
        _unavailable(rp.refresh(tokens["refresh_token"]), api=True)
        _unavailable(requests.get(rp.config["userinfo_endpoint"], headers=bearer, timeout=15), api=True)
        _unavailable(requests.get(login_page, params=authorize_params, timeout=15), api=False)
        ready = requests.get(f"{broker.base_url}/ready", timeout=15)
        assert ready.status_code == 503 and int(ready.headers["Retry-After"]) > 0
        assert ready.json()["database"] != "ok" and ready.json()["state"] == "ok"
        assert requests.get(f"{broker.base_url}/health", timeout=15).status_code == 200

    postgres.start()  # Cognate is not restarted
    for _ in range(4):  # the first request on every worker already succeeds
        assert requests.get(f"{broker.base_url}/ready", timeout=15).status_code == 200
        r = rp.refresh(tokens["refresh_token"])
        assert r.status_code == 200, r.text
        assert rp.userinfo(r.json()["access_token"]).json()["email"] == "alice@example.com"
    page = requests.get(login_page, params=authorize_params, timeout=15)
    assert page.status_code == 200 and 'name="password"' in page.text
    again = _signed_in(rp)  # the user and the password are still there
    assert rp.verify(again["id_token"], audience=rp.client_id)["sub"] == rp.verify(
        tokens["id_token"], audience=rp.client_id)["sub"]
    users = broker.cli_json("user", "list", "--pool", pool)["Users"]
    assert [u["Username"] for u in users] == ["alice"]

    postgres.stop()  # a quick restart between two requests: the pooled connections are all dead
    postgres.start()
    for _ in range(4):
        r = rp.refresh(tokens["refresh_token"])
        assert r.status_code == 200, r.text
    rp.browser.close()
