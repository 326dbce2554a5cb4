"""Issuing a token response: mint and sign the JWTs, store the refresh token hashed.

A pool's PreTokenGeneration trigger is fired by :func:`pre_token` before anything of the
request is written (a refresh token rotated, a refresh token stored): a trigger that fails
fails the request and leaves the user's tokens as they were. Its answer is data
(:class:`~.tokens.Overrides`) that :func:`issue_tokens` applies while minting:

    overrides = pre_token(session, pool, client, user, scopes, pre_token_trigger.REFRESH_TOKENS)
    token = issue_tokens(session, keys, base_url, pool, client, user, scopes, ..., overrides=overrides)
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import time
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy.orm import Session

from .. import ids
from ..store import repo
from ..triggers import invoke, pre_token as pre_token_trigger, settings as trigger_settings
from ..userpool import audit
from ..userpool.client_attributes import readable
from ..userpool.idps import IDENTITIES, identities_of
from ..store.models import AppClient, Group, RefreshToken, User, UserPool, utcnow
from .keys import KeyCache
from .tokens import FIXED_ACCESS_CLAIMS, FIXED_ID_CLAIMS, Grant, Overrides, Subject, access_claims, id_claims, \
    override, sign


def issuer(base_url: str, pool_id: str) -> str:
    return f"{base_url.rstrip('/')}/{pool_id}"


def subject_of(user: User, client: AppClient | None = None) -> Subject:
    """The user as ``client`` may see them: only the attributes it may read (ReadAttributes);
    without a client, all of them."""
    groups = sorted(user.groups, key=lambda g: (g.precedence is None, g.precedence or 0, g.name))
    attributes = {k: v for k, v in user.attributes.items() if k != IDENTITIES}
    if client is not None:
        attributes = readable(client, attributes)
    return Subject(sub=user.sub, username=user.username, groups=tuple(g.name for g in groups),
                   roles=tuple(g.role_arn for g in groups if g.role_arn), preferred_role=preferred_role(groups),
                   attributes=attributes, identities=identities_of(user.attributes))


def preferred_role(groups: list[Group]) -> str | None:
    """Cognito's ``cognito:preferred_role``: the only role of the user's groups, or the role of
    the group with the best (lowest) precedence; unset when several roles tie for it
    (https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html),
    which leaves the choice to an identity pool's ``AmbiguousRoleResolution``."""
    ranked = [g for g in groups if g.role_arn]
    if len({g.role_arn for g in ranked}) == 1:
        return ranked[0].role_arn
    ranks = [g.precedence for g in ranked if g.precedence is not None]
    best = {g.role_arn for g in ranked if ranks and g.precedence == min(ranks)}
    return best.pop() if len(best) == 1 else None


def pre_token(session: Session, pool: UserPool, client: AppClient, user: User, scopes: tuple[str, ...],
              source: str) -> Overrides | None:
    """The changes the pool's PreTokenGeneration trigger makes to the tokens about to be
    issued (``source`` is Cognito's ``triggerSource``); None, for the cost of a dict
    lookup, when the pool has no such trigger. Raises a :class:`~broker.errors.TriggerFailed`."""
    if not invoke.configured(pool, trigger_settings.PRE_TOKEN_GENERATION):
        return None
    return pre_token_trigger.overrides(session, pool, client.id, user, subject_of(user), scopes, source)


def still_allowed(client: AppClient, scope: str | None) -> tuple[str, ...]:
    """The granted scopes the client still allows: a scope removed from the client (``broker
    client update --scope``) stops at the next token its refresh tokens or codes bring."""
    return tuple(s for s in dict.fromkeys(scope_to_list(scope) or []) if s in client.allowed_scopes)


def signed_in_tokens(
    session: Session, keys: KeyCache, base_url: str, pool: UserPool, client: AppClient, user: User,
    scope: str | None, *, grant_type: str, include_refresh_token: bool, ip: str | None, auth_time: int,
    origin_jti: str, event_id: str, nonce: str | None, amr: tuple[str, ...], sid: str | None,
) -> dict[str, Any]:
    """The tokens of a hosted sign-in, for its code (``grant_type`` ``authorization_code``,
    RFC 6749 §4.1.4) or at once (``implicit``, §4.2.2): the scopes the client still allows,
    the PreTokenGeneration trigger (before anything is written), the tokens, and a
    ``TokenIssued`` audit event naming the token family (``origin_jti``), never a token.
    Nothing is committed: the caller's transaction is (the token endpoint's, by Authlib)."""
    scopes = still_allowed(client, scope)
    overrides = pre_token(session, pool, client, user, scopes, pre_token_trigger.HOSTED_AUTH)
    token = issue_tokens(session, keys, base_url, pool, client, user, scopes, auth_time, origin_jti, event_id, nonce,
                         include_refresh_token=include_refresh_token, amr=amr, overrides=overrides, sid=sid)
    audit.record(session, pool.id, "TokenIssued", audit.PASS, user=user, ip=ip, client_id=client.id,
                 grant_type=grant_type, scopes=list(scopes), origin_jti=origin_jti,
                 token_types=sorted(k for k in token if k.endswith("_token")))
    return token


