"""Hostile input at every surface, over real HTTP against one shared server (SQLite + real
Redis). Each test asserts the exact refusal (status, OAuth error or page text, Location)
and that nothing changed: no code issued, no token minted, no user written, sessions and
tokens as they were. The broker fixtures fail any test whose server logged a traceback.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import jwt
import pytest
import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty, form_fields, pkce, query_of

PASSWORD = "Corr3ct-Horse!"
LOGOUT = "http://localhost:9000/bye"

NOT_REGISTERED = "The redirect_uri is not registered for this application."
UNKNOWN_CLIENT = "This application is not known to this user pool."
MISSING_CLIENT = "The request is missing a valid client_id."
TXN_EXPIRED = "Your sign-in session has expired. Go back to the application and sign in again."
CSRF_FAILED = "The form has expired or was not sent from this page. Go back, reload and try again."
BAD_LOGOUT = "The logout_uri is not registered for this application."
SIGN_IN_FAILED = "Incorrect username or password."


# -- the world: two pools, three clients, signed-in browsers ---------------------------

@dataclass
class World:
    broker: Broker
    pool: str
    pub: RelyingParty  # public client of `pool` (PKCE), browser signed in as alice
    conf: RelyingParty  # confidential client of `pool`, browser signed in as alice
    other: RelyingParty  # confidential client of a second pool, browser signed in as bob
    redis: redis.Redis


def _parallel(*calls: Callable[[], Any]) -> list[Any]:
    """CLI calls are slow to start; independent ones run side by side (SQLite in WAL mode)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


@pytest.fixture(scope="module")
def world(shared_broker: Broker) -> World:
    b = shared_broker
    pool, pool_b = _parallel(b.pool, b.pool)

    def client(pool_id: str, name: str, *extra: str) -> dict:
        return b.cli_json("client", "create", "--pool", pool_id, "--name", name, "--callback-url", CALLBACK, *extra)

    def user(pool_id: str, name: str) -> Any:
        return b.cli("user", "create", "--pool", pool_id, "--username", name, "--password", PASSWORD,
                     "--email", f"{name}@example.com", "--confirmed")

    _a, _t, _b, pub, conf, other = _parallel(
        lambda: user(pool, "alice"), lambda: user(pool, "target"), lambda: user(pool_b, "bob"),
        lambda: client(pool, "pub", "--logout-url", LOGOUT), lambda: client(pool, "conf", "--secret"),
        lambda: client(pool_b, "other", "--secret"),
    )
    w = World(
        broker=b, pool=pool,
        pub=RelyingParty(b.base_url, pool, pub["ClientId"]),
        conf=RelyingParty(b.base_url, pool, conf["ClientId"], conf["ClientSecret"]),
        other=RelyingParty(b.base_url, pool_b, other["ClientId"], other["ClientSecret"]),
        redis=redis.Redis.from_url(b.env["REDIS_URL"]),
    )
    _sign_in(w.pub, "alice")
    _sign_in(w.conf, "alice")
    _sign_in(w.other, "bob")
    return w


def _fresh(rp: RelyingParty) -> RelyingParty:
    """The same client in a new browser (no cookies)."""
    return RelyingParty(rp.base_url, rp.pool_id, rp.client_id, rp.client_secret)


def _pkce_params(rp: RelyingParty) -> tuple[str | None, dict[str, str]]:
    if rp.client_secret:
        return None, {}
    verifier, challenge = pkce()
    return verifier, {"code_challenge": challenge, "code_challenge_method": "S256"}


def _sign_in(rp: RelyingParty, username: str) -> tuple[str, str | None]:
    verifier, extra = _pkce_params(rp)
    _params, code = rp.sign_in(username, PASSWORD, **extra)
    assert code, "sign-in failed"
    return code, verifier


def _code(rp: RelyingParty) -> tuple[str, str | None]:
    """A fresh code from the browser's hosted session (no form)."""
    verifier, extra = _pkce_params(rp)
    r = rp.authorize(prompt="none", **extra)
    assert r.status_code == 302, r.text
    answer = query_of(r.headers["Location"])
    assert "code" in answer, r.headers["Location"]
    return answer["code"], verifier


def _tokens(rp: RelyingParty) -> dict[str, Any]:
    code, verifier = _code(rp)
    r = rp.exchange(code, verifier)
    assert r.status_code == 200, r.text
    return r.json()


def _code_keys(w: World) -> int:
    """Authorization codes of the pool in Redis (used ones leave a tombstone, so this only grows)."""
    return sum(1 for _ in w.redis.scan_iter(match=f"cognate:{{{w.pool}}}:code:*", count=1000))


