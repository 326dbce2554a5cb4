"""Running the server: Werkzeug's development server, or gunicorn with ``--workers``."""
from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy.exc import SQLAlchemyError

from . import polling, recycling
from .config import Settings, data_location
from .oauth.issue import issuer
from .observability import logs, workers as workers_hooks
from .store import repo
from .store.db import Database
from .userpool import passwords

log = logging.getLogger("broker")

#: gunicorn defaults; deploy/gunicorn.conf.py starts from the same values.
GUNICORN_DEFAULTS: dict[str, Any] = {
    "worker_class": polling.WORKER_CLASS,  # gthread without epoll
    "threads": 4,
    "timeout": 30,
    "graceful_timeout": 20,
    "keepalive": 5,
    "max_requests": 10000,
    "max_requests_jitter": 1000,
    "accesslog": None,
    "errorlog": "-",
    # gunicorn 27's control socket sits at one path per user: several servers on a host
    # would take it from each other.
    "control_socket_disable": True,
}


#: Modules of other packages that a worker's app imports lazily (``create_app``, the first requests).
APP_MODULES = ("flask_wtf.csrf", "sqlalchemy.dialects.postgresql.psycopg", "psycopg", "redis")
#: Modules of this package that do something when imported: the WSGI entry point builds an
#: app, and Alembic runs the migrations.
NOT_PRELOADED = ("broker.wsgi", "broker.store.migrations")


def app_modules() -> list[str]:
    """Every module a worker's app may import: :data:`APP_MODULES` and this package's own
    (with the JSON API's operations and AWS's service models they read), but those of
    :data:`NOT_PRELOADED`."""
    import pkgutil

    import broker

    own = [m.name for m in pkgutil.walk_packages(broker.__path__, "broker.")
           if not m.name.startswith(NOT_PRELOADED)]
    return [*APP_MODULES, *own]


def when_ready(server: Any) -> None:
    """gunicorn hook: import the app's modules in the master, once the metrics folder is set
    and before the first fork. A worker then boots in a few tens of milliseconds instead of
    half a second (a recycled worker waits that long for its replacement, :mod:`.recycling`).
    Modules only: no app, engine, pool or connection exists before the fork, so nothing is
    shared with the workers. Then the channel on which workers ask for their replacement."""
    import importlib

    for name in app_modules():
        importlib.import_module(name)
    recycling.open_channel(server)


