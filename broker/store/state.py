"""Short-lived state: login transactions, sessions, authorization codes, one-time codes and
rate counters. Redis in production; an in-process store with the same semantics otherwise.

Every key is built by :class:`Keys`, with the ``cognate:`` prefix. Pool-scoped keys carry
the pool id in a hash tag so that keys used together stay in one Redis Cluster slot.

``REDIS_URL`` names one server, a Sentinel-managed master or a cluster (:mod:`.redis_target`).
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, NamedTuple, Protocol

import redis
from redis.cluster import RedisCluster
from redis.commands.core import Script

from .redis_target import parse_redis_url, redis_client

PREFIX = "cognate:"


class Keys:
    """The one place Redis keys are built."""

    @staticmethod
    def login(txn: str) -> str:
        return f"{PREFIX}login:{txn}"

    @staticmethod
    def login_starts(client: str) -> str:
        """Login transactions started from one client network in the current minute."""
        return f"{PREFIX}rate:login:{client}"

    @staticmethod
    def auth_session(session: str) -> str:
        """A sign-in of the JSON API between two calls (Cognito's ``Session`` string)."""
        return f"{PREFIX}authsession:{session}"

    @staticmethod
    def session(sid: str) -> str:
        return f"{PREFIX}session:{sid}"

    @staticmethod
    def session_client(pool_id: str, sid: str, client_id: str) -> str:
        """An app client that a hosted sign-in session (its ``sid`` claim) gave a code or
        tokens to, and that is to be told when that session ends (back-channel logout)."""
        return f"{PREFIX}{{{pool_id}}}:sid:{sid}:{client_id}"

    @staticmethod
    def logout_request(pool_id: str, key: str) -> str:
        """A logout request sent as a form, checked and held for the GET it stands for."""
        return f"{PREFIX}{{{pool_id}}}:logout:{key}"

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

    @staticmethod
    def rate(pool_id: str, limit: str, *subject: str) -> str:
        """A rate limit's bucket (:meth:`StateStore.spend`) for one subject: a user, an IP, ..."""
        return f"{PREFIX}{{{pool_id}}}:rate:{limit}:" + ":".join(s.lower() for s in subject)

    @staticmethod
    def pending_totp(pool_id: str, sub: str) -> str:
        """A TOTP secret handed out by AssociateSoftwareToken, waiting for its first code."""
        return f"{PREFIX}{{{pool_id}}}:totp-pending:{sub}"

    @staticmethod
    def passkey_registration(pool_id: str, sub: str) -> str:
        """The challenge of a passkey registration in flight (one per user at a time)."""
        return f"{PREFIX}{{{pool_id}}}:passkey-reg:{sub}"

    @staticmethod
    def passkey_sign_in(txn: str) -> str:
        """The challenge of the passkey request options a hosted sign-in page was given
        (one per login transaction, taken by the first answer)."""
        return f"{PREFIX}login-passkey:{txn}"

    @staticmethod
    def outbox(deployment: str) -> str:
        """A deployment's messages waiting for delivery (a sorted set of ids by due time;
        their bodies in ``<key>:items``, in the same cluster slot)."""
        return f"{PREFIX}{{outbox:{deployment}}}"


class StateStore(Protocol):
    def put(self, key: str, value: dict[str, Any], ttl: int) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def get_many(self, keys: list[str]) -> list[dict[str, Any] | None]:
        """Several values in one round trip; the keys must share a hash tag (one pool's)."""
    def delete(self, *keys: str) -> None: ...
    def swap(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        """Atomically replace the value (keeping its TTL) and return the old one; None if absent."""
    def incr(self, key: str, ttl: int) -> int:
        """Atomically add one; the TTL starts with the first increment."""
    def take(self, key: str) -> dict[str, Any] | None:
        """Atomically read and delete: a one-time value is returned to one caller only."""
    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        """Store only if absent; False if the key already exists (a replay)."""
    def spend(self, key: str, interval: float, burst: int) -> float:
        """Take one try from a rate limit's bucket: ``burst`` tries at once, one more every
        ``interval`` seconds (GCRA). 0 when the try is allowed (and counted), else the
        seconds until the next one is; atomic, so tries sent at once are all counted."""
    def enqueue(self, key: str, item_id: str, item: dict[str, Any], delay: float) -> None:
        """Queue ``item`` (or replace the one with the same id) for :meth:`claim` after ``delay`` s."""
    def claim(self, key: str, lease: float) -> tuple[str, dict[str, Any]] | None:
        """The next due item, hidden from other claims for ``lease`` s (at-least-once delivery:
        an item whose claimer dies comes back); None when nothing is due."""
    def finish(self, key: str, item_id: str) -> None:
        """Drop a delivered (or given up) item."""
    def ping(self) -> bool: ...


class _Connection(NamedTuple):
    client: redis.Redis | RedisCluster
    swap: Script
    incr: Script
    spend: Script
    enqueue: Script
    claim: Script


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
    # GCRA on Redis' clock (one clock for every node): the key holds the theoretical arrival
    # time of the next try; a try is allowed while that is at most burst-1 intervals ahead.
    _SPEND = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
    local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
    local wait = tat - (burst - 1) * interval - now
    if wait > 0 then return tostring(wait) end
    redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tat + interval - now) * 1000))
    return '0'
    """
    _ENQUEUE = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
    redis.call('EXPIRE', KEYS[1], ARGV[4])
    redis.call('EXPIRE', KEYS[2], ARGV[4])
    """
    _CLAIM = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
    if #due == 0 then return nil end
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), due[1])
    return {due[1], redis.call('HGET', KEYS[2], due[1])}
    """
    #: Queued items outlive any retry schedule, but not forever.
    QUEUE_TTL = 7 * 86400

    def __init__(self, url: str) -> None:
        self.target = parse_redis_url(url)
        self._conn: _Connection | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> redis.Redis | RedisCluster:
        return self._connect().client

    def _connect(self) -> _Connection:
        """Built on first use: a cluster client asks its nodes for the slot map when built, and
        a node must start (and answer 503s) while Redis is down."""
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    client = redis_client(self.target)
                    self._conn = _Connection(client, *(client.register_script(script) for script in (
                        self._SWAP, self._INCR, self._SPEND, self._ENQUEUE, self._CLAIM)))
        return self._conn

    def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        self.client.set(key, json.dumps(value), ex=max(1, int(ttl)))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.get(key)
        return None if raw is None else json.loads(raw)

    def get_many(self, keys: list[str]) -> list[dict[str, Any] | None]:
        return [None if raw is None else json.loads(raw) for raw in self.client.mget(keys)]

    def delete(self, *keys: str) -> None:
        self.client.delete(*keys)

    def swap(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        raw = self._connect().swap(keys=[key], args=[json.dumps(value)])
        return None if raw is None else json.loads(raw)

    def incr(self, key: str, ttl: int) -> int:
        return int(self._connect().incr(keys=[key], args=[max(1, int(ttl))]))

    def take(self, key: str) -> dict[str, Any] | None:
        raw = self.client.getdel(key)
        return None if raw is None else json.loads(raw)

    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        return bool(self.client.set(key, json.dumps(value), ex=max(1, int(ttl)), nx=True))

    def spend(self, key: str, interval: float, burst: int) -> float:
        return float(self._connect().spend(keys=[key], args=[interval, burst]))

    def enqueue(self, key: str, item_id: str, item: dict[str, Any], delay: float) -> None:
        self._connect().enqueue(keys=[key, key + ":items"], args=[item_id, json.dumps(item), delay, self.QUEUE_TTL])

    def claim(self, key: str, lease: float) -> tuple[str, dict[str, Any]] | None:
        found = self._connect().claim(keys=[key, key + ":items"], args=[lease])
        if not found:
            return None
        item_id, raw = (v.decode() if isinstance(v, bytes) else v for v in found)
        if raw is None:  # its body expired: nothing to deliver
            self.finish(key, item_id)
            return None
        return item_id, json.loads(raw)

    def finish(self, key: str, item_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(key, item_id)
        pipe.hdel(key + ":items", item_id)
        pipe.execute()

    def ping(self) -> bool:
        return bool(self.client.ping())


class MemoryState:
    """The embedded store: one process only, same semantics as :class:`RedisState`."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._queues: dict[str, dict[str, tuple[float, str]]] = {}
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

    def get_many(self, keys: list[str]) -> list[dict[str, Any] | None]:
        return [self.get(key) for key in keys]

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
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

    def spend(self, key: str, interval: float, burst: int) -> float:
        with self._lock:
            now = time.monotonic()
            item = self._live(key)
            tat = max(item[1] if item else 0.0, now)
            wait = tat - (burst - 1) * interval - now
            if wait > 0:
                return wait
            self._data[key] = (tat + interval, tat + interval)
            return 0.0

    def enqueue(self, key: str, item_id: str, item: dict[str, Any], delay: float) -> None:
        with self._lock:
            self._queues.setdefault(key, {})[item_id] = (time.monotonic() + delay, json.dumps(item))

    def claim(self, key: str, lease: float) -> tuple[str, dict[str, Any]] | None:
        with self._lock:
            now, queue = time.monotonic(), self._queues.get(key, {})
            due = min((due, item_id) for item_id, (due, _raw) in queue.items()) if queue else None
            if due is None or due[0] > now:
                return None
            raw = queue[due[1]][1]
            queue[due[1]] = (now + lease, raw)
        return due[1], json.loads(raw)

    def finish(self, key: str, item_id: str) -> None:
        with self._lock:
            self._queues.get(key, {}).pop(item_id, None)

    def ping(self) -> bool:
        return True

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, (exp, _) in self._data.items() if exp <= now]:
            del self._data[key]


def open_state(redis_url: str | None) -> StateStore:
    """Redis when ``redis_url`` is set (nothing connects until first use), else the embedded store."""
    return RedisState(redis_url) if redis_url else MemoryState()
