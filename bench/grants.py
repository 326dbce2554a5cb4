"""Token grants per core: Cognate against panva's oidc-provider, measured in one run.

Two grants of the token endpoint, each authenticated with client_secret_basic and answered
with RS256 JWTs signed by a 2048-bit key:

- ``refresh_token``: a new access token and ID token from a refresh token (obtained once per
  client connection through a real authorization-code login on each server);
- ``client_credentials``: an access token for a resource-server scope.

Peers, all on loopback and started by this script: Cognate under gunicorn (``broker serve
--workers 1 --threads T``) on PostgreSQL + Redis as in production, and on SQLite + Redis as a
second line; oidc-provider (``bench/oidc_provider``, pinned in its package.json) run by node
with its in-memory adapter. Each server's process tree is pinned to one CPU, and the load
generator, PostgreSQL's backends and Redis to the others, so "grants/s" is per core and the
stores' CPU is counted beside. For each peer and grant, in the same run: the saturating rate
(closed loop, ``--connections`` keep-alive connections), then p50/p99 latency at half that
rate (open loop, latency counted from when each request was due) with the workers gunicorn
recycled meanwhile (after ``max_requests``), then RSS per worker. It
prints one table and the ratios Cognate / oidc-provider (goal: >= 1.0).

Run from the repository root::

    .venv/bin/python bench/grants.py [--seconds 10] [--rotate] [--no-sqlite] [--rounds 1]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urljoin

import requests

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from broker.serving import GUNICORN_DEFAULTS  # noqa: E402
from harness import (Job, Stack, cpu_model, free_port, machine_cpu, pin_tree, process_tree, rss_mib,  # noqa: E402
                     recycles as harness_recycles, run_load, store_pids, wait_port)
from login_flow import BUSY, CALLBACK, CODE, USERNAME, Client, RawTransport, setup  # noqa: E402

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
GRANTS = ("refresh_token", "client_credentials")
RESOURCE_SCOPE = "bench-api/read"  # Cognate: resource server "bench-api", scope "read"
FORM = "application/x-www-form-urlencoded"
#: Below this share of its core the server was not the bottleneck (client or stores were).
SATURATED = 0.85


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: form-encoded id and secret, base64 of ``id:secret``."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


# -- the peers ------------------------------------------------------------------------------

@dataclass
class Peer:
    """One server under test: where its token endpoint is and the credentials it takes."""

    name: str
    stack: Stack
    token_path: str
    web_auth: str  # the code client (refresh_token), client_secret_basic
    m2m_auth: str  # the client_credentials client
    refresh_tokens: list[str] = field(default_factory=list)
    node: bool = False

    def workers(self) -> list[int]:
        """The processes that answer requests: gunicorn's workers, or node itself."""
        tree = process_tree(self.stack.server.pid)  # type: ignore[union-attr]
        return tree if self.node else tree[1:]


class AppTransport(RawTransport):
    """A browser whose app's backend authenticates to the token endpoint with
    client_secret_basic (``authorization``; None for a public client); keeps the last
    token response."""

    def __init__(self, base_url: str, authorization: str | None) -> None:
        super().__init__(base_url)
        self.authorization, self.token_response = authorization, {}

    def post(self, path: str, form: dict[str, str], browser: bool = True) -> tuple[int, str | None, str]:
        app = {"Authorization": self.authorization} if self.authorization and not browser else {}
        headers = {"Content-Type": FORM, **app}
        status, location, text = self._send("POST", path, urlencode(form), headers, browser)
        if not browser and status == 200:
            self.token_response = json.loads(text)
        return status, location, text


