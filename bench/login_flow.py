"""Login throughput against the cost of one Argon2id hash, measured in one run.

A password sign-in costs one Argon2id verification (m=19 MiB, t=2, p=1), which dominates
everything else a login does. This benchmark prints:

(a) the hash rate of the project's own hasher (``broker.userpool.passwords.hash_password``)
    on one core, measured in process before and after (b), and with one process per CPU;
(b) the rate of whole authorization-code logins through gunicorn (``broker serve
    --workers N``, Redis + SQLite or PostgreSQL): GET /oauth2/authorize → GET /login →
    POST /login (CSRF token, username, password) → 302 with the code → POST /oauth2/token
    with the PKCE verifier, driven by client threads for a fixed time; only whole flows
    that end with an ID token count; p50/p99 latency of the whole flow, and the CPU per
    flow of the server, the client, Redis, PostgreSQL and the rest of the machine;
(c) flow_rate / hash_rate: 1.0 means a login costs no more than its hash (goal: >= 0.8).

This machine is meant to behave like ONE CPU core for CPU-bound work: the client,
gunicorn, Redis and the database all compete for it, so the flow rate pays for the client
too. The client is kept cheap: http.client with one keep-alive connection per thread
(``--client requests``: a requests.Session per thread), regex parsing, no JWT verification.
A run with other work on the machine is flagged as unreliable. See bench/README.md.

Run from the repository root::

    .venv/bin/python bench/login_flow.py [--seconds 20] [--workers 2] [--db sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlencode

import requests

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from broker.serving import GUNICORN_DEFAULTS  # noqa: E402
from broker.userpool.passwords import HASHER, hash_password  # noqa: E402
from broker.web.mfa import DEVICE_COOKIE  # noqa: E402
from harness import (Stack, cpu_model, cpu_reading, cpu_reading_at, cpu_spent, machine_cpu, make_database,  # noqa: E402
                     start_redis, start_server)

CALLBACK = "http://localhost:9000/callback"
USERNAME, PASSWORD = "bench-user", "Corr3ct-Horse!"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TXN = re.compile(r'name="txn" value="([^"]+)"')
ACTION = re.compile(r'<form method="post" action="([^"]+)"')
CODE = re.compile(r"[?&]code=([^&]+)")
STEPS = ("authorize", "login_page", "login_post", "token")
#: CPUs kept busy by other processes above which the run is flagged as unreliable.
BUSY = 0.25


# -- (a) the hash rate ---------------------------------------------------------------

def hash_rate(seconds: float) -> float:
    """Argon2id hashes per second in this thread (one core)."""
    hash_password(PASSWORD)  # warm the allocator
    n, start = 0, time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        hash_password(PASSWORD)
        n += 1
    return n / (time.perf_counter() - start)


def parallel_hash_rate(procs: int, seconds: float) -> float:
    """Total hashes per second with ``procs`` processes: how many cores the machine really has."""
    with get_context("fork").Pool(procs) as pool:
        return sum(pool.map(hash_rate, [seconds] * procs))


def measure_hashing(seconds: float) -> tuple[float, float]:
    """One core's hash rate, and the CPUs other processes kept busy meanwhile (a busy
    neighbour lowers every figure of the run)."""
    machine, own, wall = machine_cpu(), time.process_time(), time.perf_counter()
    one = hash_rate(seconds)
    background = (machine_cpu() - machine - (time.process_time() - own)) / (time.perf_counter() - wall)
    return one, max(0.0, background)


# -- the peers: Redis, the database, the server ----------------------------------------

def setup(stack: Stack, args: argparse.Namespace, users: int = 1) -> dict[str, Any]:
    """Store, server and one pool with a public client and ``users`` confirmed users (via
    the CLI), their names in ``users``: a load signs each in from one thread, since one
    user's sign-ins at the same moment are throttled as a burst would be."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
    stack.env = env
    env.update({"BROKER_SECRET_KEY": secrets.token_urlsafe(40), "BROKER_DATA_DIR": str(stack.tmp / "var"),
                "REDIS_URL": start_redis(stack, args.redis_url),
                "DATABASE_URL": make_database(stack, args.db, args.postgres_url),
                "BROKER_ENV": "development",
                # every sign-in of the load comes from one address: no per-network limit on starting them
                "BROKER_LOGIN_STARTS_PER_MINUTE": "0",
                "BROKER_BASE_URL": "http://127.0.0.1:8000"})
    if args.db == "postgresql":
        stack.cli("db", "upgrade", as_json=False)
    pool = stack.cli("pool", "create", "--name", "bench")["Id"]
    client = stack.cli("client", "create", "--pool", pool, "--name", "bench-spa", "--callback-url", CALLBACK)
    names = [USERNAME, *(f"{USERNAME}-{i}" for i in range(1, users))]
    for name in names:
        stack.cli("user", "create", "--pool", pool, "--username", name, "--password", PASSWORD,
                  "--email", f"{name}@example.com", "--confirmed")
    start_server(stack, args.workers, args.threads, args.launcher)
    return {"pool": pool, "client_id": client["ClientId"], "users": names}


