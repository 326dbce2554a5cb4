"""Errors mapped in one place: OAuth JSON for the API, the hosted error page otherwise;
never a stack trace. Also the security headers every response carries."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .. import observability
from ..errors import BrokerError, HostedError
from ..i18n import gettext as _
from ..oauth import errors
from ..oauth.authorize import RedirectError

log = logging.getLogger("broker.web")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def _wants_json() -> bool:
    endpoint = request.endpoint or ""
    return endpoint.startswith(("api.", "api_domain.")) or request.path.endswith(("/oauth2/token", "/oauth2/revoke",
                                                                 "/oauth2/introspect", "/oauth2/userInfo"))


def oauth_error(error: str, description: str | None, status: int) -> Response:
    """An OAuth error answer in its one shape (:mod:`broker.oauth.errors`)."""
    response = jsonify(errors.body(error, description))
    response.status_code = status
    response.headers.update(errors.NO_STORE)
    return response


def error_response(message: str, status: int, back_url: str | None = None, title: str | None = None) -> Response:
    if _wants_json():
        response = oauth_error(errors.for_status(status), message, status)
    else:
        response = Response(render_template("error.html", title=title or _("Something went wrong"),
                                            message=message, back_url=back_url), mimetype="text/html")
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = errors.RETRY_AFTER
    return response


def security_headers(https: bool) -> list[tuple[str, str]]:
    """The headers every response carries (HSTS over HTTPS only)."""
    headers = [("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
               ("Referrer-Policy", "no-referrer")]
    return [*headers, ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")] if https else headers


def init_app(app: Flask) -> None:
    @app.errorhandler(RedirectError)
    def _redirect(exc: RedirectError) -> Response:
        response = Response(status=302)
        response.headers["Location"] = exc.location
        return response

    @app.errorhandler(HostedError)
    def _hosted(exc: HostedError) -> Response:
        """Inside a login transaction the page offers a way back to the app (which learns
        that the sign-in did not happen); outside one there is no verified place to go."""
        return error_response(exc.message, exc.status, exc.back_url or g.get("back_url"))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return error_response(_("The form has expired or was not sent from this page. Go back, reload and try again."), 400)

    @app.errorhandler(BrokerError)
    def _broker(exc: BrokerError) -> Response:
        return error_response(exc.message, exc.status)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        messages = {404: _("This page does not exist."), 405: _("This method is not allowed here."),
                    413: _("The request is too large.")}
        response = error_response(messages.get(exc.code or 400, _("The request is invalid.")), exc.code or 400)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(RedisError)
    def _unavailable(exc: Exception) -> Response:
        log.error("backing store unavailable: %s", exc)
        observability.backend_error("redis" if isinstance(exc, RedisError) else "database")
        return error_response(_("The service is temporarily unavailable. Try again shortly."), 503)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(_("Something went wrong on our side. Try again."), 500)

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        for name, value in security_headers(app.config.get("PREFERRED_URL_SCHEME") == "https"):
            h.setdefault(name, value)
        if "Cache-Control" not in h and not request.path.startswith("/static/"):
            h["Cache-Control"] = "no-store"
        return response
