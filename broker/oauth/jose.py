"""The unverified header of a compact JWS (RFC 7515 §7.1), read to choose the key before
the signature can be checked: whoever sends the token chose it, so it is bounded first.
Likewise its unverified payload, read only to choose the pool whose keys then check it, or
to refuse a token before any key is looked up (:func:`unverified`).

A header of ``"[" * 5000`` is valid base64url, and parsing it raised ``RecursionError``
(not a ``ValueError``), which answered an unauthenticated request with a 500.

>>> compact_header("eyJraWQiOiJrIn0.e30.sig")
{'kid': 'k'}
>>> compact_header("W1tbW1tbW1s.e30.sig") is None
True
"""
from __future__ import annotations

import base64
import json
from typing import Any

#: Encoded length of a header: ours are ~60 characters, providers' well under 1 KB (an
#: ``x5c`` chain belongs in the JWKS, not in every token).
MAX_HEADER = 2048
#: Encoded length of a payload read before verification (the tokens we verify are under 16 KB).
MAX_PAYLOAD = 16 * 1024
#: Length of a compact JWS Cognate reads at all: its own tokens, providers' ID tokens.
MAX_TOKEN = 16 * 1024


def unverified(token: object) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The header and claims of a compact JWS of at most :data:`MAX_TOKEN` characters,
    unverified (only to choose its keys, or to refuse it early); None when it is not one."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 2:
        return None
    header, claims = compact_header(token), unverified_payload(token)
    return (header, claims) if header is not None and claims is not None else None


def compact_header(token: str, max_header: int = MAX_HEADER) -> dict[str, Any] | None:
    """The JSON object in the first segment of ``token``, or None when it is longer than
    ``max_header``, not base64url, not JSON, nested too deep or not an object."""
    return _object(token.split(".", 1)[0], max_header)


def unverified_payload(token: str) -> dict[str, Any] | None:
    """The claims of a compact JWS before its signature is checked, bounded as the header
    is: only to decide which keys check it (``iss`` names the pool), never to trust."""
    parts = token.split(".")
    return _object(parts[1], MAX_PAYLOAD) if len(parts) == 3 else None


def _object(segment: str, limit: int) -> dict[str, Any] | None:
    if not segment or len(segment) > limit:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
