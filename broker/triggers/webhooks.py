"""Webhook trigger targets: the event is POSTed as JSON to an ``http(s)://`` URL and the
response body is the returned event, as a Lambda's return value is.

Each request is signed so the receiver can tell it came from this deployment and is fresh:

    X-Cognate-Timestamp: 1767225600
    X-Cognate-Signature: sha256=<hex HMAC-SHA256 of "1767225600.<body>" under the pool's trigger secret>

A receiver recomputes the HMAC over the raw body, compares in constant time and refuses
a timestamp more than a few minutes old (as Stripe's and Slack's signatures are checked).
An answer other than 2xx fails the operation; a body ``{"errorMessage": "..."}`` (a Lambda
error's shape) gives the message Cognito would show, any other body none but ``HTTP <status>``
(a target may be any URL: what a service that is no receiver answers is never passed on to
the caller). Connections are kept alive and reused
by every thread of the server process (one pool per host, as many connections as requests
run at once): a server that starts a thread per request reuses them too. No cookies are
kept between events.

The timeout bounds the whole exchange (connecting, sending, the answer's head and body) by
the clock, as a Lambda's does: urllib3's own timeouts bound each read, so a receiver that
trickles its answer a byte at a time would hold the request for as long as it likes.
A :class:`_Watchdog` thread shuts the connection of a request still running at its deadline.
"""
from __future__ import annotations

import contextlib
import hashlib
import heapq
import hmac
import itertools
import json
import os
import socket
import threading
import time
import weakref
from typing import Any, Iterator

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError as Urllib3Timeout

from .outcome import CRASHED, INVALID, RAISED, RETURNED, TIMED_OUT, Outcome

SIGNATURE_HEADER = "X-Cognate-Signature"
TIMESTAMP_HEADER = "X-Cognate-Timestamp"
#: The largest answer read, as a synchronous Lambda's response is bounded (6 MB).
MAX_BODY = 6 * 1024 * 1024


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Cognate-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class _Cut(Exception):
    """The request ran past its deadline and its connection was shut."""


class Unreachable(Exception):
    """A POST got no answer: refused, timed out or cut off."""


class _Running:
    """One request being made: the connection it uses, once it has one."""

    __slots__ = ("connection", "done", "cut")

    def __init__(self) -> None:
        self.connection: HTTPConnection | None = None
        self.done = self.cut = False


_current = threading.local()  # the request this thread is making (its _Running)


class _Watched:
    """A connection that tells the request using it which connection it is."""

    def connect(self) -> None:
        _attach(self)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


def _attach(connection: Any) -> None:
    running = getattr(_current, "running", None)
    if running is not None:
        running.connection = connection


class _WatchedHTTP(_Watched, HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS


class _Watchdog:
    """Shuts the socket of each request still running at its deadline (one thread, started
    on first use): the blocked read or write returns at once and the request fails as timed
    out. The thread wakes for the deadlines of requests still running only."""

    def __init__(self) -> None:
        self._forked()
        forked = weakref.WeakMethod(self._forked)
        os.register_at_fork(after_in_child=lambda: (method := forked()) is not None and method())

    def _forked(self) -> None:
        """A new process (or a forked one: the parent's thread and lock are not its own)."""
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, _Running]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def within(self, deadline: float) -> Iterator[_Running]:
        """The request made inside ends by ``deadline`` (``time.monotonic()``)."""
        running = _Running()
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cognate-webhook-deadlines", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (deadline, next(self._order), running))
            if self._due[0][2] is running:
                self._cond.notify()
        _current.running = running
        try:
            yield running
        finally:
            _current.running = None
            with self._cond:  # (never cut once done: the connection may serve another request)
                running.done = True

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._cond.wait()
                    continue
                deadline, _n, running = self._due[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._due)
                _cut(running)


def _cut(running: _Running) -> None:
    running.cut = True
    sock = getattr(running.connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Webhooks:
    """POSTs events over kept-alive connections shared by the server's threads."""

    def __init__(self, timeout: float = 5.0, connections: int = 8) -> None:
        self.timeout = timeout
        # no retries (an event is sent once) and no redirects (the target is the URL set);
        # a connection the receiver closed meanwhile is noticed before it is reused.
        self._pool = urllib3.PoolManager(num_pools=64, maxsize=connections, block=False, retries=False)
        self._pool.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        self._watchdog = _Watchdog()

    def invoke(self, url: str, event: dict[str, Any], secret: str) -> Outcome:
        body = json.dumps(event, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "Cognate-Triggers/1",
                   TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}
        try:
            status, data = self._post(url, body, headers)
        except NewConnectionError as exc:  # urllib3 counts a refused connection as a connect timeout
            return Outcome(CRASHED, f"the webhook could not be reached: {type(exc).__name__}")
        except (Urllib3Timeout, _Cut):
            return Outcome(TIMED_OUT, f"Task timed out after {self.timeout:.2f} seconds")
        except (HTTPError, OSError, ValueError) as exc:
            return Outcome(CRASHED, f"the webhook could not be reached: {type(exc).__name__}")
        if len(data) > MAX_BODY:
            return Outcome(INVALID, "the webhook answered more than a Lambda may return")
        if not 200 <= status < 300:
            return Outcome(RAISED, _error_message(data, status))
        try:
            return Outcome(RETURNED, json.loads(data))
        except ValueError:
            return Outcome(INVALID, "the webhook answered what is not JSON")

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body`` to ``url`` over the same kept-alive connections, within the timeout
        and without following redirects: the answer's status (its body is read, at most
        :data:`MAX_BODY`, and dropped), or :class:`Unreachable` when none came. For other
        server-to-server calls than events, such as back-channel logout."""
        try:
            return self._post(url, body, headers)[0]
        except NewConnectionError as exc:  # (a timeout to urllib3, but a refusal)
            raise Unreachable(f"could not be reached: {type(exc).__name__}") from None
        except (Urllib3Timeout, _Cut):
            raise Unreachable(f"no answer within {self.timeout:.0f} seconds") from None
        except (HTTPError, OSError, ValueError) as exc:
            raise Unreachable(f"could not be reached: {type(exc).__name__}") from None

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """The status and (at most :data:`MAX_BODY` + 1 bytes of) the body of the answer,
        within the timeout (:class:`_Cut` past it); the connection goes back to the pool when
        the body was read whole in time."""
        response = None
        with self._watchdog.within(time.monotonic() + self.timeout) as running:
            try:
                response = self._pool.request("POST", url, body=body, headers=headers, redirect=False,
                                              timeout=urllib3.Timeout(total=self.timeout), preload_content=False)
                data = response.read(MAX_BODY + 1)
            except BaseException as exc:
                if response is not None:
                    response.close()
                if running.cut and isinstance(exc, (HTTPError, OSError)):
                    raise _Cut() from None
                raise
        # (released only once the watchdog is done with it: then no other request's can be cut)
        if running.cut or len(data) > MAX_BODY:
            response.close()
        else:
            response.release_conn()
        return response.status, data


def _error_message(data: bytes, status: int) -> str:
    try:
        found = json.loads(data)
    except ValueError:
        found = None
    if isinstance(found, dict) and isinstance(found.get("errorMessage"), str):
        return found["errorMessage"]
    return f"HTTP {status}"
