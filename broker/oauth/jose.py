"""The unverified header of a compact JWS (RFC 7515 §7.1), read to choose the key before
the signature can be checked: whoever sends the token chose it, so it is bounded first.

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


def compact_header(token: str, max_header: int = MAX_HEADER) -> dict[str, Any] | None:
    """The JSON object in the first segment of ``token``, or None when it is longer than
    ``max_header``, not base64url, not JSON, nested too deep or not an object."""
    head = token.split(".", 1)[0]
    if not head or len(head) > max_header:
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return header if isinstance(header, dict) else None
