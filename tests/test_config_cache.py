"""The in-process caches (broker/store/cache.py, KeyCache): a cached pool or client costs
no query; a change made by another process is seen once the check interval has passed, a
change made by the same process at once; every kind of configuration write moves the
version, other writes do not; a load that raced a change is not kept; made-up key ids cannot
make every request reload the keys."""
from __future__ import annotations

import datetime as dt
import time
from typing import Iterator

import pytest
from sqlalchemy import event, select

from broker.branding import customize
from broker.oauth import keys
from broker.store.cache import ConfigCache
from broker.store.db import Database
from broker.store.models import ConfigVersion, UserPool, utcnow
from broker.userpool import admin, app_clients, idps, resource_servers


@pytest.fixture
def processes(migrated_db: Database, any_database_url: str) -> Iterator[tuple[Database, Database]]:
    """Two engines on one database, as two processes (or nodes) have."""
    second = Database(any_database_url)
    yield migrated_db, second
    second.dispose()


class Statements:
    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.count += 1

    def __call__(self) -> int:
        count, self.count = self.count, 0
        return count


def _new_pool(db: Database, name: str = "first") -> str:
    with db.session() as session:
        return admin.create_pool(session, name).id


def _rename(db: Database, pool_id: str, name: str) -> None:
    with db.session() as session:
        session.get(UserPool, pool_id).name = name


def _version(db: Database) -> int:
    with db.sessions() as session:
        return session.execute(select(ConfigVersion.value)).scalar_one()


def test_a_cached_pool_costs_no_query_and_another_process_change_shows_after_the_interval(processes):
    mine, other = processes
    pool_id = _new_pool(other)
    cache, statements = ConfigCache(check_seconds=1), Statements(mine)

    with mine.sessions() as session:
        assert cache.pool(session, pool_id).name == "first"
    assert statements() == 2  # the version, then the pool
    for _ in range(3):
        with mine.sessions() as session:
            assert cache.pool(session, pool_id).name == "first"
    assert statements() == 0

    _rename(other, pool_id, "renamed")
    time.sleep(1.1)
    with mine.sessions() as session:
        assert cache.pool(session, pool_id).name == "renamed"
        assert cache.pool(session, pool_id).name == "renamed"
    assert statements() == 2  # the version once per session, then the pool again


def test_a_change_committed_by_this_process_is_seen_at_once(processes):
    mine, _other = processes
    pool_id = _new_pool(mine)
    cache = ConfigCache(check_seconds=3600)
    mine.config_committed.append(cache.clear)
    with mine.sessions() as session:
        assert cache.pool(session, pool_id).name == "first"  # cached, checked again in an hour only
    with mine.session() as session:
        admin.require_pool(session, pool_id).name = "renamed"
    with mine.sessions() as session:
        assert cache.pool(session, pool_id).name == "renamed"


def test_unknown_ids_are_not_cached(processes):
    mine, other = processes
    cache = ConfigCache(check_seconds=3600)
    with mine.sessions() as session:
        assert cache.pool(session, "local_missing") is None
    pool_id = _new_pool(other)
    with mine.sessions() as session:
        assert cache.pool(session, "local_missing") is None
        assert cache.pool(session, pool_id).name == "first"  # never cached as missing
        assert cache.client(session, pool_id, "no-such-client") is None


def test_a_load_that_raced_a_change_is_not_kept(processes):
    mine, other = processes
    pool_id = _new_pool(other)
    cache = ConfigCache(check_seconds=0)

    def slow_load(session):  # reads the old row; meanwhile the change lands and is seen
        row = session.get(UserPool, pool_id)
        name = row.name
        _rename(other, pool_id, "renamed")
        with mine.sessions() as another_request:
            cache.pool(another_request, "local_missing")
        return name

    with mine.sessions() as session:
        assert cache.get(session, ("name", pool_id), slow_load) == "first"
    with mine.sessions() as session:
        assert cache.get(session, ("name", pool_id), lambda s: s.get(UserPool, pool_id).name) == "renamed"