def _db(w: World) -> sqlite3.Connection:
    return sqlite3.connect(w.broker.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _refresh_rows(w: World) -> int:
    with _db(w) as conn:
        return conn.execute("select count(*) from refresh_tokens where pool_id = ?", (w.pool,)).fetchone()[0]


def _users(w: World) -> dict[str, dict[str, Any]]:
    return {u["Username"]: u for u in w.broker.cli_json("user", "list", "--pool", w.pool)["Users"]}


def _error_page(r: requests.Response, status: int, message: str) -> None:
    """Our own HTML error page: never a redirect, never a stack trace."""
    assert r.status_code == status, r.text
    assert "Location" not in r.headers, r.headers["Location"]
    assert r.headers["Content-Type"].startswith("text/html")
    text = html.unescape(r.text)
    assert message in text, text
    assert "Traceback" not in text


def _redirect_error(r: requests.Response, error: str, state: str) -> None:
    assert r.status_code == 302, r.text
    location = r.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    answer = query_of(location)
    assert answer["error"] == error and answer["state"] == state, answer
    assert "code" not in answer


def _oauth_error(r: requests.Response, status: int, error: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["error"] == error, body
    assert not {"access_token", "id_token", "refresh_token"} & body.keys()


def _session_alive(rp: RelyingParty) -> bool:
    verifier, extra = _pkce_params(rp)
    r = rp.authorize(prompt="none", **extra)
    assert r.status_code == 302, r.text
    return "code" in query_of(r.headers["Location"])


# -- /oauth2/authorize -----------------------------------------------------------------

UNREGISTERED = {
    "other-host": "http://evil.example/callback",
    "prefix": CALLBACK[:-1],
    "suffix": CALLBACK + "/evil",
    "suffix-dot": CALLBACK + ".evil.example",
    "host-suffix": "http://localhost:9000.evil.example/callback",
    "userinfo": "http://localhost:9000@evil.example/callback",
    "other-port": "http://localhost:9001/callback",
    "no-port": "http://localhost/callback",
    "https": "https://localhost:9000/callback",
    "added-query": CALLBACK + "?next=http://evil.example",
    "fragment": CALLBACK + "#x",
    "trailing-slash": CALLBACK + "/",
    "upper-case-host": "http://LOCALHOST:9000/callback",
    "percent-encoded": "http://localhost:9000/%63allback",
    "protocol-relative": "//evil.example/callback",
    "javascript": "javascript:alert(1)",
    "empty": "",
}


@pytest.mark.parametrize("redirect_uri", UNREGISTERED.values(), ids=UNREGISTERED.keys())
def test_authorize_unregistered_redirect_uri_shows_error_page(world, redirect_uri):
    before = _code_keys(world)
    r = world.conf.authorize(redirect_uri=redirect_uri)  # the browser is signed in: a success would mint a code
    _error_page(r, 400, NOT_REGISTERED)
    assert _code_keys(world) == before


@pytest.mark.parametrize("values", [
    [CALLBACK, CALLBACK], [CALLBACK, "http://evil.example/cb"], ["http://evil.example/cb", CALLBACK], [],
], ids=["same-twice", "good-then-evil", "evil-then-good", "missing"])
def test_authorize_duplicated_or_missing_redirect_uri_shows_error_page(world, values):
    params = [(k, v) for k, v in world.conf.authorize_params().items() if k != "redirect_uri"]
    params += [("redirect_uri", v) for v in values]
    before = _code_keys(world)
    r = world.conf.browser.get(world.conf.config["authorization_endpoint"], params=params, allow_redirects=False,
                               timeout=10)
    _error_page(r, 400, NOT_REGISTERED)
    assert _code_keys(world) == before


@pytest.mark.parametrize("client_id,message", [
    ("nosuchclient0000000000000a", UNKNOWN_CLIENT),
    ("x" * 129, UNKNOWN_CLIENT),
    ("' or 1=1 --", UNKNOWN_CLIENT),
    (None, MISSING_CLIENT),
    ("", MISSING_CLIENT),
], ids=["unknown", "overlong", "sql", "missing", "empty"])
def test_authorize_unknown_client_shows_error_page(world, client_id, message):
    params = world.conf.authorize_params(client_id=client_id or "")
    if client_id is None:
        del params["client_id"]
    r = requests.get(world.conf.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    _error_page(r, 400, message)


def test_authorize_client_of_another_pool_or_twice_shows_error_page(world):
    before = _code_keys(world)
    r = world.conf.authorize(client_id=world.other.client_id)
    _error_page(r, 400, UNKNOWN_CLIENT)
    params = list(world.conf.authorize_params().items()) + [("client_id", world.pub.client_id)]
    r = world.conf.browser.get(world.conf.config["authorization_endpoint"], params=params, allow_redirects=False,
                               timeout=10)
    _error_page(r, 400, MISSING_CLIENT)
    assert _code_keys(world) == before


@pytest.mark.parametrize("pool_id,message", [
    ("local_AAAAAAAAA", "Unknown user pool."),
    ("local_" + "A" * 100, "Unknown user pool."),
    ("%00", "Unknown user pool."),
    ("..", "This page does not exist."),  # the client drops the dot segment: /oauth2/authorize
], ids=["unknown", "overlong", "nul", "dot-dot"])
def test_authorize_unknown_pool_answers_404(world, pool_id, message):
    r = requests.get(f"{world.broker.base_url}/{pool_id}/oauth2/authorize", params=world.conf.authorize_params(),
                     allow_redirects=False, timeout=10)
    _error_page(r, 404, message)


CHALLENGE = pkce()[1]
S256 = {"code_challenge": CHALLENGE, "code_challenge_method": "S256"}
REDIRECTED = [
    ("conf", {"response_type": None}, "unsupported_response_type"),
    ("conf", {"response_type": "token"}, "unsupported_response_type"),
    ("conf", {"response_type": "code id_token"}, "unsupported_response_type"),
    ("conf", {"response_type": "CODE"}, "unsupported_response_type"),
    ("pub", {**S256, "response_type": "token"}, "unsupported_response_type"),
    ("conf", {"scope": "openid admin"}, "invalid_scope"),
    ("conf", {"scope": "openid https://api.example.com/read"}, "invalid_scope"),
    ("pub", {}, "invalid_request"),  # public client without PKCE
    ("pub", {"code_challenge": CHALLENGE}, "invalid_request"),  # method defaults to plain
    ("pub", {"code_challenge": CHALLENGE, "code_challenge_method": "plain"}, "invalid_request"),
    ("conf", {"code_challenge": CHALLENGE, "code_challenge_method": "plain"}, "invalid_request"),
    ("pub", {"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ("pub", {"code_challenge_method": "S256"}, "invalid_request"),
    ("conf", {"max_age": "-1"}, "invalid_request"),
    ("conf", {"max_age": "abc"}, "invalid_request"),
    ("conf", {"max_age": "1.5"}, "invalid_request"),
    ("conf", {"max_age": "99999999999"}, "invalid_request"),
    ("conf", {"max_age": "１２"}, "invalid_request"),  # full-width digits pass str.isdigit
    ("conf", {"max_age": "²"}, "invalid_request"),  # so does a superscript, which int() refuses
    ("conf", {"prompt": "bogus"}, "invalid_request"),
    ("conf", {"prompt": "none login"}, "invalid_request"),
    ("conf", {"identity_provider": "Evil"}, "invalid_request"),
    ("conf", {"nonce": "n" * 3000}, "invalid_request"),
]


@pytest.mark.parametrize("who,extra,error", REDIRECTED,
                         ids=[f"{w}-{'-'.join(f'{k}={v}' for k, v in e.items())[:40] or 'none'}" for w, e, _ in REDIRECTED])
def test_authorize_bad_parameters_redirect_with_error_and_state(world, who, extra, error):
    rp = getattr(world, who)
    params = {k: v for k, v in rp.authorize_params(**extra).items() if v is not None}
    before = _code_keys(world)
    r = rp.browser.get(rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    _redirect_error(r, error, params["state"])
    assert _code_keys(world) == before  # the signed-in browser got no code


def test_authorize_state_is_echoed_encoded_never_spliced(world):
    state = "x&code=FAKE&error=none#frag\r\nSet-Cookie: evil=1"
    r = world.conf.authorize(state=state, scope="openid admin")
    _redirect_error(r, "invalid_scope", state)
    r = world.conf.authorize(state=state, prompt="none")
    answer = query_of(r.headers["Location"])
    assert answer["state"] == state and answer["code"] != "FAKE" and "error" not in answer
    assert "#" not in r.headers["Location"] and "evil" not in r.headers.get("Set-Cookie", "")


def test_authorize_overlong_state_shows_error_page(world):
    before = _code_keys(world)
    _error_page(world.conf.authorize(state="s" * 3000), 400, "The state parameter is invalid.")
    assert _code_keys(world) == before


# -- /oauth2/token ---------------------------------------------------------------------

def test_token_missing_code_verifier_is_refused_and_burns_the_code(world):
    rows = _refresh_rows(world)
    code, verifier = _code(world.pub)
    _oauth_error(world.pub.exchange(code), 400, "invalid_request")
    _oauth_error(world.pub.exchange(code, verifier), 400, "invalid_grant")  # one presentation per code
    assert _refresh_rows(world) == rows


def test_token_wrong_code_verifier_is_invalid_grant(world):
    rows = _refresh_rows(world)
    code, verifier = _code(world.pub)
    _oauth_error(world.pub.exchange(code, pkce()[0]), 400, "invalid_grant")
    _oauth_error(world.pub.exchange(code, verifier), 400, "invalid_grant")
    assert _refresh_rows(world) == rows


def test_token_verifier_for_a_code_issued_without_challenge_is_refused(world):
    code, _ = _code(world.conf)
    _oauth_error(world.conf.exchange(code, pkce()[0]), 400, "invalid_request")


def test_reused_code_revokes_tokens(world):
    code, _ = _code(world.conf)
    r = world.conf.exchange(code)
    assert r.status_code == 200, r.text
    first = r.json()
    assert world.conf.userinfo(first["access_token"]).status_code == 200
    _oauth_error(world.conf.exchange(code), 400, "invalid_grant")
    _oauth_error(world.conf.refresh(first["refresh_token"]), 400, "invalid_grant")
    r = world.conf.userinfo(first["access_token"])
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    # a third presentation changes nothing either
    _oauth_error(world.conf.exchange(code), 400, "invalid_grant")


def test_expired_code_is_invalid_grant(world, make_broker, tmp_path):
    """A second node on the same database and Redis, with codes that live 1 s (code_ttl
    comes from the settings file)."""
    config = tmp_path / "short-codes.toml"
    config.write_text("code_ttl = 1\n")
    node = make_broker(database_url=world.broker.env["DATABASE_URL"], redis_url=world.broker.env["REDIS_URL"],
                       BROKER_CONFIG=str(config))
    rp = RelyingParty(node.base_url, world.pool, world.conf.client_id, world.conf.client_secret)
    code, _ = _sign_in(rp, "alice")
    assert rp.exchange(code).status_code == 200  # in time: fine
    code, _ = _code(rp)
    time.sleep(2.1)
    rows = _refresh_rows(world)
    _oauth_error(rp.exchange(code), 400, "invalid_grant")
    assert _refresh_rows(world) == rows


def test_code_of_another_client_is_invalid_grant(world):
    rows = _refresh_rows(world)
    code, _ = _code(world.conf)  # issued to the confidential client
    r = requests.post(world.pub.config["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "client_id": world.pub.client_id,
        "code_verifier": pkce()[0]})
    _oauth_error(r, 400, "invalid_grant")
    # and the other way round: a public client's code with its verifier, presented by the confidential client
    code, verifier = _code(world.pub)
    _oauth_error(world.conf.exchange(code, verifier), 400, "invalid_grant")
    assert _refresh_rows(world) == rows


def test_code_of_another_pool_is_invalid_grant_and_stays_usable_at_home(world):
    code, _ = _code(world.conf)
    _oauth_error(world.other.exchange(code), 400, "invalid_grant")
    assert world.conf.exchange(code).status_code == 200  # codes are pool-scoped: the home pool never saw it


@pytest.mark.parametrize("redirect_uri", [None, CALLBACK + "/", "http://evil.example/callback"],
                         ids=["missing", "trailing-slash", "other-host"])
def test_token_wrong_redirect_uri_is_invalid_grant(world, redirect_uri):
    rows = _refresh_rows(world)
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    _oauth_error(world.conf.token(**data), 400, "invalid_grant")
    assert _refresh_rows(world) == rows


def test_token_wrong_client_secret_is_invalid_client_and_keeps_the_code(world):
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    endpoint = world.conf.config["token_endpoint"]
    r = requests.post(endpoint, data=data, auth=(world.conf.client_id, world.conf.client_secret + "x"), timeout=10)
    _oauth_error(r, 401, "invalid_client")
    r = requests.post(endpoint, data={**data, "client_id": world.conf.client_id, "client_secret": "wrong"}, timeout=10)
    _oauth_error(r, 401, "invalid_client")
    # authentication comes first: the code was not consumed by the failed attempts
    assert world.conf.exchange(code).status_code == 200


def test_confidential_client_cannot_authenticate_with_none(world):
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": world.conf.client_id}
    r = requests.post(world.conf.config["token_endpoint"], data=data, timeout=10)
    _oauth_error(r, 401, "invalid_client")
    assert world.conf.exchange(code).status_code == 200


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                        "authorization_code ", "x" * 500])
def test_token_unknown_grant_type_is_unsupported(world, grant_type):
    _oauth_error(world.conf.token(grant_type=grant_type), 400, "unsupported_grant_type")


def test_token_client_credentials_for_a_code_only_client_is_unauthorized(world):
    _oauth_error(world.conf.token(grant_type="client_credentials"), 400, "unauthorized_client")


def test_token_endpoint_refuses_get_with_405_json(world):
    r = requests.get(world.conf.config["token_endpoint"], params={"grant_type": "client_credentials"}, timeout=10)
    assert r.status_code == 405, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"] == "invalid_request" and "POST" in r.headers["Allow"]


def test_token_endpoint_refuses_a_huge_body_with_413(world):
    rows = _refresh_rows(world)
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "pad": "a" * (65 * 1024)}
    r = requests.post(world.conf.config["token_endpoint"], data=data,
                      auth=(world.conf.client_id, world.conf.client_secret), timeout=10)
    assert r.status_code == 413, r.text
    assert r.headers["Content-Type"].startswith("application/json") and "access_token" not in r.json()
    assert _refresh_rows(world) == rows
    assert world.conf.exchange(code).status_code == 200  # the code was never read


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize("header", [
    "Basic !!!not-base64!!!", _basic(b"no-colon"), _basic(b":"), _basic(b"\xff\xfe:\xff"), _basic(b"%ff%fe:%00"),
    "Basic " + "A" * 8000, "Bearer abc", "Basic", "Digest username=x", "Basic " + _basic(b"a:b"),
], ids=["not-base64", "no-colon", "empty-pair", "not-utf8", "percent-junk", "long", "bearer", "bare", "digest",
        "doubled"])
def test_token_garbage_authorization_header_is_invalid_client(world, header):
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    r = requests.post(world.conf.config["token_endpoint"], data=data, headers={"Authorization": header}, timeout=10)
    _oauth_error(r, 401, "invalid_client")
    assert world.conf.exchange(code).status_code == 200


def test_refresh_token_of_another_client_is_invalid_grant(world):
    tokens = _tokens(world.conf)
    r = requests.post(world.pub.config["token_endpoint"], timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": world.pub.client_id})
    _oauth_error(r, 400, "invalid_grant")
    _oauth_error(world.other.refresh(tokens["refresh_token"]), 400, "invalid_grant")  # nor another pool
    assert world.conf.refresh(tokens["refresh_token"]).status_code == 200  # still good for its own client
    assert world.conf.userinfo(tokens["access_token"]).status_code == 200


@pytest.mark.parametrize("endpoint", ["revocation_endpoint", "introspection_endpoint"])
def test_revoke_and_introspect_refuse_garbage_client_authentication(world, endpoint):
    tokens = _tokens(world.conf)
    for header in (_basic(b"\xff\xfe:\xff"), "Basic !!!", _basic(world.conf.client_id.encode() + b":wrong")):
        r = requests.post(world.conf.config[endpoint], data={"token": tokens["refresh_token"]},
                          headers={"Authorization": header}, timeout=10)
        _oauth_error(r, 401, "invalid_client")
    assert world.conf.refresh(tokens["refresh_token"]).status_code == 200  # not revoked


# -- /oauth2/userInfo ------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    head, body, sig = token.split(".")
    return json.loads(_unb64(head)), json.loads(_unb64(body)), sig


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def _pool_private_key(w: World, kid: str) -> Any:
    with _db(w) as conn:
        (jwk,) = conn.execute("select private_jwk from signing_keys where kid = ?", (kid,)).fetchone()
    return jwt.algorithms.RSAAlgorithm.from_jwk(jwk)


def _forgeries(w: World, token: str) -> dict[str, str]:
    header, claims, sig = _split(token)
    kid = header["kid"]
    jwks = requests.get(w.conf.config["jwks_uri"], timeout=10).json()["keys"]
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(next(k for k in jwks if k["kid"] == kid)))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    real_key = _pool_private_key(w, kid)
    body = _b64(json.dumps(claims).encode())
    return {
        "alg-none": f"{_b64(json.dumps({'alg': 'none', 'kid': kid, 'typ': 'JWT'}).encode())}.{body}.",
        "alg-None-with-signature": f"{_b64(json.dumps({'alg': 'None', 'kid': kid}).encode())}.{body}.{sig}",
        "hs256-public-pem": _hs256({"alg": "HS256", "kid": kid, "typ": "JWT"}, claims, pem),
        "hs256-public-jwk": _hs256({"alg": "HS256", "kid": kid}, claims, json.dumps(public.public_numbers().n).encode()),
        "other-rsa-key-same-kid": jwt.encode(claims, stranger, "RS256", headers={"kid": kid}),
        "tampered-exp": f"{token.split('.')[0]}.{_b64(json.dumps({**claims, 'exp': claims['exp'] + 86400}).encode())}.{sig}",
        "tampered-sub": f"{token.split('.')[0]}.{_b64(json.dumps({**claims, 'sub': 'admin'}).encode())}.{sig}",
        "expired-but-signed": jwt.encode({**claims, "iat": now - 7200, "exp": now - 120}, real_key, "RS256",
                                         headers={"kid": kid}),
        "issued-in-future": jwt.encode({**claims, "iat": now + 600, "exp": now + 4200}, real_key, "RS256",
                                       headers={"kid": kid}),
        "other-issuer": jwt.encode({**claims, "iss": "http://evil.example/" + w.pool}, real_key, "RS256",
                                   headers={"kid": kid}),
        "id-token-use": jwt.encode({**claims, "token_use": "id"}, real_key, "RS256", headers={"kid": kid}),
        "unknown-kid": jwt.encode(claims, real_key, "RS256", headers={"kid": "nope"}),
        "no-kid": jwt.encode(claims, real_key, "RS256"),
        "two-parts": f"{token.split('.')[0]}.{body}",
        "header-not-json": f"{_b64(b'not json')}.{body}.{sig}",
        "header-is-list": f"{_b64(b'[1,2]')}.{body}.{sig}",
        "oversized": token + "A" * 20000,
    }


FORGERIES = ["alg-none", "alg-None-with-signature", "hs256-public-pem", "hs256-public-jwk", "other-rsa-key-same-kid",
             "tampered-exp", "tampered-sub", "expired-but-signed", "issued-in-future", "other-issuer", "id-token-use",
             "unknown-kid", "no-kid", "two-parts", "header-not-json", "header-is-list", "oversized"]


@pytest.fixture(scope="module")
def genuine(world: World) -> dict[str, Any]:
    return _tokens(world.conf)


@pytest.fixture(scope="module")
def forged(world: World, genuine: dict[str, Any]) -> dict[str, str]:
    return _forgeries(world, genuine["access_token"])


def _refused(r: requests.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_token"
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert "email" not in r.json()


@pytest.mark.parametrize("kind", FORGERIES)
def test_userinfo_refuses_forged_tokens(world, genuine, forged, kind):
    _refused(world.conf.userinfo(forged[kind]))
    assert world.conf.userinfo(genuine["access_token"]).status_code == 200  # the genuine one still works


def test_userinfo_forgery_helpers_are_sound(world, genuine):
    """Control: the pool's own key with unchanged claims makes a token the server accepts, so
    the refusals above are due to what each forgery changed."""
    header, claims, _ = _split(genuine["access_token"])
    remade = jwt.encode(claims, _pool_private_key(world, header["kid"]), "RS256", headers={"kid": header["kid"]})
    assert world.conf.userinfo(remade).status_code == 200


def test_userinfo_refuses_id_token_and_tokens_of_another_pool(world, genuine):
    _refused(world.conf.userinfo(genuine["id_token"]))
    foreign = _tokens(world.other)
    assert world.other.userinfo(foreign["access_token"]).status_code == 200  # valid at home
    _refused(world.conf.userinfo(foreign["access_token"]))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "bearer x.y.z", "Bearer a.b.c.d"])
def test_userinfo_refuses_missing_or_malformed_authorization(world, header):
    headers = {} if header is None else {"Authorization": header}
    r = requests.get(world.conf.config["userinfo_endpoint"], headers=headers, timeout=10)
    assert r.status_code == 401, r.text
    assert r.json()["error"] in {"invalid_request", "invalid_token"}
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


# -- /logout ---------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {"logout_uri": "http://evil.example/bye"},
    {"logout_uri": "http://localhost:9000/bye.evil.com"},
    {"logout_uri": "http://localhost:9000/bye/../evil"},
    {"logout_uri": "http://localhost:9000/bye?next=http://evil.example"},
    {"logout_uri": "http://localhost:9001/bye"},
    {"logout_uri": "//evil.com"},
    {"logout_uri": "javascript:alert(document.cookie)"},
    {"post_logout_redirect_uri": "http://evil.example/bye"},
], ids=["other-host", "prefix-trick", "dot-dot", "query", "other-port", "protocol-relative", "javascript",
        "oidc-param"])
