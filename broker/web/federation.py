"""Sign-in through an upstream IdP, as a step of the login transaction: the hosted page's
buttons and email routing (``/federate``), ``identity_provider``/``idp_identifier`` on
/oauth2/authorize, and the OAuth/OIDC callback ``/oauth2/idpresponse``. The SAML ACS lives in
:mod:`broker.web.saml` and shares the helpers here.

The upstream ``state`` (SAML ``RelayState``) is random, names one login transaction in the
state store, and is consumed on first use. For OAuth upstreams it is also bound to this
browser's session cookie, so a callback started elsewhere (login CSRF) is refused.
"""
from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Callable

from flask import g, redirect, request, session as cookie, url_for
from werkzeug.wrappers import Response

from ..connectors import registry
from ..connectors.base import Callback, Identity, UpstreamError, saml_acs_url, sp_entity_id as pool_entity_id
from ..errors import HostedError
from ..i18n import gettext as _
from ..oauth.authorize import AuthorizationRequest
from ..oauth.issue import issuer
from ..runtime import runtime
from ..store.models import AppClient, IdentityProvider
from ..store.state import Keys
from ..userpool import federation, idps
from . import flow
from .forms import FederateForm
from .pools import pool_blueprint

bp = pool_blueprint("federation")
log = logging.getLogger("broker.federation")
COOKIE_STATES = "upstream"
#: A verified upstream identity waiting for the same-site request that finishes the sign-in.
RESULT, RESULT_TTL = "result.", 120

MESSAGES: dict[str, Callable[[], str]] = {
    "failed": lambda: _("The sign-in with your identity provider did not succeed. Go back to the application and "
                        "try again."),
    "unreachable": lambda: _("Your identity provider could not be reached. Try again in a few minutes."),
    "not_enabled": lambda: _("This identity provider is not enabled for this application."),
    "no_match": lambda: _("No identity provider is set up for this email address."),
    "expired": lambda: _("Your sign-in session has expired. Go back to the application and sign in again."),
}


def oauth_callback_url() -> str:
    return f"{issuer(runtime().settings.base_url, g.pool.id)}/oauth2/idpresponse"


def acs_url() -> str:
    return saml_acs_url(issuer(runtime().settings.base_url, g.pool.id))


def sp_entity_id() -> str:
    return pool_entity_id(g.pool.id)


def callback_for(idp: IdentityProvider, state: str, fresh: bool = False) -> Callback:
    url = acs_url() if idp.type == "SAML" else oauth_callback_url()
    return Callback(url=url, state=state, sp_entity_id=sp_entity_id(), fresh=fresh)


def allowed_idp(client_providers: list[str], name: str | None) -> IdentityProvider | None:
    """The pool's IdP ``name`` if the app client allows it."""
    if not name or name not in client_providers:
        return None
    return idps.get_idp(g.db_session, g.pool.id, name)


def route(req: AuthorizationRequest, client: AppClient) -> IdentityProvider | None:
    """The IdP an authorization request names (``identity_provider`` or ``idp_identifier``);
    None for the hosted page. A name the client does not allow is the app's error."""
    if req.identity_provider and req.identity_provider != "COGNITO":
        idp = allowed_idp(client.identity_providers, req.identity_provider)
        if idp is None:
            raise req.fail("invalid_request", "The requested identity provider is not enabled for this client.")
        return idp
    if req.idp_identifier:
        idp = idps.idp_for_identifier(g.db_session, g.pool.id, req.idp_identifier, client.identity_providers)
        if idp is None:
            raise req.fail("invalid_request", "No identity provider matches idp_identifier.")
        return idp
    return None


def usable_sign_in(sign_in: dict[str, Any] | None, req: AuthorizationRequest, client: AppClient,
                   upstream: IdentityProvider | None) -> dict[str, Any] | None:
    """This browser's sign-in, if it came through a provider this app allows, and through the
    one the request names: a session made with another app's IdP (or with a password where
    the app wants its corporate IdP) is no sign-in for this app."""
    if sign_in is None:
        return None
    provider = (sign_in.get("upstream") or {}).get("idp") or "COGNITO"
    wanted = upstream.name if upstream is not None else req.identity_provider
    if provider not in client.identity_providers or (wanted is not None and wanted != provider):
        return None
    return sign_in