# -- (b) the login flow ----------------------------------------------------------------

class FlowFailed(Exception):
    def __init__(self, step: str, status: int) -> None:
        super().__init__(f"{step}: HTTP {status}")
        self.step, self.status = step, status


class RequestsTransport:
    """A requests.Session: keep-alive connection and cookie jar of one browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url, self.http = base_url, requests.Session()

    def forget(self, keep: frozenset[str]) -> None:
        for cookie in [c for c in self.http.cookies if c.name not in keep]:
            self.http.cookies.clear(cookie.domain, cookie.path, cookie.name)

    def get(self, path: str) -> tuple[int, str | None, str]:
        r = self.http.get(self.base_url + path, allow_redirects=False, timeout=60)
        return r.status_code, r.headers.get("Location"), r.text

    def post(self, path: str, form: dict[str, str], browser: bool = True) -> tuple[int, str | None, str]:
        jar = self.http.cookies
        if not browser:  # the app's backend: same connection, none of the browser's cookies
            self.http.cookies = requests.cookies.RequestsCookieJar()
        try:
            r = self.http.post(self.base_url + path, data=form, allow_redirects=False, timeout=60)
        finally:
            self.http.cookies = jar
        return r.status_code, r.headers.get("Location"), r.text


class RawTransport:
    """http.client with one keep-alive connection and the session cookie kept by hand:
    a fraction of requests' CPU per request, which matters when client and server share a core."""

    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.cookies: dict[str, str] = {}

    def forget(self, keep: frozenset[str]) -> None:
        self.cookies = {k: v for k, v in self.cookies.items() if k in keep}

    def _send(self, method: str, path: str, body: str | None, headers: dict[str, str],
              browser: bool = True) -> tuple[int, str | None, str]:
        if self.cookies and browser:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body, headers)
            r = self.conn.getresponse()
        except (http.client.HTTPException, OSError):  # the server closed a kept-alive connection
            self.conn.close()
            self.conn.request(method, path, body, headers)
            r = self.conn.getresponse()
        text = r.read().decode()
        for cookie in (r.msg.get_all("Set-Cookie") or ()) if browser else ():
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return r.status, r.getheader("Location"), text

    def get(self, path: str) -> tuple[int, str | None, str]:
        return self._send("GET", path, None, {})

    def post(self, path: str, form: dict[str, str], browser: bool = True) -> tuple[int, str | None, str]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self._send("POST", path, urlencode(form), headers, browser)


TRANSPORTS = {"raw": RawTransport, "requests": RequestsTransport}


@dataclass
class Client:
    """One browser + its relying party, driving the whole login over one connection."""

    http: RequestsTransport | RawTransport
    pool: str
    client_id: str
    #: Cookies kept from one login to the next: the device cookie of a returning browser,
    #: or none (every login from a brand-new browser, hence a new device of the user).
    keep: frozenset[str] = frozenset({DEVICE_COOKIE})
    username: str = USERNAME

    def flow(self) -> list[float]:
        """One whole login; returns the time after each step, or raises FlowFailed."""
        http, marks = self.http, [time.perf_counter()]
        http.forget(self.keep)  # no hosted-UI session any more, so the form is shown
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(8)
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": CALLBACK,
                           "scope": "openid email profile", "state": state, "nonce": secrets.token_urlsafe(8),
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        status, location, _ = http.get(f"/{self.pool}/oauth2/authorize?{query}")
        _expect(status == 302 and location, "authorize", status)
        marks.append(time.perf_counter())
        status, _, page = http.get(location)  # type: ignore[arg-type]
        _expect(status == 200, "login_page", status)
        marks.append(time.perf_counter())
        form = {"csrf_token": CSRF.search(page)[1], "txn": TXN.search(page)[1],
                "username": self.username, "password": PASSWORD}
        status, location, _ = http.post(ACTION.search(page)[1].replace("&amp;", "&"), form)
        _expect(status == 302 and (location or "").startswith(CALLBACK) and f"state={state}" in location,
                "login_post", status)
        marks.append(time.perf_counter())
        status, _, body = http.post(f"/{self.pool}/oauth2/token", {  # from the app's backend
            "grant_type": "authorization_code", "code": CODE.search(location)[1],  # type: ignore[arg-type]
            "redirect_uri": CALLBACK, "client_id": self.client_id, "code_verifier": verifier}, browser=False)
        _expect(status == 200 and '"id_token"' in body, "token", status)
        marks.append(time.perf_counter())
        return marks