def test_every_configuration_write_moves_the_version_and_nothing_else_does(processes):
    db, _other = processes
    pool_id = _new_pool(db)

    def moves(change) -> bool:
        before = _version(db)
        with db.session() as session:
            change(session)
        return _version(db) == before + 1

    assert moves(lambda s: setattr(admin.require_pool(s, pool_id), "mfa", "OPTIONAL"))
    assert moves(lambda s: resource_servers.create_resource_server(s, pool_id, "https://api.example", "api", ["read"]))
    assert moves(lambda s: app_clients.create_client(s, pool_id, "app", ["https://a.example/cb"]))
    assert moves(lambda s: keys.rotate(s, admin.require_pool(s, pool_id)))
    assert moves(lambda s: customize(s, None, pool_id, None, css=".banner-customizable { color: red }"))
    assert moves(lambda s: idps.create_idp(s, pool_id, "OIDC", "corp", {
        "client_id": "c", "client_secret": "s", "issuer": "https://idp.example"}))
    assert moves(lambda s: s.delete(admin.require_pool(s, pool_id)))

    other_pool = _new_pool(db, "second")
    assert not moves(lambda s: admin.create_user(s, other_pool, "alice", "Corr3ct-Horse!", {"email": "a@example.com"}))
    with db.sessions() as session:  # a rolled-back change leaves it as it was
        before = _version(db)
        admin.require_pool(session, other_pool).name = "never"
        session.flush()
        session.rollback()
    assert _version(db) == before


def test_a_key_rotated_in_elsewhere_is_found_at_once_and_made_up_kids_never_reload(processes):
    mine, other = processes
    pool_id = _new_pool(mine)
    key_cache, statements = keys.KeyCache(ttl=30), Statements(mine)
    with mine.sessions() as session:
        pool = session.get(UserPool, pool_id)
        first = key_cache.get(session, pool)
        statements()
        assert all(key_cache.get(session, pool, kid=f"made-up-{i}") is first for i in range(50))
        assert statements() == 50  # one primary-key lookup each, no reload
        for no_key_id in ("nul\x00byte", "x" * 65, "", "dot.ted", "é"):  # from unverified headers
            assert key_cache.get(session, pool, kid=no_key_id) is first
        assert statements() == 0  # not even looked up
        other_pool = _new_pool(other, "second")
        with other.session() as elsewhere:
            foreign = keys.rotate(elsewhere, admin.require_pool(elsewhere, other_pool)).kid
        assert key_cache.get(session, pool, kid=foreign) is first and statements() == 1  # not this pool's

        with other.session() as elsewhere:  # another node rotates: the new kid is found at once
            new_kid = keys.rotate(elsewhere, admin.require_pool(elsewhere, pool_id)).kid
        reloaded = key_cache.get(session, pool, kid=new_kid)
        assert new_kid in reloaded.kids and reloaded.signing.kid == new_kid
        assert statements() == 2  # the lookup, then the keys
        assert key_cache.get(session, pool, kid=new_kid) is reloaded and statements() == 0

        with other.session() as elsewhere:  # a key no longer published does not reload them
            expired = keys.rotate(elsewhere, admin.require_pool(elsewhere, pool_id))
            expired.expires_at, expired_kid = utcnow() - dt.timedelta(seconds=1), expired.kid
        assert key_cache.get(session, pool, kid=expired_kid) is reloaded and statements() == 1


def test_a_pools_identity_providers_are_cached_empty_or_not(processes):
    mine, other = processes
    pool_id = _new_pool(other)
    cache, statements = ConfigCache(check_seconds=1), Statements(mine)
    with mine.sessions() as session:
        assert cache.idps(session, pool_id) == []
    statements()
    with mine.sessions() as session:
        assert cache.idps(session, pool_id) == []
    assert statements() == 0
    with other.session() as session:
        idps.create_idp(session, pool_id, "OIDC", "corp", {"client_id": "c", "client_secret": "s",
                                                          "issuer": "https://idp.example"})
    time.sleep(1.1)
    with mine.sessions() as session:
        assert [(i.name, i.type, i.details["issuer"]) for i in cache.idps(session, pool_id)] == [
            ("corp", "OIDC", "https://idp.example")]


def test_keys_read_before_a_rotation_was_seen_are_not_kept(processes, monkeypatch):
    mine, _other = processes
    pool_id = _new_pool(mine)
    key_cache, statements = keys.KeyCache(ttl=30), Statements(mine)
    read = keys.POOL_KEY_ROWS.published

    def rotation_seen_meanwhile(session, pool_id, now=None):  # another thread clears while this one reads
        rows = read(session, pool_id, now)
        key_cache.clear()
        return rows

    with mine.sessions() as session:
        pool = session.get(UserPool, pool_id)
        monkeypatch.setattr(keys.POOL_KEY_ROWS, "published", rotation_seen_meanwhile)
        key_cache.get(session, pool)
        monkeypatch.setattr(keys.POOL_KEY_ROWS, "published", read)
        statements()
        key_cache.get(session, pool)
        assert statements() == 1  # read again: the keys read before the clear were not kept
        key_cache.get(session, pool)
        assert statements() == 0
