"""A pool's SAML endpoints: the Assertion Consumer Service, the SP metadata and Single
Logout (SAML Profiles §4.1 and §4.4; Bindings §3.4 Redirect, §3.5 POST).

- ``POST /saml2/idpresponse``: an SP-initiated answer carries the RelayState we sent (one
  login transaction, used once); an IdP-initiated one, accepted only from IdPs that allow it,
  carries Cognito's RelayState: the app's authorization request as a query string.
- ``GET /saml2/metadata?idp=NAME``: what the IdP's admin imports.
- ``GET /saml2/logout``: the IdP's LogoutRequest (sign this browser out, answer with a
  LogoutResponse) or its LogoutResponse to ours (continue to the app's sign-out URL).

Every assertion is accepted once: its ID is remembered until it expires.
"""
from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import abort, g, redirect, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..connectors import registry
from ..connectors.base import UpstreamError
from ..errors import HostedError
from ..oauth import authorize
from ..runtime import runtime
from ..store.models import IdentityProvider
from ..store.state import Keys
from ..userpool import idps, saml_assertions
from . import federation, flow
from .pools import pool_blueprint

if TYPE_CHECKING:
    from ..connectors.saml import SAMLConnector, SamlIdentity
    from ..connectors.saml_settings import SpEndpoints

bp = pool_blueprint("saml")
#: Bytes a POST to the ACS may carry.
ACS_MAX_BODY = 1024 * 1024
log = logging.getLogger("broker.federation")
MAX_RELAY_STATE = 2048


def _sp() -> SpEndpoints:
    from ..connectors.saml_settings import SpEndpoints  # lxml and xmlsec load on first SAML use

    return SpEndpoints.from_acs(federation.sp_entity_id(), federation.acs_url())


def _connector(idp: IdentityProvider) -> SAMLConnector:
    return registry.open(idp)  # type: ignore[return-value]


def _saml_idps() -> list[IdentityProvider]:
    return [i for i in runtime().config.idps(g.db_session, g.pool.id) if i.type == "SAML"]


@bp.post("/saml2/idpresponse")
def acs() -> Response:
    """The ACS (Profiles §4.1.4): verify, accept the assertion once, sign the user in."""
    # An enterprise response with many group attributes, encrypted and base64-encoded,
    # outgrows the limit for forms; python3-saml's own limit on the XML still applies.
    request.max_content_length = max(ACS_MAX_BODY, runtime().settings.max_content_length)
    if len(request.form.getlist("SAMLResponse")) != 1 or len(request.form.getlist("RelayState")) > 1:
        raise HostedError(federation.MESSAGES["failed"](), 400)
    relay_state = request.form.get("RelayState", "")
    if 0 < len(relay_state) <= 128 and runtime().state.get(Keys.upstream(g.pool.id, relay_state)) is not None:
        data, idp = federation.take_upstream(relay_state, bound=False)
        callback, kept = federation.callback_for(idp, relay_state), data["upstream"].get("kept", {})
        if not kept.get("request_id"):
            return federation.fail_upstream(data, UpstreamError("invalid_request", "login has no AuthnRequest ID"))
    else:
        data, idp = _idp_initiated(relay_state, request.form["SAMLResponse"])
        callback, kept = federation.callback_for(idp, ""), {}
    try:
        identity: SamlIdentity = _connector(idp).complete(callback, request.form, kept)
        _accept_once(idp, identity)
    except UpstreamError as exc:
        return federation.fail_upstream(data, exc)
    return federation.finish_on_our_site(data, idp, identity, relay_state if kept else None)


def _idp_initiated(relay_state: str, saml_response: str) -> tuple[dict[str, Any], IdentityProvider]:
    """An unsolicited response: only from an IdP that allows it, for the app its RelayState
    names (``client_id``, ``redirect_uri``, ``response_type=code``, ``scope``, ``state``)."""
    from ..connectors.saml import find_idp

    idp = find_idp(_saml_idps(), saml_response)
    if idp is None or not idp.details.get("idp_initiated"):
        log.warning("unsolicited SAML response refused on pool %s (IdP %s)", g.pool.id, idp.name if idp else None)
        wanted_app = "client_id=" in relay_state
        raise HostedError(federation.MESSAGES["not_enabled" if wanted_app else "expired"](), 400)
    if len(relay_state) > MAX_RELAY_STATE:
        raise HostedError(federation.MESSAGES["failed"](), 400)
    req, client = authorize.parse(g.db_session, g.pool, MultiDict(parse_qsl(relay_state, keep_blank_values=True)))
    if idp.name not in client.identity_providers or client.secret_hash is None:
        # A public client could not prove the code was its own: IdP-initiated sign-in has no
        # PKCE challenge of the app's, so it is for confidential clients only.
        raise HostedError(federation.MESSAGES["not_enabled"](), 400)
    return flow.load_login(flow.start_login(req)), idp


