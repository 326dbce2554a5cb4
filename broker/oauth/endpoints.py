"""Token revocation (RFC 7009) and introspection (RFC 7662) on Authlib's endpoints."""
from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as _Revocation
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _Introspection
from flask import g, request as flask_request

from ..runtime import runtime
from ..store.models import User
from .issue import issuer
from .refresh import find_refresh_token, revoke_family
from .verify import InvalidToken, verify_access_token


class _Found:
    """A token :func:`_find` already checked: live, unexpired, unrevoked."""

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return False


class _Refresh(_Found):
    kind = "refresh_token"

    def __init__(self, row: Any, user: User) -> None:
        self.row = row
        self.user = user

    def check_client(self, client: Any) -> bool:
        return self.row.client_id == client.get_client_id()


class _Access(_Found):
    kind = "access_token"

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims

    def check_client(self, client: Any) -> bool:
        return self.claims.get("client_id") == client.get_client_id()


def _find(token: str, hint: str | None, client_id: str | None = None) -> _Refresh | _Access | None:
    """The live token ``token`` of this pool; a refresh token only if it is ``client_id``'s
    when that is given (then another client's rotated token does not set off reuse detection)."""
    if hint != "access_token" and len(token) < 200:
        found = find_refresh_token(token, client_id)
        if found:
            return _Refresh(found.row, found.user)
    if hint != "refresh_token":
        rt = runtime()
        try:
            claims, _user = verify_access_token(g.db_session, rt.keys, rt.config, g.pool,
                                                issuer(rt.settings.base_url, g.pool.id), token)
        except InvalidToken:
            return None
        return _Access(claims)
    return None


class RevocationEndpoint(_Revocation):
    """Revoking a refresh token revokes its whole family, access tokens included (as
    Cognito's RevokeToken does). Public clients revoke with their client_id alone.

    Only a live token of the asking client reaches :meth:`revoke_token` and its
    ``RevokeToken`` audit event: unknown, foreign and already revoked tokens get the same
    200 (RFC 7009 §2.2) and write nothing, so they cannot fill the audit log."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def authenticate_token(self, request: Any, client: Any) -> _Refresh | _Access | None:
        """The token if it is the asking client's. Authlib answers another client's live
        token with 400 ``invalid_grant`` and an unknown one with 200, which told a stranger
        that a token is live; RFC 7009 §2.2 wants 200 for both, and nothing is revoked."""
        self.check_params(request, client)
        form = request.form
        token = _find(form["token"], form.get("token_type_hint"), client.get_client_id())
        return token if token is not None and token.check_client(client) else None

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Refresh | _Access | None:
        return _find(token_string, token_type_hint)

    def revoke_token(self, token: _Refresh | _Access, request: Any) -> None:
        if isinstance(token, _Refresh):
            origin, client_id = token.row.origin_jti, token.row.client_id
            who = {"user": token.user}
        else:
            origin, client_id = token.claims["origin_jti"], token.claims.get("client_id")
            who = {"username": token.claims.get("username")}
        revoke_family(g.db_session, g.pool.id, origin, client_id, token.kind, flask_request.remote_addr, **who)
        g.db_session.commit()


class IntrospectionEndpoint(_Introspection):
    """Only authenticated confidential clients may introspect; access tokens of the pool,
    refresh tokens of the asking client."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def authenticate_token(self, request: Any, client: Any) -> _Refresh | _Access | None:
        """As Authlib's, except that a refresh token is looked up as the asking client's, so
        introspecting another client's rotated token never sets off its reuse detection."""
        self.check_params(request, client)
        form = request.form
        token = _find(form["token"], form.get("token_type_hint"), client.get_client_id())
        return token if token is not None and self.check_permission(token, client, request) else None

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Refresh | _Access | None:
        return _find(token_string, token_type_hint)

    def check_permission(self, token: _Refresh | _Access, client: Any, request: Any) -> bool:
        return isinstance(token, _Access) or token.check_client(client)

    def introspect_token(self, token: _Refresh | _Access) -> dict[str, Any]:
        if isinstance(token, _Access):
            return {"active": True, "token_type": "access_token", **token.claims}
        row = token.row
        user = g.db_session.get(User, row.user_id)
        if user is None or not user.enabled:
            return {"active": False}
        return {
            "active": True, "token_type": "refresh_token", "client_id": row.client_id, "scope": row.scope,
            "sub": user.sub, "username": user.username, "exp": int(row.expires_at.timestamp()),
            "iat": int(row.created_at.timestamp()), "iss": issuer(runtime().settings.base_url, g.pool.id),
            "origin_jti": row.origin_jti, "auth_time": row.auth_time,
        }