def start_cognate(db: str, args: argparse.Namespace, stacks: list[Stack]) -> Peer:
    """``broker serve --workers 1`` with a confidential code client (refresh tokens) and a
    client_credentials client, set up through the CLI; one login per connection."""
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix=f"cognate-grants-{db}-")))
    stacks.append(stack)
    ids = setup(stack, argparse.Namespace(redis_url=args.redis_url, db=db, postgres_url=args.postgres_url,
                                          workers=1, threads=args.threads, launcher="serve"))
    pool = ids["pool"]
    stack.cli("resource-server", "create", "--pool", pool, "--identifier", "bench-api", "--scope", "read")
    web = stack.cli("client", "create", "--pool", pool, "--name", "bench-web", "--callback-url", CALLBACK,
                    "--secret", *(["--rotate-refresh-tokens"] if args.rotate else []))
    m2m = stack.cli("client", "create", "--pool", pool, "--name", "bench-m2m", "--secret",
                    "--flow", "client_credentials", "--scope", RESOURCE_SCOPE)
    label = "PostgreSQL" if db == "postgresql" else "SQLite"
    peer = Peer(f"Cognate ({label} + Redis)", stack, f"/{pool}/oauth2/token",
                basic(web["ClientId"], web["ClientSecret"]), basic(m2m["ClientId"], m2m["ClientSecret"]))
    for _ in range(args.connections):
        browser = AppTransport(stack.base_url, peer.web_auth)
        Client(browser, pool, web["ClientId"]).flow()
        peer.refresh_tokens.append(browser.token_response["refresh_token"])
    return peer


def start_oidc_provider(args: argparse.Namespace, stacks: list[Stack]) -> Peer:
    """``node bench/oidc_provider/server.js`` (``npm ci`` there first if needed)."""
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        print("installing oidc-provider (npm ci in bench/oidc_provider) ...", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True,
                       stdout=subprocess.DEVNULL)
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix="cognate-grants-node-")))
    stacks.append(stack)
    port = free_port()
    clients = {name: {"id": f"bench-{name}", "secret": secrets.token_urlsafe(36)} for name in ("web", "m2m")}
    config = {"port": port, "callback": CALLBACK, "resource": "urn:cognate:bench-api", "rotate": args.rotate,
              "clients": clients, "ttl": {"access": 3600, "id": 3600, "refresh": 30 * 86400}}
    (stack.tmp / "config.json").write_text(json.dumps(config))
    with open(stack.tmp / "server.log", "wb") as log:
        stack.server = subprocess.Popen(["node", "server.js", str(stack.tmp / "config.json")], cwd=PROVIDER_DIR,
                                        env={**os.environ, "NODE_ENV": "production"},
                                        stdout=log, stderr=subprocess.STDOUT)
    stack.procs.append(stack.server)
    wait_port(port, stack.server)
    stack.base_url = f"http://127.0.0.1:{port}"
    peer = Peer("oidc-provider (node, memory)", stack, "/token", basic(**_pair(clients["web"])),
                basic(**_pair(clients["m2m"])), node=True)
    peer.refresh_tokens = [provider_login(peer, clients["web"]["id"]) for _ in range(args.connections)]
    return peer


def _pair(client: dict[str, str]) -> dict[str, str]:
    return {"client_id": client["id"], "secret": client["secret"]}


