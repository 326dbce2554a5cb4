"""Checking our own tokens: access tokens (userInfo, introspection) the way an API would,
plus revocation (a token whose ``origin_jti`` family was revoked, or whose client or user
was deleted, is refused); :func:`signed_claims` also checks the ID token an app names as
``id_token_hint`` at /logout (:mod:`.end_session`).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.orm import Session

from ..store import repo
from ..store.cache import ConfigCache
from ..store.models import User, UserPool
from .jose import MAX_TOKEN, compact_header
from .keys import SUPPORTED_ALGS, KeyCache, KeyOwner

LEEWAY = 30


class InvalidToken(Exception):
    pass


class ExpiredToken(InvalidToken):
    """Signed by the pool, but past its ``exp`` (or issued in the future)."""


class RevokedToken(InvalidToken):
    """Signed and unexpired, but its family was revoked, or its client or user is gone or
    disabled: a sign-out or a revocation ended it."""


def verified_claims(session: Session, keys: KeyCache, owner: KeyOwner, token: str,
                    algorithms: Sequence[str] = SUPPORTED_ALGS) -> dict[str, Any]:
    """The claims of ``token`` if one of ``owner``'s published keys (a user pool's, the
    identities' issuer's) signed it with one of ``algorithms``; what they say is the
    caller's to check."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise InvalidToken("malformed token")
    header = compact_header(token)
    if header is None:
        raise InvalidToken("malformed token")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken("no kid")
    found = keys.get(session, owner, kid=kid)
    if kid not in found.kids:
        raise InvalidToken("unknown key")
    try:
        return jwt.decode(token, found.verifying, algorithms=list(algorithms)).claims
    except (JoseError, ValueError, TypeError, RecursionError):
        raise InvalidToken("bad signature") from None


def signed_claims(session: Session, keys: KeyCache, pool: UserPool, issuer: str, token: str,
                  token_use: str) -> dict[str, Any]:
    """The claims of ``token`` if one of the pool's published keys signed it, for ``issuer``
    and of ``token_use`` ("access" or "id"); lifetimes are the caller's to check."""
    claims = verified_claims(session, keys, pool, token)
    if claims.get("iss") != issuer or claims.get("token_use") != token_use:
        raise InvalidToken("wrong issuer or token use")
    return claims


def verify_access_token(session: Session, keys: KeyCache, config: ConfigCache, pool: UserPool, issuer: str,
                        token: str) -> tuple[dict[str, Any], User | None]:
    """The claims of a valid access token of ``pool`` and the user it speaks for (None for a
    client_credentials token, whose subject is its client)."""
    claims = signed_claims(session, keys, pool, issuer, token, "access")
    now = time.time()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or exp + LEEWAY < now or not isinstance(iat, int) or iat - LEEWAY > now:
        raise ExpiredToken("expired")
    return claims, holder(session, config, pool, claims)


def holder(session: Session, config: ConfigCache, pool: UserPool, claims: dict[str, Any]) -> User | None:
    """Who a signed, unexpired access token still speaks for: its user (None for a
    client_credentials token). The token is over when its family (``origin_jti``) was
    revoked, or its app client or its user was deleted (their refresh tokens went with
    them; the access tokens must end too) or the user disabled. The client comes from the
    configuration cache; the user and the revocation are one query."""
    origin, client_id, sub = claims.get("origin_jti"), claims.get("client_id"), claims.get("sub")
    if not isinstance(origin, str) or not isinstance(client_id, str) or not isinstance(sub, str):
        raise InvalidToken("malformed claims")
    if config.client(session, pool.id, client_id) is None:
        raise RevokedToken("the app client was deleted")
    if "username" not in claims:  # client_credentials: the client is the subject
        if repo.origin_revoked(session, origin):
            raise RevokedToken("revoked")
        return None
    user = repo.user_unless_revoked(session, pool.id, sub, origin)
    if user is None or not user.enabled:
        raise RevokedToken("revoked, or the user is gone or disabled")
    return user
