"""The journal of trigger audit events keeps every event until the database takes it: a
database error while it writes row by row leaves the rest queued and its thread running,
and a flush (the process leaving) waits for the rows its thread is writing."""
from __future__ import annotations

import json
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


def test_an_invocation_that_answered_is_a_debug_line_and_one_that_failed_an_info_line(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Every refresh of a pool with a PreTokenGeneration trigger fires it: its line is for
    debugging, as refreshes themselves are only counted; a failure is told at INFO."""
    j = journal.Journal(interval=0.05)
    with caplog.at_level("DEBUG", logger="broker.audit"):
        _record(j, 1)
        j.record(FakeSession(), "local_pool", audit.FAIL, "ann", {"n": 2})  # type: ignore[arg-type]
    lines = [(r.levelname, json.loads(r.getMessage())) for r in caplog.records if r.name == "broker.audit"]
    assert [(level, line["event"], line["outcome"], line["n"]) for level, line in lines] == [
        ("DEBUG", "Trigger", audit.PASS, 1), ("INFO", "Trigger", audit.FAIL, 2)]
    with caplog.at_level("INFO", logger="broker.audit"):
        caplog.clear()
        _record(j, 3)
    assert not [r for r in caplog.records if r.name == "broker.audit"]
    _wait_for(lambda: database.stored == [1, 2, 3])  # every one of them is a row all the same