def provider_login(peer: Peer, client_id: str) -> str:
    """A refresh token from oidc-provider through its devInteractions (sign-in, consent)."""
    http, verifier = requests.Session(), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    url = peer.stack.base_url + "/auth?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "prompt": "consent",
        "scope": f"openid offline_access email profile {RESOURCE_SCOPE}", "state": "s",
        "code_challenge": challenge.decode(), "code_challenge_method": "S256"})
    method, form = "GET", None
    for _ in range(12):
        r = http.request(method, url, data=form, allow_redirects=False, timeout=30)
        location = r.headers.get("Location", "")
        if location.startswith(CALLBACK):
            break
        if r.is_redirect:
            method, form, url = "GET", None, urljoin(url, location)
            continue
        form = dict(re.findall(r'<input[^>]*type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
        if 'name="login"' in r.text:
            form.update(login=USERNAME, password="any")
        method, url = "POST", urljoin(url, re.search(r'<form[^>]*action="([^"]+)"', r.text)[1])
    token = http.post(peer.stack.base_url + "/token", headers={"Authorization": peer.web_auth}, timeout=30,
                      data={"grant_type": "authorization_code", "code": CODE.search(location)[1],
                            "redirect_uri": CALLBACK, "code_verifier": verifier})
    token.raise_for_status()
    return token.json()["refresh_token"]


# -- the requests -----------------------------------------------------------------------------

def job_for(peer: Peer, grant: str, rotate: bool) -> Job:
    """The grant's request on ``--connections`` connections; with rotation each connection
    follows its own refresh-token chain."""
    port = int(peer.stack.base_url.rsplit(":", 1)[1])
    if grant == "refresh_token":
        bodies = tuple(urlencode({"grant_type": "refresh_token", "refresh_token": t}) for t in peer.refresh_tokens)
        return Job(port, peer.token_path, peer.web_auth, bodies, "refresh_token" if rotate else None)
    body = urlencode({"grant_type": "client_credentials", "scope": RESOURCE_SCOPE})
    return Job(port, peer.token_path, peer.m2m_auth, (body,))


def load(peer: Peer, grant: str, args: argparse.Namespace, rate: float = 0.0) -> dict:
    """One run; the refresh-token chains move on with rotation, so the next starts from their ends."""
    if args.client_cpus:  # the server's core to itself: its Redis and PostgreSQL beside the client
        for pid in store_pids(peer.stack):
            pin_tree(pid, args.client_cpus)
    result = run_load(peer.stack, job_for(peer, grant, args.rotate), args.connections, args.processes,
                      (args.warmup, args.seconds), rate, args.client_cpus)
    if args.rotate and grant == "refresh_token":
        peer.refresh_tokens = [end or old for end, old in zip(result["ends"], peer.refresh_tokens)]
    return result


# -- one measurement: the saturating rate, then latency at half of it -----------------------

def _percentile(sorted_values: list[float], q: float) -> float | None:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] * 1000 if sorted_values else None


def measure(peer: Peer, grant: str, args: argparse.Namespace) -> dict:
    spy = profile(peer, grant, args) if args.profile and not peer.node else None
    full = load(peer, grant, args)
    if spy is not None:
        spy.wait(60)
    handed_over = recycles(peer)
    half = load(peer, grant, args, rate=full["rate"] / 2) if full["rate"] else full
    handed_over = recycles(peer) - handed_over
    rate, cpu = full["rate"], full["cpu"]
    per_grant = (lambda busy: busy / rate * 1000) if rate else (lambda busy: 0.0)
    return {
        "peer": peer.name, "grant": grant, "rate": rate, "errors": full["errors"],
        "server_busy": cpu["server"], "client_busy": cpu["client"],
        "server_ms": per_grant(cpu["server"]), "stores_ms": per_grant(cpu["redis"] + cpu["database"]),
        "client_ms": per_grant(cpu["client"]),
        "other_busy": max(cpu["other"], half["cpu"]["other"]),
        "saturated_p50_ms": _percentile(full["latencies"], 0.50),
        "half_rate": half["rate"], "half_errors": half["errors"],
        "p50_ms": _percentile(half["latencies"], 0.50), "p99_ms": _percentile(half["latencies"], 0.99),
        "recycles": handed_over,
    }


def recycles(peer: Peer) -> int:
    """Workers the server has recycled so far (none for oidc-provider)."""
    return 0 if peer.node else harness_recycles(peer.stack)


def idle_background(seconds: float) -> float:
    """CPUs kept busy by other processes while every server here idles."""
    machine, wall = machine_cpu(), time.monotonic()
    time.sleep(seconds)
    return (machine_cpu() - machine) / (time.monotonic() - wall)


def median_rows(rows: list[dict]) -> list[dict]:
    """One row per (grant, peer): the median of the rounds by rate, in first-seen order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["grant"], row["peer"]), []).append(row)
    return [sorted(g, key=lambda r: r["rate"])[(len(g) - 1) // 2] for g in groups.values()]


# -- where a worker's time goes (--profile) ---------------------------------------------------

def profile(peer: Peer, grant: str, args: argparse.Namespace) -> subprocess.Popen:
    """py-spy (from PyPI) sampling the gunicorn worker through the saturating run, without
    stopping it (``--nonblocking``), on the client's CPUs; its stacks go to ``--profile``."""
    out = Path(args.profile) / f"{peer.name.split(' (')[1].split(' ')[0].lower()}-{grant}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "--gil", "--format", "raw",
                            "--rate", "250", "--duration", str(int(args.warmup + args.seconds)),
                            "--pid", str(peer.workers()[0]), "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if args.client_cpus:
        os.sched_setaffinity(spy.pid, args.client_cpus)
    return spy


#: What a frame is counted as when it is the innermost of these on a sample's stack (the
#: first listed whose text is in the frame wins).
PARTS = (
    ("JWS: RSA signature, JSON, base64", ("signer.py", "joserfc")),  # (the native signing runs under these frames)
    ("refresh token read (SQL)", ("refresh_read.py",)),
    ("claims and token response", ("tokens.py", "issue.py")),
    ("lean grant (parse, client, checks)", ("lean_token.py",)),
    ("Authlib", ("authlib",)),
    ("SQLAlchemy/psycopg", ("sqlalchemy", "psycopg")),
    ("Flask/Werkzeug", ("flask", "werkzeug")),
    ("metrics and access log", ("observability",)),
    ("gunicorn (HTTP, threads)", ("gunicorn",)),
)


def breakdown(path: Path) -> list[tuple[str, float]]:
    """Shares of the samples by :data:`PARTS` (the innermost matching frame of each stack)."""
    counts: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames, total = stack.split(";"), total + int(n)
        part = next((name for frame in reversed(frames) for name, marks in PARTS if any(m in frame for m in marks)),
                    "other (interpreter, threads idle)")
        counts[part] = counts.get(part, 0) + int(n)
    return sorted(((name, n / total) for name, n in counts.items()), key=lambda x: -x[1]) if total else []


def print_profiles(directory: str) -> None:
    for path in sorted(Path(directory).glob("*.txt")):
        print(f"\nwhere the worker's samples went, {path.stem} ({path}):")
        for name, share in breakdown(path):
            print(f"  {share * 100:5.1f} %  {name}")


# -- the report -----------------------------------------------------------------------------

def report(args: argparse.Namespace, runs: list[dict], rss: dict[str, list[float]], background: float) -> None:
    noisy, rows = max([background, *(r["other_busy"] for r in runs)]) > BUSY, median_rows(runs)
    print(f"\nmachine: {os.cpu_count()} CPUs ({cpu_model()}); servers pinned to CPU {_cpus(args.server_cpus)}, "
          f"client, Redis and PostgreSQL to CPU {_cpus(args.client_cpus)}; other processes: {background:.2f} CPUs "
          "busy while idle")
    if noisy:
        print(f"  WARNING: other processes kept more than {BUSY} CPUs busy during the run (column 'other'): "
              "the machine was not quiet; the figures below are unreliable")
    print(f"Cognate: broker serve --workers 1 --threads {args.threads} (gunicorn, {GUNICORN_DEFAULTS['worker_class']}); "
          f"{args.connections} keep-alive connections from {args.processes} client processes; "
          f"refresh tokens {'rotated at each use' if args.rotate else 'not rotated'}; "
          f"{args.seconds:g} s measured after {args.warmup:g} s, median of {args.rounds} round(s)\n")
    head = (f"{'grant':<19}{'server':<30}{'grants/s':>9}{'server':>8}{'CPU ms/grant':>14}{'client':>8}"
            f"{'half-rate p50/p99 ms':>22}{'recycles':>9}{'errors':>8}{'other':>7}")
    print(head + "\n" + f"{'':<19}{'':<30}{'(1 core)':>9}{'busy':>8}{'srv + stores':>14}{'ms':>8}")
    for r in rows:
        latency = f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}" if r["p50_ms"] is not None else "-"
        errors = sum(r["errors"].values()) + sum(r["half_errors"].values())
        print(f"{r['grant']:<19}{r['peer']:<30}{r['rate']:>9.1f}{r['server_busy']:>8.2f}"
              f"{r['server_ms']:>8.2f} +{r['stores_ms']:>5.2f}{r['client_ms']:>8.2f}"
              f"{latency:>22}{r['recycles']:>9}{errors:>8}{r['other_busy']:>7.2f}")
    unsaturated = [r for r in rows if r["server_busy"] < SATURATED]
    for r in unsaturated:
        print(f"  note: {r['peer']} ({r['grant']}) used {r['server_busy']:.2f} of its core: the server was "
              "not the bottleneck; its rate is a floor")
    print("\nRSS per worker: " + "; ".join(f"{name} {', '.join(f'{m:.0f}' for m in mib)} MiB"
                                           for name, mib in rss.items()))
    print_ratios(rows)
    if args.json:
        print(json.dumps({"rows": rows, "runs": runs, "rss_mib": rss, "background_cpus": background, "noisy": noisy,
                          "rotate": args.rotate, "threads": args.threads, "connections": args.connections,
                          "cpus": os.cpu_count(), "cpu": cpu_model()}))


