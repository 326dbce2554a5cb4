"""The peers a benchmark runs against, started in a temp dir and stopped afterwards:
a private Redis, SQLite or a throwaway PostgreSQL database, and Cognate under gunicorn;
plus CPU accounting from /proc, so a run can say who spent the machine's time; pinning
and RSS of process trees; and a load generator for one request sent over and over.
"""
from __future__ import annotations

import http.client
import json
import os
import platform
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
BROKER = str(Path(sys.executable).parent / "broker")


# -- the peers: Redis, the database, the server ------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class Stack:
    """Everything the run started, stopped in reverse order by :meth:`close`."""

    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)
    cleanups: list = field(default_factory=list)
    server: subprocess.Popen | None = None
    redis: subprocess.Popen | None = None
    db_name: str | None = None
    base_url: str = ""

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as exc:  # cleanup must not hide the figures
                print(f"warning: cleanup failed: {exc}", file=sys.stderr)

    def cli(self, *args: str, as_json: bool = True) -> dict:
        argv = [BROKER, *args, *(["--json"] if as_json else [])]
        out = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"broker {' '.join(args)}: {out.stderr.strip()}")
        return json.loads(out.stdout) if as_json else {}


def start_redis(stack: Stack, url: str | None) -> str:
    """The given Redis, or a private one (no persistence) so the run leaves nothing behind."""
    if url:
        return url
    if not shutil.which("redis-server"):
        return "redis://127.0.0.1:6379/0"
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(stack.tmp)], stdout=subprocess.DEVNULL)
    stack.procs.append(proc)
    stack.redis = proc
    wait_port(port, proc)
    return f"redis://127.0.0.1:{port}/0"


