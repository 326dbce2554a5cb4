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


def test_get_many_and_delete_many_in_one_call(state):
    keys = [key(), key(), key()]
    state.put(keys[0], {"a": 1}, 60)
    state.put(keys[2], {"c": 3}, 60)
    assert state.get_many(keys) == [{"a": 1}, None, {"c": 3}]
    state.delete(keys[0], keys[1])
    assert state.get_many(keys) == [None, None, {"c": 3}]


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


def _race(action) -> int:
    """Run ``action`` in 16 threads at once; how many of them returned a true value."""
    wins = []
    threads = [threading.Thread(target=lambda: wins.append(bool(action()))) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(wins)


def test_take_returns_the_value_to_one_caller(state):
    k = key()
    assert state.take(k) is None
    state.put(k, {"txn": "t1"}, 60)
    assert state.take(k) == {"txn": "t1"}
    assert state.take(k) is None and state.get(k) is None
    state.put(k, {"txn": "t2"}, 60)
    assert _race(lambda: state.take(k)) == 1


def test_add_refuses_an_existing_key_until_it_expires(state):
    k = key()
    assert state.add(k, {"seen": 1}, 1) is True
    assert state.add(k, {"seen": 2}, 60) is False
    assert state.get(k) == {"seen": 1}
    time.sleep(1.2)
    assert state.add(k, {"seen": 3}, 60) is True
    assert _race(lambda: state.add(k + ":race", {}, 60)) == 1


def test_spend_allows_a_burst_then_one_try_per_interval(state):
    k = key()
    assert [state.spend(k, 0.5, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = state.spend(k, 0.5, 3)
    assert 0.3 < wait <= 0.5  # refused, and says how long until the next try
    time.sleep(wait + 0.05)
    assert state.spend(k, 0.5, 3) == 0.0
    assert state.spend(k, 0.5, 3) > 0  # one try came back, not the whole burst


def test_spend_counts_every_try_sent_at_once(state):
    k, allowed = key(), []
    threads = [threading.Thread(target=lambda: allowed.append(state.spend(k, 60, 5) == 0)) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 5


def test_queue_hands_out_due_items_and_takes_them_back_after_the_lease(state):
    q = key()
    state.enqueue(q, "later", {"n": 2}, 0.4)
    state.enqueue(q, "now", {"n": 1}, 0)
    assert state.claim(q, 0.3) == ("now", {"n": 1})
    assert state.claim(q, 0.3) is None  # "now" is leased, "later" not due yet
    time.sleep(0.45)
    claimed = [state.claim(q, 30), state.claim(q, 30)]
    assert {c[0] for c in claimed if c} == {"now", "later"}  # the lease ran out: "now" came back
    state.finish(q, "now")
    state.enqueue(q, "later", {"n": 3}, 0)  # a retry replaces the item
    assert state.claim(q, 30) == ("later", {"n": 3})
    state.finish(q, "later")
    assert state.claim(q, 0) is None
