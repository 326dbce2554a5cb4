"""``/metrics``: Prometheus' text format, at the root (all pools together).

With ``BROKER_METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``
(Prometheus: ``authorization: {credentials: ...}`` in the scrape config); without it the
path is open, and the proxy in front should not route it from the internet.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, request
from werkzeug.wrappers import Response

from .. import observability
from ..runtime import runtime

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    token = runtime().settings.metrics_token
    if token and not _bearer_is(token):
        return Response("A bearer token is required.\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    body, content_type = observability.exposition()
    return Response(body, content_type=content_type)


def _bearer_is(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
