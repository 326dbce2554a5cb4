"""CPU per call of the hot paths, in process: the app (``create_app``) driven by Flask's test
client against PostgreSQL (or SQLite) and Redis, so that only Cognate's own work is counted,
without HTTP parsing or gunicorn. Each path is set beside the floor every token endpoint
pays, one RS256 signature of the pool's key, measured in the same run.

Paths: ``refresh`` (refresh_token grant, ID + access token), ``client_credentials``,
``userinfo``, ``jwks``, ``login_page`` (``/oauth2/authorize`` → the hosted form, two requests),
``login`` (a whole login of a returning browser: authorize, form, password POST, code for
tokens with PKCE), also shown without its one Argon2id verification (measured beside it).
``--profile PATH`` prints cProfile's top functions for one of them.

    .venv/bin/python bench/hot_paths.py                      # PostgreSQL on 127.0.0.1:5432, Redis
    .venv/bin/python bench/hot_paths.py --db sqlite --calls 2000
    .venv/bin/python bench/hot_paths.py --profile refresh
"""
from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import logging
import os
import pstats
import re
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Stack, make_database, start_redis  # noqa: E402

CALLBACK = "https://app.example.com/callback"
PATHS = ("refresh", "client_credentials", "userinfo", "jwks", "login_page", "login")
PASSWORD = "Corr3ct-Horse!"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TXN = re.compile(r'name="txn" value="([^"]+)"')


def cpu_per_call(call: Callable[[], None], calls: int) -> float:
    """Milliseconds of this process's CPU per call, after a warm-up."""
    for _ in range(min(100, calls)):
        call()
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls * 1000


def build(database_url: str, redis_url: str) -> tuple[dict[str, Callable[[], None]], Callable[[], None]]:
    """A pool, a confidential client with both flows, a user with a refresh token, and the app."""
    secret_key = secrets.token_hex(24)
    os.environ.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "BROKER_LOG_FORMAT": "text",
                       "BROKER_BASE_URL": "https://auth.example.com", "BROKER_SECRET_KEY": secret_key,
                       "BROKER_LOGIN_STARTS_PER_MINUTE": "0"})  # every login of the run starts from one address
    from broker import create_app
    from broker.oauth.issue import new_refresh_token
    from broker.oauth.tokens import Grant
    from broker.store import repo
    from broker.sealing import Sealer
    from broker.store.db import Database
    from broker.userpool import admin, app_clients, resource_servers

    db = Database(database_url, Sealer(secret_key))
    db.upgrade()
    with db.session() as s:
        pool = admin.create_pool(s, "bench")
        resource_servers.create_resource_server(s, pool.id, "bench-api", "bench", ["read"])
        client, secret = app_clients.create_client(s, pool.id, "app", [CALLBACK], secret=True,
                                             flows=["code", "client_credentials"],
                                             scopes=["openid", "email", "profile", "bench-api/read"])
        user = admin.create_user(s, pool.id, "alice", PASSWORD, {"email": "alice@example.com"},
                                 confirmed=True)[0]
        grant = Grant(issuer="", client_id=client.id, scopes=("openid", "email", "profile"),
                      auth_time=int(time.time()), origin_jti=str(uuid.uuid4()), event_id=str(uuid.uuid4()))
        refresh_token = new_refresh_token(s, client, user, grant)
        pool_id, client_id = pool.id, client.id
    db.dispose()

    app = create_app()
    logging.getLogger().setLevel(logging.WARNING)
    web = app.test_client()
    basic = {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
    token_url = f"/{pool_id}/oauth2/token"

    def ok(response, status: int = 200):  # type: ignore[no-untyped-def]
        if response.status_code != status:
            raise SystemExit(f"{response.request.path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response

    def refresh() -> None:
        ok(web.post(token_url, data={"grant_type": "refresh_token", "refresh_token": refresh_token}, headers=basic))

    def client_credentials() -> None:
        ok(web.post(token_url, data={"grant_type": "client_credentials", "scope": "bench-api/read"}, headers=basic))

    access = ok(web.post(token_url, data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         headers=basic)).json["access_token"]

    def userinfo() -> None:
        ok(web.get(f"/{pool_id}/oauth2/userInfo", headers={"Authorization": f"Bearer {access}"}))

    def jwks() -> None:
        ok(web.get(f"/{pool_id}/.well-known/jwks.json"))

    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    authorize = {"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "scope": "openid",
                 "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}

    def login_page() -> None:
        form = ok(web.get(f"/{pool_id}/oauth2/authorize", query_string=authorize), 302).headers["Location"]
        ok(web.get(form))

    def login() -> None:
        web.delete_cookie(app.config["SESSION_COOKIE_NAME"])  # a returning browser whose session ended: it keeps its device cookie
        form = ok(web.get(f"/{pool_id}/oauth2/authorize", query_string=authorize), 302).headers["Location"]
        page = ok(web.get(form)).get_data(as_text=True)
        fields = {"csrf_token": CSRF.search(page)[1], "txn": TXN.search(page)[1], "username": "alice",
                  "password": PASSWORD}
        back = ok(web.post(f"/{pool_id}/login", data=fields), 302).headers["Location"]
        code = re.search(r"[?&]code=([^&]+)", back)[1]
        ok(web.post(token_url, data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                                     "code_verifier": verifier}, headers=basic))

    rt = app.extensions["broker"]
    with app.app_context():
        with rt.db.sessions() as s:
            keys = rt.keys.get(s, repo.get_pool(s, pool_id))

    from joserfc import jwt

    def signature() -> None:
        jwt.encode({"alg": keys.alg, "kid": keys.signing.kid}, {"sub": "x", "iat": 0}, keys.signing)

    from broker.userpool.passwords import hash_password

    paths = {"refresh": refresh, "client_credentials": client_credentials, "userinfo": userinfo, "jwks": jwks,
             "login_page": login_page, "login": login, "signature": signature,
             "hash": lambda: hash_password(PASSWORD)}
    return paths, rt.db.dispose  # the app's pool holds connections to the throwaway database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url")
    parser.add_argument("--calls", type=int, default=1000, help="calls measured per path (1000)")
    parser.add_argument("--path", action="append", choices=PATHS, help="repeatable; default: every path")
    parser.add_argument("--profile", choices=PATHS, help="print cProfile's top functions of this path")
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="cognate-hot-")))
    try:
        redis_url = start_redis(stack, args.redis_url)
        paths, dispose = build(make_database(stack, args.db, args.postgres_url), redis_url)
        stack.cleanups.append(dispose)
        floor = cpu_per_call(paths["signature"], args.calls)
        print(f"Cognate in process on {args.db} + Redis, {args.calls} calls each; floor: one RS256 signature "
              f"= {floor:.3f} ms of CPU")
        print(f"{'path':<20}{'CPU ms/call':>12}{'× signature':>13}")
        for name in args.path or PATHS:
            calls = max(20, args.calls // 20) if name == "login" else args.calls
            ms = cpu_per_call(paths[name], calls)
            print(f"{name:<20}{ms:>12.3f}{ms / floor:>13.1f}")
            if name == "login":
                hashing = cpu_per_call(paths["hash"], calls)
                print(f"{'login minus hash':<20}{ms - hashing:>12.3f}{(ms - hashing) / floor:>13.1f}"
                      f"   (one Argon2id hash: {hashing:.1f} ms)")
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(lambda: [paths[args.profile]() for _ in range(args.calls)])
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    finally:
        stack.close()


if __name__ == "__main__":
    main()