def _expect(ok: object, step: str, status: int) -> None:
    if not ok:
        raise FlowFailed(step, status)


@dataclass
class Tally:
    """What the client threads saw inside the measured window."""

    start: float
    end: float
    flows: list[list[float]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, marks: list[float] | None, failure: str | None = None) -> None:
        now = time.perf_counter()
        if not self.start <= now <= self.end:
            return
        with self.lock:
            if marks is not None:
                self.flows.append(marks)
            else:
                self.failures[failure or "?"] = self.failures.get(failure or "?", 0) + 1


def drive(client: Client, tally: Tally) -> None:
    while time.perf_counter() < tally.end:
        try:
            tally.record(client.flow())
        except FlowFailed as exc:
            tally.record(None, str(exc))
        except (requests.RequestException, http.client.HTTPException, OSError, TypeError) as exc:
            tally.record(None, type(exc).__name__)


def measure_flows(stack: Stack, ids: dict[str, str], args: argparse.Namespace) -> dict:
    transport = TRANSPORTS[args.client]
    keep = frozenset() if args.new_device else frozenset({DEVICE_COOKIE})
    clients = [Client(transport(stack.base_url), ids["pool"], ids["client_id"], keep, name) for name in ids["users"]]
    for client in clients:
        client.flow()  # a first flow per client: connections open, templates compiled
    now = time.perf_counter()
    tally = Tally(start=now + args.warmup, end=now + args.warmup + args.seconds)
    threads = [threading.Thread(target=drive, args=(c, tally), daemon=True) for c in clients]
    for t in threads:
        t.start()
    time.sleep(max(0.0, tally.start - time.perf_counter()))
    before = cpu_reading(stack)
    after = cpu_reading_at(stack, time.monotonic() + max(0.0, tally.end - time.perf_counter()))
    for t in threads:
        t.join(120)
    return summarize(tally, args.seconds, cpu_spent(before, after))


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def summarize(tally: Tally, seconds: float, cpu: dict[str, float]) -> dict:
    n = len(tally.flows)
    latencies = sorted(m[-1] - m[0] for m in tally.flows)
    cpu["other"] = cpu["machine"] - cpu["client"] - cpu["server"] - cpu["redis"] - cpu["database"]
    return {
        "flows": n, "failures": tally.failures, "flow_rate": n / seconds,
        "p50_ms": _percentile(latencies, 0.50) * 1000 if n else None,
        "p99_ms": _percentile(latencies, 0.99) * 1000 if n else None,
        "step_ms": {name: sum(m[i + 1] - m[i] for m in tally.flows) / n * 1000 if n else 0.0
                    for i, name in enumerate(STEPS)},
        "cpu_ms_per_flow": {k: v / n * 1000 if n else 0.0 for k, v in cpu.items()},
        "machine_busy_cpus": cpu["machine"] / seconds,
    }


# -- the report ---------------------------------------------------------------------------

