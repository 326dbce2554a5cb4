"""What a PreTokenGeneration trigger costs a sign-in, measured against the same sign-in
without one in the same run.

Three pools, alike but for their trigger: none, a no-op Python handler
(``tests.trigger_handlers.tokens_claims:noop``, run in the server's worker processes) and a
no-op webhook (a loopback HTTP/1.1 server in a process of its own that answers each event
with itself). Prints, for each of

(a) InitiateAuth USER_PASSWORD_AUTH (one Argon2id check each, then the tokens), and
(b) InitiateAuth REFRESH_TOKEN_AUTH (the token path: no hash, the tokens only),

the calls per second with the Python trigger ÷ without (goal ≥ 0.9 on (b)) and with the
webhook ÷ without, each measured in turns (six of each) so that the machine's drift, and
the recycling of a server worker after ``max_requests`` (counted for each figure), weigh
on all three alike; and the server's CPU per call (the gunicorn workers and, for Python
targets, their trigger workers), the steadier figure, with the trigger workers' share and
the webhook receiver's own. Before the turns, every server process starts the trigger
workers its threads keep busy, as one that has run a while has (a worker's start is paid
once per process, not per sign-in).

Client threads drive each call over keep-alive ``http.client`` connections against
``broker serve --workers N`` with Redis and SQLite or PostgreSQL; only answers with tokens
count. Run from the repository root::

    .venv/bin/python bench/triggers.py [--seconds 15] [--workers 2] [--db sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from api_signin import Api, alternate, measure, turn_ratios  # noqa: E402
from harness import ROOT, Stack, cpu_model, cpu_reading, cpu_spent, free_port, make_database, process_tree, \
    start_redis, start_server  # noqa: E402

from broker.triggers import invoke  # noqa: E402
from broker.triggers.worker_process import PROGRAM  # noqa: E402

CALLBACK = "http://localhost:9000/callback"
USERNAME, PASSWORD = "bench-user", "Corr3ct-Horse!"
NOOP = "python:tests.trigger_handlers.tokens_claims:noop"
FLOWS = ("--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")
KINDS = ("none", "python", "webhook")
FLOW_NAMES = ["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"]


class _Echo(BaseHTTPRequestHandler):
    """The no-op webhook: the event back, unchanged, on a kept-alive connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each answer waits on the client's delayed ACK (40 ms)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve_echo(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Echo)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def start_echo(stack: Stack) -> tuple[str, int]:
    """The webhook receiver, in a process of its own (its GIL is not the clients'); its URL and pid."""
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_serve_echo, args=(port,), daemon=True)
    proc.start()
    stack.cleanups.append(proc.terminate)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"http://127.0.0.1:{port}/pre-token", proc.pid


def process_cpu(pid: int) -> float:
    """CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup(stack: Stack, args: argparse.Namespace, hook: str) -> dict[str, dict[str, str]]:
    """The three pools (none, python, webhook), each with its client and user; then the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
    stack.env = env
    env.update({"BROKER_SECRET_KEY": secrets.token_urlsafe(40), "BROKER_DATA_DIR": str(stack.tmp / "var"),
                "REDIS_URL": start_redis(stack, args.redis_url),
                "DATABASE_URL": make_database(stack, args.db, args.postgres_url),
                "BROKER_ENV": "development", "BROKER_BASE_URL": "http://127.0.0.1:8000",
                "PYTHONPATH": str(ROOT)})  # the trigger workers import tests.trigger_handlers
    if args.db == "postgresql":
        stack.cli("db", "upgrade", as_json=False)
    sites = {}
    for kind, target in zip(KINDS, (None, NOOP, hook)):
        pool = stack.cli("pool", "create", "--name", f"bench-{kind}")["Id"]
        if target:
            stack.cli("pool", "update", "--pool", pool, "--trigger", f"PreTokenGeneration={target}", as_json=False)
        client = stack.cli("client", "create", "--pool", pool, "--name", "bench-app", "--callback-url", CALLBACK,
                           "--no-rotate-refresh-tokens", *FLOWS)
        for n in range(args.clients):  # one user per client thread: the password throttle counts per user
            stack.cli("user", "create", "--pool", pool, "--username", f"{USERNAME}-{n}", "--password", PASSWORD,
                      "--confirmed")
        sites[kind] = {"pool": pool, "client_id": client["ClientId"]}
    start_server(stack, args.workers, args.threads, args.launcher)
    return sites


