"""Attacks on tokens and on login transactions, over real HTTP: racing refreshes of one
rotating refresh token, token headers nested thousands deep, probing /oauth2/revoke with
another client's tokens, tokens outliving their deleted user or client, public clients'
refresh tokens, repeated and oversized scopes, a foreign ``id_token_hint`` at /logout,
and anonymous /oauth2/authorize requests filling the state store."""
from __future__ import annotations

import base64
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import redis
import requests
from sqlalchemy import text

from broker.store.db import Database
from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty, pkce, query_of
from tests.flows.hostile import (  # noqa: F401 (fixtures)
    LOGOUT,
    PASSWORD,
    _error_page,
    _fresh,
    _pool_private_key,
    _redirect_error,
    _refused,
    _session_alive,
    _sign_in,
    _split,
    _tokens,
    world,
)

#: A compact JWS whose header is ``[`` 5000 times: parsed naively, a RecursionError.
NESTED = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode() + ".e30.c2ln"
HINT_REFUSED = "The id_token_hint is not an ID token of this user pool for this application."
TOO_MANY_STARTS = "Too many sign-ins were started from your network. Wait a minute and try again."


def _app(broker: Broker, *client_args: str, pool: str | None = None) -> RelyingParty:
    """A client of a pool (a new one unless given) in which alice exists."""
    if pool is None:
        pool = broker.pool()
        broker.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD,
                   "--email", "alice@example.com", "--confirmed")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             "--logout-url", LOGOUT, *client_args)
    return RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"])


def _signed_in_tokens(rp: RelyingParty) -> dict[str, Any]:
    verifier, challenge = pkce()
    _params, code = rp.sign_in("alice", PASSWORD, code_challenge=challenge, code_challenge_method="S256")
    assert code
    r = rp.exchange(code, verifier)
    assert r.status_code == 200, r.text
    return r.json()


def _introspect(rp: RelyingParty, token: str) -> dict[str, Any]:
    r = requests.post(rp.config["introspection_endpoint"], data={"token": token},
                      auth=(rp.client_id, rp.client_secret), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _live_refresh_tokens(database_url: str, origin_jti: str) -> int:
    """Refresh tokens of the family that still refresh: not rotated, not revoked, family not revoked."""
    db = Database(database_url)
    try:
        with db.session() as s:
            return s.execute(text(
                "select count(*) from refresh_tokens where origin_jti = :o and rotated_at is null and "
                "revoked_at is null and origin_jti not in (select origin_jti from revoked_origins)"),
                {"o": origin_jti}).scalar_one()
    finally:
        db.dispose()


# --- refresh token rotation under concurrency (RFC 9700 §4.14.2) ---------------------------

@pytest.mark.parametrize("grace", [0, 5], ids=["no-grace", "grace"])
def test_parallel_refreshes_of_one_rotating_token_leave_one_live_token(make_broker, any_database_url, redis_url,
                                                                      grace):
    broker = make_broker(database_url=any_database_url, redis_url=redis_url)
    rp = _app(broker, "--refresh-grace", str(grace))  # public: rotation is on by default
    tokens = _signed_in_tokens(rp)
    origin = rp.verify(tokens["access_token"])["origin_jti"]
    start = threading.Barrier(10)

    def refresh(_: int) -> requests.Response:
        start.wait()
        return rp.refresh(tokens["refresh_token"])

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(refresh, range(10)))
    granted = [r.json() for r in answers if r.status_code == 200]
    assert all(r.json()["error"] == "invalid_grant" for r in answers if r.status_code != 200)
    if grace:  # retries within the grace period: every one gets the same successor, none a second one
        assert len(granted) == 10 and len({t["refresh_token"] for t in granted}) == 1
        assert _live_refresh_tokens(any_database_url, origin) == 1
        assert rp.refresh(granted[0]["refresh_token"]).status_code == 200
    else:  # one rotation; the other nine present a rotated token: reuse, and the family is revoked
        assert len(granted) == 1
        assert _live_refresh_tokens(any_database_url, origin) == 0
        assert rp.refresh(granted[0]["refresh_token"]).status_code == 400
        _refused(rp.userinfo(granted[0]["access_token"]))
        db = Database(any_database_url)
        try:
            with db.session() as s:
                events = s.execute(text("select count(*) from audit_events where event = 'RefreshTokenReuse' "
                                        "and pool_id = :p"), {"p": rp.pool_id}).scalar_one()
        finally:
            db.dispose()
        assert events == 1