def _accept_once(idp: IdentityProvider, identity: SamlIdentity) -> None:
    """Profiles §4.1.4.5: a bearer assertion is used once (:mod:`broker.userpool.saml_assertions`;
    without InResponseTo nothing else stops a replay)."""
    if not saml_assertions.accept(runtime().state, g.pool.id, idp.name, identity):
        raise UpstreamError("invalid_request", f"SAML assertion {identity.assertion_id[:80]!r} missing or already used")


@bp.get("/saml2/metadata")
def metadata() -> Response:
    """The SP metadata for ``?idp=NAME`` (or the pool's only SAML IdP)."""
    name = request.args.get("idp")
    candidates = [i for i in _saml_idps() if name is None or i.name == name]
    if len(candidates) != 1:
        abort(404)
    xml = _connector(candidates[0]).metadata(_sp())
    return Response(xml, mimetype="application/samlmetadata+xml",
                    headers={"Content-Disposition": f'inline; filename="{g.pool.id}-{candidates[0].name}.xml"'})


@bp.get("/saml2/logout")
def logout() -> Response:
    """Single Logout by HTTP-Redirect: the IdP's LogoutRequest or its answer to ours."""
    if "SAMLRequest" in request.args:
        return _logout_requested()
    if "SAMLResponse" in request.args:
        return _logout_answered()
    abort(400)


def _logout_requested() -> Response:
    """IdP-initiated logout (Profiles §4.4.3.3): the IdP's signed LogoutRequest ends this
    browser's session if that IdP started it for that NameID; we answer either way."""
    from ..connectors.saml import find_idp

    idp = find_idp(_saml_idps(), request.args["SAMLRequest"], redirect=True)
    if idp is None:
        abort(400)
    try:
        name_id, url = _connector(idp).answer_logout_request(_sp(), request.args.to_dict(),
                                                             request.query_string.decode("latin-1"))
    except UpstreamError as exc:
        log.warning("LogoutRequest refused on pool %s: %s", g.pool.id, exc.detail)
        abort(400)
    entry = flow.stored_sign_in()
    upstream = (entry or {}).get("upstream") or {}
    if upstream.get("idp") == idp.name and (upstream.get("logout") or {}).get("name_id") == name_id:
        flow.sign_out()  # the apps of the session are told too (back-channel logout)
    return redirect(url, code=302)


def _logout_answered() -> Response:
    """The IdP's LogoutResponse to our LogoutRequest: on to where the app asked to go. Our own
    session ended before we asked, so a refusal by the IdP is logged, not shown."""
    relay_state = request.args.get("RelayState", "")
    pending = runtime().state.take(Keys.upstream(g.pool.id, relay_state)) if 0 < len(relay_state) <= 128 else None
    logout_state = (pending or {}).get("logout")
    if not logout_state:
        abort(400)
    idp = idps.get_idp(g.db_session, g.pool.id, logout_state["idp"])
    try:
        if idp is None:
            raise UpstreamError("invalid_request", "the IdP was deleted")
        _connector(idp).check_logout_response(_sp(), request.args.to_dict(), request.query_string.decode("latin-1"),
                                              logout_state["request_id"])
    except UpstreamError as exc:
        log.warning("LogoutResponse refused on pool %s: %s", g.pool.id, exc.detail)
    return redirect(logout_state["continue"], code=302)


def begin_logout(entry: dict[str, Any] | None, continue_url: str) -> Response | None:
    """SP-initiated Single Logout for a hosted session that a SAML IdP with a
    SingleLogoutService started; None when there is nothing to tell an IdP. Call it after
    the session is forgotten; the browser comes back to ``continue_url``."""
    upstream = (entry or {}).get("upstream") or {}
    idp = idps.get_idp(g.db_session, g.pool.id, upstream.get("idp") or "") if upstream.get("logout") else None
    if idp is None or idp.type != "SAML" or not idp.details.get("slo_url"):
        return None
    relay_state = secrets.token_urlsafe(32)
    try:
        url, request_id = _connector(idp).logout_request(_sp(), upstream["logout"], relay_state)
    except UpstreamError as exc:
        log.warning("LogoutRequest to %s not sent on pool %s: %s", idp.name, g.pool.id, exc.detail)
        return None
    state = {"logout": {"idp": idp.name, "request_id": request_id, "continue": continue_url}}
    runtime().state.put(Keys.upstream(g.pool.id, relay_state), state, runtime().settings.login_ttl)
    return redirect(url, code=302)
