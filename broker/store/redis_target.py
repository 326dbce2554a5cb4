"""Where the short-lived state lives, as ``REDIS_URL`` names it, and a client for it: one
server (``redis://``, ``rediss://``, ``unix://``), a Sentinel-managed master
(``redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]``) or a
cluster (``redis+cluster://[[user]:password@]host:port[,host:port...]``).

    target = parse_redis_url("redis+sentinel://:pw@s1:26379,s2/mymaster/2")   # ValueError if unusable
    client = redis_client(target)   # short timeouts, few retries: a 503 within seconds
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError, RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

SERVER_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_PORT, SERVER_PORT = 26379, 6379
#: A request fails over to a 503 within about (retries + 1) × connect timeout; a connection
#: left over from before a Redis restart is replaced by the first retry.
RETRY_ATTEMPTS, CONNECT_TIMEOUT, READ_TIMEOUT = 2, 2.0, 5.0


@dataclass(frozen=True)
class RedisTarget:
    """Where the state lives, as ``REDIS_URL`` names it."""

    mode: str  # "server", "sentinel" or "cluster"
    url: str = field(repr=False)  # may carry the password
    nodes: tuple[tuple[str, int], ...] = ()  # sentinels, or the cluster's seed nodes
    service: str | None = None  # the master group the sentinels watch
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_redis_url(url: str) -> RedisTarget:
    """Check ``url`` and say what it names; ``ValueError`` with the reason when it is unusable."""
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme in SERVER_SCHEMES:
        if scheme == "unix" and not urlsplit(url).path:
            raise ValueError("REDIS_URL: unix:// URLs name the socket file, as in unix:///run/redis.sock")
        try:
            redis.connection.parse_url(url)
        except ValueError as exc:  # a bad port, query value or scheme
            raise ValueError(f"REDIS_URL: {exc}") from exc
        return RedisTarget("server", url)
    if scheme in ("redis+sentinel", "redis+cluster"):
        return _parse_nodes_url(url, scheme.removeprefix("redis+"))
    raise ValueError("REDIS_URL must start with redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://")


def _parse_nodes_url(url: str, mode: str) -> RedisTarget:
    """``redis+sentinel://[[user]:password@]host:port[,...]/service_name[/db]`` or
    ``redis+cluster://[[user]:password@]host:port[,...]``; the password is the Redis servers'
    (sentinels are asked without one)."""
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"REDIS_URL: redis+{mode} URLs take no query string")
    userinfo, _at, hosts = parts.netloc.rpartition("@")
    username, _colon, password = (unquote(p) or None for p in userinfo.partition(":"))
    nodes = tuple(_node(h, SENTINEL_PORT if mode == "sentinel" else SERVER_PORT) for h in hosts.split(","))
    path = [p for p in parts.path.split("/") if p]
    if mode == "cluster":
        if path:
            raise ValueError("REDIS_URL: a cluster has no service name or database number (always db 0)")
        return RedisTarget("cluster", url, nodes, username=username, password=password)
    if not path or len(path) > 2:
        raise ValueError("REDIS_URL: redis+sentinel URLs end with /service_name or /service_name/db")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError(f"REDIS_URL: database {path[1]!r} is not a number")
    return RedisTarget("sentinel", url, nodes, service=unquote(path[0]), db=int(path[1]) if len(path) == 2 else 0,
                       username=username, password=password)


def _node(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    host, port = text.strip(), ""
    if host.startswith("["):
        host, _bracket, tail = host[1:].partition("]")
        port = tail.removeprefix(":")
    elif host.count(":") == 1:
        host, _colon, port = host.partition(":")
    if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"REDIS_URL: {text!r} is not host:port")
    return host, int(port) if port else default_port


def redis_client(target: RedisTarget) -> redis.Redis | RedisCluster:
    """A client for ``target`` with short timeouts and few retries: a request waits seconds,
    not minutes, before it answers 503 while Redis is away."""
    options: dict[str, Any] = {"socket_timeout": READ_TIMEOUT, "socket_connect_timeout": CONNECT_TIMEOUT,
                               "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRY_ATTEMPTS)}
    if target.mode == "server":
        return redis.Redis.from_url(target.url, **options)
    auth = {"username": target.username, "password": target.password}
    if target.mode == "sentinel":
        sentinel = Sentinel(list(target.nodes), sentinel_kwargs=options, **options, **auth)
        return sentinel.master_for(target.service, db=target.db)
    try:
        return _Cluster(startup_nodes=[ClusterNode(h, p) for h, p in target.nodes], **options, **auth)
    except RedisClusterException as exc:
        raise RedisConnectionError(str(exc)) from exc


class _Cluster(RedisCluster):
    """redis-py reports an unreachable or incomplete cluster outside ``RedisError``: turn it into
    a connection error, which the web layer answers with 503."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:
            raise RedisConnectionError(str(exc)) from exc