def print_ratios(rows: list[dict]) -> None:
    peer = {(r["grant"], r["peer"]): r for r in rows}
    node = next((r["peer"] for r in rows if r["peer"].startswith("oidc-provider")), None)
    for grant in GRANTS:
        base = peer.get((grant, node))
        for (g, name), r in peer.items():
            if g != grant or name == node or not base or not base["rate"]:
                continue
            by_rate = r["rate"] / base["rate"]
            cost = (r["server_ms"] + r["stores_ms"]) or float("inf")
            by_cpu = (base["server_ms"] + base["stores_ms"]) / cost
            verdict = "meets" if by_rate >= 1.0 else "BELOW"
            print(f"ratio {grant:<18} {name} / oidc-provider = {by_rate:.2f} per core ({verdict} the 1.0 goal); "
                  f"{by_cpu:.2f} by CPU per grant counting PostgreSQL and Redis")


def _cpus(cpus: set[int] | None) -> str:
    return ",".join(map(str, sorted(cpus))) if cpus else "any"


# -- main -----------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10, help="measured seconds of each run")
    p.add_argument("--warmup", type=float, default=2, help="seconds of load before each measurement")
    p.add_argument("--rounds", type=int, default=1, help="repeat every measurement (order alternates); medians")
    p.add_argument("--grant", choices=GRANTS, action="append", help="only this grant (repeatable)")
    p.add_argument("--threads", type=int, default=GUNICORN_DEFAULTS["threads"], help="gunicorn threads")
    p.add_argument("--connections", type=int, default=8, help="keep-alive connections of the load generator")
    p.add_argument("--processes", type=int, default=2, help="client processes sharing the connections")
    p.add_argument("--rotate", action="store_true",
                   help="rotate refresh tokens at each use on both servers (default: no rotation, Cognito's)")
    p.add_argument("--no-postgresql", dest="postgresql", action="store_false", help="skip Cognate on PostgreSQL")
    p.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="skip Cognate on SQLite")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin servers and client to CPUs")
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test",
                   help="admin URL; a temporary database is created beside it and dropped")
    p.add_argument("--redis-url", default=None, help="an existing Redis (default: a private redis-server)")
    p.add_argument("--json", action="store_true", help="also print every figure as one JSON line")
    p.add_argument("--profile", metavar="DIR", help="sample Cognate's worker with py-spy during each saturating run "
                                                    "(stacks saved in DIR) and print where the time went")
    args = p.parse_args(argv)
    args.grants = tuple(args.grant or GRANTS)
    cpus = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(cpus) > 1
    args.server_cpus, args.client_cpus = ({cpus[0]}, set(cpus[1:])) if pin else (None, None)
    return args


