"""The ``Trigger`` audit events, stored in batches off the request's path.

Every invocation is an audit event (its trigger, source, target kind, outcome and
duration), logged and counted at once (:func:`broker.userpool.audit.announce`). An
invocation that returned its response is logged at DEBUG, as one comes with every refresh
of a pool with a PreTokenGeneration trigger (refreshes themselves are only counted); one
that failed, at INFO. Its row is queued and written by a thread of the server process a
moment later, many rows to one transaction: a refresh, which writes nothing of its own,
would otherwise pay a write transaction for its PreTokenGeneration event (a third of its
cost on SQLite), and an operation that fails after its trigger ran would roll its
trigger's event back with it.

    journal.record(session, pool.id, audit.PASS, "alice", {"trigger": "PreSignUp", ...})
    journal.flush()   # what is queued, now (the process is leaving; tests)

Rows go to the database of the session they were recorded with. The journal, its thread
and its exit hook are made at the process's first event, never at import. A process that
exits writes what is queued (atexit; gunicorn's recycled workers through
:func:`broker.serving.worker_exit`).
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..store.models import AuditEvent
from ..userpool import audit

log = logging.getLogger("broker.triggers")

#: How long a row waits at most before it is written (seconds).
INTERVAL = 0.2
#: Rows kept at most while the database does not take them (then the oldest are dropped, logged).
LIMIT = 50_000


class Journal:
    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._forked()
        forked = weakref.WeakMethod(self._forked)
        os.register_at_fork(after_in_child=lambda: (method := forked()) is not None and method())

    def _forked(self) -> None:
        """A new process, or a forked one: no journal thread, no row of its parent's, and
        locks of its own (the parent's may have been held at the fork)."""
        self._lock = threading.Lock()  # the queue
        self._writing = threading.Lock()  # one writer at a time (the thread, or a flush at exit)
        self._queued: list[tuple[Engine, dict[str, Any]]] = []
        self._thread: threading.Thread | None = None

    def record(self, session: Session, pool_id: str, outcome: str, username: str | None,
               details: dict[str, Any]) -> None:
        row = audit.announce(pool_id, "Trigger", outcome, username=username, details=details,
                             level=logging.DEBUG if outcome == audit.PASS else logging.INFO)
        engine = session.get_bind()
        with self._lock:
            self._queued.append((engine, row))  # type: ignore[arg-type]
            if len(self._queued) > LIMIT:
                del self._queued[: len(self._queued) - LIMIT]
                log.error("trigger audit events dropped: the database has not taken them")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cognate-trigger-journal", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Write every queued row now; a flush waits for the rows the thread is writing, so
        that none is lost when the process leaves. Rows the database refuses for another
        reason than a deleted pool stay queued (logged) for the next flush."""
        with self._writing:
            with self._lock:
                taken, self._queued = self._queued, []
            by_engine: dict[Engine, list[dict[str, Any]]] = {}
            for engine, row in taken:
                by_engine.setdefault(engine, []).append(row)
            for engine, rows in by_engine.items():
                left = _store(engine, rows)
                if left:
                    with self._lock:
                        self._queued[:0] = [(engine, row) for row in left]

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 (the thread goes on: the next flush tries again)
                log.exception("trigger audit events not written")


def _store(engine: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write ``rows``; the rows left to write again (the database was away)."""
    try:
        _write(engine, rows)
        return []
    except IntegrityError:  # a pool deleted meanwhile: its events go, the others stay
        pass
    except Exception as exc:  # noqa: BLE001
        log.warning("trigger audit events not written yet: %s", exc)
        return rows
    for i, row in enumerate(rows):
        try:
            _write(engine, [row])
        except IntegrityError:
            log.info("trigger audit event of a deleted pool %s dropped", row["pool_id"])
        except Exception as exc:  # noqa: BLE001
            log.warning("trigger audit events not written yet: %s", exc)
            return rows[i:]
    return []


def _write(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """One INSERT of many rows, in a transaction of its own (Core: no ORM unit of work)."""
    with engine.begin() as conn:
        conn.execute(AuditEvent.__table__.insert(), rows)


_journal: Journal | None = None
_making = threading.Lock()


def record(session: Session, pool_id: str, outcome: str, username: str | None, details: dict[str, Any]) -> None:
    """Log and count one ``Trigger`` event now; queue its row (:class:`Journal`)."""
    _the_journal().record(session, pool_id, outcome, username, details)


def flush() -> None:
    """Write what this process has queued, now."""
    if _journal is not None:
        _journal.flush()


def _the_journal() -> Journal:
    """The process's journal, made at its first event (and its rows written at exit)."""
    global _journal
    if _journal is not None:
        return _journal
    with _making:
        if _journal is None:
            _journal = Journal()
            atexit.register(flush)
        return _journal
