"""``/logout`` (the end_session_endpoint): Cognito's form and OpenID Connect RP-Initiated
Logout 1.0, both checked by :mod:`broker.oauth.end_session`; GET, and POST as §2 asks
(an app may send the request as a form). When the user must be asked, a page does, and
its form goes to ``/logout/confirm`` with a CSRF token. Signing out forgets this browser's
sign-in to the pool, tells the apps of the session that have a back-channel logout URL
(:mod:`broker.oauth.backchannel`) and, for a sign-in through a SAML IdP with single
logout, that IdP.

Only the parameters these requests define ever go on (:data:`KNOWN`), each rebuilt with
``urlencode``: nothing a request carries names a route, a scheme or a fragment."""
from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from flask import g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..errors import HostedError
from ..i18n import gettext as _
from ..oauth import authorize, end_session
from ..oauth.issue import issuer
from ..runtime import runtime
from ..store.state import Keys
from . import flow, saml
from .pools import pool_blueprint

bp = pool_blueprint("logout")

#: What the confirmation form carries over (the hint is spent: the user's answer replaces it).
CARRIED = ("client_id", "post_logout_redirect_uri", "state", "ui_locales")
#: What a logout request may carry on: its own parameters and, to sign in again (Cognito's
#: ``redirect_uri`` + ``response_type``), the authorization request's.
KNOWN = tuple(dict.fromkeys(end_session.PARAMS + authorize.PARAMS))
#: The parameter naming a request sent as a form, and the seconds it is held for its GET.
HELD, HELD_TTL = "logout_request", 60


@bp.get("/logout")
def logout() -> Response | str:
    args = _held() if HELD in request.args else request.args
    req = _parse(args)
    signed_in = flow.current_sign_in()
    if req.must_ask((signed_in or {}).get("sub")):
        fields = {name: args[name] for name in CARRIED if name in args}
        if req.client is not None:
            fields["client_id"] = req.client.id
        locales = {"ui_locales": fields["ui_locales"]} if "ui_locales" in fields else {}  # (the page's language)
        return render_template("logout_confirm.html", action=url_for("logout.confirm", **locales), fields=fields)
    return _sign_out(req, args)


@bp.post("/logout")
def logout_form() -> Response:
    """The request sent as a form (§2: the OP supports GET and POST). A cross-site POST
    carries no SameSite=Lax cookie, so nobody would be found signed in: once checked, it
    goes on as the GET it stands for, a top-level navigation that carries the cookie. The
    request is held in the state store for that GET (:data:`HELD_TTL` seconds, one use),
    whose address names only its random key: a hint sent in a form stays out of the
    browser's history and the access logs."""
    _parse(request.form)
    key = secrets.token_urlsafe(24)
    held = {name: request.form.getlist(name) for name in KNOWN if name in request.form}
    runtime().state.put(Keys.logout_request(g.pool.id, key), held, HELD_TTL)
    locales = {"ui_locales": request.form["ui_locales"]} if "ui_locales" in request.form else {}
    return redirect(f"{url_for('logout.logout')}?{urlencode({HELD: key, **locales})}", code=303)


@bp.post("/logout/confirm")
def confirm() -> Response | str:
    """The user's own yes (the form's CSRF token proves it came from the page we showed)."""
    req = _parse(request.form)
    return _sign_out(end_session.LogoutRequest(req.client, req.target, cognito=True), request.form)


def _held() -> MultiDict[str, str]:
    """The request a form sent (:func:`logout_form`), taken once; gone or unknown: an error page."""
    key = request.args.get(HELD, "")
    held = runtime().state.take(Keys.logout_request(g.pool.id, key)) if 0 < len(key) <= 64 else None
    if held is None:
        raise HostedError(_("This sign-out request has expired. Go back to the application and sign out again."))
    return MultiDict([(name, value) for name in KNOWN for value in held.get(name, ())])


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
        query = [(name, value) for name, value in args.items(multi=True) if name in authorize.PARAMS]
        target = f"{url_for('hosted.authorize_endpoint')}?{urlencode(query)}"
    entry = flow.sign_out()
    after = target or url_for("logout.logout", **({"client_id": req.client.id} if req.client else {}))
    upstream = saml.begin_logout(entry, after)
    if upstream is not None:  # the SAML IdP that signed the user in ends its session too
        return upstream
    if target is not None:
        return redirect(target)
    return render_template("logged_out.html", message=_("You have been signed out."), back_url=None)
