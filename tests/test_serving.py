"""gunicorn as deployed (deploy/gunicorn.conf.py): workers recycled after ``max_requests``
leave at once and cleanly, with every request answered; a worker that cannot boot still
stops the master with gunicorn's boot-error status."""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from broker.triggers.worker_process import PROGRAM
from tests.conftest import BROKER, ROOT, _wait_port, broker_env, cli_in_process, free_port

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CONF = str(ROOT / "deploy" / "gunicorn.conf.py")


def _env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
    return {**base, "BROKER_BASE_URL": f"http://127.0.0.1:{port}", "BROKER_SECRET_KEY": secrets.token_urlsafe(40),
            "BROKER_DATA_DIR": str(tmp_path / "var"), "BROKER_LOG_FORMAT": "text", "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), **extra}


@pytest.mark.parametrize("workers", [1, 3])
def test_recycled_workers_answer_every_request_and_leave_cleanly(tmp_path, postgres_url, redis_url, workers):
    """Each recycled worker is stopped by the master once its replacement is ready (so the
    listening socket always has a worker), and the master ends with as many workers as
    configured: the one it adds for each recycle is taken back."""
    port = free_port()
    env = _env(tmp_path, port, DATABASE_URL=postgres_url, REDIS_URL=redis_url, WEB_CONCURRENCY=str(workers),
               GUNICORN_CMD_ARGS="--max-requests 25 --max-requests-jitter 0")
    subprocess.run([BROKER, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([GUNICORN, "-c", CONF], env=env, stdout=out, stderr=subprocess.STDOUT)

    def client(_: int) -> list[int]:
        with requests.Session() as http:
            return [http.get(f"http://127.0.0.1:{port}/ready", timeout=15).status_code for _ in range(150)]

    try:
        _wait_port(port, server)
        with ThreadPoolExecutor(workers) as pool:  # /ready reads PostgreSQL and Redis
            assert list(pool.map(client, range(workers))) == [[200] * 150] * workers
        children = _settled_children(server.pid, workers)
    finally:
        server.terminate()
        server.wait(30)
    text = log.read_text()
    booted = re.findall(r"Booting worker with pid: (\d+)", text)
    # recycled after 25 requests, each worker answers more while its replacement boots
    assert len(booted) >= workers + 1, text[-2000:]
    handovers = re.findall(r"worker (\d+): ready; stopping worker (\d+), which it replaces", text)
    replacements = {new for new, _ in handovers}
    assert replacements < set(booted) and len(booted) - len(replacements) == workers, text[-3000:]  # the rest replaced
    for new, old in handovers:  # the old worker served until its replacement was up
        assert text.index(f"Booting worker with pid: {new}") < text.index(f"Worker exiting (pid: {old})")
        assert text.index(f"stopping worker {old}") < text.index(f"Worker exiting (pid: {old})")
    assert len(children) == workers, text[-3000:]  # WEB_CONCURRENCY
    assert "Autorestarting worker" not in text and "no replacement" not in text and "warming up failed" not in text
    assert "exited with code" not in text and "Traceback" not in text, text[-3000:]
    assert server.returncode == 0


def test_a_replacement_starts_its_trigger_workers_before_it_serves(tmp_path, redis_url):
    """A recycled worker's replacement starts one trigger worker per thread for its pools'
    Python triggers while it warms up (no request has fired a trigger), and they run at
    the normal priority once it serves, whatever priority it booted at."""
    port = free_port()
    env = _env(tmp_path, port, DATABASE_URL=f"sqlite:///{tmp_path}/broker.db", REDIS_URL=redis_url,
               GUNICORN_THREADS="2", GUNICORN_CMD_ARGS="--max-requests 40 --max-requests-jitter 0",
               PYTHONPATH=str(ROOT))
    subprocess.run([BROKER, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    pool = json.loads(subprocess.run([BROKER, "pool", "create", "--name", "hooks", "--json"], env=env, check=True,
                                     capture_output=True, text=True, timeout=120).stdout)["Id"]
    subprocess.run([BROKER, "pool", "update", "--pool", pool, "--trigger",
                    "PreTokenGeneration=python:tests.trigger_handlers.tokens_claims:noop"],
                   env=env, check=True, capture_output=True, timeout=120)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([GUNICORN, "-c", CONF], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, server)
        with requests.Session() as http:
            assert {http.get(f"http://127.0.0.1:{port}/health", timeout=15).status_code for _ in range(40)} == {200}
            # until the old worker has gone; requests meanwhile let it hurry a replacement
            # booting at idle priority
            deadline = time.monotonic() + 60
            while "Worker exiting" not in (text := log.read_text()):
                assert time.monotonic() < deadline, text[-3000:]
                assert http.get(f"http://127.0.0.1:{port}/health", timeout=15).status_code == 200
                time.sleep(0.25)
        children = _settled_children(server.pid, 1)
        text = log.read_text()
        assert len(children) == 1 and f"worker {children[0]}: ready; stopping worker" in text, text[-3000:]
        worker = children[0]
        triggers = _trigger_workers(worker)
        assert len(triggers) == 2, text[-3000:]
        assert {os.sched_getscheduler(pid) for pid in triggers} == {os.SCHED_OTHER}
    finally:
        server.terminate()
        server.wait(30)
    assert "warming up failed" not in log.read_text()


def _trigger_workers(pid: int) -> list[int]:
    """The trigger worker processes among the children of ``pid``."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
            if PROGRAM.encode() in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def _settled_children(pid: int, workers: int) -> list[int]:
    """The children of ``pid`` once recycling is over: as many as ``workers`` for a second."""
    steady = 0
    for _ in range(300):
        children = sorted(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
        steady = steady + 1 if len(children) == workers else 0
        if steady >= 10:
            return children
        time.sleep(0.1)
    return children


def test_a_worker_that_cannot_boot_still_stops_the_master(tmp_path):
    port = free_port()
    env = _env(tmp_path, port, BROKER_ENV="production", BROKER_SECRET_KEY="short")
    # the master gives up (instead of respawning the worker for ever) within the timeout
    proc = subprocess.run([GUNICORN, "-c", CONF], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr[-3000:]  # gunicorn's "worker failed to boot"
    assert "BROKER_SECRET_KEY" in proc.stderr and "REDIS_URL is required" in proc.stderr


def _without_base_url(tmp_path: Path, port: int) -> dict[str, str]:
    env = broker_env(tmp_path, f"sqlite:///{tmp_path}/b.db", None, port)
    del env["BROKER_BASE_URL"]
    return env


def _serve(args: list[str], env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    with open(log, "wb") as out:
        server = subprocess.Popen([BROKER, *args, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait_port(port, server)
    return server


def _issuer_served(env: dict[str, str], pool_id: str, log: Path, port: int) -> str:
    """The issuer that ``broker serve --port PORT`` states in the pool's discovery."""
    server = _serve(["serve"], env, log, port)
    try:
        return requests.get(f"http://127.0.0.1:{port}/{pool_id}/.well-known/openid-configuration", timeout=10).json()["issuer"]
    finally:
        server.terminate()
        server.wait(30)


def test_serve_port_sets_the_default_base_url_and_announces_each_issuer(tmp_path):
    env = _without_base_url(tmp_path, 0)
    pool_id = json.loads(cli_in_process(env, ("pool", "create", "--name", "p", "--json")).stdout)["Id"]
    port = free_port()
    assert _issuer_served(env, pool_id, tmp_path / "serve.log", port) == f"http://localhost:{port}/{pool_id}"
    text = (tmp_path / "serve.log").read_text()
    assert f"Cognate at http://localhost:{port} (listening on 127.0.0.1:{port}" in text
    assert f"issuer: http://localhost:{port}/{pool_id}" in text
    # BROKER_BASE_URL still wins
    pinned = {**env, "BROKER_BASE_URL": "https://auth.example.com"}
    assert _issuer_served(pinned, pool_id, tmp_path / "b.log", free_port()) == f"https://auth.example.com/{pool_id}"


def test_demo_port_shows_urls_on_that_port(tmp_path):
    port = free_port()
    server = _serve(["demo"], _without_base_url(tmp_path, port), tmp_path / "demo.log", port)
    server.terminate()
    server.wait(30)
    text = (tmp_path / "demo.log").read_text()
    assert re.search(rf"issuer: +http://localhost:{port}/local_\w+", text), text
    assert "localhost:8000" not in text


def test_serve_starts_with_one_banner_and_logs_without_colour_codes(tmp_path):
    port = free_port()
    env = _without_base_url(tmp_path, port)
    server = _serve(["serve"], env, tmp_path / "serve.log", port)
    try:
        for path in ("/health", "/nowhere", "/local_Nope1234/oauth2/authorize"):
            requests.get(f"http://127.0.0.1:{port}{path}", allow_redirects=False, timeout=10)
    finally:
        server.terminate()
        server.wait(30)
    text = (tmp_path / "serve.log").read_text()
    assert "\x1b[" not in text
    assert text.count("Cognate at ") == 1 and "no pool yet" in text
    for noise in ("alembic", "Serving Flask app", "Debug mode", "Running on", "Press CTRL+C"):
        assert noise not in text, noise
    assert '"GET /nowhere HTTP/1.1" 404' in text  # access lines stay, plain


def test_the_master_imports_every_module_a_worker_needs(tmp_path):
    """After gunicorn's ``when_ready`` hook (run by the master before it forks), building
    the app imports no module of the package: a worker recycled after ``max_requests``
    has only the app to build."""
    script = """
import sys
import os
from types import SimpleNamespace
from broker.serving import app_modules, when_ready
when_ready(SimpleNamespace(cfg=SimpleNamespace(uid=os.geteuid(), gid=os.getegid())))
assert "broker.wsgi" not in sys.modules and "broker.store.migrations.env" not in sys.modules
assert not any(m.startswith("broker.store.migrations.versions.") for m in sys.modules)
before = set(sys.modules)
from broker import create_app
create_app()
print(sorted(m for m in set(sys.modules) - before if m.startswith("broker")))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
    env.update({"BROKER_DATA_DIR": str(tmp_path), "BROKER_SECRET_KEY": secrets.token_urlsafe(40)})
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_a_replacement_boots_at_idle_priority_and_a_busy_core_hurries_it(monkeypatch):
    """The replacement of a recycled worker boots under SCHED_IDLE; the worker it replaces,
    still waiting after recycling.IDLE_BOOT, gives it (every thread of it, and of the
    trigger workers it started while warming up) the normal policy."""
    from types import SimpleNamespace

    from broker import recycling

    booting = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, threading, time; "
                                "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                                "threading.Thread(target=time.sleep, args=(60,)).start(); time.sleep(60)"])
    children: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while True:  # its child started, and its second thread
            children = [int(c) for c in Path(f"/proc/{booting.pid}/task/{booting.pid}/children").read_text().split()]
            tasks = [int(t) for pid in (booting.pid, *children) for t in os.listdir(f"/proc/{pid}/task")]
            if (len(children), len(tasks)) == (1, 3) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert (len(children), len(tasks)) == (1, 3)
        recycling._schedule(recycling.IDLE, booting.pid)
        assert {os.sched_getscheduler(t) for t in tasks} == {os.SCHED_IDLE}
        waiting = SimpleNamespace(pid=os.getpid(), ppid=os.getpid(), alive=True, nr=100, max_requests=10**9,
                                  replacement_asked=time.monotonic() - recycling.IDLE_BOOT - 1)
        monkeypatch.setattr(recycling, "_idle_boot", True)  # (as the master found it: root may)
        recycling.pre_request(waiting, None)
        assert {os.sched_getscheduler(t) for t in tasks} == {os.SCHED_OTHER}
        assert waiting.replacement_hurried and waiting.alive  # once; and it keeps serving until replaced
        waiting.replacement_asked -= recycling.REPLACEMENT_WAIT
        recycling.pre_request(waiting, None)
        assert not waiting.alive  # no replacement at all: it stops, as gunicorn would have
    finally:
        booting.kill()
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        booting.wait()


def test_a_process_that_could_not_leave_idle_priority_never_takes_it(tmp_path):
    """Without CAP_SYS_NICE (a container's user), SCHED_IDLE is a one-way door: the master
    finds so, and replacements then boot at the normal priority."""
    script = ("import os; from broker import recycling; os.setgid(65534); os.setuid(65534); "
              "print(recycling._idle_restorable(), os.sched_getscheduler(0) == os.SCHED_OTHER)")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]
    from broker import recycling

    assert recycling._idle_restorable() is (os.geteuid() == 0)  # (root here: CAP_SYS_NICE)