def usable_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup CPU quota (a container's
    ``--cpus``), which os.cpu_count() ignores: 2 x (host CPUs) + 1 workers would each reserve
    memory and Argon2's 19 MiB per sign-in on a host the container may hardly use."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for path in ("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"):
        try:
            fields = Path(path).read_text().split()
            if path.endswith("cfs_quota_us"):
                fields.append(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text().strip())
        except OSError:
            continue
        try:
            if fields[0] not in ("max", "-1"):
                cpus = min(cpus, max(1, math.ceil(int(fields[0]) / int(fields[1]))))
        except (IndexError, ValueError, ZeroDivisionError):  # a quota this cannot read: the affinity alone
            pass
        break
    return cpus


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in a new worker: :mod:`.recycling`'s, then the worker's share of the
    CPUs for Argon2 (:func:`broker.userpool.passwords.share_cpus`: each hashing thread holds
    a 19 MiB block)."""
    recycling.post_fork(server, worker)
    passwords.share_cpus(server.cfg.workers, usable_cpus())


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: a worker leaving after ``max_requests`` (its requests all answered)
    closes its database connections and ends at once: the interpreter's teardown it skips
    takes about 0.2 s, while its memory and the master's extra worker are held
    (:mod:`.recycling`; recycled gunicorn's way, every client would wait). Any other exit (a
    boot error above all, whose status stops the master) keeps its status and its normal
    teardown."""
    leaving = sys.exc_info()[1]
    if not recycling.recycled(worker) or not isinstance(leaving, SystemExit) or leaving.code not in (0, None):
        return
    if getattr(worker, "nr_conns", 0):  # past graceful_timeout with requests still running: let them finish
        return
    from .triggers import journal

    journal.flush()  # the trigger audit events still queued (atexit is skipped here)
    Database.dispose_all()
    logging.shutdown()
    os._exit(0)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook, in the master: the worker's metrics files, and the worker added for a
    recycled one (:mod:`.recycling`)."""
    workers_hooks.child_exit(server, worker)
    recycling.child_exit(server, worker)


#: Every server hook of Cognate's gunicorn, for ``broker serve`` and deploy/gunicorn.conf.py alike.
HOOKS = {**workers_hooks.HOOKS, **recycling.HOOKS, "child_exit": child_exit, "post_fork": post_fork,
         "when_ready": when_ready, "worker_exit": worker_exit}

#: Control characters of a request line, escaped in the access line.
CONTROL_CHARACTERS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
#: Pools named in the start-up banner; the others are counted.
BANNER_POOLS = 10


def prepare(settings: Settings) -> list[str] | None:
    """Migrate an embedded SQLite database (PostgreSQL is migrated by ``broker db upgrade``);
    returns the issuers of the pools for the banner, None when the database cannot say yet
    (the server starts anyway, and ``/ready`` tells)."""
    db = Database(settings.database_url)
    try:
        if settings.database_url.startswith("sqlite"):
            db.upgrade()
        with db.session() as session:
            return [issuer(settings.base_url, p.id) for p in repo.list_pools(session)]
    except SQLAlchemyError as exc:
        log.warning("cannot list the pools: %s", str(exc).splitlines()[0])
        return None
    finally:
        db.dispose()


def banner(settings: Settings, host: str, port: int, issuers: list[str] | None, server: str,
           more: Sequence[str] = ()) -> str:
    """What ``broker serve`` says once at start: where apps reach it, where it listens, where
    its data is, each pool's issuer (the value apps configure), then ``more`` (the demo's)."""
    lines = [f"Cognate at {settings.base_url} (listening on {host}:{port}, {server})"]
    lines.append(f"  data: {data_location(settings)}")
    lines += [f"  issuer: {iss}" for iss in (issuers or [])[:BANNER_POOLS]]
    if issuers and len(issuers) > BANNER_POOLS:
        lines.append(f"  ... and {len(issuers) - BANNER_POOLS} more pools (broker pool list)")
    if issuers == []:
        lines.append("  no pool yet: broker pool create --name NAME")
    return "\n".join([*lines, *more])


def serve(settings: Settings, host: str, port: int, workers: int | None, threads: int | None,
          more: Sequence[str] = ()) -> None:
    """Migrate an embedded database, say the banner (with ``more`` lines), and serve."""
    logs.configure(settings)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the banner says what matters
    issuers = prepare(settings)
    server = "development server; --workers N runs gunicorn" if workers is None else f"gunicorn, {workers} workers"
    log.info("%s", banner(settings, host, port, issuers, server, more))
    if workers is None:
        _development_server(settings, host, port)
        return
    if settings.embedded_store and workers > 1:
        log.warning("the embedded store is per process: with %s workers, set REDIS_URL", workers)
    # metrics files shared by the workers, and JSON lines from gunicorn itself when asked
    observe = {**HOOKS, "logger_class": workers_hooks.JSON_LOGGER if settings.json_logs else None}
    _Gunicorn(settings, {**GUNICORN_DEFAULTS, **observe, "bind": f"{host}:{port}", "workers": workers,
                         "threads": threads or GUNICORN_DEFAULTS["threads"]}).run()


def _development_server(settings: Settings, host: str, port: int) -> None:
    """Werkzeug's threaded server, without what ``app.run`` adds: Flask's and Werkzeug's own
    start-up lines (the banner said it all) and colour codes in the access lines, which end
    up in log files."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    from . import create_app

    class PlainRequestHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            line = self.requestline.translate(CONTROL_CHARACTERS)
            self.log("info", '"%s" %s %s', line, code, size)

    make_server(host, port, create_app(settings), threaded=True, request_handler=PlainRequestHandler).serve_forever()


def _gunicorn_base() -> type:
    from gunicorn.app.base import BaseApplication

    return BaseApplication


class _Gunicorn(_gunicorn_base()):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings, self.options = settings, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from . import create_app

        return create_app(self.settings)