def test_logout_unregistered_uri_shows_error_page_and_keeps_session(world, params):
    rp = _fresh(world.pub)
    _sign_in(rp, "alice")
    r = rp.browser.get(rp.config["end_session_endpoint"], params={"client_id": rp.client_id, **params},
                       allow_redirects=False, timeout=10)
    _error_page(r, 400, BAD_LOGOUT)
    assert _session_alive(rp)


@pytest.mark.parametrize("client_id,message", [(None, MISSING_CLIENT), ("unknown", UNKNOWN_CLIENT)])
def test_logout_without_a_known_client_shows_error_page_and_keeps_session(world, client_id, message):
    rp = _fresh(world.pub)
    _sign_in(rp, "alice")
    params = {"logout_uri": LOGOUT, **({"client_id": client_id} if client_id else {})}
    r = rp.browser.get(rp.config["end_session_endpoint"], params=params, allow_redirects=False, timeout=10)
    _error_page(r, 400, message)
    assert _session_alive(rp)


def test_logout_uri_of_another_client_is_refused(world):
    rp = _fresh(world.conf)  # the confidential client registered no logout URL
    _sign_in(rp, "alice")
    r = rp.browser.get(rp.config["end_session_endpoint"], params={"client_id": rp.client_id, "logout_uri": LOGOUT},
                       allow_redirects=False, timeout=10)
    _error_page(r, 400, BAD_LOGOUT)
    assert _session_alive(rp)


