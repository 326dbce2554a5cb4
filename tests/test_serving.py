"""gunicorn as deployed (deploy/gunicorn.conf.py): workers recycled after ``max_requests``
leave at once and cleanly, with every request answered; a worker that cannot boot still
stops the master with gunicorn's boot-error status."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import BROKER, ROOT, _wait_port, free_port

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CONF = str(ROOT / "deploy" / "gunicorn.conf.py")


def _env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
    return {**base, "BROKER_BASE_URL": f"http://127.0.0.1:{port}", "BROKER_SECRET_KEY": secrets.token_urlsafe(40),
            "BROKER_VAR_DIR": str(tmp_path / "var"), "BROKER_LOG_FORMAT": "text", "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), **extra}


def test_recycled_workers_answer_every_request_and_leave_cleanly(tmp_path, postgres_url, redis_url):
    port = free_port()
    env = _env(tmp_path, port, DATABASE_URL=postgres_url, REDIS_URL=redis_url,
               GUNICORN_CMD_ARGS="--max-requests 25 --max-requests-jitter 0")
    subprocess.run([BROKER, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([GUNICORN, "-c", CONF], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, server)
        with requests.Session() as http:
            answers = [http.get(f"http://127.0.0.1:{port}/ready", timeout=15) for _ in range(150)]
        assert [r.status_code for r in answers] == [200] * 150  # /ready reads PostgreSQL and Redis
    finally:
        server.terminate()
        server.wait(30)
    text = log.read_text()
    pids = set(re.findall(r"Booting worker with pid: (\d+)", text))
    assert len(pids) >= 6, text[-2000:]  # one worker per 25 requests
    assert text.count("Autorestarting worker") >= 5
    assert "exited with code" not in text and "Traceback" not in text, text[-3000:]
    assert server.returncode == 0


def test_a_worker_that_cannot_boot_still_stops_the_master(tmp_path):
    port = free_port()
    env = _env(tmp_path, port, BROKER_ENV="production", BROKER_SECRET_KEY="short")
    # the master gives up (instead of respawning the worker for ever) within the timeout
    proc = subprocess.run([GUNICORN, "-c", CONF], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr[-3000:]  # gunicorn's "worker failed to boot"
    assert "BROKER_SECRET_KEY" in proc.stderr and "REDIS_URL is required" in proc.stderr
