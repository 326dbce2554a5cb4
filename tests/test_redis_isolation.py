"""The tests' Redis is their own: a run of the suite's fixtures (tests/conftest.py) leaves no
key in the machine's shared Redis, cleans what it made in a TEST_REDIS_URL database, and
fails when a test writes to the shared Redis anyway. Each case is a pytest run of its own
over a small test module, against redis-server processes started here (one stands in for
the machine's Redis, so the real one is never written)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import redis

from tests.conftest import ROOT, _answers, private_redis

INNER = '''
import redis
from broker.store.state import Keys, RedisState


def test_writes_what_a_server_writes(redis_url):
    state = RedisState(redis_url)
    state.put(Keys.login("txn-1"), {"client": "c"}, 900)
    state.incr(Keys.rate("local_Abc", "signin", "alice"), 3600)
    state.enqueue(Keys.outbox("d"), "m1", {"to": "a@example.com"}, 0)
    redis.Redis.from_url(redis_url).set("no-ttl", "1")
    assert len(redis.Redis.from_url(redis_url).keys("cognate:*")) >= 3
    with open("used-url", "w") as fh:
        fh.write(redis_url)
'''
LEAK = '''
import os
import redis


def test_leaks(redis_url):
    redis.Redis.from_url(os.environ["TEST_SHARED_REDIS_URL"]).set("cognate:leaked-by-a-test", "1")
'''


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own: here the machine's shared Redis."""
    with private_redis(tmp_path) as url:
        yield url


def _pytest(tmp_path: Path, module: str, **env: str) -> subprocess.CompletedProcess[str]:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "conftest.py").write_text("from tests.conftest import *  # noqa: F401,F403\n")
    (run / "test_inner.py").write_text(module)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    environ.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(run),
                           "--basetemp", str(tmp_path / "basetemp"), str(run)],
                          cwd=run, env=environ, capture_output=True, text=True, timeout=120)


def test_by_default_the_tests_run_a_redis_of_their_own_and_leave_nothing(tmp_path, redis_server):
    shared = redis.Redis.from_url(f"{redis_server}/0")
    shared.set("someone-elses", "kept")
    result = _pytest(tmp_path, INNER, TEST_SHARED_REDIS_URL=f"{redis_server}/0")
    assert result.returncode == 0, result.stdout + result.stderr
    used = (tmp_path / "run" / "used-url").read_text()
    assert not used.startswith(redis_server) and not used.startswith("redis://127.0.0.1:6379")
    port = int(used.rsplit(":", 1)[1].split("/")[0])
    assert not _answers("127.0.0.1", port)  # the private server is gone, and its keys with it
    assert shared.keys("*") == [b"someone-elses"]


def test_a_given_database_keeps_its_own_keys_and_loses_the_runs(tmp_path, redis_server):
    given = redis.Redis.from_url(f"{redis_server}/9")
    given.set("cognate:there-before", "kept")
    given.set("other:there-before", "kept")
    shared = redis.Redis.from_url(f"{redis_server}/0")
    result = _pytest(tmp_path, INNER, TEST_REDIS_URL=f"{redis_server}/9", TEST_SHARED_REDIS_URL=f"{redis_server}/0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "run" / "used-url").read_text() == f"{redis_server}/9"
    assert sorted(given.keys("*")) == [b"cognate:there-before", b"other:there-before"]
    assert shared.keys("*") == []


def test_a_key_left_in_the_shared_redis_fails_the_run(tmp_path, redis_server):
    shared = redis.Redis.from_url(f"{redis_server}/0")
    result = _pytest(tmp_path, LEAK, TEST_SHARED_REDIS_URL=f"{redis_server}/0")
    assert result.returncode != 0
    assert f"the tests left 1 keys in the shared Redis {redis_server}/0: cognate:leaked-by-a-test" in result.stdout
    assert shared.delete("cognate:leaked-by-a-test") == 1
