"""The Authlib authorization server: the token endpoint's grants (RFC 6749 §4.1, §4.4, §6
with PKCE, RFC 7636), revocation (RFC 7009) and introspection (RFC 7662).

Authlib drives client authentication and the grant pipeline; the hooks here read and
write our storage. The pool of the current request is ``flask.g.pool``.
"""
from __future__ import annotations

import hmac
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from flask import Flask, g, jsonify
from flask import request as flask_request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from ..runtime import runtime
from ..store import repo
from ..store.models import AppClient, User
from ..userpool import audit
from ..userpool.app_clients import pkce_required
from . import codes, errors, scopes
from .endpoints import IntrospectionEndpoint, RevocationEndpoint
from ..triggers import pre_token as pre_token_trigger
from .issue import issue_client_token, issue_tokens, pre_token, signed_in_tokens, still_allowed
from .refresh import RefreshTokenReused, StoredRefreshToken, find_refresh_token, rotate

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]


class Client(ClientMixin):
    """An app client as Authlib sees it."""

    def __init__(self, row: AppClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.row.allowed_scopes
        return " ".join(s for s in scope_to_list(scope) if s in allowed) if scope else " ".join(allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.callback_urls

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.secret_hash
        return bool(stored) and hmac.compare_digest(stored, repo.sha256(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row.secret_hash:
            return method in SECRET_METHODS
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "code" in self.row.allowed_flows

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_allowed(self.row, grant_type)


def grant_allowed(client: AppClient, grant_type: str) -> bool:
    """Whether ``client`` may use ``grant_type`` at the token endpoint (its OAuth flows)."""
    if grant_type in {"authorization_code", "refresh_token"}:
        return "code" in client.allowed_flows
    return grant_type == "client_credentials" and "client_credentials" in client.allowed_flows


def machine_scopes(client: AppClient, requested: list[str]) -> tuple[str, ...] | None:
    """The scopes of a client_credentials token: those ``requested``, else all the client's
    resource-server scopes; None when one requested is not the client's, or it has none."""
    allowed = [s for s in client.allowed_scopes if "/" in s]
    if any(s not in allowed for s in requested) or not (requested or allowed):
        return None
    return tuple(requested or allowed)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def query_authorization_code(self, code: str, client: Client) -> codes.CodeRecord | None:
        rt = runtime()
        record = codes.consume(rt.state, g.pool.id, code)
        if record is None:
            return None
        if isinstance(record, codes.Reused):
            _revoke_reused_code(record, client)
            return None
        # the client as it is now: a callback URL removed since the code was issued is refused
        ok = record.client_id == client.get_client_id() and record.redirect_uri in client.row.callback_urls
        return record if ok else None

    def delete_authorization_code(self, authorization_code: codes.CodeRecord) -> None:
        """Already consumed atomically by :meth:`query_authorization_code`."""

    def authenticate_user(self, authorization_code: codes.CodeRecord) -> User | None:
        """The code's user, unless disabled or signed out everywhere since the code. The
        row is read FOR SHARE (PostgreSQL): a sign-out committing meanwhile waits for this
        exchange's refresh token, and so revokes it, or this exchange sees its epoch."""
        return code_user(g.db_session, g.pool.id, authorization_code)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,  # type: ignore[override]
                       include_refresh_token=True) -> dict[str, Any]:
        """Tokens for the code (:func:`.issue.signed_in_tokens`). Refresh and client_credentials
        grants write no audit event, only the ``cognate_tokens_issued_total`` count by grant:
        a row per refresh would double the cost of the hottest endpoint."""
        rt, code = runtime(), self.request.authorization_code
        return signed_in_tokens(
            g.db_session, rt.keys, rt.settings.base_url, g.pool, self.client.row, user, scope,
            grant_type="authorization_code", include_refresh_token=include_refresh_token,
            ip=flask_request.remote_addr, auth_time=code.auth_time, origin_jti=code.origin_jti,
            event_id=code.event_id, nonce=code.nonce, amr=code.amr, sid=code.sid,
        )


def code_user(session: Session, pool_id: str, record: codes.CodeRecord) -> User | None:
    """The user a code was issued for, unless disabled or signed out everywhere since."""
    user = session.get(User, record.user_id, with_for_update={"read": True})
    if user is None or not user.enabled or user.pool_id != pool_id:
        return None
    same = record.sub in (None, user.sub)  # None: a code from before subs were kept
    return user if same and user.session_epoch == record.epoch else None


def _revoke_reused_code(reused: codes.Reused, client: Client) -> None:
    """A code presented twice revokes what its first use issued (RFC 6749 §10.5). The
    audit event is written once per family: later replays find it revoked already, so
    they cannot fill the audit log."""
    known = repo.origin_revoked(g.db_session, reused.origin_jti)
    repo.revoke_origin(g.db_session, reused.origin_jti)
    if not known:
        audit.record(g.db_session, g.pool.id, "AuthorizationCodeReuse", audit.BLOCK, ip=flask_request.remote_addr,
                     client_id=client.get_client_id(), origin_jti=reused.origin_jti)
    g.db_session.commit()


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def _validate_token_scope(self, token: StoredRefreshToken) -> None:
        """A narrower ``scope`` may be asked for (RFC 6749 §6), within the bounds of any request."""
        _requested_scopes(self.request.payload.scope)
        super()._validate_token_scope(token)

    def authenticate_refresh_token(self, refresh_token: str) -> StoredRefreshToken | None:
        return find_refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: StoredRefreshToken) -> User | None:
        return refresh_token.user if refresh_token.user.enabled else None

    def revoke_old_credential(self, refresh_token: StoredRefreshToken) -> None:
        """Done before the tokens are minted, by :func:`.refresh.rotate` in :meth:`generate_token`."""

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,  # type: ignore[override]
                       include_refresh_token=True) -> dict[str, Any]:
        """New access and ID tokens; with rotation, the token's one successor (stored by the
        request that rotated it, handed again to a retry within the grace period). The
        PreTokenGeneration trigger runs first: its failure leaves the refresh token unrotated."""
        rt, stored = runtime(), self.request.refresh_token
        scopes = still_allowed(self.client.row, scope)
        overrides = pre_token(g.db_session, g.pool, self.client.row, user, scopes, pre_token_trigger.REFRESH_TOKENS)
        successor, store = None, False
        if self.client.row.rotate_refresh_tokens:
            try:
                successor, store = rotate(stored, self.request.form["refresh_token"])
            except RefreshTokenReused:
                raise InvalidGrantError() from None
        row = stored.row
        token = issue_tokens(
            g.db_session, rt.keys, rt.settings.base_url, g.pool, self.client.row, user,
            scopes, row.auth_time, row.origin_jti, row.event_id,
            include_refresh_token=store, amr=tuple(row.amr or ()), refresh_token=successor, overrides=overrides,
            sid=row.sid,
        )
        return {**token, "refresh_token": successor} if successor else token


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested = _requested_scopes(self.request.payload.scope)
        scopes = machine_scopes(self.client.row, requested)
        if scopes is None:
            raise InvalidScopeError(description=None if requested else "The client has no resource-server scopes.")
        self.request.scope = " ".join(scopes)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,  # type: ignore[override]
                       include_refresh_token=False) -> dict[str, Any]:
        rt = runtime()
        scopes = tuple(scope_to_list(self.request.scope))
        return issue_client_token(g.db_session, rt.keys, rt.settings.base_url, g.pool, self.client.row, scopes)


