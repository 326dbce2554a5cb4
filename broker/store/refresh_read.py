"""The refresh grant's one read, without the ORM: a refresh token with its user and the
user's groups, from one SQL statement compiled once, on a connection of its own that
autocommits (no ``BEGIN``, no ``COMMIT``, no ping before each use).

A pooled PostgreSQL connection may have died since its last use (a server restart): the
read finds out by failing, and since it changes nothing it is simply made again on a new
connection, once. That is what ``pool_pre_ping`` does for the sessions, for one round trip
per request less.

    token, user = db.refresh_read.find(repo.sha256(value))   # or None
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from .models import Group, RefreshToken, RevokedOrigin, User, UserGroup

_TOKEN = (RefreshToken.id, RefreshToken.pool_id, RefreshToken.client_id, RefreshToken.scope, RefreshToken.origin_jti,
          RefreshToken.event_id, RefreshToken.auth_time, RefreshToken.amr, RefreshToken.sid, RefreshToken.expires_at,
          RefreshToken.rotated_at, RefreshToken.revoked_at)
_USER = (User.id, User.pool_id, User.sub, User.username, User.status, User.enabled, User.attributes)
_GROUP = (Group.name, Group.precedence, Group.role_arn)


@dataclass(frozen=True)
class TokenView:
    """A refresh token's columns as the grant reads them (:class:`~.models.RefreshToken`'s names)."""

    id: int
    pool_id: str
    client_id: str
    scope: str
    origin_jti: str
    event_id: str
    auth_time: int
    amr: list[str] | None
    sid: str | None
    expires_at: dt.datetime
    rotated_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class GroupView:
    """A group as tokens read it (:class:`~.models.Group`'s names)."""

    name: str
    precedence: int | None
    role_arn: str | None


@dataclass(frozen=True)
class UserView:
    """A user as the tokens and the PreTokenGeneration trigger read it: the columns of
    :class:`~.models.User` that :func:`broker.oauth.issue.subject_of` and the trigger's
    event read, by the same names, and the groups; not an entity of any session, so
    nothing of it can be written by mistake (and it costs no ORM instrumentation)."""

    id: int
    pool_id: str
    sub: str
    username: str
    status: str
    enabled: bool
    attributes: dict[str, Any]
    groups: list[GroupView]


class Gone(Exception):
    """The connection was found dead (the database restarted since its last use)."""


class RefreshRead:
    """Reads of refresh tokens for one :class:`~broker.store.db.Database`."""

    def __init__(self, url: str, engine_options: dict[str, Any], on_connect: Any = None) -> None:
        self.engine: Engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=False,
                                            pool_reset_on_return=None, **engine_options)
        if on_connect is not None:
            event.listen(self.engine, "connect", on_connect)
        revoked = select(RevokedOrigin.origin_jti).where(RevokedOrigin.origin_jti == RefreshToken.origin_jti).exists()
        stmt = (select(*_TOKEN, *_USER, *_GROUP).select_from(RefreshToken)
                .join(User, User.id == RefreshToken.user_id)
                .outerjoin(UserGroup, UserGroup.user_id == User.id).outerjoin(Group, Group.id == UserGroup.group_id)
                .where(RefreshToken.token_hash == bindparam("token_hash"), ~revoked))
        dialect = self.engine.dialect
        self._compiled = stmt.compile(dialect=dialect)
        self._sql = str(self._compiled)
        columns = (*_TOKEN, *_USER, *_GROUP)
        self._processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

    def find(self, token_hash: str) -> tuple[TokenView, UserView] | None:
        """The token of SHA-256 ``token_hash`` and its user, unless its family was revoked."""
        found = self._execute(self._args(token_hash))
        rows = [[p(v) if p else v for p, v in zip(self._processors, row)] for row in found]
        if not rows:
            return None
        t, u = len(_TOKEN), len(_TOKEN) + len(_USER)
        groups = [GroupView(*row[u:]) for row in rows if row[u] is not None]  # (a group's name is never null)
        return TokenView(*rows[0][:t]), UserView(*rows[0][t:u], groups=groups)

    def _args(self, token_hash: str) -> Any:
        params = self._compiled.construct_params({"token_hash": token_hash})
        return tuple(params[n] for n in self._compiled.positiontup) if self._compiled.positional else params

    def _execute(self, args: Any) -> list[Any]:
        """The rows; a failure raises SQLAlchemy's error for it (``OperationalError``...), as
        a session's would. A connection found dead is replaced, and the read made again, once."""
        try:
            return self._once(args, retry=True)
        except Gone:
            return self._once(args, retry=False)

    def _once(self, args: Any, retry: bool) -> list[Any]:
        dialect = self.engine.dialect
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, args)
                return cursor.fetchall()
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            error = DBAPIError.instance(self._sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect)
            if dialect.is_disconnect(exc, connection.dbapi_connection, None):
                connection.invalidate(exc)
                self.engine.dispose()  # the others died with it: new connections from here on
                if retry:
                    raise Gone() from error
            raise error from exc
        finally:
            connection.close()

    def warm(self) -> None:
        """As many connections as the pool keeps, open at once, each having made the read
        (of no token): every database process behind them has loaded what the read needs."""
        size = self.engine.pool.size() if isinstance(self.engine.pool, QueuePool) else 1
        args = self._args("")
        held = [self.engine.raw_connection() for _ in range(size)]
        try:
            for connection in held:
                cursor = connection.cursor()
                try:
                    cursor.execute(self._sql, args)
                    cursor.fetchall()
                finally:
                    cursor.close()
        finally:
            for connection in held:
                connection.close()

    def dispose(self) -> None:
        self.engine.dispose()
