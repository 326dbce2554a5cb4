"""The journal of trigger audit events keeps every event until the database takes it: a
database error while it writes row by row leaves the rest queued and its thread running,
and a flush (the process leaving) waits for the rows its thread is writing."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from broker.triggers import journal
from broker.userpool import audit


class FakeSession:
    """What the journal asks of a session: the database it is bound to."""

    def get_bind(self) -> str:
        return "engine"


class Database:
    """Stands for ``journal._write``: stores rows, or fails as told (one failure per call)."""

    def __init__(self, *failures: Exception | None) -> None:
        self.failures = list(failures)
        self.stored: list[Any] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def write(self, engine: str, rows: list[Any]) -> None:
        self.entered.set()
        self.release.wait(10)
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.stored.extend(row["details"]["n"] for row in rows)


def _wait_for(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Database:
    db = Database()
    monkeypatch.setattr(journal, "_write", lambda engine, rows: db.write(engine, rows))
    return db


def _record(j: journal.Journal, n: int) -> None:
    j.record(FakeSession(), "local_pool", audit.PASS, "ann", {"n": n})  # type: ignore[arg-type]


def test_a_database_error_in_the_row_by_row_retry_keeps_the_rows_and_the_thread(database: Database) -> None:
    lost = OperationalError("INSERT", {}, Exception("the database went away"))
    database.failures = [IntegrityError("INSERT", {}, Exception("a pool was deleted")), None, lost]
    j = journal.Journal(interval=0.05)
    _record(j, 1)
    _record(j, 2)
    _record(j, 3)
    _wait_for(lambda: sorted(database.stored) == [1, 2, 3])  # 1 alone, then 2 and 3 once the database is back
    assert j._thread is not None and j._thread.is_alive()
    _record(j, 4)
    _wait_for(lambda: 4 in database.stored)


def test_a_flush_waits_for_the_rows_the_thread_is_writing(database: Database) -> None:
    database.release.clear()
    j = journal.Journal(interval=0.01)
    _record(j, 1)
    assert database.entered.wait(5)  # the thread holds the row now
    flushing = threading.Thread(target=j.flush)
    flushing.start()
    flushing.join(0.3)
    assert flushing.is_alive()  # (the process would have left with the row unwritten)
    database.release.set()
    flushing.join(5)
    assert database.stored == [1]
