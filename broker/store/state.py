"""Short-lived state: login transactions, sessions, authorization codes, one-time codes and
rate counters. Redis in production; an in-process store with the same semantics otherwise.

Every key is built by :class:`Keys`, with the ``cognate:`` prefix. Pool-scoped keys carry
the pool id in a hash tag so that keys used together stay in one Redis Cluster slot.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Protocol

import redis

PREFIX = "cognate:"


class Keys:
    """The one place Redis keys are built."""

    @staticmethod
    def login(txn: str) -> str:
        return f"{PREFIX}login:{txn}"

    @staticmethod
    def session(sid: str) -> str:
        return f"{PREFIX}session:{sid}"

    @staticmethod
    def code(pool_id: str, code_hash: str) -> str:
        return f"{PREFIX}{{{pool_id}}}:code:{code_hash}"

    @staticmethod
    def otp(pool_id: str, purpose: str, username: str) -> str:
        return f"{PREFIX}{{{pool_id}}}:otp:{purpose}:{username.lower()}"

    @staticmethod
    def upstream(pool_id: str, state: str) -> str:
        """An upstream sign-in in flight (OAuth ``state`` / SAML ``RelayState``) → its login."""
        return f"{PREFIX}{{{pool_id}}}:upstream:{state}"

    @staticmethod
    def saml_assertion(pool_id: str, assertion_id: str) -> str:
        """A consumed SAML assertion ID: each assertion is accepted once."""
        return f"{PREFIX}{{{pool_id}}}:saml:{assertion_id}"

    @staticmethod
    def failures(pool_id: str, kind: str, subject: str) -> str:
        return f"{PREFIX}{{{pool_id}}}:fail:{kind}:{subject.lower()}"


class StateStore(Protocol):
    def put(self, key: str, value: dict[str, Any], ttl: int) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def delete(self, key: str) -> None: ...
    def swap(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        """Atomically replace the value (keeping its TTL) and return the old one; None if absent."""
    def incr(self, key: str, ttl: int) -> int:
        """Atomically add one; the TTL starts with the first increment."""
    def take(self, key: str) -> dict[str, Any] | None:
        """Atomically read and delete: a one-time value is returned to one caller only."""
    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        """Store only if absent; False if the key already exists (a replay)."""
    def ping(self) -> bool: ...


class RedisState:
    """State in Redis; every write carries a TTL."""

    _SWAP = """
    local old = redis.call('GET', KEYS[1])
    if old then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end
    return old
    """
    _INCR = """
    local n = redis.call('INCR', KEYS[1])
    if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
    return n
    """

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._swap = self.client.register_script(self._SWAP)
        self._incr = self.client.register_script(self._INCR)

    def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        self.client.set(key, json.dumps(value), ex=max(1, int(ttl)))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.get(key)
        return None if raw is None else json.loads(raw)

    def delete(self, key: str) -> None:
        self.client.delete(key)

    def swap(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        raw = self._swap(keys=[key], args=[json.dumps(value)])
        return None if raw is None else json.loads(raw)

    def incr(self, key: str, ttl: int) -> int:
        return int(self._incr(keys=[key], args=[max(1, int(ttl))]))

    def take(self, key: str) -> dict[str, Any] | None:
        raw = self.client.getdel(key)
        return None if raw is None else json.loads(raw)

    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        return bool(self.client.set(key, json.dumps(value), ex=max(1, int(ttl)), nx=True))

    def ping(self) -> bool:
        return bool(self.client.ping())


class MemoryState:
    """The embedded store: one process only, same semantics as :class:`RedisState`."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> tuple[float, Any] | None:
        item = self._data.get(key)
        if item and item[0] <= time.monotonic():
            del self._data[key]
            return None
        return item

    def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + max(1, int(ttl)), json.dumps(value))
            if len(self._data) % 1024 == 0:
                self._sweep()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._live(key)
        return None if item is None else json.loads(item[1])

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def swap(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            item = self._live(key)
            if item is None:
                return None
            self._data[key] = (item[0], json.dumps(value))
        return json.loads(item[1])

    def incr(self, key: str, ttl: int) -> int:
        with self._lock:
            item = self._live(key)
            expires, count = item if item else (time.monotonic() + max(1, int(ttl)), 0)
            self._data[key] = (expires, count + 1)
            return count + 1

    def take(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._live(key)
            self._data.pop(key, None)
        return None if item is None else json.loads(item[1])

    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (time.monotonic() + max(1, int(ttl)), json.dumps(value))
            return True

    def ping(self) -> bool:
        return True

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, (exp, _) in self._data.items() if exp <= now]:
            del self._data[key]


def open_state(redis_url: str | None) -> StateStore:
    return RedisState(redis_url) if redis_url else MemoryState()
