"""Logins whose value is a signed JWT, each found by its Logins key and checked in two
steps: the unverified claims first (issuer, audience, lifetime: no key lookup, no network
for a token bound to fail), then the signature and the same claims again.

- a Cognate user pool (key: its issuer without the scheme): an ID token of an app client
  the identity pool names, checked with the pool's keys in process; the user must still
  exist and be enabled, and with ``ServerSideTokenCheck`` the token must not be revoked
  (global sign-out, revocation), as Cognito checks it then;
- Google (``accounts.google.com``) and the pool's OpenID Connect issuers: an ID token
  checked against the issuer's JWKS (discovery, both cached:
  :mod:`broker.connectors.oidc`), with the app's client id (Google) or one of the
  audiences given (OIDC: ``azp`` when the token has one, else ``aud``, as Cognito checks
  them: https://docs.aws.amazon.com/cognito/latest/developerguide/open-id.html; an issuer
  given without audiences takes no token);
- ``cognito-identity.amazonaws.com``: an OpenID token of Cognate's for an identity of
  this pool (the developer flow: https://docs.aws.amazon.com/cognito/latest/developerguide/developer-authenticated-identities.html).

    step = user_pool(settings, pool, key, token)     # None: not a user pool of this pool
    login = step(session, runtime)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from ..config import Settings
from ..connectors import google as google_connector, oidc as oidc_connector
from ..connectors.base import UpstreamError
from ..oauth.issue import issuer as pool_issuer
from ..oauth.verify import InvalidToken, signed_claims
from ..runtime import Runtime
from ..store import repo
from ..store.models import IdentityPool
from . import tokens
from .errors import BAD_SIGNATURE, ISSUER_MISMATCH, NOT_ID_TOKEN, NOT_SUPPORTED, not_authorized, unavailable
from .pools import login_name
from .providers import COGNITO_IDENTITY, GOOGLE, Login, Verifier, check_times, subject_of, unverified

log = logging.getLogger("broker.identity")
NOT_ENABLED = "Invalid login token. The user is disabled or deleted, or the token was revoked."


def user_pool(settings: Settings, pool: IdentityPool, key: str, token: str) -> Verifier | None:
    entries = [p for p in pool.user_pools or [] if p.get("ProviderName") == key]
    if not entries:
        return None
    _, claims = unverified(token)
    user_pool_id = key.rpartition("/")[2]
    iss = pool_issuer(settings.base_url, user_pool_id)
    if login_name(iss) != key:  # a user pool of another server (or of an old BASE_URL)
        raise not_authorized(NOT_SUPPORTED)
    entry = _check_user_pool(claims, iss, entries)
    return partial(_user_pool_login, key, user_pool_id, iss, entry, token)


def _check_user_pool(claims: dict[str, Any], iss: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    if claims.get("iss") != iss:
        raise not_authorized(ISSUER_MISMATCH)
    if claims.get("token_use") != "id":
        raise not_authorized(NOT_ID_TOKEN)
    entry = next((e for e in entries if e.get("ClientId") == claims.get("aud")), None)
    if entry is None:
        raise not_authorized(NOT_SUPPORTED)
    check_times(claims)
    return entry


def _user_pool_login(key: str, user_pool_id: str, iss: str, entry: dict[str, Any], token: str, session: Session,
                     runtime: Runtime) -> Login:
    found = runtime.config.pool(session, user_pool_id)
    if found is None or runtime.config.client(session, user_pool_id, entry["ClientId"]) is None:
        raise not_authorized(NOT_SUPPORTED)  # the user pool or its app client was deleted
    try:
        claims = signed_claims(session, runtime.keys, found, iss, token, "id")
    except InvalidToken:
        raise not_authorized(BAD_SIGNATURE) from None
    _check_user_pool(claims, iss, [entry])
    sub, origin = subject_of(claims), claims.get("origin_jti")
    if entry.get("ServerSideTokenCheck"):
        user = repo.user_unless_revoked(session, user_pool_id, sub, origin) if isinstance(origin, str) else None
    else:
        user = repo.get_user_by_sub(session, user_pool_id, sub)
    if user is None or not user.enabled:
        raise not_authorized(NOT_ENABLED)
    return Login(key, sub, claims, f"{key}:{entry['ClientId']}")


@dataclass(frozen=True)
class Upstream:
    """An OpenID Connect issuer whose ID tokens a pool takes under ``key``."""

    key: str
    issuer: str
    #: ``iss`` values accepted (Google also signs as its bare host name).
    issuers: tuple[str, ...]
    #: Audiences accepted (none: no token is).
    audiences: tuple[str, ...]
    #: Whether ``azp``, when present, is the audience checked (OpenID Connect issuers').
    by_azp: bool = False

    def check(self, claims: dict[str, Any]) -> None:
        if claims.get("iss") not in self.issuers:
            raise not_authorized(ISSUER_MISMATCH)
        if self.by_azp and claims.get("azp") is not None:
            given = [claims["azp"]] if isinstance(claims["azp"], str) else []
        else:
            given = oidc_connector.audiences(claims)
        if not set(given) & set(self.audiences):
            raise not_authorized(NOT_SUPPORTED)
        check_times(claims)


def google(settings: Settings, pool: IdentityPool, key: str, token: str) -> Verifier | None:
    client_id = (pool.login_providers or {}).get(key) if key == GOOGLE else None
    if not client_id:
        return None
    iss = settings.google_issuer.rstrip("/")
    return _upstream(Upstream(key, iss, google_connector.issuers(iss), (client_id,)), token)


def oidc(settings: Settings, pool: IdentityPool, key: str, token: str) -> Verifier | None:
    entry = next((p for p in pool.oidc_providers or [] if login_name(p["Issuer"]) == key), None)
    if entry is None:
        return None
    return _upstream(Upstream(key, entry["Issuer"], (entry["Issuer"],), tuple(entry.get("ClientIds") or ()),
                              by_azp=True), token)


def _upstream(upstream: Upstream, token: str) -> Verifier:
    upstream.check(unverified(token)[1])
    return partial(_upstream_login, upstream, token)


def _upstream_login(upstream: Upstream, token: str, session: Session, runtime: Runtime) -> Login:
    try:
        claims = oidc_connector.signed_claims(token, oidc_connector.discovered_jwks_uri(upstream.issuer, upstream.key))
    except UpstreamError as exc:
        log.info("login token of %s refused: %s", upstream.key, exc.detail)
        if exc.error == "temporarily_unavailable":
            raise unavailable(upstream.key) from None
        raise not_authorized(BAD_SIGNATURE) from None
    upstream.check(claims)
    return Login(upstream.key, subject_of(claims), claims, upstream.key)


def identity_token(settings: Settings, pool: IdentityPool, key: str, token: str) -> Verifier | None:
    if key not in (COGNITO_IDENTITY, login_name(tokens.issuer(settings.base_url))):
        return None
    tokens.check_claims(settings.base_url, pool, unverified(token)[1])
    return partial(_identity_login, pool, token)


def _identity_login(pool: IdentityPool, token: str, session: Session, runtime: Runtime) -> Login:
    claims = tokens.verify_open_id_token(session, runtime, pool, token)
    return Login(COGNITO_IDENTITY, subject_of(claims), claims, COGNITO_IDENTITY)