def sign_in(api: Api, client_id: str, username: str = f"{USERNAME}-0") -> dict:
    result = api.call("InitiateAuth", {"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                                       "AuthParameters": {"USERNAME": username, "PASSWORD": PASSWORD}})
    assert "AccessToken" in result["AuthenticationResult"]
    return result["AuthenticationResult"]


def refresh(api: Api, client_id: str, token: str) -> None:
    result = api.call("InitiateAuth", {"ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                                       "AuthParameters": {"REFRESH_TOKEN": token}})
    assert "AccessToken" in result["AuthenticationResult"]


def run(stack: Stack, args: argparse.Namespace, sites: dict, echo_pid: int) -> dict[str, list[dict]]:
    port = int(stack.base_url.rsplit(":", 1)[1])
    found: dict[str, list[dict]] = {}
    tokens = {kind: sign_in(Api(port), s["client_id"])["RefreshToken"] for kind, s in sites.items()}
    def signer(kind: str):  # type: ignore[no-untyped-def]
        numbers = itertools.count()

        def make(api: Api):  # type: ignore[no-untyped-def]
            username = f"{USERNAME}-{next(numbers) % args.clients}"
            return lambda: sign_in(api, sites[kind]["client_id"], username)
        return make

    for name, make in (
        ("USER_PASSWORD_AUTH", signer),
        ("REFRESH_TOKEN_AUTH", lambda kind: lambda api: lambda: refresh(api, sites[kind]["client_id"], tokens[kind])),
    ):
        if name not in args.flow:
            continue
        warm = argparse.Namespace(**{**vars(args), "seconds": 2.0, "warmup": 0.5})
        for kind in KINDS:
            measure(stack, warm, make(kind))
        running = start_trigger_workers(stack, args, warm, tokens["python"], sites["python"]["client_id"])
        before, echo_before, started = cpu_reading(stack), process_cpu(echo_pid), time.monotonic()

        def own() -> float:
            """CPU that one figure alone spends, read within each measured window: the webhook
            receiver's (webhook) and the trigger workers' (python; one started meanwhile
            counts whole, and one gone takes its time along)."""
            return process_cpu(echo_pid) + sum(trigger_worker_cpu(stack).values())

        found[name] = alternate(stack, args, tuple(make(kind) for kind in KINDS), peer=own, turns=args.turns)
        spent = cpu_spent(before, cpu_reading(stack))
        echo = process_cpu(echo_pid) - echo_before
        ours = spent["client"] + spent["server"] + spent["redis"] + spent["database"] + echo
        found[name][0]["others"] = max(0.0, spent["machine"] - ours) / (time.monotonic() - started)
        found[name][1]["trigger_workers"] = (running, len(set(trigger_workers(stack)) - set(running)))
    found["waits"] = trigger_waits(stack)
    return found


def trigger_workers(stack: Stack) -> list[int]:
    """The server's trigger worker processes."""
    found = []
    for pid in process_tree(stack.server.pid):  # type: ignore[union-attr]
        try:
            if PROGRAM.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def start_trigger_workers(stack: Stack, args: argparse.Namespace, warm: argparse.Namespace, token: str,
                          client_id: str) -> list[int]:
    """Refresh at the Python trigger's pool from as many clients as the server has threads
    until every server process has started the trigger workers its threads keep busy (one
    per thread, :data:`broker.triggers.invoke.WORKERS` at most), as a server that has run a
    while has: a worker's start (a tenth of a second of CPU, or more) is paid once per server
    process, not per sign-in, and would otherwise land on the turns it happens in."""
    each = min(args.threads, invoke.WORKERS)
    busy = argparse.Namespace(**{**vars(warm), "seconds": 0.5, "clients": args.workers * args.threads})
    for _ in range(30):
        running = trigger_workers(stack)
        by_server = Counter(parent for parent in map(parent_of, running) if parent)  # (0: gone meanwhile)
        if len(by_server) >= args.workers and min(by_server.values()) >= each:
            break
        measure(stack, busy, lambda api: lambda: refresh(api, client_id, token))
    return running


def parent_of(pid: int) -> int:
    """The parent of process ``pid`` (0: it has exited)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def trigger_worker_cpu(stack: Stack) -> dict[int, float]:
    """CPU seconds so far of each trigger worker process."""
    found = {}
    for pid in trigger_workers(stack):
        try:
            found[pid] = process_cpu(pid)
        except OSError:
            continue
    return found


def trigger_waits(stack: Stack) -> dict[tuple[str, str], tuple[float, int]]:
    """The mean time each kind of target took to answer, by trigger source, as the server
    measured it (the ``Trigger`` audit events' ``duration_ms``): what a request waited."""
    import sqlalchemy as sa

    from broker.triggers import journal  # noqa: F401 (the server's rows are written by now)

    time.sleep(1)
    url = stack.env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = [row[0] for row in conn.execute(sa.text("SELECT details FROM audit_events WHERE event = 'Trigger'"))]
    finally:
        engine.dispose()
    waits: dict[tuple[str, str], list[float]] = {}
    for details in found:
        details = details if isinstance(details, dict) else __import__("json").loads(details)
        waits.setdefault((details["target"], details["source"]), []).append(float(details["duration_ms"]))
    return {key: (sum(values) / len(values), len(values)) for key, values in sorted(waits.items())}


def report(args: argparse.Namespace, found: dict[str, list[dict]]) -> None:
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}); {args.db}, broker serve --workers {args.workers}, "
          f"{args.clients} client threads, {args.seconds:g} s per figure in {args.turns} turns")
    waits = found.pop("waits")  # type: ignore[arg-type]
    for name, results in found.items():
        label = "(a)" if name == "USER_PASSWORD_AUTH" else "(b)"
        none, python, hook = results
        print(f"{label} {name}/s: none {none['rate']:.1f}, python {python['rate']:.1f}, "
              f"webhook {hook['rate']:.1f}")
        print(f"    python ÷ none = {python['rate'] / none['rate']:.2f}   webhook ÷ none = "
              f"{hook['rate'] / none['rate']:.2f}")
        for kind, figure in (("python", python), ("webhook", hook)):
            ratios = turn_ratios(figure, none)
            known = [r for r in ratios if r is not None]
            median = f"median {statistics.median(known):.2f}" if known else "no median"
            print(f"    {kind} ÷ none turn by turn: {median} "
                  f"({', '.join('-' if r is None else f'{r:.2f}' for r in ratios)})")
        cpu = [r["server_ms"] + r["stores_ms"] for r in results]
        print(f"    server + stores CPU per call: none {cpu[0]:.2f} ms, python {cpu[1]:.2f} ms "
              f"(+{cpu[1] - cpu[0]:.2f}), webhook {cpu[2]:.2f} ms (+{cpu[2] - cpu[0]:.2f}) "
              f"+ receiver {hook['peer_ms']:.2f} ms")
        busy = [r["rate"] * (r["server_ms"] + r["stores_ms"] + r["client_ms"]) / 1000 for r in results]
        busy[2] += hook["rate"] * hook["peer_ms"] / 1000  # (the trigger workers are in the server's figure)
        print(f"    CPUs kept busy (server, stores, this process's clients, receiver): none {busy[0]:.2f}, "
              f"python {busy[1]:.2f}, webhook {busy[2]:.2f} of {os.cpu_count()}: a figure below the others "
              "waited on its trigger rather than on the CPUs")
        running, started = python["trigger_workers"]
        print(f"    of python's, in its trigger workers: {python['peer_ms']:.2f} ms ({len(running)} running "
              f"before the turns, {started} started during them)")
        if none["others"] > 0.25:
            print(f"    WARNING: other processes kept {none['others']:.2f} CPUs busy meanwhile: not quotable")
        failures = {kind: r["failures"] for kind, r in zip(KINDS, results) if r["failures"]}
        print(f"    failures: {failures or 'none'}; workers recycled: "
              + ", ".join(f"{kind} {r['recycles']}" for kind, r in zip(KINDS, results)))
    for (target, source), (mean, count) in waits.items():
        print(f"    {target} target, {source}: answered in {mean:.2f} ms on average ({count} invocations)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--turns", type=int, default=6, help="turns each figure is measured in")
    parser.add_argument("--flow", action="append", choices=FLOW_NAMES,
                        help="measure this one only (repeatable; default: both)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="per worker (gunicorn's, as deployed: 4)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--launcher", choices=("serve", "gunicorn"), default="serve")
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a private one")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    args.flow, args.turns = args.flow or FLOW_NAMES, max(1, args.turns)
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix="cognate-bench-")))
    try:
        hook, echo_pid = start_echo(stack)
        sites = setup(stack, args, hook)
        found = run(stack, args, sites, echo_pid)
    finally:
        stack.close()
    report(args, found)


if __name__ == "__main__":
    main()