def test_logout_registered_uri_redirects_and_ends_session(world):
    rp = _fresh(world.pub)
    _sign_in(rp, "alice")
    r = rp.browser.get(rp.config["end_session_endpoint"],
                       params={"client_id": rp.client_id, "logout_uri": LOGOUT, "state": "a&b=c"},
                       allow_redirects=False, timeout=10)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.split("?")[0] == LOGOUT and query_of(location) == {"state": "a&b=c"}
    assert not _session_alive(rp)


# -- hosted forms ----------------------------------------------------------------------

def _login_page(rp: RelyingParty) -> requests.Response:
    _verifier, extra = _pkce_params(rp)
    r = rp.authorize(**extra)
    assert r.status_code == 302 and "/login?txn=" in r.headers["Location"], r.headers.get("Location")
    page = rp.follow(r)
    assert page.status_code == 200, page.text
    return page


def _post(rp: RelyingParty, path: str, data: dict[str, str]) -> requests.Response:
    return rp.browser.post(f"{rp.issuer}{path}", data=data, allow_redirects=False, timeout=10)


def _error_box(text: str) -> str:
    match = re.search(r'<div class="errorMessage-customizable".*?</div>', text, re.S)
    assert match, text
    return match.group(0)


def test_login_without_csrf_token_is_refused(world):
    rp = _fresh(world.conf)
    page = _login_page(rp)
    before = _code_keys(world)
    fields = form_fields(page.text)
    r = _post(rp, "/login", {"txn": fields["txn"], "username": "alice", "password": PASSWORD})
    _error_page(r, 400, CSRF_FAILED)
    # a token from another browser's session does not help either
    stranger = _login_page(_fresh(world.conf))
    r = _post(rp, "/login", {**fields, "csrf_token": form_fields(stranger.text)["csrf_token"],
                             "username": "alice", "password": PASSWORD})
    _error_page(r, 400, CSRF_FAILED)
    assert _code_keys(world) == before
    assert not _session_alive(rp)
    assert rp.browser.get(page.url, timeout=10).status_code == 200  # the transaction is still there


