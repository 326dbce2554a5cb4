"""What a running broker tells its operators: Prometheus metrics at ``/metrics``, a request
id on every request (``X-Request-Id``), and JSON log lines that carry it.

``init_logging`` sets the log format (before anything is logged), ``init_app`` hooks the
rest into the app. The code reports through three calls, harmless outside a server (the
CLI's admin commands count nothing):

    observability.audit_event("SignIn", "Fail", {"reason": "wrong_password"})
    observability.backend_error("redis")
    observability.request_id()            # "9f1c..." inside a request, None outside

prometheus_client is imported only by ``init_app``: under gunicorn it must see
``PROMETHEUS_MULTIPROC_DIR`` (set by the master before the workers fork) when it is first
imported, so nothing imported in the master may load it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .logs import Structured, configure as init_logging
from .middleware import request_id

if TYPE_CHECKING:
    from flask import Flask

    from ..config import Settings
    from .metrics import Metrics

_metrics: Metrics | None = None


def init_app(app: Flask, settings: Settings) -> None:
    """Count and time every request, serve ``/metrics`` (logs: :func:`init_logging`, first)."""
    from flask import request
    from werkzeug.wrappers import Response

    from ..web import metrics as metrics_view
    from .metrics import Metrics, TOKEN_ENDPOINTS
    from .middleware import ENDPOINT_KEY, RequestObserver

    global _metrics
    if _metrics is None:  # one set of metrics per process, however many apps it builds
        _metrics = Metrics()
    metrics = _metrics

    @app.teardown_request
    def _note_endpoint(exc: BaseException | None) -> None:
        request.environ[ENDPOINT_KEY] = request.endpoint

    @app.after_request
    def _count_tokens(response: Response) -> Response:
        """Counted once the token response (and its commit) succeeded: a 200 from the token
        endpoint, whose grant types are the registered ones."""
        if response.status_code == 200 and request.endpoint in TOKEN_ENDPOINTS:
            metrics.token_issued(request.form.get("grant_type", ""))
        return response

    app.register_blueprint(metrics_view.bp)
    app.wsgi_app = RequestObserver(app.wsgi_app, metrics, access_log=settings.json_logs)  # type: ignore[method-assign]


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    assert _metrics is not None, "init_app was not called"
    return _metrics.exposition()


def token_issued(grant_type: str) -> None:
    """Count tokens issued by a grant answered outside the app's views."""
    if _metrics is not None:
        _metrics.token_issued(grant_type)


def audit_event(event: str, outcome: str, details: Mapping[str, Any]) -> None:
    """Count the audit events that metrics follow (sign-ins, lockouts)."""
    if _metrics is not None:
        _metrics.audit_event(event, outcome, details)


def backend_error(backend: str) -> None:
    """A request failed because ``backend`` ("redis" or "database") did not answer."""
    if _metrics is not None:
        _metrics.backend_error(backend)


__all__ = ["Structured", "audit_event", "backend_error", "exposition", "init_app", "init_logging",
           "request_id"]
