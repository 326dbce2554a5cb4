"""Webhook trigger targets: the event is POSTed as JSON to an ``http(s)://`` URL and the
response body is the returned event, as a Lambda's return value is.

Each request is signed so the receiver can tell it came from this deployment and is fresh:

    X-Cognate-Timestamp: 1767225600
    X-Cognate-Signature: sha256=<hex HMAC-SHA256 of "1767225600.<body>" under the pool's trigger secret>

A receiver recomputes the HMAC over the raw body, compares in constant time and refuses
a timestamp more than a few minutes old (as Stripe's and Slack's signatures are checked).
An answer other than 2xx fails the operation; a body ``{"errorMessage": "..."}`` (a Lambda
error's shape) gives the message Cognito would show. Connections are kept per thread and
host and reused.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

import requests

from .workers import CRASHED, INVALID, RAISED, RETURNED, TIMED_OUT, Outcome

SIGNATURE_HEADER = "X-Cognate-Signature"
TIMESTAMP_HEADER = "X-Cognate-Timestamp"
#: How much of a failed answer's body becomes its message when it names none.
MAX_MESSAGE = 200


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Cognate-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class Webhooks:
    """POSTs events with a pooled :class:`requests.Session` per thread."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def invoke(self, url: str, event: dict[str, Any], secret: str) -> Outcome:
        body = json.dumps(event, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "Cognate-Triggers/1",
                   TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}
        try:
            response = self._session().post(url, data=body, headers=headers, timeout=self.timeout,
                                            allow_redirects=False)
        except requests.Timeout:
            return Outcome(TIMED_OUT, f"Task timed out after {self.timeout:.2f} seconds")
        except requests.RequestException as exc:
            return Outcome(CRASHED, f"the webhook could not be reached: {type(exc).__name__}")
        if not 200 <= response.status_code < 300:
            return Outcome(RAISED, _error_message(response))
        try:
            return Outcome(RETURNED, response.json())
        except ValueError:
            return Outcome(INVALID, "the webhook answered what is not JSON")


def _error_message(response: requests.Response) -> str:
    try:
        found = response.json()
    except ValueError:
        found = None
    if isinstance(found, dict) and isinstance(found.get("errorMessage"), str):
        return found["errorMessage"]
    return response.text[:MAX_MESSAGE].strip() or f"HTTP {response.status_code}"
