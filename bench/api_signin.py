"""Sign-ins and refreshes at the cognito-idp JSON API, against floors measured in the same run.

Prints:

(a) the Argon2id hash rate of the project's own hasher on one core (as ``login_flow.py``);
(b) InitiateAuth USER_PASSWORD_AUTH sign-ins/s (one Argon2id check each) ÷ (a): goal ≥ 0.8;
(c) the two-call USER_SRP_AUTH sign-in (InitiateAuth + RespondToAuthChallenge
    PASSWORD_VERIFIER) per second ÷ (a), and the client's own SRP work per sign-in
    (pycognito's, two 3072-bit modular exponentiations), which shares the machine;
(d) InitiateAuth REFRESH_TOKEN_AUTH per second ÷ the token endpoint's refresh_token grant
    per second, both on a client that does not rotate refresh tokens, measured in turns
    (three each) so that the machine's drift weighs on both: goal ≥ 0.9; and the server's
    CPU per call of each, the steadier figure.

Client threads drive each call over keep-alive ``http.client`` connections for a fixed
time against gunicorn (``broker serve --workers N``) with Redis and SQLite or PostgreSQL;
only answers with tokens count. Run from the repository root::

    .venv/bin/python bench/api_signin.py [--seconds 15] [--workers 2] [--db sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from pycognito.aws_srp import AWSSRP  # noqa: E402

from harness import Stack, cpu_model, cpu_reading, cpu_reading_at, cpu_spent, make_database, recycles, \
    start_redis, start_server  # noqa: E402
from login_flow import measure_hashing  # noqa: E402

CALLBACK = "http://localhost:9000/callback"
USERNAME, PASSWORD = "bench-user", "Corr3ct-Horse!"
TARGET = "AWSCognitoIdentityProviderService."
#: Turns in which the two refreshes are measured one after the other.
ROUNDS = 3
FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")


class Api:
    """One keep-alive connection speaking JSON 1.1 (and forms, for the token endpoint)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, path: str, body: str, headers: dict[str, str]) -> tuple[int, bytes]:
        for _ in (0, 1):
            try:
                self.conn.request("POST", path, body, headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):  # a kept-alive connection the server closed
                self.conn.close()
        return 0, b""

    def call(self, operation: str, params: dict, target: str = TARGET) -> dict:
        status, body = self.send("/", json.dumps(params), {"Content-Type": "application/x-amz-json-1.1",
                                                           "X-Amz-Target": target + operation})
        if status != 200:
            raise RuntimeError(f"{operation}: HTTP {status} {body[:200]!r}")
        return json.loads(body)

    def form(self, path: str, fields: dict[str, str]) -> dict:
        status, body = self.send(path, urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status} {body[:200]!r}")
        return json.loads(body)