def test_login_oversized_username_is_refused_with_a_clear_message(world):
    rp = _fresh(world.conf)
    page = _login_page(rp)
    before = _code_keys(world)
    r = rp.post_form(page, {"username": "a" * 10240, "password": PASSWORD})
    assert r.status_code == 400 and "Location" not in r.headers
    assert "Username: Field cannot be longer than 256 characters." in html.unescape(_error_box(r.text))
    assert "a" * 257 not in r.text  # not echoed back whole
    assert _code_keys(world) == before and not _session_alive(rp)


@pytest.mark.parametrize("txn", ["bogus", "", "x" * 65, "x" * 5000, "../../etc/passwd", "%00"])
def test_login_unknown_or_malformed_txn_shows_error_page(world, txn):
    rp = _fresh(world.conf)
    r = rp.browser.get(f"{rp.issuer}/login", params={"txn": txn}, allow_redirects=False, timeout=10)
    _error_page(r, 400, TXN_EXPIRED)
    page = _login_page(rp)
    r = rp.post_form(page, {"txn": txn, "username": "alice", "password": PASSWORD})
    _error_page(r, 400, TXN_EXPIRED)
    assert not _session_alive(rp)


def test_login_txn_of_another_pool_shows_error_page(world):
    rp = _fresh(world.other)
    txn = form_fields(_login_page(rp).text)["txn"]
    mine = _fresh(world.conf)
    r = mine.browser.get(f"{mine.issuer}/login", params={"txn": txn}, allow_redirects=False, timeout=10)
    _error_page(r, 400, TXN_EXPIRED)


