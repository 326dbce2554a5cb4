"""Liveness (/health) and readiness (/ready: database and state store answer)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from werkzeug.wrappers import Response

from ..oauth.errors import RETRY_AFTER
from ..runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready() -> Response:
    rt = runtime()
    checks = {"database": "ok", "state": "ok"}
    try:
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = type(exc).__name__
    try:
        rt.state.ping()
    except Exception as exc:
        checks["state"] = type(exc).__name__
    ok = all(v == "ok" for v in checks.values())
    response = jsonify({"status": "ok" if ok else "unavailable", **checks})
    if not ok:  # as every other 503: load balancers and probes learn when to ask again
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_AFTER
    return response
