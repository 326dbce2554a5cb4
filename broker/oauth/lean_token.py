"""The token endpoint's two busiest grants, answered before the framework:
``refresh_token`` (RFC 6749 §6) and ``client_credentials`` (§4.4).

Every refresh of every signed-in app comes here, so this path does the grant's work and
no more: the form parsed once, the client and keys from the in-process caches, the refresh
token, its user and groups in one autocommitted statement (:mod:`..store.refresh_read`),
the tokens minted by the same functions as everywhere (:func:`.issue.issue_tokens`,
PreTokenGeneration included).

It answers only requests that succeed. Anything else -- a malformed or unusual request, a
failed client authentication, an unknown, expired, revoked or rotated token, a rotating
client, a store that does not answer -- is handed, untouched, to the Authlib endpoint
(:mod:`.server`), which answers it as before: errors keep one source, and reuse detection
(:mod:`.refresh`) keeps its one place. Nothing is written before that decision.

    app.wsgi_app = LeanTokenEndpoint(app.wsgi_app, runtime, metrics)
"""
from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, unquote

from sqlalchemy.exc import SQLAlchemyError

from ..errors import TriggerFailed
from ..observability.middleware import ENDPOINT_KEY
from ..runtime import Runtime
from ..store import repo
from ..store.models import AppClient, UserPool
from ..triggers import pre_token as pre_token_trigger
from . import errors, scopes as scope_rules
from .issue import issue_client_token, issue_tokens, pre_token, still_allowed
from .refresh import read_live

#: Longest body read here; a longer one goes to the full endpoint (refresh tokens are 64 characters).
MAX_BODY = 4096
#: Parameters each grant may carry here (client credentials in the body included).
ALLOWED = {
    "refresh_token": frozenset({"grant_type", "refresh_token", "client_id", "client_secret"}),
    "client_credentials": frozenset({"grant_type", "scope", "client_id", "client_secret"}),
}
PATH = "/oauth2/token"


class Declined(Exception):
    """This request is the full endpoint's to answer."""


class LeanTokenEndpoint:
    """WSGI middleware: answers the successful grants it recognises, passes on the rest."""

    def __init__(self, app: Callable[..., Iterable[bytes]], runtime: Runtime, count: Callable[[str], None],
                 response_headers: Callable[[dict[str, Any]], list[tuple[str, str]]]) -> None:
        self.app, self.runtime, self.count, self.response_headers = app, runtime, count, response_headers

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "POST" and path.endswith(PATH):
            try:
                status, body, grant = self._answer(environ, path)
            except (Declined, SQLAlchemyError):  # (a store away: asked before any trigger runs)
                pass
            else:
                environ[ENDPOINT_KEY] = "api_domain.token" if path == PATH else "api.token"  # (the view's name)
                if status == 200:
                    self.count(grant)
                payload = json.dumps(body).encode()
                start_response(f"{status} {HTTPStatus(status).phrase}", [
                    ("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                    *errors.NO_STORE.items(), *self.response_headers(environ)])
                return [payload]
        return self.app(environ, start_response)

    def _answer(self, environ: dict[str, Any], path: str) -> tuple[int, dict[str, Any], str]:
        pool_id = self._pool_id(environ, path)
        form = _form(environ)
        grant = form.get("grant_type", "")
        if grant not in ALLOWED or not set(form) <= ALLOWED[grant]:
            raise Declined()
        rt = self.runtime
        session = rt.db.sessions()  # connects only if a cache is stale or a trigger writes
        try:
            pool = rt.config.pool(session, pool_id)
            if pool is None:
                raise Declined()
            client = _client(session, rt, pool, form, environ.get("HTTP_AUTHORIZATION"))
            rt.keys.get(session, pool)  # (read now if due: no store is asked after a trigger has run)
            try:
                if grant == "refresh_token":
                    return 200, _refresh(session, rt, pool, client, form["refresh_token"]), grant
                return 200, _client_credentials(session, rt, pool, client, form.get("scope")), grant
            except TriggerFailed as exc:  # the trigger ran: answered here as the app's handler would
                return exc.status, errors.body(errors.for_status(exc.status), exc.message), grant
        finally:
            session.close()

    def _pool_id(self, environ: dict[str, Any], path: str) -> str:
        if path == PATH:  # a custom domain's
            host = environ.get("HTTP_HOST", "").split(":")[0].lower()
            pool_id = self.runtime.settings.domains.get(host)
        else:
            pool_id = path[1:-len(PATH)]
        if not pool_id or "/" in pool_id or len(pool_id) > 55:
            raise Declined()
        return pool_id


def _form(environ: dict[str, Any]) -> dict[str, str]:
    """The form, read once and put back for the full endpoint; only a plain one: no query
    string, no parameter twice or empty."""
    mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    length = environ.get("CONTENT_LENGTH") or ""
    if mimetype != "application/x-www-form-urlencoded" or environ.get("QUERY_STRING") or not length.isdigit() \
            or int(length) > MAX_BODY:
        raise Declined()
    raw = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise Declined() from None
    form = dict(pairs)
    if len(form) != len(pairs) or not all(form.values()):
        raise Declined()
    return form


def _client(session: Any, rt: Runtime, pool: UserPool, form: dict[str, str], authorization: str | None) -> AppClient:
    """The client as Authlib would authenticate it (``client_secret_basic``, then
    ``client_secret_post``, then ``none`` for a client without a secret), when it does."""
    if authorization is not None:
        if "client_id" in form or "client_secret" in form:
            raise Declined()
        client_id, secret = _basic(authorization)
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
    client = rt.config.client(session, pool.id, client_id) if 0 < len(client_id) <= 128 else None
    if client is None:
        raise Declined()
    if client.secret_hash:
        if secret is None or not hmac.compare_digest(client.secret_hash, repo.sha256(secret)):
            raise Declined()
    elif secret is not None:
        raise Declined()
    return client


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise Declined()
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Declined() from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise Declined()
    return unquote(client_id), unquote(secret)


def _refresh(session: Any, rt: Runtime, pool: UserPool, client: AppClient, value: str) -> dict[str, Any]:
    if "code" not in client.allowed_flows or client.rotate_refresh_tokens:
        raise Declined()
    stored = read_live(rt.db, pool.id, client.id, value)
    if stored is None:
        raise Declined()
    token, user = stored.row, stored.user
    granted = still_allowed(client, token.scope)
    overrides = pre_token(session, pool, client, user, granted, pre_token_trigger.REFRESH_TOKENS)
    return issue_tokens(session, rt.keys, rt.settings.base_url, pool, client, user, granted, token.auth_time,
                        token.origin_jti, token.event_id, include_refresh_token=False, amr=tuple(token.amr or ()),
                        overrides=overrides, sid=token.sid)


def _client_credentials(session: Any, rt: Runtime, pool: UserPool, client: AppClient,
                        scope: str | None) -> dict[str, Any]:
    """The checks of :class:`.server.ClientCredentialsGrant`: resource-server scopes of the client's."""
    if not client.secret_hash or "client_credentials" not in client.allowed_flows:
        raise Declined()
    try:
        requested = scope_rules.requested(scope)
    except scope_rules.ScopeError:
        raise Declined() from None
    allowed = [s for s in client.allowed_scopes if "/" in s]
    if any(s not in allowed for s in requested) or not (requested or allowed):
        raise Declined()
    return issue_client_token(session, rt.keys, rt.settings.base_url, pool, client, tuple(requested or allowed))
