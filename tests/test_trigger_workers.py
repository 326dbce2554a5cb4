"""Python trigger targets run in worker processes: a handler that raises, hangs, dies or
returns nonsense costs its own invocation, and the next one runs as if nothing happened."""
import os
import signal
import threading
import time

import pytest

from broker.triggers.outcome import CRASHED, INVALID, RAISED, RETURNED, TIMED_OUT
from broker.triggers.workers import PythonWorkers

HANDLERS = "tests.trigger_handlers.misbehaving"


@pytest.fixture
def workers():
    pool = PythonWorkers(size=2, timeout=1.5)
    yield pool
    pool.close()


def test_a_handler_gets_the_event_a_lambda_context_and_the_server_environment(workers, monkeypatch):
    monkeypatch.setenv("COGNATE_TEST_MARK", "inherited")
    outcome = workers.invoke(f"{HANDLERS}:remaining", {"request": {}, "response": {}})
    assert outcome.kind == RETURNED
    answer = outcome.value["response"]
    assert 0 < answer["remaining"] <= 1500
    assert len(answer["request_id"]) == 36 and answer["function_name"] == f"{HANDLERS}:remaining"
    assert answer["environment"] == "inherited"


def test_each_failure_costs_only_its_own_invocation(workers):
    refused = workers.invoke(f"{HANDLERS}:refuse", {})
    assert (refused.kind, refused.value) == (RAISED, "Sign-ups are closed today")
    started = time.monotonic()
    hung = workers.invoke(f"{HANDLERS}:hang", {})
    assert hung.kind == TIMED_OUT and 1.4 < time.monotonic() - started < 3
    assert workers.invoke(f"{HANDLERS}:die", {}).kind == CRASHED
    assert workers.invoke(f"{HANDLERS}:not_json", {}).kind == INVALID
    assert workers.invoke(f"{HANDLERS}:holds_itself", {"response": {}}).kind == INVALID
    assert workers.invoke("tests.trigger_handlers.absent:handler", {}).kind == CRASHED
    assert workers.invoke(f"{HANDLERS}:absent", {}).kind == CRASHED
    # after all of that, the pool still answers, with fresh workers where the old ones died
    for _ in range(4):
        assert workers.invoke(f"{HANDLERS}:remaining", {"response": {}}).kind == RETURNED


def test_busy_workers_make_callers_wait_no_longer_than_the_timeout(workers):
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(workers.invoke(f"{HANDLERS}:hang", {})))
               for _ in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [o.kind for o in outcomes] == [TIMED_OUT] * 3
    assert time.monotonic() - started < 4
    assert workers.invoke(f"{HANDLERS}:remaining", {"response": {}}).kind == RETURNED


def test_an_idle_worker_that_died_is_replaced_not_blamed_on_the_next_invocation(workers):
    first = workers.invoke(f"{HANDLERS}:pid", {"response": {}})
    os.kill(first.value["response"]["pid"], signal.SIGKILL)  # (killed while idle: by the OOM killer, say)
    time.sleep(0.2)
    again = workers.invoke(f"{HANDLERS}:pid", {"response": {}})
    assert again.kind == RETURNED and again.value["response"]["pid"] != first.value["response"]["pid"]


def test_time_spent_waiting_for_a_free_worker_is_not_the_handlers():
    pool = PythonWorkers(size=1, timeout=1.5)
    try:
        busy = threading.Thread(target=pool.invoke, args=(f"{HANDLERS}:hang", {}))
        busy.start()
        time.sleep(0.5)
        waited = pool.invoke(f"{HANDLERS}:hang", {})
        busy.join()
        assert waited.kind == TIMED_OUT
        assert "waiting" in waited.value and "free worker" in waited.value, waited.value
        assert "after 1.50 seconds" not in waited.value
    finally:
        pool.close()


def test_a_cold_start_longer_than_the_timeout_fails_that_invocation_and_warms_the_worker(monkeypatch):
    monkeypatch.setenv("COGNATE_TEST_IMPORT_SECONDS", "2")
    pool = PythonWorkers(size=1, timeout=1.0)
    try:
        started = time.monotonic()
        cold = pool.invoke("tests.trigger_handlers.slow_start:pid", {"response": {}})
        assert cold.kind == TIMED_OUT and "cold start" in cold.value
        assert time.monotonic() - started < 1.8  # the caller waited its timeout, not the import
        time.sleep(1.5)  # the import finishes meanwhile, in the worker that was kept
        warm = pool.invoke("tests.trigger_handlers.slow_start:pid", {"response": {}})
        assert warm.kind == RETURNED
        again = pool.invoke("tests.trigger_handlers.slow_start:pid", {"response": {}})
        assert again.value["response"]["pid"] == warm.value["response"]["pid"]
    finally:
        pool.close()