def test_a_retry_within_the_grace_period_gets_the_same_successor(shared_broker):
    rp = _app(shared_broker, "--secret", "--rotate-refresh-tokens", "--refresh-grace", "3")
    first = _signed_in_tokens(rp)
    second = rp.refresh(first["refresh_token"]).json()
    again = rp.refresh(first["refresh_token"]).json()  # the answer was lost: the client retries
    assert again["refresh_token"] == second["refresh_token"] != first["refresh_token"]
    third = rp.refresh(second["refresh_token"]).json()  # the family moves on ...
    r = rp.refresh(first["refresh_token"])  # ... and a replay of the first token forks nothing
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert rp.refresh(third["refresh_token"]).status_code == 200


# --- token headers nested too deep ----------------------------------------------------------

@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_a_token_header_nested_thousands_deep_is_an_invalid_token(world, hint):
    _refused(world.conf.userinfo(NESTED))
    data = {"token": NESTED, **({"token_type_hint": hint} if hint else {})}
    auth = (world.conf.client_id, world.conf.client_secret)
    r = requests.post(world.conf.config["introspection_endpoint"], data=data, auth=auth, timeout=10)
    assert r.status_code == 200 and r.json() == {"active": False}, r.text
    r = requests.post(world.conf.config["revocation_endpoint"], data=data, auth=auth, timeout=10)
    assert r.status_code == 200, r.text


# --- /oauth2/revoke tells nothing of other clients' tokens (RFC 7009 §2.2) -------------------

def test_revoking_another_clients_token_answers_as_for_an_unknown_one_and_revokes_nothing(world):
    victim = _tokens(world.conf)
    for stranger in (world.pub, world.other):  # another client of the pool, a client of another pool
        unknown = stranger.revoke(secrets.token_urlsafe(48))
        assert unknown.status_code == 200
        for token in (victim["refresh_token"], victim["access_token"]):
            r = stranger.revoke(token)
            assert (r.status_code, r.text) == (unknown.status_code, unknown.text)
    assert world.conf.userinfo(victim["access_token"]).status_code == 200
    assert world.conf.refresh(victim["refresh_token"]).status_code == 200


def test_another_client_presenting_a_rotated_token_sets_off_nothing(shared_broker):
    """Reuse detection is the owner's: another client revoking or introspecting a rotated
    token learns nothing and revokes nothing."""
    public = _app(shared_broker)
    stranger = _app(shared_broker, "--secret", pool=public.pool_id)
    tokens = _signed_in_tokens(public)
    renewed = public.refresh(tokens["refresh_token"]).json()
    assert _introspect(stranger, tokens["refresh_token"]) == {"active": False}
    assert stranger.revoke(tokens["refresh_token"]).status_code == 200
    assert public.refresh(renewed["refresh_token"]).status_code == 200


# --- deleting a user or an app client ends what they hold ------------------------------------

