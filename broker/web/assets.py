"""Branding assets (logo, CSS, theme files) and the branding of the page being rendered.
Logo and CSS URLs carry a content version, so they are cached for a year."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, g, request, send_from_directory, url_for

from .. import branding
from ..runtime import runtime
from .pools import pool_blueprint

bp = pool_blueprint("assets")
YEAR = 365 * 86400


def _asset(target: str, attr: str) -> tuple[Any, str | None]:
    row = branding.find(g.db_session, g.pool.id, target) if len(target) <= 128 else None
    data = getattr(row, attr) if row is not None else None
    if data is None:
        abort(404)
    return data, branding.version(data)


def _cached(response: Response, current: str | None) -> Response:
    immutable = request.args.get("v") == current
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable" if immutable else "public, max-age=60"
    return response


@bp.get("/ui/<target>/logo")
def logo(target: str) -> Response:
    data, current = _asset(target, "logo")
    row = branding.find(g.db_session, g.pool.id, target)
    return _cached(Response(data, mimetype=row.logo_type if row else "application/octet-stream"), current)


@bp.get("/ui/<target>/style.css")
def css(target: str) -> Response:
    data, current = _asset(target, "css")
    return _cached(Response(data, mimetype="text/css"), current)


@bp.get("/ui/theme/<name>/<path:filename>")
def theme_static(name: str, filename: str) -> Response:
    folder = branding.theme_dir(runtime().settings.themes_dir, name)
    if folder is None:
        abort(404)
    return send_from_directory(folder / "static", filename, max_age=3600)


def page_branding() -> dict[str, Any]:
    """The branding of the current page (its pool, and its app client when known), once per request."""
    if "branding" in g:
        return g.branding
    pool = g.get("pool")
    result: dict[str, Any] = {"pool_name": None, "logo_url": url_for("static", filename="img/logo.svg"),
                              "extra_css": [], "theme": None}
    if pool is not None and "db_session" in g:
        result["pool_name"] = pool.name
        client_id = g.get("client_id")
        found = runtime().config.get(g.db_session, ("branding", pool.id, client_id),
                                     lambda session: branding.resolved(session, pool.id, client_id))
        if found is not None and found.target is not None:
            if found.logo is not None:
                result["logo_url"] = url_for("assets.logo", target=found.target, v=found.logo)
            if found.css:
                result["extra_css"] = [url_for("assets.css", target=found.target, v=found.css)]
            if found.theme and branding.theme_dir(runtime().settings.themes_dir, found.theme):
                result["theme"] = found.theme
    g.branding = result
    return result


def current_theme() -> str | None:
    return page_branding()["theme"]


def template_context() -> dict[str, Any]:
    found = page_branding()
    theme = found["theme"]

    def theme_static_url(filename: str) -> str:
        return url_for("assets.theme_static", name=theme, filename=filename) if theme else ""

    return {"pool_name": found["pool_name"], "logo_url": found["logo_url"], "extra_css": found["extra_css"],
            "theme_static": theme_static_url}
