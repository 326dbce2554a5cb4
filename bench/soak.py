"""A bounded soak: mixed password logins, refreshes and userInfo calls against Cognate on
loopback for ``--minutes`` (default 10), with zero errors expected.

Cognate runs as in production (``broker serve --workers 2``, PostgreSQL + a private Redis;
``--db sqlite`` for the embedded database). Client threads take turns between two app
clients: a public SPA (PKCE, refresh tokens not rotated) and a confidential web app
(client_secret_basic, refresh tokens rotated with a grace period). Each thread loops over
sessions: a whole authorization-code login with the password form (one Argon2id
verification), then ``--refreshes`` refresh grants, each preceded by ``--userinfo`` userInfo
calls with the current access token. Every answer is checked; any other answer or a
transport error is an error. Each minute it prints the rates and p50/p99 latency per
operation, the errors, the RSS of each gunicorn worker, Redis's key count and how busy the
rest of the machine was. Exit code 1 if any request failed. Not part of CI.

Run from the repository root::

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 6] [--db postgresql|sqlite]
"""
from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from broker.serving import GUNICORN_DEFAULTS  # noqa: E402
from grants import AppTransport, basic  # noqa: E402
from harness import Stack, cpu_reading, cpu_reading_at, cpu_spent, process_tree, rss_mib  # noqa: E402
from login_flow import BUSY, CALLBACK, Client, FlowFailed, setup  # noqa: E402

OPS = ("login", "refresh", "userinfo")


# -- what the clients saw, minute by minute --------------------------------------------------

@dataclass
class Minute:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    errors: Counter = field(default_factory=Counter)