def test_wrong_password_and_unknown_user_answer_alike(world):
    answers = []
    for username, password in (("alice", "Wr0ng-Password!"), ("nobody-" + secrets.token_hex(4), PASSWORD)):
        rp = _fresh(world.conf)
        r = rp.post_form(_login_page(rp), {"username": username, "password": password})
        assert "Location" not in r.headers and not _session_alive(rp)
        answers.append((r.status_code, _error_box(r.text), re.search(r"<title>.*?</title>", r.text).group(0)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400 and SIGN_IN_FAILED in answers[0][1]


def test_repeated_failures_are_throttled_even_with_the_right_password(world):
    rp = _fresh(world.conf)
    page = _login_page(rp)
    before = _code_keys(world)
    for _ in range(3):  # lockout_free_attempts
        r = rp.post_form(page, {"username": "target", "password": "Wr0ng-Password!"})
        assert r.status_code == 400 and SIGN_IN_FAILED in r.text
    r = rp.post_form(page, {"username": "target", "password": PASSWORD})
    assert r.status_code == 429, r.text
    assert "Location" not in r.headers
    assert re.search(r"Too many failed attempts\. Try again in \d+ seconds?\.", _error_box(r.text))
    assert _code_keys(world) == before and not _session_alive(rp)


def _signup_page(rp: RelyingParty) -> requests.Response:
    txn = form_fields(_login_page(rp).text)["txn"]
    page = rp.browser.get(f"{rp.issuer}/signup", params={"txn": txn}, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    return page


def test_signup_with_weak_password_names_the_rules_and_creates_nothing(world):
    rp = _fresh(world.conf)
    name = "weak-" + secrets.token_hex(4)
    r = rp.post_form(_signup_page(rp), {"username": name, "email": f"{name}@example.com", "password": "alllowercase"})
    assert r.status_code == 400 and "Location" not in r.headers
    box = html.unescape(_error_box(r.text))
    for rule in ("Password must contain an uppercase letter.", "Password must contain a number.",
                 "Password must contain a symbol."):
        assert rule in box
    assert "lowercase letter" not in box and "at least" not in box
    r = rp.post_form(_signup_page(rp), {"username": name, "email": f"{name}@example.com", "password": "Sh0rt!"})
    assert r.status_code == 400 and "Password must have at least 8 characters." in _error_box(r.text)
    assert name not in _users(world)


def _mask(text: str, *values: str) -> str:
    for value in values:
        text = text.replace(value, "<masked>")
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value="<csrf>"', text)


def _log_codes(w: World, email: str) -> list[str]:
    """The codes the server 'sent' to ``email`` (no SMTP configured: they go to its log)."""
    return re.findall(rf"message to {re.escape(email)}: .*\n.*?(\d{{6}})", w.broker.log.read_text())


def _next_log_code(w: World, email: str, seen: int) -> str:
    deadline = time.time() + 10
    while time.time() < deadline:
        found = _log_codes(w, email)
        if len(found) > seen:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no new code for {email} in the server log")


def test_signup_with_a_taken_username_looks_like_success_and_changes_nothing(world):
    before = _users(world)["alice"]
    fresh_name = "fresh-" + secrets.token_hex(4)
    answers = []
    for name in ("alice", fresh_name):
        rp = _fresh(world.conf)
        r = rp.post_form(_signup_page(rp), {"username": name, "email": "mallory@example.com", "password": "N3w-Passw0rd!"})
        assert r.status_code == 302, r.text
        txn = query_of(r.headers["Location"])["txn"]
        page = rp.follow(r)
        answers.append((r.status_code, _mask(r.headers["Location"], txn, name), page.status_code,
                        _mask(page.text, txn, name)))
    assert answers[0] == answers[1]
    after = _users(world)
    assert after["alice"] == before  # same sub, status, attributes (email not replaced), password untouched
    assert after[fresh_name]["UserStatus"] == "UNCONFIRMED"
    assert _fresh(world.conf).sign_in("alice", PASSWORD)[1]


def test_confirm_with_a_wrong_code_is_refused_and_confirms_nothing(world):
    rp = _fresh(world.conf)
    name = "conf-" + secrets.token_hex(4)
    r = rp.post_form(_signup_page(rp), {"username": name, "email": f"{name}@example.com", "password": "N3w-Passw0rd!"})
    assert r.status_code == 302, r.text
    page = rp.follow(r)
    right = _next_log_code(world, f"{name}@example.com", 0)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    r = rp.post_form(page, {"username": name, "code": wrong})
    assert r.status_code == 400 and "Location" not in r.headers
    assert "Invalid verification code provided, please try again." in _error_box(r.text)
    r = rp.post_form(page, {"username": name, "code": "12ab56"})
    assert r.status_code == 400 and "Enter the 6-digit code." in _error_box(r.text)
    r = rp.post_form(page, {"username": "alice", "code": right})  # someone else's code for another user
    assert r.status_code == 400
    assert _users(world)[name]["UserStatus"] == "UNCONFIRMED"
    r = rp.post_form(page, {"username": name, "code": right})  # the right code still works afterwards
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK + "?code=")


def test_forgot_password_answers_alike_for_unknown_and_known_users(world):
    answers = []
    for name in ("alice", "ghost-" + secrets.token_hex(4)):
        rp = _fresh(world.conf)
        txn = form_fields(_login_page(rp).text)["txn"]
        page = rp.browser.get(f"{rp.issuer}/forgotPassword", params={"txn": txn}, timeout=10)
        r = rp.post_form(page, {"username": name})
        assert r.status_code == 302, r.text
        follow = rp.follow(r)
        answers.append((r.status_code, _mask(r.headers["Location"], txn, name), follow.status_code,
                        _mask(follow.text, txn, name)))
    assert answers[0] == answers[1]
    assert "If the account exists, a code has been sent" in answers[0][3]
    assert _fresh(world.conf).sign_in("alice", PASSWORD)[1]  # the password is unchanged


def test_hosted_form_refuses_a_huge_body_with_413(world):
    rp = _fresh(world.conf)
    page = _login_page(rp)
    r = rp.post_form(page, {"username": "alice", "password": PASSWORD, "pad": "a" * (65 * 1024)})
    assert r.status_code == 413 and "Location" not in r.headers
    assert "The request is too large." in r.text and r.headers["Content-Type"].startswith("text/html")
    assert not _session_alive(rp)


@pytest.mark.parametrize("fields,message", [
    ({"username": "has space"}, "The username must have 1 to 128 letters, digits or . _ @ + = , -"),
    ({"username": "u" * 200}, "Username: Field cannot be longer than 128 characters."),
    ({"email": "not-an-email"}, "Enter a valid email address."),
    ({"email": "a" * 5000 + "@example.com"}, "Enter a valid email address."),
    ({"email": "a\x00b@example.com"}, "Email contains characters that are not allowed."),
    ({"email": ""}, "Email is required."),
    ({"username": ""}, "Username: This field is required."),
], ids=["space", "overlong-username", "bad-email", "huge-email", "nul-email", "no-email", "no-username"])
def test_signup_garbage_is_refused_with_a_clear_message(world, fields, message):
    rp = _fresh(world.conf)
    data = {"username": "", "email": "", "password": "N3w-Passw0rd!", **fields}
    name = data["username"] or "x"
    if "username" not in fields:
        data["username"] = name = "garbage-" + secrets.token_hex(4)
    r = rp.post_form(_signup_page(rp), data)
    assert r.status_code == 400 and "Location" not in r.headers, r.headers.get("Location")
    assert message in html.unescape(_error_box(r.text))
    assert len(r.text) < 20000  # huge input is not echoed back whole
    assert not _session_alive(rp)


def test_reset_with_a_wrong_code_changes_no_password(world):
    rp = _fresh(world.conf)
    txn = form_fields(_login_page(rp).text)["txn"]
    page = rp.browser.get(f"{rp.issuer}/forgotPassword", params={"txn": txn}, timeout=10)
    seen = len(_log_codes(world, "alice@example.com"))
    r = rp.post_form(page, {"username": "alice"})
    assert r.status_code == 302, r.text
    page = rp.follow(r)
    right = _next_log_code(world, "alice@example.com", seen)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    new = "Ch4nged-Passw0rd!"
    r = rp.post_form(page, {"code": wrong, "password": new, "password_confirm": new})
    assert r.status_code == 400 and "Location" not in r.headers
    assert "Invalid code provided, please request a code again." in _error_box(r.text)
    r = rp.post_form(page, {"code": right, "password": new, "password_confirm": new + "x"})
    assert r.status_code == 400 and "The passwords do not match." in _error_box(r.text)
    r = rp.post_form(page, {"code": right, "password": "weak", "password_confirm": "weak"})
    assert r.status_code == 400 and "Password must have at least 8 characters." in _error_box(r.text)
    assert _fresh(world.conf).sign_in("alice", PASSWORD)[1]  # the old password still works
    assert _fresh(world.conf).sign_in("alice", new)[1] is None


def test_new_password_page_needs_a_transaction_at_that_step(world):
    rp = _fresh(world.conf)
    txn = form_fields(_login_page(rp).text)["txn"]
    r = rp.browser.get(f"{rp.issuer}/newPassword", params={"txn": txn}, allow_redirects=False, timeout=10)
    _error_page(r, 400, TXN_EXPIRED)
    r = rp.browser.get(f"{rp.issuer}/newPassword", allow_redirects=False, timeout=10)
    _error_page(r, 400, TXN_EXPIRED)


def test_nul_bytes_are_refused_cleanly_on_postgresql(make_broker, postgres_url, redis_url):
    """PostgreSQL text cannot hold NUL, and its driver raises on one: every lookup by a
    name the client chose must answer as for an unknown name, never 500."""
    node = make_broker(database_url=postgres_url, redis_url=redis_url)
    pool = node.pool()
    _u, conf = _parallel(
        lambda: node.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD,
                         "--email", "alice@example.com", "--confirmed"),
        lambda: node.cli_json("client", "create", "--pool", pool, "--name", "conf", "--callback-url", CALLBACK,
                              "--secret"))
    rp = RelyingParty(node.base_url, pool, conf["ClientId"], conf["ClientSecret"])
    token = rp.config["token_endpoint"]
    assert requests.get(f"{node.base_url}/local_%00/oauth2/authorize", timeout=10).status_code == 404
    assert requests.get(f"{node.base_url}/a%00/.well-known/jwks.json", timeout=10).status_code == 404
    _error_page(rp.authorize(client_id="a\x00b"), 400, UNKNOWN_CLIENT)
    _error_page(requests.get(rp.config["end_session_endpoint"], params={"client_id": "a\x00"},
                             allow_redirects=False, timeout=10), 400, UNKNOWN_CLIENT)
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": CALLBACK}
    _oauth_error(requests.post(token, data={**data, "client_id": "a\x00"}, timeout=10), 400, "invalid_client")
    _oauth_error(requests.post(token, data=data, auth=("a\x00", "b"), timeout=10), 401, "invalid_client")
    page = _login_page(rp)
    r = rp.post_form(page, {"username": "al\x00ice", "password": PASSWORD})
    assert r.status_code == 400 and SIGN_IN_FAILED in r.text
    txn = form_fields(page.text)["txn"]
    forgot = rp.browser.get(f"{rp.issuer}/forgotPassword", params={"txn": txn}, timeout=10)
    r = rp.post_form(forgot, {"username": "al\x00ice"})
    assert r.status_code == 302 and "/confirmForgotPassword?" in r.headers["Location"]
    r = rp.post_form(forgot, {"username": "al\x00ice", "code": "123456"}, action=f"/{pool}/confirmUser")
    assert r.status_code == 400 and "Invalid verification code provided" in r.text
    assert rp.sign_in("alice", PASSWORD)[1]  # the store is fine


# -- headers and cookies ---------------------------------------------------------------

def test_hosted_pages_carry_security_headers_and_a_strict_cookie(world):
    rp = _fresh(world.conf)
    authorize = rp.authorize()
    page = rp.follow(authorize)
    error = rp.browser.get(f"{rp.issuer}/login", params={"txn": "bogus"}, timeout=10)
    for r in (authorize, page, error):
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("cognate=")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes and "samesite=lax" in attributes
    # the signed-in session cookie too
    r = rp.post_form(page, {"username": "alice", "password": PASSWORD})
    assert r.status_code == 302
    attributes = {a.strip().lower() for a in r.headers["Set-Cookie"].split(";")[1:]}
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert urlsplit(r.headers["Location"]).netloc == "localhost:9000"
