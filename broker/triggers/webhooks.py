"""Webhook trigger targets: the event is POSTed as JSON to an ``http(s)://`` URL and the
response body is the returned event, as a Lambda's return value is.

Each request is signed so the receiver can tell it came from this deployment and is fresh:

    X-Cognate-Timestamp: 1767225600
    X-Cognate-Signature: sha256=<hex HMAC-SHA256 of "1767225600.<body>" under the pool's trigger secret>

A receiver recomputes the HMAC over the raw body, compares in constant time and refuses
a timestamp more than a few minutes old (as Stripe's and Slack's signatures are checked).
An answer other than 2xx fails the operation; a body ``{"errorMessage": "..."}`` (a Lambda
error's shape) gives the message Cognito would show. Connections are kept alive and reused
by every thread of the server process (one pool per host, as many connections as requests
run at once): a server that starts a thread per request reuses them too. No cookies are
kept between events.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError as Urllib3Timeout

from .workers import CRASHED, INVALID, RAISED, RETURNED, TIMED_OUT, Outcome

SIGNATURE_HEADER = "X-Cognate-Signature"
TIMESTAMP_HEADER = "X-Cognate-Timestamp"
#: How much of a failed answer's body becomes its message when it names none.
MAX_MESSAGE = 200
#: The largest answer read, as a synchronous Lambda's response is bounded (6 MB).
MAX_BODY = 6 * 1024 * 1024


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Cognate-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class Webhooks:
    """POSTs events over kept-alive connections shared by the server's threads."""

    def __init__(self, timeout: float = 5.0, connections: int = 8) -> None:
        self.timeout = timeout
        # no retries (an event is sent once) and no redirects (the target is the URL set);
        # a connection the receiver closed meanwhile is noticed before it is reused.
        self._pool = urllib3.PoolManager(num_pools=64, maxsize=connections, block=False, retries=False)

    def invoke(self, url: str, event: dict[str, Any], secret: str) -> Outcome:
        body = json.dumps(event, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "Cognate-Triggers/1",
                   TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}
        try:
            status, data = self._post(url, body, headers)
        except NewConnectionError as exc:  # urllib3 counts a refused connection as a connect timeout
            return Outcome(CRASHED, f"the webhook could not be reached: {type(exc).__name__}")
        except Urllib3Timeout:
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

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """The status and (at most :data:`MAX_BODY` + 1 bytes of) the body of the answer; the
        connection goes back to the pool when the body was read whole."""
        response = self._pool.request("POST", url, body=body, headers=headers, redirect=False,
                                      timeout=urllib3.Timeout(total=self.timeout), preload_content=False)
        try:
            data = response.read(MAX_BODY + 1)
        except BaseException:
            response.close()
            raise
        if len(data) > MAX_BODY:
            response.close()
        else:
            response.release_conn()
        return response.status, data

    def close(self) -> None:
        self._pool.clear()


def _error_message(data: bytes, status: int) -> str:
    try:
        found = json.loads(data)
    except ValueError:
        found = None
    if isinstance(found, dict) and isinstance(found.get("errorMessage"), str):
        return found["errorMessage"]
    return data[:MAX_MESSAGE * 4].decode("utf-8", "replace")[:MAX_MESSAGE].strip() or f"HTTP {status}"