def test_deleting_a_user_ends_their_tokens(shared_broker):
    rp = _app(shared_broker, "--secret")
    tokens = _signed_in_tokens(rp)
    assert _introspect(rp, tokens["access_token"])["active"] is True
    shared_broker.cli("user", "delete", "--pool", rp.pool_id, "--username", "alice")
    _refused(rp.userinfo(tokens["access_token"]))
    assert _introspect(rp, tokens["access_token"]) == {"active": False}
    assert _introspect(rp, tokens["refresh_token"]) == {"active": False}
    r = rp.refresh(tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    shared_broker.cli("user", "create", "--pool", rp.pool_id, "--username", "alice", "--password", PASSWORD,
                      "--confirmed")  # a new alice inherits nothing
    _refused(rp.userinfo(tokens["access_token"]))
    assert _introspect(rp, tokens["access_token"]) == {"active": False}


def test_deleting_an_app_client_ends_its_tokens(shared_broker):
    doomed = _app(shared_broker, "--secret")
    shared_broker.cli("resource-server", "create", "--pool", doomed.pool_id, "--identifier", "https://api.example",
                      "--scope", "read")
    machine = _app(shared_broker, "--secret", "--flow", "client_credentials", "--scope", "https://api.example/read",
                   pool=doomed.pool_id)
    api = _app(shared_broker, "--secret", pool=doomed.pool_id)  # a resource server introspecting
    tokens = _signed_in_tokens(doomed)
    machine_token = machine.token(grant_type="client_credentials").json()["access_token"]
    assert _introspect(api, tokens["access_token"])["active"] is True
    assert _introspect(api, machine_token)["active"] is True
    for rp in (doomed, machine):
        shared_broker.cli("client", "delete", "--pool", rp.pool_id, "--client", rp.client_id)
    _refused(doomed.userinfo(tokens["access_token"]))
    assert _introspect(api, tokens["access_token"]) == {"active": False}
    assert _introspect(api, machine_token) == {"active": False}
    assert doomed.refresh(tokens["refresh_token"]).status_code == 401  # the client is gone: invalid_client


# --- public clients rotate refresh tokens by default -----------------------------------------

def test_public_clients_rotate_refresh_tokens_by_default_and_a_replay_ends_the_family(shared_broker):
    public = _app(shared_broker)
    described = shared_broker.cli_json("client", "describe", "--pool", public.pool_id, "--client", public.client_id)
    assert described["UserPoolClient"]["EnableTokenRotation"] is True
    tokens = _signed_in_tokens(public)
    renewed = public.refresh(tokens["refresh_token"]).json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    r = public.refresh(tokens["refresh_token"])  # a stolen copy of the first token, replayed
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert public.refresh(renewed["refresh_token"]).status_code == 400  # the whole family ended
    _refused(public.userinfo(renewed["access_token"]))


@pytest.mark.parametrize("args,rotates", [(("--secret",), False), (("--no-rotate-refresh-tokens",), False),
                                          (("--secret", "--rotate-refresh-tokens"), True)],
                         ids=["confidential", "public-opted-out", "confidential-opted-in"])
def test_rotation_can_be_chosen_per_client(shared_broker, args, rotates):
    rp = _app(shared_broker, *args)
    described = shared_broker.cli_json("client", "describe", "--pool", rp.pool_id, "--client", rp.client_id)
    assert described["UserPoolClient"]["EnableTokenRotation"] is rotates
    tokens = _signed_in_tokens(rp)
    assert ("refresh_token" in rp.refresh(tokens["refresh_token"]).json()) is rotates


# --- scopes: distinct and bounded -------------------------------------------------------------

def test_scopes_are_distinct_and_bounded_at_the_token_endpoint(shared_broker):
    pool = shared_broker.pool()
    names = [f"s{n}" for n in range(60)]
    shared_broker.cli("resource-server", "create", "--pool", pool, "--identifier", "https://api.example",
                      *[a for n in names for a in ("--scope", n)])
    every = " ".join(f"https://api.example/{n}" for n in names)
    machine = _app(shared_broker, "--secret", "--flow", "client_credentials", "--scope", every, pool=pool)
    r = machine.token(grant_type="client_credentials", scope=" ".join(["https://api.example/s0"] * 100))
    assert r.status_code == 200, r.text
    assert machine.verify(r.json()["access_token"])["scope"] == "https://api.example/s0"
    for scope in (" ".join(every.split()[:51]),  # more than 50 scopes
                  " ".join(["https://api.example/s0"] * 200)):  # more than 4096 characters
        r = machine.token(grant_type="client_credentials", scope=scope)
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text
        assert "access_token" not in r.json()


def test_a_refresh_with_repeated_scopes_grants_each_once(world):
    tokens = _tokens(world.conf)
    r = world.conf.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"],
                         scope=" ".join(["openid", "email"] * 300))
    assert r.status_code == 200, r.text
    assert world.conf.verify(r.json()["access_token"])["scope"] == "openid email"
    r = world.conf.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"], scope="openid " * 700)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_an_oversized_scope_at_authorize_is_invalid_scope(world):
    state = secrets.token_urlsafe(8)
    r = world.conf.authorize(scope="openid " * 700, state=state)  # 4900 characters
    _redirect_error(r, "invalid_scope", state)