def issue_tokens(
    session: Session, keys: KeyCache, base_url: str, pool: UserPool, client: AppClient, user: User,
    scopes: tuple[str, ...], auth_time: int, origin_jti: str, event_id: str,
    nonce: str | None = None, include_refresh_token: bool = True, amr: tuple[str, ...] = (),
    refresh_token: str | None = None, id_token: bool = False, at_hash: bool = True,
    overrides: Overrides | None = None, sid: str | None = None,
) -> dict[str, Any]:
    """The token response; a refresh token is stored when ``include_refresh_token``, with the
    value ``refresh_token`` when given (a rotated token's successor), else a random one. An
    ID token comes with the ``openid`` scope, or when asked for (``id_token``: the JSON API
    always answers one, as Cognito does, and without ``at_hash``, as Cognito's have none).
    ``overrides`` (:func:`pre_token`) change the claims, groups and the access token's scopes;
    the refresh token keeps the scopes granted, so each refresh asks the trigger again.
    ``sid`` is the hosted sign-in session's (the ID token's ``sid``, kept by the refresh token)."""
    now = int(time.time())
    grant = Grant(issuer=issuer(base_url, pool.id), client_id=client.id, scopes=scopes,
                  auth_time=auth_time, origin_jti=origin_jti, event_id=event_id, nonce=nonce, amr=amr, sid=sid)
    subject = subject_of(user, client) if overrides is None else overrides.subject(subject_of(user, client))
    pool_keys = keys.get(session, pool)
    access = sign(_access_claims(grant, subject, now, client.access_token_ttl, overrides), pool_keys)
    token: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": client.access_token_ttl}
    if id_token or "openid" in scopes:
        claims = id_claims(grant, subject, now, client.id_token_ttl, access if at_hash else None)
        token["id_token"] = sign(claims if overrides is None else override(claims, overrides.id_token,
                                                                            FIXED_ID_CLAIMS), pool_keys)
    if include_refresh_token:
        token["refresh_token"] = new_refresh_token(session, client, user, grant, refresh_token)
    return token


def _access_claims(grant: Grant, subject: Subject, now: int, ttl: int, overrides: Overrides | None) -> dict[str, Any]:
    """The access token's claims, with the trigger's scopes and claims when it gave any."""
    if overrides is None:
        return access_claims(grant, subject, now, ttl)
    claims = access_claims(dataclasses.replace(grant, scopes=overrides.scopes(grant.scopes)), subject, now, ttl)
    return override(claims, overrides.access_token, FIXED_ACCESS_CLAIMS)


def issue_client_token(session: Session, keys: KeyCache, base_url: str, pool: UserPool,
                       client: AppClient, scopes: tuple[str, ...]) -> dict[str, Any]:
    """client_credentials: the client is the subject; no ID or refresh token."""
    now = int(time.time())
    grant = Grant(issuer=issuer(base_url, pool.id), client_id=client.id, scopes=scopes, auth_time=now,
                  origin_jti=ids.uuid4(), event_id=ids.uuid4())
    claims = access_claims(grant, Subject(sub=client.id, username=None), now, client.access_token_ttl)
    return {"access_token": sign(claims, keys.get(session, pool)), "token_type": "Bearer",
            "expires_in": client.access_token_ttl}


def new_refresh_token(session: Session, client: AppClient, user: User, grant: Grant, value: str | None = None) -> str:
    value = value or secrets.token_urlsafe(48)
    now = utcnow()
    session.add(RefreshToken(
        token_hash=repo.sha256(value), pool_id=client.pool_id, client_id=client.id, user_id=user.id,
        scope=" ".join(grant.scopes), origin_jti=grant.origin_jti, event_id=grant.event_id,
        auth_time=grant.auth_time, amr=list(grant.amr), sid=grant.sid, created_at=now,
        expires_at=now + dt.timedelta(seconds=client.refresh_token_ttl),
    ))
    return value