def test_a_worker_that_never_finishes_its_cold_start_is_replaced(monkeypatch):
    monkeypatch.setattr("broker.triggers.workers.INIT_TIMEOUT", 1.0)
    monkeypatch.setenv("COGNATE_TEST_IMPORT_SECONDS", "30")
    pool = PythonWorkers(size=1, timeout=0.6)
    try:
        first = pool.invoke("tests.trigger_handlers.slow_start:pid", {"response": {}})
        assert first.kind == TIMED_OUT and "cold start" in first.value
        time.sleep(0.6)  # past INIT_TIMEOUT: the next caller gives up on that worker
        second = pool.invoke("tests.trigger_handlers.slow_start:pid", {"response": {}})
        assert second.kind == TIMED_OUT
        third = pool.invoke(f"{HANDLERS}:pid", {"response": {}})
        assert third.kind == RETURNED  # a fresh worker (the stuck one was killed)
    finally:
        pool.close()


def test_a_worker_runs_on_the_cpu_of_the_thread_that_waits_for_it(workers):
    allowed = os.sched_getaffinity(0)
    answer = workers.invoke(f"{HANDLERS}:pid", {"response": {}})
    pinned = os.sched_getaffinity(answer.value["response"]["pid"])
    assert len(pinned) == 1 and pinned <= allowed  # one CPU: the one this thread ran on when it called


def test_a_process_a_handler_left_behind_does_not_keep_its_dead_worker_for_alive(workers):
    """The left process inherits nothing of the worker's pipes: once the worker dies while
    idle, the next invocation finds that out at once and runs in a fresh worker."""
    first = workers.invoke(f"{HANDLERS}:leave_behind", {"response": {}})
    assert first.kind == RETURNED
    left, dead = first.value["response"]["left"], first.value["response"]["pid"]
    try:
        os.kill(dead, signal.SIGKILL)
        time.sleep(0.2)
        started = time.monotonic()
        again = workers.invoke(f"{HANDLERS}:pid", {"response": {}})
        assert again.kind == RETURNED and again.value["response"]["pid"] != dead
        assert time.monotonic() - started < 1.0  # not after the whole timeout
    finally:
        os.kill(left, signal.SIGKILL)


def test_a_worker_that_died_while_warming_up_is_replaced_not_blamed(monkeypatch):
    """A worker kept after a cold start that timed out, then killed while idle: the next
    invocation runs in a fresh worker instead of failing as a crash of the handler."""
    monkeypatch.setenv("COGNATE_TEST_IMPORT_SECONDS", "1")
    pool = PythonWorkers(size=1, timeout=0.3)
    try:
        cold = pool.invoke("tests.trigger_handlers.slow_start:pid", {"response": {}})
        assert cold.kind == TIMED_OUT and "cold start" in cold.value
        (worker,) = [w for w in pool._idle.queue if hasattr(w, "process")]
        os.kill(worker.process.pid, signal.SIGKILL)
        time.sleep(0.2)
        monkeypatch.setenv("COGNATE_TEST_IMPORT_SECONDS", "0")
        pool.timeout = 5.0
        warm = pool.invoke("tests.trigger_handlers.slow_start:pid", {"response": {}})
        assert warm.kind == RETURNED and warm.value["response"]["pid"] != worker.process.pid
    finally:
        pool.close()


def test_warming_up_starts_workers_with_their_handlers_imported_before_the_first_call():
    """A recycled server process's replacement starts its trigger workers before it takes
    requests (broker.runtime.warm): the first calls then start none and import nothing."""
    workers = PythonWorkers(size=3, timeout=5.0)
    try:
        ready = workers.warm([f"{HANDLERS}:remaining", f"{HANDLERS}:refuse"], 2, time.time() + 10)
        assert ready == 2 and workers._started == 2
        idle = list(workers._idle.queue)
        assert len(idle) == 2
        assert all(w.loaded == {f"{HANDLERS}:remaining", f"{HANDLERS}:refuse"} and not w.pending for w in idle)
        assert workers.invoke(f"{HANDLERS}:refuse", {}).kind == RAISED
        assert workers.invoke(f"{HANDLERS}:remaining", {"response": {}}).kind == RETURNED
        assert workers._started == 2  # no worker started by the calls
        assert workers.warm([f"{HANDLERS}:remaining"], 5, time.time() + 10) == 1  # up to the pool's size
    finally:
        workers.close()


def test_an_app_warms_the_trigger_workers_of_its_pools_python_triggers(tmp_path):
    from broker import create_app, load_settings
    from broker.triggers import invoke, settings as trigger_settings
    from broker.userpool import admin

    settings = load_settings({"BROKER_BASE_URL": "https://auth.example.com", "BROKER_DATA_DIR": str(tmp_path),
                              "DATABASE_URL": f"sqlite:///{tmp_path}/warm.db", "BROKER_SECRET_KEY": "k" * 40})
    app = create_app(settings)
    rt = app.extensions["broker"]
    rt.db.upgrade()
    with rt.db.session() as s:
        admin.create_pool(s, "plain")
        pool = admin.create_pool(s, "with triggers")
        trigger_settings.set_triggers(s, pool, {"PreSignUp": f"python:{HANDLERS}:refuse",
                                                "PreTokenGeneration": "https://hooks.example.com/tokens"})
    with rt.db.sessions() as s:
        python = invoke.of(s).python
    try:
        app.extensions["broker.warm"](2)
        assert python._started == 2
        assert {frozenset(w.loaded) for w in python._idle.queue} == {frozenset({f"{HANDLERS}:refuse"})}
    finally:
        python.close()
        rt.db.dispose()