# --- /logout checks id_token_hint (OpenID Connect RP-Initiated Logout 1.0 §2) ----------------

def _logout(rp: RelyingParty, hint: str) -> requests.Response:
    return rp.browser.get(rp.config["end_session_endpoint"], allow_redirects=False, timeout=10,
                          params={"client_id": rp.client_id, "logout_uri": LOGOUT, "id_token_hint": hint})


@pytest.fixture(scope="module")
def hints(world) -> dict[str, str]:
    own = _tokens(world.pub)["id_token"]
    header, claims, _sig = _split(own)
    now = int(time.time())
    key = _pool_private_key(world, header["kid"])
    return {
        "own": own,
        "own-expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, key, "RS256",
                                  headers={"kid": header["kid"]}),
        "other-pool": _tokens(world.other)["id_token"],
        "other-client": _tokens(world.conf)["id_token"],
        "access-token": _tokens(world.pub)["access_token"],
        "tampered": own[:-4] + ("AAAA" if not own.endswith("AAAA") else "BBBB"),
        "nested": NESTED,
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("kind", ["other-pool", "other-client", "access-token", "tampered", "nested", "garbage"])
def test_logout_with_a_foreign_or_forged_id_token_hint_signs_nobody_out(world, hints, kind):
    rp = _fresh(world.pub)
    _sign_in(rp, "alice")
    _error_page(_logout(rp, hints[kind]), 400, HINT_REFUSED)
    assert _session_alive(rp)


@pytest.mark.parametrize("kind", ["own", "own-expired"])
def test_logout_with_the_clients_own_id_token_hint_signs_out(world, hints, kind):
    rp = _fresh(world.pub)
    _sign_in(rp, "alice")
    r = _logout(rp, hints[kind])
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT
    assert not _session_alive(rp)


# --- anonymous /oauth2/authorize: small records, a rate per client network --------------------

def _txn_key(r: requests.Response) -> str:
    assert r.status_code == 302 and "/login?txn=" in r.headers["Location"], r.text
    return "cognate:login:" + query_of(r.headers["Location"])["txn"]


def test_a_login_transaction_stores_a_small_record(shared_broker):
    rp = _app(shared_broker)
    store = redis.Redis.from_url(shared_broker.env["REDIS_URL"])
    _v, challenge = pkce()
    pkce_params = {"code_challenge": challenge, "code_challenge_method": "S256"}
    plain = store.strlen(_txn_key(rp.authorize(**pkce_params)))
    largest = store.strlen(_txn_key(rp.authorize(**pkce_params, state="s" * 2048, nonce="n" * 2048,
                                                 lang="l" * 2048, max_age="1000", prompt="login")))
    # what the client sent, bounded by 2048 characters each; nothing derived (an unsupported lang
    # is ignored, so it is not kept) and no empty fields
    assert plain < 400 and largest < 2 * 2048 + 500, (plain, largest)


def test_login_starts_are_limited_per_client_network(make_broker, redis_url):
    broker = make_broker(redis_url=redis_url, BROKER_LOGIN_STARTS_PER_MINUTE="5", BROKER_TRUSTED_PROXIES="1")
    rp = _app(broker)
    _v, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    crowd, neighbour = (f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{n}" for n in (1, 2))

    def start(ip: str) -> requests.Response:
        return requests.get(rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10,
                            headers={"X-Forwarded-For": ip})

    for _ in range(5):
        _txn_key(start(crowd))
    _error_page(start(crowd), 429, TOO_MANY_STARTS)
    _txn_key(start(neighbour))  # another address is not affected


def test_a_made_up_forwarded_for_does_not_escape_the_limit_without_a_trusted_proxy(make_broker):
    broker = make_broker(BROKER_LOGIN_STARTS_PER_MINUTE="3")  # embedded store: the count is this server's
    rp = _app(broker)
    _v, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    answers = [requests.get(rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10,
                            headers={"X-Forwarded-For": f"10.9.9.{n}"}) for n in range(4)]
    for r in answers[:3]:
        _txn_key(r)
    _error_page(answers[3], 429, TOO_MANY_STARTS)
