"""``/logout`` (the end_session_endpoint): Cognito's form and OpenID Connect RP-Initiated
Logout 1.0, both checked by :mod:`broker.oauth.end_session`; GET, and POST as §2 asks
(an app may send the request as a form). When the user must be asked, a page does, and
its form goes to ``/logout/confirm`` with a CSRF token. Signing out forgets this browser's
sign-in to the pool, tells the apps of the session that have a back-channel logout URL
(:mod:`broker.oauth.backchannel`) and, for a sign-in through a SAML IdP with single
logout, that IdP."""
from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..i18n import gettext as _
from ..oauth import authorize, end_session
from ..oauth.issue import issuer
from ..runtime import runtime
from . import flow, saml
from .pools import pool_blueprint

bp = pool_blueprint("logout")

#: What the confirmation form carries over (the hint is spent: the user's answer replaces it).
CARRIED = ("client_id", "post_logout_redirect_uri", "state", "ui_locales")


@bp.get("/logout")
def logout() -> Response | str:
    req = _parse(request.args)
    signed_in = flow.current_sign_in()
    if req.must_ask((signed_in or {}).get("sub")):
        fields = {name: request.args[name] for name in CARRIED if name in request.args}
        if req.client is not None:
            fields["client_id"] = req.client.id
        locales = {"ui_locales": fields["ui_locales"]} if "ui_locales" in fields else {}  # (the page's language)
        return render_template("logout_confirm.html", action=url_for("logout.confirm", **locales), fields=fields)
    return _sign_out(req, request.args)


@bp.post("/logout")
def logout_form() -> Response:
    """The request sent as a form (§2: the OP supports GET and POST). A cross-site POST
    carries no SameSite=Lax cookie, so nobody would be found signed in: once checked, it
    goes on as the GET it stands for, a top-level navigation that carries the cookie."""
    _parse(request.form)
    return redirect(url_for("logout.logout", **request.form.to_dict()), code=303)


@bp.post("/logout/confirm")
def confirm() -> Response | str:
    """The user's own yes (the form's CSRF token proves it came from the page we showed)."""
    req = _parse(request.form)
    return _sign_out(end_session.LogoutRequest(req.client, req.target, cognito=True), request.form)


def _parse(args: Any) -> end_session.LogoutRequest:
    rt = runtime()
    req = end_session.parse(g.db_session, rt.keys, g.pool, issuer(rt.settings.base_url, g.pool.id), args)
    if req.client is not None:
        g.client_id = req.client.id  # the pages are branded for this app client
    return req


def _sign_out(req: end_session.LogoutRequest, args: Any) -> Response | str:
    target = req.target
    if req.sign_in_again:
        authorize.parse(g.db_session, g.pool, args)  # checked before anyone is signed out
        target = url_for("hosted.authorize_endpoint", **args.to_dict())
    entry = flow.sign_out()
    after = target or url_for("logout.logout", **({"client_id": req.client.id} if req.client else {}))
    upstream = saml.begin_logout(entry, after)
    if upstream is not None:  # the SAML IdP that signed the user in ends its session too
        return upstream
    if target is not None:
        return redirect(target)
    return render_template("logged_out.html", message=_("You have been signed out."), back_url=None)
