"""Every hosted and OAuth URL lives under ``/<PoolId>``, and at ``/`` on a custom domain
mapped to a pool: this resolves the pool once per request into ``g.pool`` (or answers 404)
and gives views a database session."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, request

from ..errors import NotFound
from ..i18n import gettext as _
from ..runtime import runtime


def pool_blueprint(name: str) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix="/<pool_id>")

    @bp.url_value_preprocessor
    def _load_pool(endpoint: str | None, values: dict[str, Any] | None) -> None:
        pool_id = (values or {}).pop("pool_id", None)
        if pool_id is None:  # a custom domain's route
            pool_id = runtime().settings.domains.get(request.host.split(":")[0].lower(), "")
        g.db_session = open_session()
        pool = runtime().config.pool(g.db_session, pool_id) if len(pool_id) <= 55 else None
        if pool is None:
            raise NotFound(_("Unknown user pool."))
        g.pool = pool

    @bp.url_defaults
    def _pool_id(endpoint: str, values: dict[str, Any]) -> None:
        if "pool_id" not in values and "pool" in g:
            values["pool_id"] = g.pool.id

    return bp


def open_session():  # type: ignore[no-untyped-def]
    if "db_session" not in g:
        g.db_session = runtime().db.sessions()
    return g.db_session


def close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def register(app: Flask, bp: Blueprint) -> None:
    """At ``/<PoolId>/...`` always, and at ``/...`` too when custom domains are configured."""
    app.register_blueprint(bp)
    if runtime_settings(app).domains:
        app.register_blueprint(bp, name=f"{bp.name}_domain", url_prefix="")


def runtime_settings(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["broker"].settings
