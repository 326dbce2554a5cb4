"""Looking up refresh tokens, with rotation and reuse detection (RFC 9700 §4.14.2).

Rotation is decided by one conditional UPDATE (``... WHERE rotated_at IS NULL``): of any
number of requests presenting one token at once, exactly one rotates it. The others, and
any later replay, see a rotated token:

- past the client's grace period this is reuse, as RFC 9700 §4.14.2 describes it: the
  server cannot tell the thief from the client, so the whole family is revoked
  (``RefreshTokenReuse``, audited once);
- within it, it is a retry (Cognito's ``RetryGracePeriodSeconds``: "This allows for
  client-side retries"), answered with fresh access and ID tokens and *the same* successor
  refresh token, never a second one: the successor's value is derived from the rotated
  token under the server's secret key (:func:`successor_of`), so a retry can be handed it
  again although only its hash is stored, and the family keeps exactly one live refresh
  token. If that successor has itself been rotated or revoked meanwhile, the retry is
  refused: the client that holds the family has moved on.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any

from flask import current_app, g, request
from sqlalchemy.orm import Session

from ..runtime import runtime
from ..store import repo
from ..store.db import Database
from ..store.refresh_read import TokenView, UserView
from ..store.models import RefreshToken, User, utcnow
from ..userpool import audit


class StoredRefreshToken:
    """A refresh token and its user: entities of the request's session, or read-only views
    of them (:func:`read_live`)."""

    def __init__(self, row: RefreshToken | TokenView, user: User | UserView) -> None:
        self.row = row
        self.user = user

    def check_client(self, client: Any) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope


class RefreshTokenReused(Exception):
    """The token was rotated and is presented again past the grace period, or its
    successor is no longer live: refused (``invalid_grant``)."""


def find_refresh_token(value: str, client_id: str | None = None) -> StoredRefreshToken | None:
    """A usable refresh token of this pool (and of ``client_id`` when given). Reuse after
    rotation (past the grace period) revokes the whole family, as OAuth 2.0 Security BCP
    §4.14.2 recommends, and is audited (``RefreshTokenReuse``) once: the revoked family
    refuses the token before this point."""
    found = repo.get_refresh_token_and_user(g.db_session, value)
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if not live(row, g.pool.id, client_id, now):
        return None
    if row.rotated_at is not None and not _within_grace(row, row.rotated_at, now):
        _reused(row, user)
        return None
    return StoredRefreshToken(row, user)


def live(row: RefreshToken | TokenView, pool_id: str, client_id: str | None, now: dt.datetime) -> bool:
    """Whether a refresh token of the pool (and of ``client_id`` when given) is neither
    revoked nor expired: what every door asks of it before anything else."""
    return row.pool_id == pool_id and (client_id is None or row.client_id == client_id) and row.revoked_at is None \
        and row.expires_at > now


def read_live(db: Database, pool_id: str, client_id: str, value: str) -> StoredRefreshToken | None:
    """The :func:`live` refresh token ``value`` of this pool and client, never rotated, of a
    user still enabled, read in one statement without the ORM (:mod:`..store.refresh_read`);
    its row and user are read-only views. None for any other token: :func:`find_refresh_token`
    answers those, reuse detection included."""
    found = db.refresh_read.find(repo.sha256(value))
    if found is None:
        return None
    row, user = found
    usable = live(row, pool_id, client_id, utcnow()) and row.rotated_at is None and user.enabled
    return StoredRefreshToken(row, user) if usable else None


def issued_to_another_client(session: Session, pool_id: str, client_id: str, value: str) -> bool:
    """Whether ``value`` is a live refresh token of the pool issued to another client than
    ``client_id`` (looked up without :func:`find_refresh_token`'s reuse detection: another
    client presenting a rotated token must not revoke its family)."""
    found = repo.get_refresh_token_and_user(session, value)
    if found is None:
        return False
    row = found[0]
    return row.pool_id == pool_id and row.client_id != client_id and row.revoked_at is None \
        and row.expires_at > utcnow()


def revoke_family(session: Session, pool_id: str, origin_jti: str, client_id: str | None, token_type: str,
                  ip: str | None, **who: Any) -> None:
    """Revoke a token's whole family (its refresh tokens and every access token issued from
    them), as ``/oauth2/revoke`` (RFC 7009) and RevokeToken both do; audited as RevokeToken."""
    repo.revoke_origin(session, origin_jti)
    audit.record(session, pool_id, "RevokeToken", audit.PASS, ip=ip, **who, client_id=client_id,
                 token_type=token_type, origin_jti=origin_jti)


def successor_of(value: str) -> str:
    """The refresh token that replaces ``value`` when it rotates: an HMAC of it under the
    server's secret key, so nobody without the key can compute it, and a retry presenting
    ``value`` again gets the same successor. As long as ``secrets.token_urlsafe(48)``."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, b"refresh-token-successor:" + value.encode(), hashlib.sha384).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def rotate(token: StoredRefreshToken, value: str) -> tuple[str, bool]:
    """Rotate ``token`` (presented as ``value``): its successor's value, and whether this
    request rotated it (and so must store the successor). Raises :class:`RefreshTokenReused`
    when the token was rotated by another request and this one may not have its successor."""
    session = g.db_session
    successor = successor_of(value)
    if repo.mark_rotated(session, token.row.id, utcnow()):
        return successor, True
    rotated_at = repo.rotated_at(session, token.row.id)  # rotated at once by another request, or revoked
    now = utcnow()
    if rotated_at is None:
        raise RefreshTokenReused()
    if not _within_grace(token.row, rotated_at, now):
        _reused(token.row, token.user)
        raise RefreshTokenReused()
    if not repo.refresh_token_live(session, successor, now):
        raise RefreshTokenReused()
    return successor, False


def _within_grace(row: RefreshToken, rotated_at: dt.datetime, now: dt.datetime) -> bool:
    client = runtime().config.client(g.db_session, g.pool.id, row.client_id)
    grace = client.refresh_grace_seconds if client else 0
    return now <= rotated_at + dt.timedelta(seconds=grace)


def _reused(row: RefreshToken, user: User) -> None:
    """Revoke the family; audited by the request that revoked it, so racing replays write one event."""
    if repo.revoke_origin(g.db_session, row.origin_jti):
        audit.record(g.db_session, g.pool.id, "RefreshTokenReuse", audit.BLOCK, user=user, ip=request.remote_addr,
                     client_id=row.client_id, origin_jti=row.origin_jti)
    g.db_session.commit()
