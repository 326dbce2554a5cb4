"""Bounds on a requested ``scope`` (RFC 6749 §3.3), applied where a client names scopes:
/oauth2/authorize, and the client_credentials and refresh_token grants.

A scope list is a set: repeats are dropped, so a token never carries a scope twice (a
request repeating one scope a thousand times made a 45 KB access token). Beyond the bounds
the request is refused with ``invalid_scope``. Cognito allows an app client at most 50
OAuth scopes of at most 256 characters each (``AllowedOAuthScopes``), so no request that
Cognito would grant is refused here.

>>> requested("openid  email openid")
('openid', 'email')
>>> requested(" ".join(f"s{n}" for n in range(51)))
Traceback (most recent call last):
ScopeError: More than 50 scopes were requested.
"""
from __future__ import annotations

MAX_SCOPES = 50
MAX_SCOPE_LENGTH = 256
#: The whole parameter, checked before it is split.
MAX_SCOPE_PARAM = 4096


class ScopeError(ValueError):
    """The requested scope is beyond a bound; the message is the ``error_description``."""


def requested(value: str | None) -> tuple[str, ...]:
    """The distinct scopes of a ``scope`` parameter, in the order first named."""
    if not value:
        return ()
    if len(value) > MAX_SCOPE_PARAM:
        raise ScopeError(f"The scope parameter is longer than {MAX_SCOPE_PARAM} characters.")
    scopes = tuple(dict.fromkeys(value.split()))
    if len(scopes) > MAX_SCOPES:
        raise ScopeError(f"More than {MAX_SCOPES} scopes were requested.")
    if any(len(s) > MAX_SCOPE_LENGTH for s in scopes):
        raise ScopeError(f"A scope is longer than {MAX_SCOPE_LENGTH} characters.")
    return scopes
