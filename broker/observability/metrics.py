"""The Prometheus metrics (https://prometheus.io/docs/practices/naming/).

Label values stay bounded: ``endpoint`` is the Flask endpoint name (never the raw path),
``method`` one of the standard methods or ``other``, ``provider`` ``COGNITO`` or the name of
one of the pools' identity providers, ``grant_type`` one the token endpoint accepted.

Under gunicorn each worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and
a scrape, whichever worker answers it, adds up every worker's files (prometheus_client's
multiprocess mode); a single process keeps them in memory.
"""
from __future__ import annotations

import glob
import logging
import os
from typing import Any, Iterable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import disable_created_metrics, multiprocess, values
from prometheus_client.metrics_core import Metric

log = logging.getLogger("broker.observability")

TOKEN_ENDPOINTS = frozenset({"api.token", "api_domain.token"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
#: Audit outcomes (Cognito's EventResponse) as the ``result`` label says them.
RESULTS = {"Pass": "success", "Fail": "failure", "Block": "blocked"}
PASSWORD_PROVIDER = "COGNITO"


class Metrics:
    """Every metric Cognate exports; one instance per process."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        if self.multiprocess_dir and not getattr(values.ValueClass, "_multiprocess", False):
            log.error("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set: "
                      "/metrics shows only the worker that answers")
        # In multiprocess mode the samples live in files and a scrape reads them with a fresh
        # registry; otherwise they are registered here (not in the global registry, so that
        # building the app twice in one process does not register them twice).
        self.registry = None if self.multiprocess_dir else CollectorRegistry()
        disable_created_metrics()  # *_created series exist in one mode only; nothing here needs them
        own = {"registry": self.registry}
        self.requests = Counter("cognate_http_requests_total", "HTTP requests answered by endpoint, method, status.",
                                ["endpoint", "method", "status"], **own)
        self.duration = Histogram("cognate_http_request_duration_seconds", "Time to answer an HTTP request.",
                                  ["endpoint"], **own)
        self.sign_ins = Counter("cognate_sign_ins_total", "Sign-in decisions by result and identity provider "
                                "(COGNITO: username and password).", ["result", "provider"], **own)
        self.tokens = Counter("cognate_tokens_issued_total", "Token responses issued, by grant type.",
                              ["grant_type"], **own)
        self.triggers = Counter("cognate_trigger_invocations_total", "Trigger invocations by trigger and outcome "
                                "(returned, raised, timed_out, crashed, invalid).", ["trigger", "outcome"], **own)
        self.trigger_duration = Histogram("cognate_trigger_duration_seconds", "Time a trigger took to answer.",
                                          ["trigger"], **own)
        self.lockouts = Counter("cognate_lockouts_total", "Accounts locked after repeated failed sign-ins.", **own)
        self.backend_errors = Counter("cognate_backend_errors_total", "Requests that failed because Redis or the "
                                      "database did not answer.", ["backend"], **own)
        for backend in ("redis", "database"):  # present at 0, so that rate() sees the first error
            self.backend_errors.labels(backend)
        for grant_type in GRANT_TYPES:
            self.tokens.labels(grant_type)
        for result in ("success", "failure"):
            self.sign_ins.labels(result, PASSWORD_PROVIDER)

    def request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(endpoint, method, str(status)).inc()
        self.duration.labels(endpoint).observe(seconds)

    def audit_event(self, event: str, outcome: str, details: Mapping[str, Any]) -> None:
        if event == "SignIn":
            self.sign_ins.labels(RESULTS.get(outcome, "other"), PASSWORD_PROVIDER).inc()
        elif event == "FederatedSignIn":
            self.sign_ins.labels(RESULTS.get(outcome, "other"), str(details.get("provider") or "unknown")).inc()
        elif event == "Lockout":
            self.lockouts.inc()
        elif event == "Trigger":
            trigger = str(details.get("trigger") or "unknown")
            self.triggers.labels(trigger, str(details.get("result") or "unknown")).inc()
            self.trigger_duration.labels(trigger).observe(float(details.get("duration_ms") or 0) / 1000)

    def token_issued(self, grant_type: str) -> None:
        self.tokens.labels(grant_type if grant_type in GRANT_TYPES else "other").inc()

    def backend_error(self, backend: str) -> None:
        self.backend_errors.labels(backend).inc()

    def exposition(self) -> tuple[bytes, str]:
        if self.registry is not None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        WorkerFilesCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry), CONTENT_TYPE_LATEST


class WorkerFilesCollector(multiprocess.MultiProcessCollector):
    """Adds up the workers' files, leaving out the ones still empty.

    A worker creates its file for a metric type on its first sample: prometheus_client opens
    it (0 bytes), then sizes it. A scrape that reads it in between would fail on the missing
    header. A file never shrinks, so one seen empty holds no sample yet and can be skipped."""

    def __init__(self, registry: CollectorRegistry, path: str) -> None:
        self.path = path
        super().__init__(registry, path=path)

    def collect(self) -> Iterable[Metric]:
        files = []
        for path in glob.glob(os.path.join(self.path, "*.db")):
            try:
                if os.stat(path).st_size:
                    files.append(path)
            except FileNotFoundError:  # a dead worker's live gauge, removed since the glob
                continue
        return self.merge(files, accumulate=True)
