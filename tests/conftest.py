"""Real peers on loopback: a private Redis (or TEST_REDIS_URL's; the machine's Redis is left
as it was found), PostgreSQL (the machine's when it answers, each test in a database of its
own, else a private cluster; TEST_PRIVATE_POSTGRES asks for the private one), and Cognate
itself as a subprocess reached over real HTTP."""
from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
BROKER = str(Path(sys.executable).parent / "broker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _answers("127.0.0.1", port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


#: The machine's Redis, which other programs and other runs share: the tests leave nothing in it.
SHARED_REDIS_URL = os.environ.get("TEST_SHARED_REDIS_URL") or "redis://127.0.0.1:6379/0"


def _redis_keys(url: str) -> set[bytes] | None:
    """Every key of the database at ``url``; None when nothing answers there."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return set(client.scan_iter(count=1000))
    except redis.ConnectionError:
        return None
    finally:
        client.close()


def _runs_the_session(config: pytest.Config) -> bool:
    """True in the process that runs the whole session: pytest without xdist, or xdist's
    controller (which starts before its workers and ends after them); False in a worker."""
    return not hasattr(config, "workerinput")


_REDIS_BEFORE = pytest.StashKey[dict[str, "set[bytes] | None"]]()
_REDIS_LEFT = pytest.StashKey[str]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The keys in the shared Redis (and in ``TEST_REDIS_URL``'s) before any test runs: the
    session's end compares with them (:func:`pytest_sessionfinish`)."""
    if _runs_the_session(session.config):
        given = os.environ.get("TEST_REDIS_URL")
        session.config.stash[_REDIS_BEFORE] = {
            "shared": _redis_keys(SHARED_REDIS_URL), "given": _redis_keys(given) if given else None}


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Deletes the keys the run made in ``TEST_REDIS_URL``'s database, then fails the run when
    keys appeared in the shared Redis during it: every test's Redis is its own
    (:func:`redis_url`). Done once, after every test of every xdist worker."""
    before = session.config.stash.get(_REDIS_BEFORE, None)
    if before is None:
        return
    given = os.environ.get("TEST_REDIS_URL")
    if given and before["given"] is not None:
        import redis

        client = redis.Redis.from_url(given)
        made = sorted((_redis_keys(given) or set()) - before["given"])
        for start in range(0, len(made), 500):
            client.delete(*made[start:start + 500])
        client.close()
    left = sorted((_redis_keys(SHARED_REDIS_URL) or set()) - (before["shared"] or set()))
    if left:
        session.config.stash[_REDIS_LEFT] = (
            f"the tests left {len(left)} keys in the shared Redis {SHARED_REDIS_URL}: "
            f"{', '.join(k.decode(errors='replace') for k in left[:5])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    left = terminalreporter.config.stash.get(_REDIS_LEFT, None)
    if left:
        terminalreporter.write_sep("=", "shared Redis", red=True)
        terminalreporter.write_line(left)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of the tests' own: a private redis-server without persistence, stopped at the
    end (one per xdist worker); or ``TEST_REDIS_URL`` (a database given to the tests, shared
    by the workers), where the keys the run made are deleted at the session's end and those
    there before it stay."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        assert _redis_keys(given) is not None, f"nothing answers at TEST_REDIS_URL {given}"
        yield given
        return
    with private_redis(tmp_path_factory.mktemp("redis")) as url:
        yield f"{url}/0"


@contextlib.contextmanager
def private_redis(folder: Path) -> Iterator[str]:
    """A redis-server on loopback without persistence, stopped on leaving: its base URL."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


class PostgresServer:
    """A private PostgreSQL cluster on loopback that a test may stop and start again."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        assert bins, "Debian's PostgreSQL binaries are not installed"
        self.bin = Path(bins[-1])
        # a directory of its own: PostgreSQL refuses to run as root, and its user must reach the data
        self.dir = Path(tempfile.mkdtemp(prefix="cognate-pg-"))
        self.data, self.port = self.dir / "data", free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.bin / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> PostgresServer:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as when the server restarts."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if _answers("127.0.0.1", 5432) and not os.environ.get("TEST_PRIVATE_POSTGRES"):
        yield "postgresql://postgres@127.0.0.1:5432/test"
        return
    server = PostgresServer().start()
    yield server.url
    server.remove()


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh database per test, dropped afterwards."""
    import psycopg

    name = f"cognate_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind: SQLite under tmp_path, and one on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/broker.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def migrated_db(any_database_url: str) -> Iterator:
    """A :class:`broker.store.db.Database` on ``any_database_url``, at the newest schema,
    sealing with a secret of its own (as the server's database does with its secret key)."""
    from broker.sealing import Sealer
    from broker.store.db import Database

    db = Database(any_database_url, Sealer(secrets.token_urlsafe(32)))
    db.upgrade()
    yield db
    db.dispose()


@dataclass
class Broker:
    """A running Cognate server and the CLI bound to the same store."""

    base_url: str
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    log: Path | None = None
    created: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True, process: bool = False) -> subprocess.CompletedProcess:
        """``broker ARGS`` with this server's environment: in this process by default (the
        same exit code and output, without a second of interpreter start and imports per
        call), or as the console script when ``process`` (commands run side by side)."""
        if process:
            result = subprocess.run([BROKER, *args], env=self.env, capture_output=True, text=True, timeout=60)
        else:
            result = cli_in_process(self.env, args)
        if check and result.returncode != 0:
            raise AssertionError(f"broker {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def cli_json(self, *args: str) -> dict:
        return json.loads(self.cli(*args, "--json").stdout)

    def pool(self, *args: str) -> str:
        return self.cli_json("pool", "create", "--name", f"pool-{secrets.token_hex(3)}", *args)["Id"]

    def url(self, pool_id: str, path: str) -> str:
        return f"{self.base_url}/{pool_id}{path}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


_CLI_LOCK = threading.Lock()


def cli_in_process(env: dict[str, str], args: tuple[str, ...]) -> subprocess.CompletedProcess:
    """The console script's behaviour inside this process: environment swapped in for the
    call (one call at a time), stdout and stderr captured, SystemExit turned into the code."""
    from broker.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _CLI_LOCK, pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n not in env]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess([BROKER, *args], code, out.getvalue(), err.getvalue())


