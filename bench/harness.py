"""The peers a benchmark runs against, started in a temp dir and stopped afterwards:
a private Redis, SQLite or a throwaway PostgreSQL database, and Cognate under gunicorn;
plus CPU accounting from /proc, so a run can say who spent the machine's time.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

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


def start_server(stack: Stack, workers: int, threads: int, launcher: str = "serve") -> None:
    """``broker serve --workers N``, or gunicorn with deploy/gunicorn.conf.py (``launcher="conf"``)."""
    port = free_port()
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

def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _proc_table(marker: str | None) -> tuple[dict[int, int], dict[int, float], float]:
    """Parent and CPU seconds (user + system) of every live process, from /proc, and the
    CPU seconds of the processes whose command line holds ``marker`` (PostgreSQL backends
    show their database name there)."""
    tick, parents, times, marked = os.sysconf("SC_CLK_TCK"), {}, {}, 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes() if marker else b""
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
            if marker and marker.encode() in cmdline:
                marked += times[int(entry)]
    return parents, times, marked


def _tree_cpu(root: int | None, parents: dict[int, int], times: dict[int, float]) -> float:
    if root is None:
        return 0.0
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(times.get(pid, 0.0) for pid in tree)


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    """CPU seconds so far: this client, the server (gunicorn and workers; SQLite runs in
    them), the private Redis, the PostgreSQL backends of the run's database, and the whole
    machine (all cores, /proc/stat)."""
    parents, times, database = _proc_table(stack.db_name)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "client": usage.ru_utime + usage.ru_stime,
        "server": _tree_cpu(stack.server.pid if stack.server else None, parents, times),
        "redis": _tree_cpu(stack.redis.pid if stack.redis else None, parents, times),
        "database": database,
        "machine": machine_cpu(),
    }


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