def start_upstream(data: dict[str, Any], idp: IdentityProvider) -> Response:
    """Send the browser to ``idp`` for this login transaction."""
    rt = runtime()
    state = secrets.token_urlsafe(32)
    try:
        req = flow.login_request(data)
        fresh = req.prompt == "login" or req.max_age is not None
        out = registry.open(idp).begin(callback_for(idp, state, fresh))
    except UpstreamError as exc:
        return fail_upstream(data, exc)
    flow.save_login({**data, "step": "upstream", "upstream": {"idp": idp.name, "state": state, "kept": out.kept}})
    rt.state.put(Keys.upstream(g.pool.id, state), {"txn": data["txn"]}, rt.settings.login_ttl)
    cookie[COOKIE_STATES] = (cookie.get(COOKIE_STATES) or [])[-4:] + [state]
    return redirect(out.url, code=302)


def bound_to_browser(state: str) -> bool:
    """Whether this browser started the upstream sign-in ``state`` (no login CSRF)."""
    states = cookie.get(COOKIE_STATES)
    return isinstance(states, list) and any(secrets.compare_digest(str(s), state) for s in states)


def take_upstream(state: str | None, bound: bool = True) -> tuple[dict[str, Any], IdentityProvider]:
    """The login transaction an upstream answer belongs to; the state works once. ``bound``:
    checked against this browser first, so a stranger cannot use up someone's state."""
    if not state or len(state) > 128:
        raise HostedError(MESSAGES["expired"]())
    if bound and not bound_to_browser(state):
        log.warning("upstream state not bound to this browser on pool %s", g.pool.id)
        raise HostedError(MESSAGES["expired"]())
    pointer = runtime().state.take(Keys.upstream(g.pool.id, state))
    if pointer is None:
        log.warning("unknown or used upstream state on pool %s", g.pool.id)
        raise HostedError(MESSAGES["expired"]())
    data = flow.load_login(pointer.get("txn"))
    pending = data.get("upstream") or {}
    if data.get("step") != "upstream" or not secrets.compare_digest(pending.get("state", ""), state):
        raise HostedError(MESSAGES["expired"]())
    idp = idps.get_idp(g.db_session, g.pool.id, pending.get("idp", ""))
    if idp is None:
        raise HostedError(MESSAGES["not_enabled"]())
    if bound:
        cookie[COOKIE_STATES] = [s for s in cookie.get(COOKIE_STATES, []) if s != state]
    return data, idp


def finish_upstream(data: dict[str, Any], idp: IdentityProvider, identity: Identity) -> Response:
    """The upstream vouched for ``identity``: the pool user signs in, the app gets a code."""
    if idp.name not in client_providers(data):
        raise HostedError(MESSAGES["not_enabled"]())
    user = federation.sign_in(g.db_session, g.pool, idp, identity, request.remote_addr)
    g.db_session.commit()
    sign_in = {"user_id": user.id, "sub": user.sub, "auth_time": int(time.time()), "amr": [],
               "epoch": user.session_epoch}
    sign_in["sid"] = flow.remember_sign_in(user, sign_in["auth_time"], sign_in["amr"],
                                           upstream={"idp": idp.name, "logout": identity.logout})
    runtime().state.delete(Keys.login(data["txn"]))
    return flow.redirect_to_app(flow.login_request(data), sign_in)


