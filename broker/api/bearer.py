"""The user an ``AccessToken`` speaks for, checked as Cognito checks it for the operations it
authorizes with the user's own token (GetUser, ChangePassword, GlobalSignOut, ...):
https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html

- the token's ``iss`` is read before verification only to pick the pool whose keys then
  check it; a token no pool of this server signed is "Invalid Access Token";
- :func:`broker.oauth.verify.verify_access_token` checks the signature, the issuer, the
  ``token_use`` ("access": an ID token is refused), the lifetime, and that the token was not
  revoked: its family ended by a sign-out everywhere or a revocation, its client or its user
  deleted, its user disabled;
- the token must carry ``aws.cognito.signin.user.admin``, the scope API sign-ins get and
  the hosted UI gives when the app asks for it: a token with ``openid`` alone reads
  ``/oauth2/userInfo``, it does not manage the account.

    bearer = resolve(call, params["AccessToken"])
    bearer.user, bearer.pool, bearer.client
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..oauth.issue import issuer
from ..oauth.jose import unverified_payload
from ..oauth.tokens import ADMIN_SCOPE
from ..oauth.verify import ExpiredToken, InvalidToken, RevokedToken, verify_access_token
from ..store.models import AppClient, User, UserPool
from .call import Call
from .errors import AwsError

INVALID = "Invalid Access Token"
EXPIRED = "Access Token has expired"
REVOKED = "Access Token has been revoked"
NO_SCOPE = "Access Token does not have required scopes"


@dataclass(frozen=True)
class Bearer:
    """A checked access token: its pool and app client (cached, read-only rows), its user
    (in the call's session, to change) and its claims."""

    pool: UserPool
    client: AppClient
    user: User
    claims: dict[str, Any]

    @property
    def origin_jti(self) -> str:
        return str(self.claims["origin_jti"])


def resolve(call: Call, token: str | None) -> Bearer:
    """The :class:`Bearer` of ``token``, or ``NotAuthorizedException`` in Cognito's words."""
    pool = _pool_named_by(call, token or "")
    rt = call.runtime
    try:
        claims, user = verify_access_token(call.session, rt.keys, rt.config, pool,
                                           issuer(rt.settings.base_url, pool.id), token or "")
    except ExpiredToken:
        raise _refused(EXPIRED) from None
    except RevokedToken:
        raise _refused(REVOKED) from None
    except InvalidToken:
        raise _refused(INVALID) from None
    if ADMIN_SCOPE not in str(claims.get("scope", "")).split():
        raise _refused(NO_SCOPE)
    client = rt.config.client(call.session, pool.id, str(claims["client_id"]))
    if user is None or client is None:  # a client_credentials token speaks for no user
        raise _refused(INVALID)
    return Bearer(pool, client, user, claims)


def _pool_named_by(call: Call, token: str) -> UserPool:
    """The pool whose issuer the unverified ``iss`` is (nothing else is read before the
    signature is checked)."""
    claims = unverified_payload(token) or {}
    iss = claims.get("iss")
    base = call.runtime.settings.base_url.rstrip("/") + "/"
    pool_id = iss[len(base):] if isinstance(iss, str) and iss.startswith(base) else ""
    pool = call.runtime.config.pool(call.session, pool_id) if pool_id and "/" not in pool_id else None
    if pool is None:
        raise _refused(INVALID)
    return pool


def _refused(message: str) -> AwsError:
    return AwsError("NotAuthorizedException", message)