def make_database(stack: Stack, kind: str, admin_url: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{stack.tmp}/broker.db"
    import psycopg

    name = stack.db_name = f"cognate_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stack.cleanups.append(drop)
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def start_server(stack: Stack, workers: int, threads: int, launcher: str = "serve", port: int | None = None) -> None:
    """``broker serve --workers N``, or gunicorn with deploy/gunicorn.conf.py (``launcher="conf"``),
    on ``port`` (a free one when not given)."""
    port = port or free_port()
    stack.base_url = f"http://127.0.0.1:{port}"
    env = stack.env
    env["BROKER_BASE_URL"] = stack.base_url
    if launcher == "conf":
        stack.cli("db", "upgrade", as_json=False)
        env.update({"GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
                    "GUNICORN_THREADS": str(threads)})
        argv = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    else:
        argv = [BROKER, "serve", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--threads", str(threads)]
    with open(stack.tmp / "server.log", "wb") as log:
        stack.server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=stack.tmp)
    stack.procs.append(stack.server)
    wait_port(port, stack.server)
    deadline = time.time() + 30
    while requests.get(f"{stack.base_url}/health", timeout=5).status_code != 200:
        if time.time() > deadline:
            raise RuntimeError("the server never became healthy")
        time.sleep(0.1)



# -- CPU accounting ------------------------------------------------------------------------

def recycles(stack: Stack) -> int:
    """Workers the server has recycled so far (each replacement says so in the log when it
    takes over; broker/recycling.py)."""
    log = stack.tmp / "server.log"
    return log.read_text(errors="replace").count("which it replaces") if log.exists() else 0


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds of one process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


# -- processes: pinning and memory ---------------------------------------------------------

def process_tree(root: int) -> list[int]:
    """``root`` and every live descendant, parents first."""
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    tree = [root]
    for pid in tree:
        tree.extend(child for child, parent in parents.items() if parent == pid and child not in tree)
    return tree


def pin_tree(root: int, cpus: set[int]) -> None:
    """Pin every thread of a process tree to ``cpus``; threads and processes started later
    inherit it from their parent (gunicorn's replacement workers, the threads of gthread)."""
    for pid in process_tree(root):
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:  # the thread ended meanwhile
                pass


def rss_mib(pid: int) -> float:
    """Resident set size of one process (VmRSS), in MiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def store_pids(stack: Stack) -> list[int]:
    """The run's private Redis and the PostgreSQL backends serving its database."""
    pids = [stack.redis.pid] if stack.redis and stack.redis.poll() is None else []
    if stack.db_name:
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                if stack.db_name.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


# -- CPU over a window, for servers whose processes come and go -----------------------------

def cpu_reading(stack: Stack) -> dict:
    """CPU seconds so far: this client, the server (gunicorn and workers; SQLite runs in
    them), the private Redis, the PostgreSQL backends of the run's database (per process),
    and the whole machine (all cores, /proc/stat). Fit for :func:`cpu_spent` across process
    turnover: each server or Redis process counts with the CPU of the children it has reaped (a
    gunicorn worker recycled after ``max_requests`` moves its time to the master), and the
    database backends are kept per process (one that exits takes its time with it)."""
    tick, table = os.sysconf("SC_CLK_TCK"), {}
    marker = stack.db_name.encode() if stack.db_name else None
    backends: dict[int, float] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            marked = marker is not None and marker in Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        own, reaped = (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick
        table[int(entry)] = (int(fields[1]), own + reaped)
        if marked:
            backends[int(entry)] = own
    usage = resource.getrusage(resource.RUSAGE_SELF)

    def tree(proc: subprocess.Popen | None) -> float:
        if proc is None:
            return 0.0
        pids = [proc.pid]
        for pid in pids:
            pids.extend(child for child, (parent, _) in table.items() if parent == pid and child not in pids)
        return sum(table[pid][1] for pid in pids if pid in table)

    return {"client": usage.ru_utime + usage.ru_stime, "server": tree(stack.server), "redis": tree(stack.redis),
            "database": backends, "machine": machine_cpu()}


def cpu_reading_at(stack: Stack, until: float, every: float = 1.0) -> dict:
    """:func:`cpu_reading` at ``until`` (time.monotonic), reading every ``every`` seconds
    meanwhile: a database backend that exits (its gunicorn worker was recycled) keeps the
    time it had at the last reading instead of taking it all away."""
    seen: dict[int, float] = {}
    while True:
        time.sleep(max(0.0, min(every, until - time.monotonic())))
        reading = cpu_reading(stack)
        seen.update(reading["database"])
        if time.monotonic() >= until:
            reading["database"] = seen
            return reading


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds between two :func:`cpu_reading` results: client, server, redis, machine, database."""
    spent = {k: after[k] - before[k] for k in ("client", "server", "redis", "machine")}
    spent["database"] = sum(t - before["database"].get(pid, 0.0) for pid, t in after["database"].items())
    return spent


# -- a load generator: one request over and over, from processes on their own CPUs ----------

@dataclass(frozen=True)
class Job:
    """A form POST sent over and over on keep-alive connections (connection ``i`` sends
    ``bodies[i % len(bodies)]``). With ``chain`` set, a 200 answer's JSON value of that name
    replaces the form field of the same name in the connection's next request (a rotated
    refresh token); an answer without ``"access_token"`` counts as an error."""

    port: int
    path: str
    authorization: str
    bodies: tuple[str, ...]
    chain: str | None = None


def _post(conn: http.client.HTTPConnection, job: Job, body: str) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": job.authorization}
    for _ in (0, 1):
        try:
            conn.request("POST", job.path, body, headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):  # a kept-alive connection the server closed
            conn.close()
    return 0, b""


def _drive(job: Job, index: int, times: tuple[float, float, float], rate: float, total: int, out: dict) -> None:
    """One connection: as fast as answers come (``rate`` 0), or paced at ``rate / total``
    with latency counted from when each request was due (a slow answer delays the next
    request, and that wait is counted: no coordinated omission)."""
    go, start, end = times
    conn = http.client.HTTPConnection("127.0.0.1", job.port, timeout=30)
    link, body = None, job.bodies[index % len(job.bodies)]
    due, latencies, errors = go + (index / rate if rate else 0.0), [], Counter()
    while True:
        now = time.monotonic()
        if rate:
            time.sleep(max(0.0, due - now))
            sent, due = due, due + total / rate
        else:
            sent = now
        if sent >= end:
            break
        status, data = _post(conn, job, body)
        ok = status == 200 and b'"access_token"' in data
        if ok and job.chain:
            link = json.loads(data)[job.chain]
            body = urlencode({**dict(parse_qsl(body)), job.chain: link})
        if sent >= start:
            if ok:
                latencies.append(time.monotonic() - sent)
            else:
                errors[str(status or "connection")] += 1
    conn.close()
    out[index] = (latencies, errors, link)


def _load_process(job: Job, indexes: list[int], times: tuple[float, float, float], rate: float, total: int,
                  cpus: set[int] | None, queue) -> None:  # type: ignore[no-untyped-def]
    if cpus:
        os.sched_setaffinity(0, cpus)
    out: dict[int, tuple] = {}
    threads = [threading.Thread(target=_drive, args=(job, i, times, rate, total, out)) for i in indexes]
    for t in threads:
        t.start()
    time.sleep(max(0.0, times[1] - time.monotonic()))
    before = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(max(0.0, times[2] - time.monotonic()))
    after = resource.getrusage(resource.RUSAGE_SELF)
    for t in threads:
        t.join()
    queue.put({"cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, "out": out})


def run_load(stack: Stack, job: Job, connections: int, processes: int, window: tuple[float, float],
             rate: float = 0.0, cpus: set[int] | None = None) -> dict:
    """Drive ``job`` on ``connections`` connections shared by ``processes`` forked processes
    (pinned to ``cpus``) for ``window`` = (warm-up, measured) seconds, closed-loop or at
    ``rate`` requests/s in all. Returns the rate, the sorted latencies and the errors of the
    measured part, the CPUs each party kept busy meanwhile (``client`` = the load
    generator), and each connection's last ``chain`` value (``ends``)."""
    ctx, go = get_context("fork"), time.monotonic() + 0.3
    times = (go, go + window[0], go + window[0] + window[1])
    queue = ctx.Queue()
    procs = [ctx.Process(target=_load_process, args=(job, list(range(p, connections, processes)), times, rate,
                                                      connections, cpus, queue)) for p in range(processes)]
    for p in procs:
        p.start()
    time.sleep(max(0.0, times[1] - time.monotonic()))
    before = cpu_reading(stack)
    after = cpu_reading_at(stack, times[2])
    parts = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    out = {i: v for part in parts for i, v in part["out"].items()}
    cpu = cpu_spent(before, after)
    cpu["client"] += sum(part["cpu"] for part in parts)
    cpu["other"] = cpu["machine"] - cpu["client"] - cpu["server"] - cpu["redis"] - cpu["database"]
    return {"rate": sum(len(v[0]) for v in out.values()) / window[1],
            "latencies": sorted(x for lat, _, _ in out.values() for x in lat),
            "errors": dict(sum((errs for _, errs, _ in out.values()), Counter())),
            "cpu": {k: v / window[1] for k, v in cpu.items()}, "ends": [out[i][2] for i in range(connections)]}