def _requested_scopes(value: str | None) -> list[str]:
    """The distinct scopes of a token request's ``scope``, within :mod:`.scopes`' bounds."""
    try:
        return list(scopes.requested(value))
    except scopes.ScopeError as exc:
        raise InvalidScopeError(description=str(exc)) from None


def _query_client(client_id: str) -> Client | None:
    row = runtime().config.client(g.db_session, g.pool.id, client_id) if client_id and len(client_id) <= 128 else None
    return Client(row) if row else None


def _client_secret_basic(query_client: Any, request: Any) -> Client | None:
    """Authlib's ``client_secret_basic``, except that credentials that are not UTF-8, or not
    ASCII base64, are no credentials (Authlib lets the ValueError through: a 500)."""
    try:
        return authenticate_client_secret_basic(query_client, request)
    except ValueError:  # (UnicodeDecodeError included; base64 of characters outside ASCII too)
        return None


def _save_token(token: dict[str, Any], request: Any) -> None:
    """Tokens are stored while they are issued (refresh tokens, hashed)."""


class _Request(FlaskOAuth2Request):
    """Authlib refuses plain-http requests unless they come to localhost. Transport security
    is the deployment's: an https BROKER_BASE_URL (required in production) with TLS at the
    proxy, so requests are not judged one by one."""

    def __init__(self, request: Any) -> None:
        OAuth2Request.__init__(self, request.method, "https://deployment.invalid/", headers=request.headers)
        self.uri = request.url
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class _Server(AuthorizationServer):
    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return _Request(flask_request)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        """Authlib's errors in :mod:`.errors`' one shape: always a description (Authlib's
        ``invalid_client`` ones name Python lists, so the code's meaning instead), and
        Authlib's headers (``WWW-Authenticate: Basic`` after a failed Basic login)."""
        if error.redirect_uri:  # an answer to the browser, not JSON
            return super().handle_error_response(request, error)
        status, _body, headers = error()
        description = None if error.error == "invalid_client" else error.description
        response = jsonify(errors.body(error.error, description))
        response.status_code = status
        response.headers.update({**dict(headers), **errors.NO_STORE})
        return response


class ClientCodeChallenge(CodeChallenge):
    """PKCE at the token endpoint (RFC 7636 §4.5, RFC 9700 §4.8): required of public clients,
    except one the operator exempted (:func:`pkce_required`), which may exchange a code
    asked for without a challenge as RFC 6749 has it. A code asked for with a challenge
    always needs its verifier."""

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        request = grant.request
        exempt = isinstance(request.client, Client) and not pkce_required(request.client.row)
        if exempt and not request.form.get("code_verifier") and not request.authorization_code.code_challenge:
            return
        super().validate_code_verifier(grant, result)


def pkce_passes(client: AppClient, record: codes.CodeRecord, verifier: str | None) -> bool:
    """Whether :class:`ClientCodeChallenge` lets an exchange of ``record`` with ``verifier``
    (None: not sent) through."""
    challenge = record.code_challenge
    if not challenge:
        return verifier is None and not pkce_required(client)
    if verifier is None or not CODE_VERIFIER_PATTERN.match(verifier):
        return False
    compare = CodeChallenge.CODE_CHALLENGE_METHODS.get(
        record.code_challenge_method or CodeChallenge.DEFAULT_CODE_CHALLENGE_METHOD)
    return compare is not None and compare(verifier, challenge)


def build_server(app: Flask) -> AuthorizationServer:
    server = _Server(app, query_client=_query_client, save_token=_save_token)
    server.register_client_auth_method("client_secret_basic", _client_secret_basic)
    server.register_grant(AuthorizationCodeGrant, [ClientCodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    return server
