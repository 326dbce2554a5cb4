"""Logins that are not JWTs:

- Facebook (``graph.facebook.com``): an access token, checked by the Graph API itself:
  ``/app`` names the app the token was issued to (it must be the pool's app id: a token of
  another app is refused, the token-substitution attack) and ``/me`` the user. The pool
  holds no app secret, so no ``appsecret_proof`` is sent, as Cognito sends none;
- SAML (key: the SAML provider ARN, :func:`broker.identity.pools.saml_arn`): a base64
  ``SAMLResponse`` from a SAML IdP of a Cognate user pool, addressed to that pool's ACS and
  audience, verified strictly by the SAML connector (:mod:`broker.connectors.saml`) as an
  unsolicited response: only from an IdP that allows IdP-initiated sign-in, as the ACS
  takes one. Like an ID token, it may be presented again until it expires (GetId then
  GetCredentialsForIdentity carry the same one), to this identity pool only: an assertion
  used at the ACS or by another identity pool is refused (:mod:`broker.userpool.saml_assertions`).
https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html
"""
from __future__ import annotations

import logging
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from ..config import Settings
from ..connectors import facebook as facebook_connector, oauth, registry
from ..connectors.base import Callback, UpstreamError, saml_acs_url, sp_entity_id
from ..oauth.issue import issuer as pool_issuer
from ..runtime import Runtime
from ..store.models import IdentityPool
from ..userpool import saml_assertions
from . import pools
from .errors import NOT_SUPPORTED, not_authorized, unavailable
from .providers import FACEBOOK, Login, Verifier

log = logging.getLogger("broker.identity")
#: Facebook's access tokens are a few hundred characters; SAML responses are bounded by the connector.
MAX_ACCESS_TOKEN = 4096
MAX_SAML_RESPONSE = 1024 * 1024
BAD_FACEBOOK = "Invalid login token. Couldn't verify the access token with graph.facebook.com."
BAD_SAML = "Invalid login token. Couldn't verify the SAML response."


def facebook(settings: Settings, pool: IdentityPool, key: str, token: str) -> Verifier | None:
    app_id = (pool.login_providers or {}).get(key) if key == FACEBOOK else None
    if not app_id:
        return None
    if not token or len(token) > MAX_ACCESS_TOKEN or not token.isascii() or not token.isprintable() or " " in token:
        raise not_authorized(BAD_FACEBOOK)
    graph = f"{settings.facebook_graph_url.rstrip('/')}/{facebook_connector.API_VERSION}"
    return partial(_facebook_login, graph, key, app_id, token)


def _facebook_login(graph: str, key: str, app_id: str, token: str, session: Session, runtime: Runtime) -> Login:
    try:
        app = oauth.get_json(f"{graph}/app", params={"access_token": token})
        if str(app.get("id")) != app_id:
            raise not_authorized(NOT_SUPPORTED)
        attributes = facebook_connector.profile(f"{graph}/me", token, "id,name,email")
    except UpstreamError as exc:
        log.info("Facebook login refused: %s", exc.detail)
        raise (unavailable(key) if exc.error == "temporarily_unavailable" else not_authorized(BAD_FACEBOOK)) from None
    return Login(key, attributes["sub"], {**attributes, "aud": app_id}, key)


def saml(settings: Settings, pool: IdentityPool, key: str, response: str) -> Verifier | None:
    entry = next((p for p in pool.saml_providers or [] if pools.saml_arn(p) == key), None)
    if entry is None:
        return None
    if not response or len(response) > MAX_SAML_RESPONSE or not response.isascii():
        raise not_authorized(BAD_SAML)
    return partial(_saml_login, settings.base_url, pool.id, entry, key, response)


def _saml_login(base_url: str, pool_id: str, entry: dict[str, str], key: str, response: str, session: Session,
                runtime: Runtime) -> Login:
    user_pool_id = entry["UserPoolId"]
    idp = next((i for i in runtime.config.idps(session, user_pool_id)
                if i.name == entry["Name"] and i.type == "SAML"), None)
    if idp is None:
        raise not_authorized(NOT_SUPPORTED)  # the IdP was deleted from its user pool
    if not idp.details.get("idp_initiated"):
        log.info("SAML login of %s refused: its IdP does not allow IdP-initiated sign-in", key)
        raise not_authorized(BAD_SAML)
    callback = Callback(url=saml_acs_url(pool_issuer(base_url, user_pool_id)), state="",
                        sp_entity_id=sp_entity_id(user_pool_id))
    try:
        identity = registry.open(idp).complete(callback, {"SAMLResponse": response}, {})
    except UpstreamError as exc:
        log.info("SAML login of %s refused: %s", key, exc.detail)
        raise not_authorized(BAD_SAML) from None
    if not saml_assertions.accept(runtime.state, user_pool_id, idp.name, identity, f"identity-pool:{pool_id}"):
        log.info("SAML login of %s refused: the assertion was used elsewhere", key)
        raise not_authorized(BAD_SAML)
    claims: dict[str, Any] = {**identity.attributes, "sub": identity.subject}
    claims.setdefault("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", identity.subject)
    return Login(key, identity.subject, claims, key)