def setup(stack: Stack, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
    stack.env = env
    env.update({"BROKER_SECRET_KEY": secrets.token_urlsafe(40), "BROKER_DATA_DIR": str(stack.tmp / "var"),
                "REDIS_URL": start_redis(stack, args.redis_url),
                "DATABASE_URL": make_database(stack, args.db, args.postgres_url),
                "BROKER_ENV": "development", "BROKER_BASE_URL": "http://127.0.0.1:8000"})
    if args.db == "postgresql":
        stack.cli("db", "upgrade", as_json=False)
    pool = stack.cli("pool", "create", "--name", "bench")["Id"]
    flows = [arg for flow in FLOWS for arg in ("--auth-flow", flow)]
    client = stack.cli("client", "create", "--pool", pool, "--name", "bench-app", "--callback-url", CALLBACK,
                       "--no-rotate-refresh-tokens", *flows)
    stack.cli("user", "create", "--pool", pool, "--username", USERNAME, "--password", PASSWORD, "--confirmed")
    start_server(stack, args.workers, args.threads, args.launcher)
    return {"pool": pool, "client_id": client["ClientId"]}


def password_sign_in(api: Api, ids: dict[str, str]) -> None:
    result = api.call("InitiateAuth", {"ClientId": ids["client_id"], "AuthFlow": "USER_PASSWORD_AUTH",
                                       "AuthParameters": {"USERNAME": USERNAME, "PASSWORD": PASSWORD}})
    assert "AccessToken" in result["AuthenticationResult"]


def srp_sign_in(api: Api, ids: dict[str, str], client: AWSSRP) -> None:
    auth = client.get_auth_params()
    challenge = api.call("InitiateAuth", {"ClientId": ids["client_id"], "AuthFlow": "USER_SRP_AUTH",
                                          "AuthParameters": auth})
    responses = client.process_challenge(challenge["ChallengeParameters"], auth)
    result = api.call("RespondToAuthChallenge", {"ClientId": ids["client_id"], "ChallengeName": "PASSWORD_VERIFIER",
                                                 "ChallengeResponses": responses})
    assert "AccessToken" in result["AuthenticationResult"]


def measure(stack: Stack, args: argparse.Namespace, make: Callable[[Api], Callable[[], None]],
            peer: Callable[[], float] | None = None) -> dict:
    """Calls per second of ``make(api)()`` from ``args.clients`` threads, and the CPU per call
    (with ``peer``, a reading of another process's CPU seconds: its share as ``peer_ms``)."""
    port = int(stack.base_url.rsplit(":", 1)[1])
    calls = [make(Api(port)) for _ in range(args.clients)]
    for call in calls:
        call()  # connections open, code paths warm
    start = time.monotonic() + args.warmup
    end = start + args.seconds
    done, failures, lock = [0], {}, threading.Lock()

    def drive(call: Callable[[], None]) -> None:
        while (now := time.monotonic()) < end:
            try:
                call()
                ok, why = True, ""
            except (RuntimeError, AssertionError, KeyError) as exc:
                ok, why = False, str(exc)[:80]
            if now >= start:
                with lock:
                    if ok:
                        done[0] += 1
                    else:
                        failures[why] = failures.get(why, 0) + 1

    threads = [threading.Thread(target=drive, args=(c,), daemon=True) for c in calls]
    for t in threads:
        t.start()
    time.sleep(max(0.0, start - time.monotonic()))
    before, peer_before = cpu_reading(stack), peer() if peer else 0.0
    after = cpu_reading_at(stack, end)
    peer_spent = peer() - peer_before if peer else 0.0
    for t in threads:
        t.join(120)
    cpu = cpu_spent(before, after)
    n = max(done[0], 1)
    return {"rate": done[0] / args.seconds, "failures": failures, "peer_ms": peer_spent / n * 1000,
            "server_ms": cpu["server"] / n * 1000, "stores_ms": (cpu["redis"] + cpu["database"]) / n * 1000,
            "client_ms": cpu["client"] / n * 1000, "other": (cpu["machine"] - cpu["client"] - cpu["server"]
                                                            - cpu["redis"] - cpu["database"] - peer_spent) / args.seconds}


def alternate(stack: Stack, args: argparse.Namespace, makers: tuple, peer: Callable[[], float] | None = None,
              turns: int = ROUNDS) -> list[dict]:
    """Each of ``makers`` measured in turns, ``turns`` times for a part of ``args.seconds``,
    and summed: what drifts on the machine meanwhile weighs on all alike (``turn_rates``: each
    turn's rate, for ratios taken turn by turn, :func:`turn_ratios`). ``recycles``: the
    server's workers recycled while each was measured (a replacement's start, its warm-up
    and its first requests' cold paths land on whichever figure runs then)."""
    rounds = argparse.Namespace(**{**vars(args), "seconds": args.seconds / turns, "warmup": 1.0})
    figures = ("rate", "server_ms", "stores_ms", "peer_ms", "client_ms", "other")
    totals = [{"failures": {}, "recycles": 0, "turn_rates": [], **{name: 0.0 for name in figures}} for _ in makers]
    for _ in range(turns):
        for total, make in zip(totals, makers):
            recycled = recycles(stack)
            found = measure(stack, rounds, make, peer)
            total["recycles"] += recycles(stack) - recycled
            total["turn_rates"].append(found["rate"])
            for name in figures:
                total[name] += found[name] / turns
            for why, n in found["failures"].items():
                total["failures"][why] = total["failures"].get(why, 0) + n
    return totals


def turn_ratios(figure: dict, base: dict) -> list[float | None]:
    """``figure``'s rate ÷ ``base``'s, turn by turn (:func:`alternate`), in their order (None
    where ``base`` answered nothing): two figures measured a few seconds apart share the
    machine's state more than two sums do."""
    return [a / b if b else None for a, b in zip(figure["turn_rates"], base["turn_rates"])]


def client_srp_ms(ids: dict[str, str], rounds: int = 20) -> float:
    """The client's SRP work per sign-in (A, then the answer to a made-up challenge), in ms."""
    client = AWSSRP(USERNAME, PASSWORD, ids["pool"], ids["client_id"], client=object())
    params = {"USER_ID_FOR_SRP": USERNAME, "SALT": "a1" * 16, "SRP_B": format(client.large_a_value, "x"),
              "SECRET_BLOCK": "c2VjcmV0"}
    start = time.process_time()
    for _ in range(rounds):
        auth = client.get_auth_params()
        client.process_challenge(params, auth)
    return (time.process_time() - start) / rounds * 1000


def refresh_token(api: Api, ids: dict[str, str]) -> str:
    result = api.call("InitiateAuth", {"ClientId": ids["client_id"], "AuthFlow": "USER_PASSWORD_AUTH",
                                       "AuthParameters": {"USERNAME": USERNAME, "PASSWORD": PASSWORD}})
    return result["AuthenticationResult"]["RefreshToken"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--launcher", choices=("serve", "gunicorn"), default="serve")
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a private one")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix="cognate-bench-")))
    try:
        ids = setup(stack, args)
        port = int(stack.base_url.rsplit(":", 1)[1])
        hashes, busy = measure_hashing(5.0)
        password = measure(stack, args, lambda api: lambda: password_sign_in(api, ids))
        srp = measure(stack, args, lambda api: (lambda c: lambda: srp_sign_in(api, ids, c))(
            AWSSRP(USERNAME, PASSWORD, ids["pool"], ids["client_id"], client=object())))
        token = refresh_token(Api(port), ids)
        body = {"ClientId": ids["client_id"], "AuthFlow": "REFRESH_TOKEN_AUTH",
                "AuthParameters": {"REFRESH_TOKEN": token}}
        grant = {"grant_type": "refresh_token", "client_id": ids["client_id"], "refresh_token": token}
        api_refresh, endpoint = alternate(stack, args, (
            lambda api: lambda: api.call("InitiateAuth", body),
            lambda api: lambda: api.form(f"/{ids['pool']}/oauth2/token", grant)))
    finally:
        stack.close()
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}); {args.db}, broker serve --workers {args.workers}, "
          f"{args.clients} client threads, {args.seconds:g} s each after {args.warmup:g} s")
    if busy > 0.25:
        print(f"  WARNING: other processes kept {busy:.2f} CPUs busy while hashing: the figures are unreliable")
    print(f"(a) Argon2id hashes/s, one core:                 {hashes:8.1f}")
    for name, found, floor, what in (("(b) USER_PASSWORD_AUTH sign-ins/s", password, hashes, "÷ (a)"),
                                     ("(c) USER_SRP_AUTH sign-ins/s (2 calls)", srp, hashes, "÷ (a)"),
                                     ("(d) REFRESH_TOKEN_AUTH/s", api_refresh, endpoint["rate"], "÷ token endpoint")):
        print(f"{name:<48}{found['rate']:8.1f}  {what} = {found['rate'] / floor:.2f}   "
              f"(server {found['server_ms']:.1f} ms + stores {found['stores_ms']:.1f} ms CPU per call; "
              f"failures: {found['failures'] or 'none'})")
    print(f"    token endpoint refresh_token grants/s:       {endpoint['rate']:8.1f}   "
          f"(server {endpoint['server_ms']:.1f} ms + stores {endpoint['stores_ms']:.1f} ms)")
    cpu = [r["server_ms"] + r["stores_ms"] for r in (api_refresh, endpoint)]
    print(f"    CPU per refresh, token endpoint ÷ REFRESH_TOKEN_AUTH: {cpu[1]:.2f} ÷ {cpu[0]:.2f} ms = "
          f"{cpu[1] / cpu[0]:.2f}")
    print(f"    the client's own SRP work per sign-in (pycognito, same machine): {client_srp_ms(ids):.1f} ms CPU")


if __name__ == "__main__":
    main()
