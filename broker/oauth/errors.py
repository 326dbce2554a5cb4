"""The one shape of an OAuth error answer, whichever endpoint gives it: a JSON object with
``error`` and ``error_description`` (RFC 6749 §5.2), never cached; at a protected resource
(``/oauth2/userInfo``) the same code in a ``WWW-Authenticate: Bearer`` challenge too
(RFC 6750 §3).

>>> body("unsupported_grant_type", None)["error_description"]
'The grant type is not supported.'
>>> bearer_challenge("invalid_token", 'The "token" is bad.')
'Bearer error="invalid_token", error_description="The \\'token\\' is bad."'
"""
from __future__ import annotations

from typing import Any

#: What each code means (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1), said when the
#: code alone is all that was raised.
DESCRIPTIONS = {
    "invalid_request": "The request is missing a parameter or is malformed.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The grant is invalid, expired or revoked, or was issued to another client.",
    "unauthorized_client": "The client may not use this grant type.",
    "unsupported_grant_type": "The grant type is not supported.",
    "invalid_scope": "The requested scope is invalid or exceeds the granted scope.",
    "unsupported_token_type": "The token type is not supported.",
    "invalid_token": "The access token is invalid, expired or revoked.",
    "insufficient_scope": "The access token lacks a scope this request requires.",
    "temporarily_unavailable": "The service is temporarily unavailable.",
}
#: Seconds a 503 answer asks the client to wait before it asks again (``Retry-After``).
RETRY_AFTER = "5"
#: Headers of every error answer (RFC 6749 §5.1 asks them of token responses).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def body(error: str, description: str | None) -> dict[str, Any]:
    """The JSON object of an error answer; a missing description is the code's meaning."""
    return {"error": error, "error_description": description or DESCRIPTIONS.get(error, DESCRIPTIONS["invalid_request"])}


def for_status(status: int) -> str:
    """The code of an error that is not OAuth's own (a trigger's refusal, a store away), by status."""
    return {401: "invalid_client", 503: "temporarily_unavailable"}.get(status, "invalid_request")


def bearer_challenge(error: str, description: str) -> str:
    """RFC 6750 §3's ``WWW-Authenticate`` value (a quoted-string may not hold ``"``)."""
    return f'Bearer error="{error}", error_description="{description.replace(chr(34), chr(39))}"'