def broker_env(tmp: Path, database_url: str | None, redis_url: str | None, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
    env.update({
        "BROKER_BASE_URL": f"http://127.0.0.1:{port}",
        "BROKER_SECRET_KEY": secrets.token_urlsafe(40),
        "BROKER_DATA_DIR": str(tmp / "var"),
        "BROKER_ENV": "test",
        "BROKER_KEY_CACHE_SECONDS": "1",
        # Servers see configuration the CLI just wrote at their next request (production
        # checks once a second); tests/flows/test_scale_out.py runs with the default.
        "BROKER_CONFIG_CACHE_SECONDS": "0",
        # Every test server counts login starts per IP in the one Redis, all from 127.0.0.1:
        # no limit, except where a test sets one (tests/flows/test_token_attacks.py).
        "BROKER_LOGIN_STARTS_PER_MINUTE": "0",
    })
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def start_broker(tmp: Path, database_url: str | None = None, redis_url: str | None = None,
                 workers: int | None = None, port: int | None = None, **extra: str) -> Broker:
    port = port or free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    env = broker_env(tmp, database_url, redis_url, port, **extra)
    broker = Broker(base_url=f"http://127.0.0.1:{port}", env=env, log=tmp / f"broker-{port}.log")
    if database_url and database_url.startswith("postgresql"):
        broker.cli("db", "upgrade")
    args = [BROKER, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers:
        args += ["--workers", str(workers)]
    with open(broker.log, "wb") as log:
        broker.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, broker.proc)
        deadline = time.time() + 30
        while requests.get(f"{broker.base_url}/health", timeout=5).status_code != 200:
            if time.time() > deadline:
                raise RuntimeError("server never became healthy")
            time.sleep(0.1)
    except Exception:
        broker.stop()
        raise AssertionError(f"server did not start:\n{broker.log.read_text()[-3000:]}")
    return broker


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator:
    started: list[Broker] = []

    def make(**kwargs: object) -> Broker:
        broker = start_broker(tmp_path / f"b{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()
        text = broker.log.read_text() if broker.log and broker.log.exists() else ""
        assert "Traceback" not in text, f"server logged a traceback:\n{text[-4000:]}"


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Broker]:
    """One server on SQLite + real Redis for a whole module of tests."""
    tmp = tmp_path_factory.mktemp("shared")
    broker = start_broker(tmp, database_url=f"sqlite:///{tmp}/broker.db", redis_url=redis_url)
    yield broker
    broker.stop()
    text = broker.log.read_text() if broker.log and broker.log.exists() else ""
    assert "Traceback" not in text, f"server logged a traceback:\n{text[-4000:]}"