def report(args: argparse.Namespace, hashing: dict[str, float], flows: dict) -> None:
    one, ratio = hashing["hash_rate"], flows["flow_rate"] / hashing["hash_rate"]
    print(f"machine: {os.cpu_count()} CPUs reported ({cpu_model()}); Argon2 with {os.cpu_count()} processes = "
          f"{hashing['parallel_hash_rate'] / one:.2f}x one core")
    busy_during_flows = flows["cpu_ms_per_flow"]["other"] * flows["flow_rate"] / 1000
    if max(hashing["background_cpus"], busy_during_flows) > BUSY:
        print(f"  WARNING: other processes kept {hashing['background_cpus']:.2f} CPUs busy during (a) and "
              f"{busy_during_flows:.2f} during (b): the machine is not quiet; the figures below are unreliable")
    print("  NOTE: this machine is meant to act like ONE core for CPU-bound work (the line above says how\n"
          "        far Argon2 scales right now): client, gunicorn, Redis and the database share its CPUs,\n"
          "        so the flow rate below also pays for the client.")
    launcher = "broker serve" if args.launcher == "serve" else "gunicorn -c deploy/gunicorn.conf.py"
    print(f"server: {launcher} --workers {args.workers} --threads {args.threads} "
          f"(gunicorn {GUNICORN_DEFAULTS['worker_class']}), Redis, {args.db}; "
          f"{args.clients} client threads ({args.client}, {'new' if args.new_device else 'returning'} browsers), "
          f"{args.seconds:g} s after {args.warmup:g} s warm-up")
    print(f"(a) Argon2id hash rate, one core (m={HASHER.memory_cost // 1024} MiB, t={HASHER.time_cost}, "
          f"p={HASHER.parallelism}):  {one:8.1f} hash/s  ({1000 / one:.1f} ms/hash; "
          f"{hashing['hash_rate_before']:.1f} before and {hashing['hash_rate_after']:.1f} after (b))")
    print(f"(b) full login flows (authorize, form, POST, code, token+PKCE): {flows['flow_rate']:8.1f} flows/s  "
          f"({flows['flows']} ok, failures: {flows['failures'] or 'none'})")
    if flows["flows"]:
        print(f"    latency of the whole flow: p50 {flows['p50_ms']:.1f} ms, p99 {flows['p99_ms']:.1f} ms; "
              "mean per step: " + ", ".join(f"{k} {v:.1f} ms" for k, v in flows["step_ms"].items()))
        cpu = flows["cpu_ms_per_flow"]
        print(f"    CPU per flow: server {cpu['server']:.1f} ms, client {cpu['client']:.1f} ms, "
              f"Redis {cpu['redis']:.1f} ms, "
              + (f"PostgreSQL {cpu['database']:.1f} ms, " if args.db == "postgresql" else "")
              + f"other processes and kernel {cpu['other']:.1f} ms "
              f"(machine busy: {flows['machine_busy_cpus']:.2f} of {os.cpu_count()} CPUs)")
    verdict = "meets" if ratio >= 0.8 else "BELOW"
    print(f"(c) ratio flow_rate / hash_rate = {ratio:.2f}  ({verdict} the 0.8 goal)")
    print(f"    flow_rate / hash rate of all {os.cpu_count()} CPUs = "
          f"{flows['flow_rate'] / hashing['parallel_hash_rate']:.2f}  (share of the machine's hashing capacity)")
    if args.json:
        print(json.dumps({**hashing, "ratio": ratio, **flows,
                          "workers": args.workers, "threads": args.threads, "clients": args.clients,
                          "client": args.client,
                          "db": args.db, "seconds": args.seconds, "cpus": os.cpu_count(), "cpu": cpu_model()}))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20, help="measured duration of the flow run")
    p.add_argument("--warmup", type=float, default=3, help="seconds of flows before measuring")
    p.add_argument("--hash-seconds", type=float, default=5, help="duration of the hash-rate measurement")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=GUNICORN_DEFAULTS["threads"], help="threads per worker")
    p.add_argument("--clients", type=int, default=None,
                   help="client threads (default: workers x threads, one per gunicorn thread)")
    p.add_argument("--launcher", choices=("serve", "conf"), default="serve",
                   help="serve: broker serve --workers N; conf: gunicorn -c deploy/gunicorn.conf.py")
    p.add_argument("--client", choices=tuple(TRANSPORTS), default="raw",
                   help="the driver's HTTP client: http.client (raw, ~1.5 ms CPU per flow) or "
                        "requests.Session (~6 ms): client and server share the CPUs")
    p.add_argument("--new-device", action="store_true",
                   help="every login from a brand-new browser (no device cookie): the user's device "
                        "list grows by one per login (default: returning browsers, one per client thread)")
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test",
                   help="admin URL; a temporary database is created beside it and dropped")
    p.add_argument("--redis-url", default=None, help="an existing Redis (default: a private redis-server)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server log) for inspection")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = p.parse_args(argv)
    args.clients = args.clients or args.workers * args.threads
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  measuring Argon2id for {args.hash_seconds:g} s ...", flush=True)
    before, busy_before = measure_hashing(args.hash_seconds)
    parallel = parallel_hash_rate(os.cpu_count() or 1, args.hash_seconds)
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix="cognate-bench-")))
    try:
        ids = setup(stack, args, users=args.clients)
        print(f"server up at {stack.base_url}; driving flows for {args.warmup + args.seconds:g} s ...", flush=True)
        flows = measure_flows(stack, ids, args)
    except (FlowFailed, RuntimeError, OSError, requests.RequestException) as exc:
        print(f"error: no login flow succeeded: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.close()
        log = stack.tmp / "server.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        if "Traceback" in text:
            print(f"warning: the server logged a traceback:\n{text[-3000:]}", file=sys.stderr)
        if args.keep:
            print(f"kept {stack.tmp}")
        else:
            shutil.rmtree(stack.tmp, ignore_errors=True)
    after, busy_after = measure_hashing(args.hash_seconds)
    hashing = {"hash_rate": (before + after) / 2, "hash_rate_before": before, "hash_rate_after": after,
               "parallel_hash_rate": parallel, "background_cpus": max(busy_before, busy_after)}
    report(args, hashing, flows)
    return 0 if flows["flows"] else 1


if __name__ == "__main__":
    sys.exit(main())
