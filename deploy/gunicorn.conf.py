"""gunicorn settings for Cognate in production: ``gunicorn -c deploy/gunicorn.conf.py``.

The values start from ``broker.serving.GUNICORN_DEFAULTS`` (what ``broker serve --workers N``
uses), so the CLI and a deployment behave alike; the environment adjusts the few that
depend on the host:

- ``PORT`` (default 8000) or ``GUNICORN_BIND`` (e.g. ``unix:/run/cognate.sock``): where to listen;
- ``WEB_CONCURRENCY``: worker processes (default 2 × CPUs + 1, counting a container's CPU quota);
- ``GUNICORN_THREADS``: threads per worker (default from GUNICORN_DEFAULTS);
- ``GUNICORN_ACCESSLOG``: ``-`` for an access log on stdout (default: none; the proxy logs);
- ``GUNICORN_CMD_ARGS="-k gthread"``: gunicorn's own threaded worker instead of Cognate's
  (``broker/polling.py``, the same threads without the hand-offs), for TLS in gunicorn itself;
- ``PROMETHEUS_MULTIPROC_DIR``: where workers write metrics for ``/metrics`` to add up (emptied
  at start; default: a temporary folder removed at exit); a tmpfs such as /dev/shm is fastest.

The application itself reads its settings (``BROKER_*``, ``DATABASE_URL``, ``REDIS_URL``,
``BROKER_CONFIG``) when a worker imports ``broker.wsgi``. Check a configuration with
``gunicorn -c deploy/gunicorn.conf.py --check-config``.
"""
from __future__ import annotations

import os

from broker.config import ConfigError, load_settings
from broker.observability.workers import JSON_LOGGER
from broker.serving import GUNICORN_DEFAULTS, HOOKS, usable_cpus


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "broker.wsgi:app"
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int_env('PORT', 8000)}"]

# Every sign-in costs one Argon2id hash (~20 ms of CPU, 19 MiB); argon2-cffi releases the
# GIL while hashing, so a worker's threads overlap hashes with the rest of the requests. Memory:
# about 115 MiB per worker (much of it shared with the master) plus 19 MiB for each thread
# that hashes: a worker hashes on its share of the CPUs (ceil(CPUs / workers) threads, one
# with the default workers; broker/userpool/passwords.py, share_cpus), and glibc keeps each
# thread's block for its next hash. MALLOC_MMAP_THRESHOLD_=1048576 in the environment makes
# it give the blocks back after every hash, at about 60 % more CPU per hash (measured: 29.7
# against 48.0 ms).
workers = _int_env("WEB_CONCURRENCY", 2 * usable_cpus() + 1)
worker_class = GUNICORN_DEFAULTS["worker_class"]
threads = _int_env("GUNICORN_THREADS", GUNICORN_DEFAULTS["threads"])

timeout = GUNICORN_DEFAULTS["timeout"]
graceful_timeout = GUNICORN_DEFAULTS["graceful_timeout"]
keepalive = GUNICORN_DEFAULTS["keepalive"]
max_requests = GUNICORN_DEFAULTS["max_requests"]
max_requests_jitter = GUNICORN_DEFAULTS["max_requests_jitter"]

accesslog = os.environ.get("GUNICORN_ACCESSLOG") or GUNICORN_DEFAULTS["accesslog"]
errorlog = GUNICORN_DEFAULTS["errorlog"]


def _json_logs() -> bool:
    try:
        return load_settings().json_logs
    except ConfigError:  # the workers refuse to start and say why
        return False


# BROKER_LOG_FORMAT=json (the default with BROKER_ENV=production): gunicorn's lines are JSON too.
if _json_logs():
    logger_class = JSON_LOGGER

# Server hooks: the metrics files the workers share, the modules the master imports before
# it forks, a recycled worker's quick exit, its replacement started before it stops
# (broker/recycling.py), and each worker's share of the CPUs for hashing
# (broker/serving.py): on_starting, on_exit, on_reload, child_exit, when_ready,
# worker_exit, pre_request, pre_fork, post_fork, post_worker_init.
globals().update(HOOKS)

# Never build the app in the master: each worker opens its own database pool and Redis
# connections after the fork (SQLAlchemy engines and redis-py pools are not fork-safe). The
# master only imports the modules (when_ready: every module of the package), so that a
# recycled worker boots at once.
preload_app = False

# Worker heartbeat files on tmpfs: on a container's overlay filesystem a slow fsync can make
# the master think a busy worker hung.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# gunicorn >= 25 opens a control socket at a fixed per-user path ($HOME/.gunicorn/gunicorn.ctl);
# several servers on one host would take it from each other, and a read-only or missing home
# in a container only produces warnings. Processes are managed by signals and the orchestrator.
control_socket_disable = True
