"""The token endpoint's grants, answered before the framework: ``refresh_token`` (RFC 6749
§6), ``client_credentials`` (§4.4) and ``authorization_code`` (§4.1.3, with PKCE).

Every refresh of every signed-in app comes here, and every sign-in ends here, so this path
does the grant's work and no more: the form parsed once, the client and keys from the
in-process caches, the refresh token, its user and groups in one autocommitted statement
(:mod:`..store.refresh_read`), a code checked before it is consumed, the tokens minted by
the same functions as everywhere (:mod:`.issue`, PreTokenGeneration included).

It answers the requests that pass every check. Anything else -- a malformed or unusual
request, a failed client authentication, an unknown, expired, revoked or rotated token, a
rotating client, a code unknown, used, or not matched by its redirect_uri or verifier, an
error of any kind -- is handed, untouched, to the Authlib endpoint (:mod:`.server`), which
answers it as before: errors keep one source, and reuse detection (:mod:`.refresh`,
:mod:`.codes`) keeps its one place. Nothing runs or is written before that decision, but
the consumption of a code, its last step (a code used meanwhile goes on to the full
endpoint, which finds it used). Once it is taken (the PreTokenGeneration trigger may run),
this path answers whatever happens, as the app's error handlers would: a code whose user
was disabled or signed out everywhere since, a trigger's refusal, a store that does not
answer (503), anything else (500, logged). A database or state store that does not answer
is answered at once too (503), rather than waited for twice (and a code whose consumption
failed half-way is not then taken for a reused one).

    app.wsgi_app = LeanTokenEndpoint(app.wsgi_app, runtime, metrics.token_issued, headers)
"""
from __future__ import annotations

import base64
import hmac
import io
import json
import logging
from http import HTTPStatus
from typing import Any, Callable, Iterable, NamedTuple, cast
from urllib.parse import parse_qsl, unquote

from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .. import observability
from ..errors import TriggerFailed
from ..observability.middleware import ENDPOINT_KEY
from ..runtime import Runtime
from ..store import repo
from ..store.models import AppClient, UserPool
from ..triggers import pre_token as pre_token_trigger
from . import codes, errors, scopes as scope_rules
from .issue import issue_client_token, issue_tokens, pre_token, signed_in_tokens, still_allowed
from .refresh import StoredRefreshToken, read_live
from .server import code_user, grant_allowed, machine_scopes, pkce_passes

#: Lengths past which a pool id or client id cannot be one (the full endpoint answers those).
MAX_POOL_ID, MAX_CLIENT_ID = 55, 128
#: Longest body read here; a longer one goes to the full endpoint (refresh tokens are 64 characters).
MAX_BODY = 4096
#: Parameters each grant may carry here (client credentials in the body included).
ALLOWED = {
    "authorization_code": frozenset({"grant_type", "code", "redirect_uri", "code_verifier", "client_id",
                                     "client_secret"}),
    "refresh_token": frozenset({"grant_type", "refresh_token", "client_id", "client_secret"}),
    "client_credentials": frozenset({"grant_type", "scope", "client_id", "client_secret"}),
}
PATH = "/oauth2/token"

log = logging.getLogger("broker.web")


class Declined(Exception):
    """This request is the full endpoint's to answer."""


class NoUser(Exception):
    """The code's user is disabled or signed out everywhere since the code (Authlib's words)."""

    description = "There is no 'user' for this code."


class Answer(NamedTuple):
    status: int
    body: dict[str, Any]
    grant: str
    headers: tuple[tuple[str, str], ...] = ()


