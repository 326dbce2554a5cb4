"""Shared ground for the hostile-input tests: one server (SQLite + real Redis), two pools,
three clients and signed-in browsers, and the assertions that say "refused, nothing changed"."""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

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


CHALLENGE = pkce()[1]


S256 = {"code_challenge": CHALLENGE, "code_challenge_method": "S256"}


REDIRECTED = [
    ("conf", {"response_type": None}, "unsupported_response_type"),
    ("conf", {"response_type": "code id_token"}, "unsupported_response_type"),
    ("conf", {"response_type": "CODE"}, "unsupported_response_type"),
    # response_type=token by a client without the implicit flow: tests/flows/test_implicit.py
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


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


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


def _signup_page(rp: RelyingParty) -> requests.Response:
    txn = form_fields(_login_page(rp).text)["txn"]
    page = rp.browser.get(f"{rp.issuer}/signup", params={"txn": txn}, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    return page


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
