"""Refreshing at the JSON API: InitiateAuth with REFRESH_TOKEN_AUTH (or REFRESH_TOKEN; what
amazon-cognito-identity-js and pycognito call) and GetTokensFromRefreshToken (what Amplify
v6 calls), both rotating the refresh token when the client rotates refresh tokens, exactly
as ``/oauth2/token`` does.
One token system serves both doors: a refresh token from the hosted UI refreshes here and
one from here at ``/oauth2/token``; revoking it at either ends it at both.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_GetTokensFromRefreshToken.html
"""
from __future__ import annotations

from typing import Any

from flask import g

from ..oauth.issue import pre_token, still_allowed
from ..oauth.refresh import RefreshTokenReused, StoredRefreshToken, find_refresh_token, read_live, rotate
from ..oauth.tokens import ADMIN_SCOPE, Overrides
from ..store.models import AppClient, UserPool
from ..triggers import pre_token as pre_token_trigger
from ..userpool import client_auth
from ..userpool.client_auth import SecretCheck
from . import auth_operations, auth_session
from .call import Call
from .errors import AwsError
from .registry import operation

INVALID = "Invalid Refresh Token"


def refresh_token_auth(call: Call, client: AppClient, pool: UserPool, auth: dict[str, str]) -> dict[str, Any]:
    """REFRESH_TOKEN_AUTH: new access and ID tokens. With a client secret, SECRET_HASH is
    computed over the username (or, as Cognito also accepts, the user's ``sub``).

    On a client that rotates refresh tokens the token rotates here too, the successor in
    ``AuthenticationResult.RefreshToken`` (amazon-cognito-identity-js and pycognito keep a
    refresh token the answer brings). Cognito refuses this flow on such clients instead;
    Cognate rotates public clients' tokens by default, and an unrotated refresh here would
    let a stolen token mint access tokens without ever setting off reuse detection."""
    call.check_auth_flow(client, "ALLOW_REFRESH_TOKEN_AUTH")
    value = auth.get("REFRESH_TOKEN")
    token = _find(call, client, pool, value)
    given = auth.get("SECRET_HASH")
    verdicts = {client_auth.check_secret_hash(call.session, client, name, given)
                for name in (auth.get("USERNAME") or token.user.username, token.user.sub)}
    if SecretCheck.OK not in verdicts:
        call.check_secret_hash(client, auth.get("USERNAME") or token.user.username, {"AuthParameters": auth})
    return {"ChallengeParameters": {}, "AuthenticationResult": _refreshed(call, client, pool, token, str(value))}


@operation("GetTokensFromRefreshToken")
def get_tokens_from_refresh_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """New tokens for a refresh token, rotating it when the client rotates refresh tokens
    (the successor, and retries within the grace period, as at ``/oauth2/token``)."""
    client, pool = call.client(params)
    if not client_auth.check_client_secret(client, params.get("ClientSecret")):
        raise AwsError("NotAuthorizedException", f"Unable to verify secret for client {client.id}")
    call.check_auth_flow(client, "ALLOW_REFRESH_TOKEN_AUTH")
    token = _find(call, client, pool, params["RefreshToken"])
    return {"AuthenticationResult": _refreshed(call, client, pool, token, params["RefreshToken"])}


def _refreshed(call: Call, client: AppClient, pool: UserPool, token: StoredRefreshToken, value: str) -> dict[str, Any]:
    """The tokens of a refresh, the refresh token rotated when the client rotates them (its
    successor, and retries within the grace period, as at ``/oauth2/token``), once the
    PreTokenGeneration trigger has run (its failure leaves the refresh token unrotated)."""
    overrides = pre_token(call.session, pool, client, token.user, _scopes(client, token),
                          pre_token_trigger.REFRESH_TOKENS)
    successor, store = None, False
    if client.rotate_refresh_tokens:
        try:
            successor, store = rotate(token, value)
        except RefreshTokenReused:
            raise AwsError("NotAuthorizedException", INVALID) from None
    result = _tokens(call, client, pool, token, overrides, store, successor)
    if successor:
        result["RefreshToken"] = successor
    return result


def _find(call: Call, client: AppClient, pool: UserPool, value: str | None) -> StoredRefreshToken:
    """The live refresh token ``value`` of this client (reuse past rotation revokes its
    family, as at the token endpoint), of a user still enabled. A client that does not
    rotate has it read in one statement first, as at the token endpoint (:func:`read_live`)."""
    g.pool, g.db_session = pool, call.session  # the token store reads the request's pool
    if not value:
        raise AwsError("NotAuthorizedException", INVALID)
    token = None if client.rotate_refresh_tokens else read_live(call.runtime.db, pool.id, client.id, value)
    if token is None:
        token = find_refresh_token(value, client.id)
    if token is None or not token.user.enabled:
        raise AwsError("NotAuthorizedException", INVALID)
    return token


def _scopes(client: AppClient, token: StoredRefreshToken) -> tuple[str, ...]:
    """The scopes of the refresh token's sign-in: API sign-ins keep their one scope."""
    scope = token.row.scope
    return (ADMIN_SCOPE,) if scope == ADMIN_SCOPE else still_allowed(client, scope)


def _tokens(call: Call, client: AppClient, pool: UserPool, token: StoredRefreshToken, overrides: Overrides | None,
            store: bool = False, successor: str | None = None) -> dict[str, Any]:
    """Access and ID tokens of the refresh token's sign-in."""
    row = token.row
    return auth_session.issue(call, client, pool, token.user, _scopes(client, token), row.auth_time,
                              row.origin_jti, row.event_id, include_refresh_token=store,
                              amr=tuple(row.amr or ()), refresh_token=successor, overrides=overrides)


auth_operations.FLOWS["REFRESH_TOKEN_AUTH"] = auth_operations.FLOWS["REFRESH_TOKEN"] = refresh_token_auth