def finish_on_our_site(data: dict[str, Any], idp: IdentityProvider, identity: Identity, state: str | None) -> Response:
    """The SAML ACS is reached by the IdP page's cross-site POST, which carries no Lax
    cookie: the verified identity waits (once, briefly) for the same-site GET that does, where
    the RelayState is checked against the browser that started the sign-in."""
    key = secrets.token_urlsafe(32)
    fields = {"provider_name": identity.provider_name, "provider_type": identity.provider_type,
              "subject": identity.subject, "attributes": identity.attributes,
              "email_verified": identity.email_verified, "logout": identity.logout}
    record = {"txn": data["txn"], "idp": idp.name, "state": state, "identity": fields}
    runtime().state.put(Keys.upstream(g.pool.id, RESULT + key), record, RESULT_TTL)
    return redirect(url_for("federation.finish", k=key), code=303)


@bp.get("/federate/finish")
def finish() -> Response:
    """Where :func:`finish_on_our_site` sends the browser (SP- or IdP-initiated SAML)."""
    key = request.args.get("k", "")
    store_key = Keys.upstream(g.pool.id, RESULT + key) if 0 < len(key) <= 64 else None
    record = runtime().state.get(store_key) if store_key else None
    if record is None or (record.get("state") and not bound_to_browser(record["state"])):
        log.warning("upstream result unknown, used or not for this browser on pool %s", g.pool.id)
        raise HostedError(MESSAGES["expired"]())
    if runtime().state.take(store_key) is None:  # type: ignore[arg-type]
        raise HostedError(MESSAGES["expired"]())
    data = flow.load_login(record["txn"])
    idp = idps.get_idp(g.db_session, g.pool.id, record["idp"])
    if idp is None:
        raise HostedError(MESSAGES["not_enabled"]())
    if record.get("state"):
        cookie[COOKIE_STATES] = [s for s in cookie.get(COOKIE_STATES, []) if s != record["state"]]
    return finish_upstream(data, idp, Identity(**record["identity"]))


def fail_upstream(data: dict[str, Any], exc: UpstreamError) -> Response:
    """A refusal by the user or the IdP goes back to the app (RFC 6749 §4.1.2.1); anything
    else is our error page, with a way back to the app."""
    log.warning("upstream sign-in failed on pool %s: %s (%r)", g.pool.id, exc.error, exc.detail)
    runtime().state.delete(Keys.login(data["txn"]))
    if exc.error == "access_denied":
        raise flow.login_request(data).fail("access_denied", "The identity provider refused the sign-in.")
    if exc.error == "temporarily_unavailable":
        raise HostedError(MESSAGES["unreachable"](), 502)
    raise HostedError(MESSAGES["failed"](), 400)


@bp.get("/federate")
def federate() -> Response:
    """A button on the hosted page: ``?txn=...&idp=NAME``."""
    data = flow.load_login(request.args.get("txn"))
    idp = allowed_idp(client_providers(data), request.args.get("idp"))
    if idp is None:
        raise HostedError(MESSAGES["not_enabled"](), 404)
    return start_upstream(data, idp)


@bp.post("/federate")
def federate_by_email() -> Response:
    """The hosted page's corporate email field: its domain picks the IdP."""
    form = FederateForm()
    data = flow.load_login(form.txn.data)
    idp = None
    if form.validate():
        idp = idps.idp_for_identifier(g.db_session, g.pool.id, form.email.data, client_providers(data))
    if idp is None:
        raise HostedError(MESSAGES["no_match"](), 400)
    return start_upstream(data, idp)


@bp.get("/oauth2/idpresponse")
def oauth_callback() -> Response:
    """The OAuth 2.0 / OIDC upstream's redirect back (RFC 6749 §4.1.2)."""
    data, idp = take_upstream(request.args.get("state"))
    kept = data["upstream"].get("kept", {})
    try:
        identity = registry.open(idp).complete(callback_for(idp, data["upstream"]["state"]), request.args, kept)
    except UpstreamError as exc:
        return fail_upstream(data, exc)
    return finish_upstream(data, idp, identity)


def client_providers(data: dict[str, Any]) -> list[str]:
    """The IdP names (and COGNITO) the app client of a login transaction allows."""
    client = runtime().config.client(g.db_session, g.pool.id, data["request"]["client_id"])
    return client.identity_providers if client is not None else []
