"""The SQL engine, sessions and schema migrations (Alembic, run programmatically)."""
from __future__ import annotations

import contextlib
import threading
import logging
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from . import repo
from .cache import track_changes
from .refresh_read import RefreshRead

if TYPE_CHECKING:
    from ..sealing import Sealer
    from alembic.config import Config

log = logging.getLogger("broker.store")

MIGRATIONS = Path(__file__).parent / "migrations"
#: Seconds to wait for PostgreSQL to accept a connection.
CONNECT_TIMEOUT = 5
#: The refresh reads' pool: a read holds its connection for one statement, so a worker
#: (gunicorn's 4 threads) keeps 4 idle at most.
READ_POOL = {"pool_size": 4, "max_overflow": 16}


class Database:
    """One engine and session factory per app; nothing connects until first use."""

    #: Every database of this process, for :meth:`dispose_all`.
    _open: weakref.WeakSet[Database] = weakref.WeakSet()

    def __init__(self, url: str, sealer: Sealer | None = None) -> None:
        Database._open.add(self)
        self.url = _driver_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self._engine_options: dict = {"connect_args": {"timeout": 30}}
            self.engine = create_engine(self.url, **self._engine_options)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            # pool_pre_ping: a connection left over from before a PostgreSQL restart is found
            # dead at checkout and replaced (with the rest of the pool), so the first request
            # after the restart succeeds. connect_timeout: while the server is unreachable a
            # request answers 503 within seconds instead of hanging (unless the URL sets its own).
            timeout = {} if "connect_timeout" in make_url(self.url).query else {"connect_timeout": CONNECT_TIMEOUT}
            self._engine_options = {"pool_size": 10, "max_overflow": 20, "connect_args": timeout}
            self.engine = create_engine(self.url, pool_pre_ping=True, **self._engine_options)
        self._refresh_read: RefreshRead | None = None
        self._lock = threading.Lock()
        # Every session carries the deployment's sealer: code that stores a sealed value
        # (a client secret, an SRP verifier) reaches it from the session it writes with.
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info={"sealer": sealer})
        #: Called after a session of this database commits a configuration change.
        self.config_committed: list[Callable[[], None]] = []
        track_changes(self.sessions, self.config_committed)
        #: Called with the sign-outs a session committed (``[pool_id, client_id, sub]`` each,
        #: :data:`repo.SIGNED_OUT`): apps are told of them (:mod:`broker.oauth.backchannel`).
        self.sign_outs_committed: list[Callable[[list[list[str]]], None]] = []
        event.listen(self.sessions, "after_commit", self._signed_out)
        event.listen(self.sessions, "after_rollback", lambda session: session.info.pop(repo.SIGNED_OUT, None))

    @property
    def refresh_read(self) -> RefreshRead:
        """The refresh grants' read of refresh tokens (:mod:`.refresh_read`), on connections
        of its own: on PostgreSQL as many idle ones as a worker has threads, by default."""
        if self._refresh_read is None:
            with self._lock:
                if self._refresh_read is None:
                    sqlite = self.url.startswith("sqlite")
                    options = self._engine_options if sqlite else {**self._engine_options, **READ_POOL}
                    self._refresh_read = RefreshRead(self.url, options, _sqlite_pragmas if sqlite else None)
        return self._refresh_read

    def _signed_out(self, session: Session) -> None:
        """After the commit: a failure to announce is logged, never the committed sign-out's."""
        signed_out = session.info.pop(repo.SIGNED_OUT, None)
        for callback in self.sign_outs_committed if signed_out else ():
            try:
                callback(signed_out)
            except Exception as exc:  # (the state store is away: the sign-out stands, untold)
                log.error("apps could not be told of %s sign-out(s): %s", len(signed_out), exc)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self) -> None:
        """Bring the schema to the newest revision. On PostgreSQL, nodes upgrading at once take
        turns on an advisory lock (see ``migrations/env.py``); later ones find nothing to do."""
        from alembic import command  # Alembic is only needed to migrate: keep it off every CLI start

        command.upgrade(alembic_config(self.engine), "head")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._refresh_read is not None:
            self._refresh_read.dispose()

    @classmethod
    def dispose_all(cls) -> None:
        """Close every pooled connection of this process (a worker about to exit)."""
        for db in list(cls._open):
            db.dispose()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _driver_url(url: str) -> str:
    """psycopg 3 for PostgreSQL whatever driver the URL names (or none)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the process, as WAL intends
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