class LeanTokenEndpoint:
    """WSGI middleware: answers the grants that pass its checks, passes on the rest.
    ``app.extensions["broker.lean_token"]`` holds it (the tests reach the app behind it)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], runtime: Runtime, count: Callable[[str], None],
                 response_headers: Callable[[dict[str, Any]], list[tuple[str, str]]]) -> None:
        self.app, self.runtime, self.count, self.response_headers = app, runtime, count, response_headers

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "POST" and path.endswith(PATH):
            try:
                answer = self._answer(environ, path)
            except Declined:
                pass
            else:
                environ[ENDPOINT_KEY] = "api_domain.token" if path == PATH else "api.token"  # (the view's name)
                if answer.status == 200:
                    self.count(answer.grant)
                payload = json.dumps(answer.body).encode()
                start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", [
                    ("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                    *errors.NO_STORE.items(), *answer.headers, *self.response_headers(environ)])
                return [payload]
        return self.app(environ, start_response)

    def _answer(self, environ: dict[str, Any], path: str) -> Answer:
        session = cast(Session, _OnDemand(self.runtime.db.sessions))
        try:
            try:
                grant, mint = self._checked(session, environ, path)
            except (OperationalError, RedisError) as exc:  # (a code's consumption failing included)
                return _unavailable(exc)
            except Declined:
                raise
            except Exception:  # the full endpoint meets it too, and answers it its way
                raise Declined() from None
            try:
                return Answer(200, mint(), grant)
            except NoUser as exc:  # as the full endpoint answers it
                return Answer(400, errors.body("invalid_grant", exc.description), grant)
            except TriggerFailed as exc:  # as the app's handler answers it
                return Answer(exc.status, errors.body(errors.for_status(exc.status), exc.message), grant)
            except (OperationalError, RedisError) as exc:
                return _unavailable(exc, grant)
            except Exception:
                log.exception("unexpected error on POST %s", path)
                return Answer(500, errors.body(errors.for_status(500), "Something went wrong on our side. Try again."),
                              grant)
        finally:
            session.close()

    def _checked(self, session: Session, environ: dict[str, Any], path: str) -> tuple[str, Callable[[], dict]]:
        """Every check of the request, with nothing run or written: its grant, and what
        makes its tokens (the trigger included); :class:`Declined` for any other request."""
        pool_id, form = self._pool_id(environ, path), _form(environ)
        grant = form.get("grant_type", "")
        if grant not in ALLOWED or not set(form) <= ALLOWED[grant]:
            raise Declined()
        rt = self.runtime
        pool = rt.config.pool(session, pool_id)
        if pool is None:
            raise Declined()
        client = _client(session, rt, pool, form, environ.get("HTTP_AUTHORIZATION"))
        if not grant_allowed(client, grant):
            raise Declined()
        rt.keys.get(session, pool)  # (read now if due: before any trigger runs)
        if grant == "authorization_code":
            record = _exchangeable(rt, pool, client, form)  # (the code consumed: nothing may fail after)
            return grant, lambda: _exchanged(session, rt, pool, client, record, environ.get("REMOTE_ADDR"))
        if grant == "refresh_token":
            stored = _refreshable(rt, pool, client, form["refresh_token"])
            return grant, lambda: _refreshed(session, rt, pool, client, stored)
        scopes = _scopes(client, form.get("scope"))
        return grant, lambda: issue_client_token(session, rt.keys, rt.settings.base_url, pool, client, scopes)

    def _pool_id(self, environ: dict[str, Any], path: str) -> str:
        if path == PATH:  # a custom domain's
            host = environ.get("HTTP_HOST", "").split(":")[0].lower()
            pool_id = self.runtime.settings.domains.get(host)
        else:
            pool_id = path[1:-len(PATH)]
        if not pool_id or "/" in pool_id or len(pool_id) > MAX_POOL_ID:
            raise Declined()
        return pool_id


class _OnDemand:
    """A session made at its first use: a grant whose pool, client and keys are cached
    needs none (the refresh token is read apart, :mod:`..store.refresh_read`, and a
    trigger's audit row is written apart, :mod:`..triggers.journal`); a stale cache or a
    trigger that writes makes one. Its ``info`` (the sealer; whether the config
    cache's version was read) is there before it is made, and goes into it."""

    def __init__(self, make: sessionmaker[Session]) -> None:
        self._make, self._session = make, None
        self._info: dict[str, Any] = dict(make.kw.get("info") or {})

    @property
    def info(self) -> dict[str, Any]:
        return self._info if self._session is None else self._session.info

    def get_bind(self) -> Any:
        """The engine, without a session made for it (the trigger journal asks for it at
        every PreTokenGeneration invocation)."""
        if self._session is None and self._make.kw.get("bind") is not None:
            return self._make.kw["bind"]
        return self.__getattr__("get_bind")()  # (the session's, made if need be)

    def __getattr__(self, name: str) -> Any:
        if self._session is None:
            self._session = self._make(info=self._info)
        return getattr(self._session, name)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def _unavailable(exc: Exception, grant: str = "") -> Answer:
    """A database or state store that does not answer, as the app's handler answers it."""
    log.error("backing store unavailable: %s", exc)
    observability.backend_error("redis" if isinstance(exc, RedisError) else "database")
    return Answer(503, errors.body("temporarily_unavailable", None), grant, (("Retry-After", errors.RETRY_AFTER),))


def _form(environ: dict[str, Any]) -> dict[str, str]:
    """The form, read once and put back for the full endpoint; only a plain one: no query
    string, no parameter twice or empty."""
    mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    length = environ.get("CONTENT_LENGTH") or ""
    if mimetype != "application/x-www-form-urlencoded" or environ.get("QUERY_STRING") \
            or not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:
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


def _client(session: Session, rt: Runtime, pool: UserPool, form: dict[str, str],
            authorization: str | None) -> AppClient:
    """The client as Authlib would authenticate it (``client_secret_basic``, then
    ``client_secret_post``, then ``none`` for a client without a secret), when it does."""
    if authorization is not None:
        if "client_id" in form or "client_secret" in form:
            raise Declined()
        client_id, secret = _basic(authorization)
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
    client = rt.config.client(session, pool.id, client_id) if 0 < len(client_id) <= MAX_CLIENT_ID else None
    if client is None:
        raise Declined()
    if client.secret_hash:
        if secret is None or not hmac.compare_digest(client.secret_hash, repo.sha256(secret)):
            raise Declined()
    elif secret is not None:
        raise Declined()
    return client


def _basic(authorization: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: the form-encoded client id and secret of a Basic ``Authorization``."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise Declined()
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # (binascii.Error, UnicodeDecodeError, and characters outside ASCII)
        raise Declined() from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise Declined()
    return unquote(client_id), unquote(secret)


def _exchangeable(rt: Runtime, pool: UserPool, client: AppClient, form: dict[str, str]) -> codes.CodeRecord:
    """The record of the code, consumed, when the full endpoint would exchange it: issued
    to this client for the same redirect_uri, still one of its callback URLs, PKCE passed.
    Every check runs on the record as it is; the code is consumed last, and only the record
    checked is exchanged (a code used meanwhile is the full endpoint's: its reuse)."""
    code = form.get("code", "")
    record = codes.peek(rt.state, pool.id, code)
    if record is None or record.client_id != client.id or record.redirect_uri not in client.callback_urls \
            or form.get("redirect_uri") != record.redirect_uri \
            or not pkce_passes(client, record, form.get("code_verifier")):
        raise Declined()
    if codes.consume(rt.state, pool.id, code) != record:
        raise Declined()
    return record


def _exchanged(session: Session, rt: Runtime, pool: UserPool, client: AppClient, record: codes.CodeRecord,
               ip: str | None) -> dict[str, Any]:
    """The code's tokens, committed (as :class:`.server.AuthorizationCodeGrant` makes them)."""
    user = code_user(session, pool.id, record)
    if user is None:
        raise NoUser()
    token = signed_in_tokens(
        session, rt.keys, rt.settings.base_url, pool, client, user, record.scope, grant_type="authorization_code",
        include_refresh_token=grant_allowed(client, "refresh_token"), ip=ip, auth_time=record.auth_time,
        origin_jti=record.origin_jti, event_id=record.event_id, nonce=record.nonce, amr=record.amr, sid=record.sid)
    session.commit()
    return token


def _refreshable(rt: Runtime, pool: UserPool, client: AppClient, value: str) -> StoredRefreshToken:
    """The live, unrotated refresh token ``value`` of a client that does not rotate them."""
    stored = None if client.rotate_refresh_tokens else read_live(rt.db, pool.id, client.id, value)
    if stored is None:
        raise Declined()
    return stored


def _refreshed(session: Session, rt: Runtime, pool: UserPool, client: AppClient,
               stored: StoredRefreshToken) -> dict[str, Any]:
    """New access and ID tokens for ``stored``, the trigger's changes applied (as
    :class:`.server.RefreshTokenGrant` makes them)."""
    token, user = stored.row, stored.user
    granted = still_allowed(client, token.scope)
    overrides = pre_token(session, pool, client, user, granted, pre_token_trigger.REFRESH_TOKENS)
    return issue_tokens(session, rt.keys, rt.settings.base_url, pool, client, user, granted, token.auth_time,
                        token.origin_jti, token.event_id, include_refresh_token=False, amr=tuple(token.amr or ()),
                        overrides=overrides, sid=token.sid)


def _scopes(client: AppClient, scope: str | None) -> tuple[str, ...]:
    """A client_credentials token's scopes (:func:`.server.machine_scopes`)."""
    try:
        scopes = machine_scopes(client, list(scope_rules.requested(scope)))
    except scope_rules.ScopeError:
        raise Declined() from None
    if scopes is None or not client.secret_hash:
        raise Declined()
    return scopes
