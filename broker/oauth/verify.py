"""Checking our own tokens: access tokens (userInfo, introspection) the way an API would,
plus revocation (a token whose ``origin_jti`` family was revoked, or whose client or user
was deleted, is refused), and the ID token an app names as ``id_token_hint`` at /logout.
"""
from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.orm import Session

from ..store import repo
from ..store.cache import ConfigCache
from ..store.models import User, UserPool
from .jose import compact_header
from .keys import SUPPORTED_ALGS, KeyCache

LEEWAY = 30
MAX_TOKEN = 16 * 1024


class InvalidToken(Exception):
    pass


class ExpiredToken(InvalidToken):
    """Signed by the pool, but past its ``exp`` (or issued in the future)."""


class RevokedToken(InvalidToken):
    """Signed and unexpired, but its family was revoked, or its client or user is gone or
    disabled: a sign-out or a revocation ended it."""


def _kid(token: str) -> str | None:
    header = compact_header(token)
    if header is None:
        raise InvalidToken("malformed token")
    return header.get("kid")


def signed_claims(session: Session, keys: KeyCache, pool: UserPool, issuer: str, token: str,
                  token_use: str) -> dict[str, Any]:
    """The claims of ``token`` if one of the pool's published keys signed it, for ``issuer``
    and of ``token_use`` ("access" or "id"); lifetimes are the caller's to check."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise InvalidToken("malformed token")
    kid = _kid(token)
    if not isinstance(kid, str):
        raise InvalidToken("no kid")
    pool_keys = keys.get(session, pool, kid=kid)
    if kid not in pool_keys.kids:
        raise InvalidToken("unknown key")
    try:
        claims = jwt.decode(token, pool_keys.verifying, algorithms=list(SUPPORTED_ALGS)).claims
    except (JoseError, ValueError, TypeError, RecursionError):
        raise InvalidToken("bad signature") from None
    if claims.get("iss") != issuer or claims.get("token_use") != token_use:
        raise InvalidToken("wrong issuer or token use")
    return claims


def verify_id_token_hint(session: Session, keys: KeyCache, pool: UserPool, issuer: str, token: str,
                         client_id: str) -> dict[str, Any]:
    """An ``id_token_hint`` sent to /logout (OpenID Connect RP-Initiated Logout 1.0 §2): an ID
    token this pool signed for ``client_id``. An expired one is fine ("the OP need not be
    able to verify that the token is unexpired"): the app may ask to sign out long after."""
    claims = signed_claims(session, keys, pool, issuer, token, "id")
    if claims.get("aud") != client_id:
        raise InvalidToken("issued to another app client")
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
