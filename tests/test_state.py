"""One conformance suite for both state stores: Redis and the embedded one."""
from __future__ import annotations

import secrets
import threading
import time

import pytest

from broker.store.state import MemoryState, RedisState


@pytest.fixture(params=["memory", "redis"])
def state(request, redis_url):
    return MemoryState() if request.param == "memory" else RedisState(redis_url)


def key() -> str:
    return f"cognate:test:{secrets.token_hex(8)}"


def test_put_get_delete(state):
    k = key()
    assert state.get(k) is None
    state.put(k, {"a": 1}, 60)
    assert state.get(k) == {"a": 1}
    state.delete(k)
    assert state.get(k) is None


def test_values_expire(state):
    k = key()
    state.put(k, {"a": 1}, 1)
    time.sleep(1.2)
    assert state.get(k) is None


def test_swap_returns_old_value_once_and_keeps_ttl(state):
    k = key()
    assert state.swap(k, {"used": True}) is None  # absent stays absent
    assert state.get(k) is None
    state.put(k, {"v": 1}, 1)
    assert state.swap(k, {"used": True}) == {"v": 1}
    assert state.swap(k, {"used": True}) == {"used": True}
    time.sleep(1.2)
    assert state.get(k) is None  # the tombstone kept the original TTL


def test_swap_is_atomic_under_contention(state):
    k = key()
    state.put(k, {"v": 1}, 60)
    winners = []

    def take() -> None:
        if state.swap(k, {"used": True}) == {"v": 1}:
            winners.append(1)

    threads = [threading.Thread(target=take) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert winners == [1]


def test_incr_counts_and_expires(state):
    k = key()
    assert [state.incr(k, 1) for _ in range(3)] == [1, 2, 3]
    time.sleep(1.2)
    assert state.incr(k, 1) == 1
