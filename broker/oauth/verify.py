"""Checking our own access tokens (userInfo, introspection) the way an API would, plus
revocation: a token whose ``origin_jti`` family was revoked is refused.
"""
from __future__ import annotations

import base64
import json
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.orm import Session

from ..store import repo
from ..store.models import UserPool
from .keys import SUPPORTED_ALGS, KeyCache

LEEWAY = 30
MAX_TOKEN = 16 * 1024


class InvalidToken(Exception):
    pass


def _kid(token: str) -> str | None:
    try:
        head = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        return header.get("kid") if isinstance(header, dict) else None
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("malformed token") from None


def verify_access_token(session: Session, keys: KeyCache, pool: UserPool, issuer: str, token: str,
                        check_revocation: bool = True) -> dict[str, Any]:
    """The claims of a valid access token of ``pool``. ``check_revocation=False`` leaves the
    revocation of its ``origin_jti`` to the caller (userInfo checks it with the user)."""
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
    except (JoseError, ValueError, TypeError):
        raise InvalidToken("bad signature") from None
    now = time.time()
    if claims.get("iss") != issuer or claims.get("token_use") != "access":
        raise InvalidToken("wrong issuer or token use")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or exp + LEEWAY < now or not isinstance(iat, int) or iat - LEEWAY > now:
        raise InvalidToken("expired")
    origin = claims.get("origin_jti")
    if not isinstance(origin, str) or (check_revocation and repo.origin_revoked(session, origin)):
        raise InvalidToken("revoked")
    return claims
