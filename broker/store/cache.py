"""Configuration read on every request (user pools, app clients, hosted-UI branding), kept
in each process, as Keycloak keeps realms and clients.

Every flush that writes a configuration row, in any process (a node, the CLI), also bumps
the single ``config_version`` row in the same transaction. A process compares the version
it last saw with the database's at most once every ``check_seconds`` (at most once per
request), and drops everything it cached when the version moved; its own commits drop it at
once. A change is therefore seen at once by the process that made it and within
``check_seconds`` by every other process and node. Each entry remembers the version it was
loaded under, so a load that raced a change is never served after the change is seen.

Cached rows are detached ORM objects shared by the threads of a process: read them, never
change them. Administration loads its own rows through :mod:`broker.store.repo`.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Hashable, TypeVar

from sqlalchemy import event, inspect, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from . import repo
from .models import AppClient, ConfigVersion, IdentityKey, IdentityProvider, ResourceServer, SigningKey, UiCustomization, \
    UserPool

#: Rows whose change must reach every node's cache.
CONFIG_TYPES = (UserPool, AppClient, SigningKey, UiCustomization, IdentityProvider, ResourceServer, IdentityKey)
#: Entries kept before the cache starts over (pools and clients are few; this bounds a mistake).
MAX_ENTRIES = 10_000
_BUMPED = "broker.config_bumped"
_CHECKED = "broker.config_checked"
_VERSION = ConfigVersion.__table__

T = TypeVar("T")


def track_changes(sessions: sessionmaker[Session], committed: list[Callable[[], None]]) -> None:
    """Sessions of ``sessions`` bump the version when they write configuration, and call
    each of ``committed`` after such a write commits."""
    event.listen(sessions, "after_flush", _bump_if_changed)
    event.listen(sessions, "after_commit", lambda session: _after_commit(session, committed))
    event.listen(sessions, "after_rollback", lambda session: session.info.pop(_BUMPED, None))


def _bump_if_changed(session: Session, _context: Any) -> None:
    if session.info.get(_BUMPED):
        return  # once per transaction is enough: its commit is what others see
    if not any(isinstance(o, CONFIG_TYPES) for o in (*session.new, *session.dirty, *session.deleted)):
        return
    conn = session.connection()
    bumped = conn.execute(update(_VERSION).where(_VERSION.c.id == 1).values(value=_VERSION.c.value + 1))
    if bumped.rowcount == 0:
        conn.execute(insert(_VERSION).values(id=1, value=1))
    session.info[_BUMPED] = True


def _after_commit(session: Session, committed: list[Callable[[], None]]) -> None:
    if session.info.pop(_BUMPED, None):
        for callback in committed:
            callback()


class ConfigCache:
    """Pools, app clients and derived configuration of one process, shared by its threads."""

    def __init__(self, check_seconds: float) -> None:
        self.check_seconds = check_seconds
        self._version: int | None = None
        self._checked = float("-inf")
        self._entries: dict[Hashable, tuple[int | None, Any]] = {}
        self._lock = threading.Lock()
        self._on_change: list[Callable[[], None]] = []

    def on_change(self, callback: Callable[[], None]) -> None:
        """Also call ``callback`` whenever the cache is dropped (other caches follow it)."""
        self._on_change.append(callback)

    def clear(self) -> None:
        """Drop everything and read the version again at the next request."""
        with self._lock:
            self._entries.clear()
            self._checked = float("-inf")
        for callback in self._on_change:
            callback()

    def get(self, session: Session, key: Hashable, load: Callable[[Session], T | None]) -> T | None:
        """The cached value of ``key``, or ``load(session)`` (kept unless it is None)."""
        version = self._current_version(session)
        hit = self._entries.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = load(session)
        if value is not None:
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (version, value)  # served only while the version stays
        return value

    def refresh(self, session: Session) -> None:
        """See changes made elsewhere now, as a read of the cache would (for caches that
        follow this one but are read without it, such as the identities' keys)."""
        self._current_version(session)

    def pool(self, session: Session, pool_id: str) -> UserPool | None:
        return self.get(session, ("pool", pool_id), lambda s: _detached(s, repo.get_pool(s, pool_id)))

    def client(self, session: Session, pool_id: str, client_id: str) -> AppClient | None:
        return self.get(session, ("client", pool_id, client_id),
                        lambda s: _detached(s, repo.get_client(s, pool_id, client_id)))

    def client_by_id(self, session: Session, client_id: str) -> AppClient | None:
        """An app client known by its id alone, as the JSON API's callers name it."""
        return self.get(session, ("client-id", client_id), lambda s: _detached(s, s.get(AppClient, client_id)))

    def backchannel_clients(self, session: Session, pool_id: str) -> list[AppClient]:
        """The pool's app clients that are told of sign-outs (a back-channel logout URL)."""
        def load(s: Session) -> list[AppClient]:
            rows = s.scalars(select(AppClient).where(AppClient.pool_id == pool_id,
                                                     AppClient.backchannel_logout_url.is_not(None))
                             .order_by(AppClient.id)).all()
            return [_detached(s, row) for row in rows]
        return self.get(session, ("backchannel", pool_id), load) or []

    def idps(self, session: Session, pool_id: str) -> list[IdentityProvider]:
        """The pool's identity providers by name (an empty list is cached too)."""
        def load(s: Session) -> list[IdentityProvider]:
            rows = s.scalars(select(IdentityProvider).where(IdentityProvider.pool_id == pool_id)
                             .order_by(IdentityProvider.name)).all()
            return [_detached(s, row) for row in rows]
        return self.get(session, ("idps", pool_id), load) or []

    def _current_version(self, session: Session) -> int | None:
        """The version this request works under: read from the database when
        ``check_seconds`` have passed since the last read (once per session at most)."""
        if session.info.get(_CHECKED) or time.monotonic() - self._checked < self.check_seconds:
            return self._version
        version = session.execute(select(_VERSION.c.value).where(_VERSION.c.id == 1)).scalar()
        session.info[_CHECKED] = True
        with self._lock:
            changed = version != self._version
            if changed:
                self._entries.clear()
                self._version = version
            self._checked = time.monotonic()
        if changed:
            for callback in self._on_change:
                callback()
        return version


def _detached(session: Session, row: T | None) -> T | None:
    """``row`` fully loaded and out of ``session``, so that other threads may read it."""
    if row is None:
        return None
    if inspect(row).unloaded:
        session.refresh(row)
    session.expunge(row)
    return row