class Recorder:
    def __init__(self, start: float) -> None:
        self.start, self.minutes, self.lock = start, {}, threading.Lock()
        self.samples: list[str] = []  # the first few errors, word for word

    def record(self, op: str, began: float, error: str | None = None) -> None:
        with self.lock:
            minute = self.minutes.setdefault(int((began - self.start) // 60), Minute())
            if error is None:
                minute.latencies[op].append(time.monotonic() - began)
            else:
                minute.errors[f"{op}: {error.split(':', 1)[0]}"] += 1
                if len(self.samples) < 10:
                    self.samples.append(f"{op}: {error}")


# -- one client thread ------------------------------------------------------------------------

@dataclass
class App:
    """An app client: public (no secret, refresh with client_id) or confidential."""

    client_id: str
    authorization: str | None


def session(http: AppTransport, pool: str, app: App, username: str, args: argparse.Namespace, rec: Recorder,
            end: float, doing: list[str]) -> None:
    """One login, then refreshes with userInfo calls in between; ``doing`` names the step
    under way, for an exception the caller records."""
    doing[0], began = "login", time.monotonic()
    Client(http, pool, app.client_id, username=username).flow()
    tokens = http.token_response
    rec.record("login", began)
    for _ in range(args.refreshes):
        for _ in range(args.userinfo):
            doing[0], began = "userinfo", time.monotonic()
            status, _, body = http._send("GET", f"/{pool}/oauth2/userInfo", None,
                                         {"Authorization": f"Bearer {tokens['access_token']}"}, browser=False)
            rec.record("userinfo", began, None if status == 200 and '"sub"' in body else f"HTTP {status}: {body[:200]}")
        if time.monotonic() >= end:
            return
        doing[0], began = "refresh", time.monotonic()
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        if app.authorization is None:
            form["client_id"] = app.client_id
        status, _, body = http.post(f"/{pool}/oauth2/token", form, browser=False)
        if status != 200 or '"access_token"' not in body:
            rec.record("refresh", began, f"HTTP {status}: {body[:200]}")
            return  # these tokens are no good any more: sign in again
        rec.record("refresh", began)
        tokens = {**tokens, **json.loads(body)}  # a rotated refresh token replaces the old one


def drive(base_url: str, pool: str, app: App, username: str, args: argparse.Namespace, rec: Recorder,
          end: float) -> None:
    browser, doing = AppTransport(base_url, app.authorization), ["login"]
    while time.monotonic() < end:
        began = time.monotonic()
        try:
            session(browser, pool, app, username, args, rec, end, doing)
        except FlowFailed as exc:
            rec.record("login", began, str(exc))
        except (http.client.HTTPException, OSError, KeyError, TypeError, ValueError) as exc:
            rec.record(doing[0], began, f"{type(exc).__name__}: {exc}")
            browser = AppTransport(base_url, app.authorization)


# -- the run ----------------------------------------------------------------------------------

def start(stack: Stack, args: argparse.Namespace) -> tuple[str, list[App], list[str]]:
    """Server, pool, a user per client thread and the public SPA client (as login_flow.py),
    plus a confidential web client that rotates its refresh tokens with a 10 s grace period."""
    ids = setup(stack, argparse.Namespace(redis_url=args.redis_url, db=args.db, postgres_url=args.postgres_url,
                                          workers=args.workers, threads=args.threads, launcher=args.launcher),
                users=args.clients)
    web = stack.cli("client", "create", "--pool", ids["pool"], "--name", "soak-web", "--callback-url", CALLBACK,
                    "--secret", "--rotate-refresh-tokens", "--refresh-grace", "10")
    return ids["pool"], [App(ids["client_id"], None), App(web["ClientId"], basic(web["ClientId"], web["ClientSecret"]))], \
        ids["users"]


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


def _ops(minute: Minute, seconds: float) -> str:
    return "  ".join(f"{len(v) / seconds:7.1f} {_p(v, .5):6.1f} {_p(v, .99):6.1f}" for v in minute.latencies.values())


def header() -> str:
    ops = "  ".join(f"{op + '/s':>9} {'p50':>6} {'p99':>6}" for op in OPS)
    return f"{'min':>3}  {ops}  {'errors':>6}  {'worker RSS MiB':>15}  {'redis keys':>10}  {'other':>5}"


def watch(stack: Stack, rec: Recorder, args: argparse.Namespace) -> list[float]:
    """Print each minute's row a second after it ends; returns the 'other' CPUs per minute."""
    store, others, before = redis.Redis.from_url(stack.env["REDIS_URL"]), [], cpu_reading(stack)
    print(header(), flush=True)
    for m in range(args.minutes):
        after = cpu_reading_at(stack, rec.start + (m + 1) * 60 + 1)
        cpu, before = cpu_spent(before, after), after
        others.append((cpu["machine"] - cpu["client"] - cpu["server"] - cpu["redis"] - cpu["database"]) / 60)
        minute = rec.minutes.get(m, Minute())
        rss = "/".join(f"{rss_mib(pid):.0f}" for pid in process_tree(stack.server.pid)[1:])  # type: ignore[union-attr]
        print(f"{m + 1:>3}  {_ops(minute, 60)}  {sum(minute.errors.values()):>6}  {rss:>15}  "
              f"{store.dbsize():>10}  {others[-1]:5.2f}", flush=True)
    return others


def summary(rec: Recorder, others: list[float], args: argparse.Namespace) -> int:
    total = Minute()
    for minute in rec.minutes.values():
        for op in OPS:
            total.latencies[op].extend(minute.latencies[op])
        total.errors.update(minute.errors)
    print(f"{'all':>3}  {_ops(total, args.minutes * 60)}  {sum(total.errors.values()):>6}")
    if max(others, default=0) > BUSY:
        print(f"WARNING: other processes kept up to {max(others):.2f} CPUs busy: the machine was not quiet; "
              "rates and latencies are not quotable (errors still count)")
    if total.errors:
        print(f"ERRORS: {dict(total.errors)}\n  first ones:\n    " + "\n    ".join(rec.samples))
        return 1
    print(f"no errors in {sum(len(v) for v in total.latencies.values())} requests "
          f"({len(total.latencies['login'])} logins)")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=int, default=10, help="how long to run (bounded; default 10)")
    p.add_argument("--clients", type=int, default=6, help="client threads, alternating between the two apps")
    p.add_argument("--refreshes", type=int, default=4, help="refresh grants per login")
    p.add_argument("--userinfo", type=int, default=2, help="userInfo calls before each refresh")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=GUNICORN_DEFAULTS["threads"], help="threads per worker")
    p.add_argument("--launcher", choices=("serve", "conf"), default="serve",
                   help="serve: broker serve --workers N; conf: gunicorn -c deploy/gunicorn.conf.py")
    p.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test",
                   help="admin URL; a temporary database is created beside it and dropped")
    p.add_argument("--redis-url", default=None, help="an existing Redis (default: a private redis-server)")
    args = p.parse_args(argv)
    if args.minutes < 1 or args.clients < 1:
        p.error("--minutes and --clients must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix="cognate-soak-")))
    try:
        pool, apps, users = start(stack, args)
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  soak: {args.minutes} min, {args.clients} clients, "
              f"{args.workers} workers x {args.threads} threads, {args.db} + Redis, at {stack.base_url}; "
              f"per login {args.refreshes} refreshes, {args.userinfo} userInfo before each", flush=True)
        rec = Recorder(time.monotonic())
        end = rec.start + args.minutes * 60
        threads = [threading.Thread(target=drive, args=(stack.base_url, pool, apps[i % len(apps)], users[i], args, rec,
                                                        end), daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        others = watch(stack, rec, args)
        for t in threads:
            t.join(60)
    finally:
        stack.close()
        log = stack.tmp / "server.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(stack.tmp, ignore_errors=True)
    if "Traceback" in text:
        print(f"warning: the server logged a traceback:\n{text[-3000:]}", file=sys.stderr)
    return summary(rec, others, args) or (1 if "Traceback" in text else 0)


if __name__ == "__main__":
    sys.exit(main())
