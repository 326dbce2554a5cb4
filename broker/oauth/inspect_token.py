"""Reading a JWT the way an API that trusts its issuer would: the header and claims as
they are (RFC 7519 §7.2 without the checks), and, when asked, whether the signature is one
of the issuer's published keys, the token unexpired and the issuer the one whose keys
checked it. For ``broker token decode``; the server's own checks are :mod:`.verify`'s.

>>> decode("eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwOi8veC9wIn0.")
({'alg': 'none'}, {'iss': 'http://x/p'})
>>> pool_of("http://localhost:8000/local_Ab12Cd34E/")
'local_Ab12Cd34E'
"""
from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .jose import compact_header, unverified_payload
from .keys import SUPPORTED_ALGS


class TokenRefused(ValueError):
    """Not a JWT, or not a valid one; the message says why in one line."""


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, unverified."""
    token = token.strip()
    header = compact_header(token)
    claims = unverified_payload(token) if header is not None else None
    if header is None or claims is None:
        raise TokenRefused("not a JWT (three base64url parts: a JSON header, JSON claims, a signature)")
    return header, claims


def pool_of(iss: str) -> str:
    """The pool id an issuer names: its last path segment."""
    return iss.rstrip("/").rsplit("/", 1)[-1]


def check(token: str, jwks: dict[str, Any], iss: str, now: float | None = None) -> dict[str, Any]:
    """The claims of ``token`` if a key of ``jwks`` signed it, it has not expired and its
    ``iss`` is ``iss``; :class:`TokenRefused` saying which of these failed."""
    header, claims = decode(token)
    if header.get("kid") not in {k.get("kid") for k in jwks.get("keys", []) if isinstance(k, dict)}:
        raise TokenRefused(f"signed with key {header.get('kid')!r}, which {iss} does not publish")
    try:
        verified = jwt.decode(token.strip(), KeySet.import_key_set(jwks), algorithms=list(SUPPORTED_ALGS)).claims
    except (JoseError, ValueError, TypeError, RecursionError):
        raise TokenRefused(f"the signature does not match key {header['kid']!r} of {iss}") from None
    if verified.get("iss") != iss:
        raise TokenRefused(f"iss is {verified.get('iss')!r}, not {iss}")
    exp = verified.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TokenRefused("the token has no exp")
    if exp <= (time.time() if now is None else now):
        raise TokenRefused(f"expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(exp))}")
    return claims