def start_peers(args: argparse.Namespace, stacks: list[Stack]) -> list[Peer]:
    peers = [start_cognate(db, args, stacks) for db, on in (("postgresql", args.postgresql),
                                                            ("sqlite", args.sqlite)) if on]
    peers.append(start_oidc_provider(args, stacks))
    if args.server_cpus:
        for peer in peers:
            pin_tree(peer.stack.server.pid, args.server_cpus)  # type: ignore[union-attr]
        os.sched_setaffinity(0, args.client_cpus)  # this process reads /proc every second
    return peers


def close_stacks(stacks: list[Stack]) -> None:
    for stack in stacks:
        stack.close()
        log = stack.tmp / "server.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        if "Traceback" in text or "server_error" in text:
            print(f"warning: the server in {stack.tmp} logged an error:\n{text[-3000:]}", file=sys.stderr)
        shutil.rmtree(stack.tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stacks: list[Stack] = []
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  starting the servers and one login per connection ...", flush=True)
    try:
        peers = start_peers(args, stacks)
        background, rows = idle_background(2), []
        for n in range(args.rounds):
            for grant in args.grants:
                for peer in peers if n % 2 == 0 else peers[::-1]:
                    print(f"  round {n + 1}: {grant} on {peer.name} ...", flush=True)
                    rows.append(measure(peer, grant, args))
        rss = {peer.name: [rss_mib(pid) for pid in peer.workers()] for peer in peers}
    finally:
        close_stacks(stacks)
    report(args, rows, rss, background)
    if args.profile:
        print_profiles(args.profile)
    return 0 if all(r["rate"] and not r["errors"] and not r["half_errors"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
