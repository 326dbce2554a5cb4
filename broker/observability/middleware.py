"""The request id and the per-request measurements, as WSGI middleware around the Flask
app: it sees every request, also those that fail before routing or in an error handler.

A request keeps the ``X-Request-Id`` its client or proxy sent when the value is short and
made of safe characters (it is written to the logs); otherwise it gets a new one. Either
way the response carries it back in ``X-Request-Id``.
"""
from __future__ import annotations

import contextvars
import logging
import re
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import quote

from .. import ids

if TYPE_CHECKING:
    from .metrics import Metrics

HEADER = "X-Request-Id"
ENDPOINT_KEY = "cognate.endpoint"  # set by the app's teardown: which view answered
#: Letters, digits and ``-._:``, at most 128: UUIDs, hex ids, proxies' ids like ``req-1:2``.
VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: Probes that succeed come every few seconds and say nothing: no access line.
QUIET_ENDPOINTS = frozenset({"health.health", "health.ready"})

access_log = logging.getLogger("broker.access")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("cognate_request_id", default=None)


def request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    return _current.get()


def accepted_id(value: str | None) -> str:
    """The incoming id when it is safe to log and echo, else a new one."""
    if value and VALID_ID.fullmatch(value):
        return value
    return ids.hex32()


StartResponse = Callable[..., Any]


class RequestObserver:
    """Assigns the request id, then times, counts and (with ``access_log``) logs the request."""

    def __init__(self, app: Callable[[dict, StartResponse], Iterable[bytes]], metrics: Metrics,
                 access_log: bool) -> None:
        self.app, self.metrics, self.access_log = app, metrics, access_log

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        rid = accepted_id(environ.get("HTTP_X_REQUEST_ID"))
        environ["HTTP_X_REQUEST_ID"] = rid  # what the app sees is what the logs say
        token = _current.set(rid)
        started = time.perf_counter()
        status = [500]

        def start(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(line.split(" ", 1)[0])
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"] + [(HEADER, rid)]
            return start_response(line, headers, exc_info)

        try:
            return self.app(environ, start)
        finally:
            seconds = time.perf_counter() - started
            endpoint = environ.get(ENDPOINT_KEY) or "unmatched"
            method = environ.get("REQUEST_METHOD", "")
            self.metrics.request(endpoint, method, status[0], seconds)
            if self.access_log and not (endpoint in QUIET_ENDPOINTS and status[0] < 400):
                _log_access(environ, method, status[0], seconds, endpoint)
            _current.reset(token)


def _log_access(environ: dict[str, Any], method: str, status: int, seconds: float, endpoint: str) -> None:
    """One line per request; the path without its query string (codes, states and tokens
    travel there), percent-encoded so that no byte of it can forge a log line."""
    raw = environ.get("PATH_INFO", "").encode("latin-1", "replace")  # WSGI strings hold bytes
    path = quote(raw, safe="/:@!$&'()*+,;=-._~")[:512]
    method = method if method.isalpha() and len(method) <= 16 else "other"
    access_log.info("%s %s %s", method, path, status, extra={"fields": {
        "method": method, "path": path, "status": status, "endpoint": endpoint,
        "duration_ms": round(seconds * 1000, 1), "remote_addr": environ.get("REMOTE_ADDR"),
    }})
