"""``broker db prune``: each kind of row goes just past its boundary and not before, a
remembered device stays, a dry run deletes nothing, 0 days keep for ever, work is done in
batches, and a pruned revoked family never brings one of its refresh tokens back. On SQLite
and PostgreSQL; the command itself against a running server."""
from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any, Iterator

import pytest
import requests
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from broker.errors import InvalidInput
from broker.oauth.issue import new_refresh_token
from broker.oauth.keys import SKEW
from broker.oauth.tokens import Grant
from broker.store import repo
from broker.store.db import Database
from broker.store.models import AppClient, AuditEvent, Device, RefreshToken, RevokedOrigin, User, UserPool, utcnow
from broker.userpool import retention
from broker.userpool.retention import Retention, prune
from tests.conftest import Broker, broker_env, free_port
from tests.test_cli import _one_document, _refused

SECOND = dt.timedelta(seconds=1)
#: The longest access-token lifetime (86400 s) plus the verifiers' clock skew.
TOKEN_WINDOW = dt.timedelta(seconds=86400 + SKEW)
PASSWORD = "Corr3ct-Horse!"


@pytest.fixture
def db(migrated_db: Database) -> Iterator[Database]:
    with migrated_db.session() as s:
        s.add(UserPool(id="local_prune", name="p"))
        s.flush()
        s.add_all([AppClient(id="app", pool_id="local_prune", name="app"),
                   User(pool_id="local_prune", username="alice")])
    yield migrated_db


def _user_id(s: Session) -> int:
    return s.scalars(select(User.id)).one()


def _token(s: Session, name: str, expires_at: dt.datetime, origin: str | None = None) -> None:
    s.add(RefreshToken(token_hash=name, pool_id="local_prune", client_id="app", user_id=_user_id(s),
                       origin_jti=origin or str(uuid.uuid4()), event_id=str(uuid.uuid4()), auth_time=0,
                       expires_at=expires_at))


def _device(s: Session, name: str, last_seen: dt.datetime, remembered_until: dt.datetime | None = None) -> None:
    s.add(Device(user_id=_user_id(s), key_hash=name, first_seen=last_seen, last_seen=last_seen,
                 remembered_until=remembered_until))


def _audit(s: Session, name: str, created_at: dt.datetime) -> None:
    s.add(AuditEvent(pool_id="local_prune", event=name, outcome="Pass", created_at=created_at))


def _seed_boundaries(db: Database, now: dt.datetime) -> None:
    """For each kind, a row one second inside its boundary (kept) and one outside (deleted);
    and a token stored after its family ``ro-gone`` was revoked (kept as a row; marked revoked
    when its family's row goes, which another test checks)."""
    with db.session() as s:
        _token(s, "rt-kept", now - TOKEN_WINDOW + SECOND)
        _token(s, "rt-gone", now - TOKEN_WINDOW - SECOND)
        _token(s, "rt-late", now + dt.timedelta(days=30), origin="ro-gone")
        s.add_all([RevokedOrigin(origin_jti="ro-kept", revoked_at=now - TOKEN_WINDOW + SECOND),
                   RevokedOrigin(origin_jti="ro-gone", revoked_at=now - TOKEN_WINDOW - SECOND)])
        _audit(s, "audit-kept", now - dt.timedelta(days=90) + SECOND)
        _audit(s, "audit-gone", now - dt.timedelta(days=90) - SECOND)
        _device(s, "dev-kept", now - dt.timedelta(days=180) + SECOND)
        _device(s, "dev-gone", now - dt.timedelta(days=180) - SECOND)


def _left(db: Database) -> dict[str, Any]:
    """What is in the store: refresh tokens with their revoked_at, and the other kinds' names."""
    with db.sessions() as s:
        return {"RefreshTokens": dict(s.execute(select(RefreshToken.token_hash, RefreshToken.revoked_at)).all()),
                "RevokedOrigins": set(s.scalars(select(RevokedOrigin.origin_jti))),
                "AuditEvents": set(s.scalars(select(AuditEvent.event))),
                "Devices": set(s.scalars(select(Device.key_hash)))}


def _prune(db: Database, **kwargs: Any) -> dict[str, int]:
    with db.session() as s:
        return prune(s, **kwargs)


def test_each_kind_is_pruned_just_past_its_boundary(db: Database) -> None:
    now = utcnow()
    _seed_boundaries(db, now)
    counts = _prune(db, now=now)
    assert counts == {"RefreshTokens": 1, "RevokedOrigins": 1, "AuditEvents": 1, "Devices": 1}
    left = _left(db)
    assert left["RefreshTokens"].keys() == {"rt-kept", "rt-late"}
    assert left["RevokedOrigins"] == {"ro-kept"}
    assert left["AuditEvents"] == {"audit-kept"}
    assert left["Devices"] == {"dev-kept"}


def test_a_remembered_device_is_kept_however_long_unseen(db: Database) -> None:
    now, long_ago = utcnow(), utcnow() - dt.timedelta(days=400)
    with db.session() as s:
        _device(s, "remembered", long_ago, remembered_until=now + SECOND)
        _device(s, "remembered-until-now", long_ago, remembered_until=now)  # risk.assess: no longer
        _device(s, "never-remembered", long_ago)
    assert _prune(db, now=now)["Devices"] == 2
    assert _left(db)["Devices"] == {"remembered"}


def test_a_dry_run_deletes_nothing_and_counts_what_a_prune_deletes(db: Database) -> None:
    now = utcnow()
    _seed_boundaries(db, now)
    before = _left(db)
    counted = _prune(db, now=now, dry_run=True)
    assert _left(db) == before  # nothing deleted, no late token marked revoked
    assert counted == _prune(db, now=now) == {"RefreshTokens": 1, "RevokedOrigins": 1, "AuditEvents": 1,
                                              "Devices": 1}


def test_zero_days_keep_audit_events_and_devices_for_ever(db: Database) -> None:
    now, ages_ago = utcnow(), utcnow() - dt.timedelta(days=3650)
    with db.session() as s:
        _audit(s, "ancient", ages_ago)
        _device(s, "ancient", ages_ago)
    assert _prune(db, retention=Retention(audit_days=0, device_days=0), now=now) == {
        "RefreshTokens": 0, "RevokedOrigins": 0, "AuditEvents": 0, "Devices": 0}
    assert _left(db)["AuditEvents"] == _left(db)["Devices"] == {"ancient"}


def test_negative_days_are_refused() -> None:
    for days in ({"audit_days": -1}, {"device_days": -1}):
        with pytest.raises(InvalidInput):
            Retention(**days)


def _grant(client_id: str) -> Grant:
    return Grant(issuer="", client_id=client_id, scopes=("openid",), auth_time=int(time.time()),
                 origin_jti=str(uuid.uuid4()), event_id=str(uuid.uuid4()))


def _revoke_with_late_token(s: Session, client: AppClient, user: User, revoked_at: dt.datetime) -> tuple[str, str]:
    """A family revoked at ``revoked_at`` whose refresh token was stored after the revocation
    (a code replayed while its first exchange was answered: tests/test_refresh_families.py):
    the family and the late token."""
    family = _grant(client.id)
    repo.revoke_origin(s, family.origin_jti)
    s.execute(update(RevokedOrigin).where(RevokedOrigin.origin_jti == family.origin_jti).values(revoked_at=revoked_at))
    return family.origin_jti, new_refresh_token(s, client, user, family)


def _usable(s: Session, token: str) -> bool:
    """What the refresh grant (broker.oauth.refresh.find_refresh_token) accepts, time aside."""
    found = repo.get_refresh_token_and_user(s, token)
    return found is not None and found[0].revoked_at is None


def test_a_pruned_revoked_family_never_brings_its_late_token_back(db: Database) -> None:
    now = utcnow()
    with db.session() as s:
        client, user = s.get(AppClient, "app"), s.scalars(select(User)).one()
        old, old_late = _revoke_with_late_token(s, client, user, now - TOKEN_WINDOW - SECOND)
        recent, recent_late = _revoke_with_late_token(s, client, user, now - TOKEN_WINDOW + SECOND)
        sound = new_refresh_token(s, client, user, _grant(client.id))
    with db.sessions() as s:
        assert not _usable(s, old_late) and not _usable(s, recent_late) and _usable(s, sound)

    assert _prune(db, now=now)["RevokedOrigins"] == 1
    with db.sessions() as s:
        assert s.get(RevokedOrigin, old) is None and s.get(RevokedOrigin, recent) is not None
        assert not _usable(s, old_late) and not _usable(s, recent_late) and _usable(s, sound)
        marked = s.scalars(select(RefreshToken.revoked_at).where(RefreshToken.origin_jti == old)).one()
        assert marked == now - TOKEN_WINDOW - SECOND  # as of the family's revocation
        # the recent family's row still refuses its late token: nothing to mark yet
        assert s.scalars(select(RefreshToken.revoked_at).where(RefreshToken.origin_jti == recent)).one() is None


def test_prune_works_in_batches_past_the_first(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "BATCH", 3)
    now, old = utcnow(), utcnow() - dt.timedelta(days=400)
    with db.session() as s:
        for i in range(10):
            _token(s, f"rt-{i}", old)
            _token(s, f"late-{i}", now + dt.timedelta(days=30), origin=f"family-{i}")
            s.add(RevokedOrigin(origin_jti=f"family-{i}", revoked_at=old))
            _audit(s, f"audit-{i}", old)
            _device(s, f"dev-{i}", old)
    commits: list[None] = []
    with db.session() as s:
        event.listen(s, "after_commit", lambda _s: commits.append(None))
        counts = prune(s, now=now)
    assert counts == {"RefreshTokens": 10, "RevokedOrigins": 10, "AuditEvents": 10, "Devices": 10}
    assert len(commits) == 4 * 4 + 1  # 4 batches of at most 3 rows per kind, then the session's own
    left = _left(db)
    assert set(left["RefreshTokens"]) == {f"late-{i}" for i in range(10)}
    assert all(revoked_at == old for revoked_at in left["RefreshTokens"].values())
    assert left["RevokedOrigins"] == left["AuditEvents"] == left["Devices"] == set()


# -- the command ---------------------------------------------------------------------

def _refresh(broker: Broker, pool: str, client: str, token: str) -> int:
    return requests.post(broker.url(pool, "/oauth2/token"), timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": token, "client_id": client}).status_code


def test_db_prune_command_prunes_and_a_pruned_family_stays_refused(make_broker, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/broker.db"
    broker = make_broker(database_url=url)
    pool = broker.pool()
    client_id = broker.cli_json("client", "create", "--pool", pool, "--name", "app",
                                "--callback-url", "https://app.example/cb",
                                "--no-rotate-refresh-tokens")["ClientId"]  # `sound` is refreshed twice
    broker.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD, "--confirmed")
    db, old = Database(url), utcnow() - dt.timedelta(days=400)
    try:
        with db.session() as s:
            client, user = repo.get_client(s, pool, client_id), repo.get_user(s, pool, "alice")
            _family, late = _revoke_with_late_token(s, client, user, old)
            sound = new_refresh_token(s, client, user, _grant(client_id))
            s.add(AuditEvent(pool_id=pool, event="Old", outcome="Pass", created_at=old))
    finally:
        db.dispose()
    assert (_refresh(broker, pool, client_id, late), _refresh(broker, pool, client_id, sound)) == (400, 200)

    dry = _one_document(broker.cli("db", "prune", "--dry-run", "--json"))
    assert dry == {"RefreshTokens": 0, "RevokedOrigins": 1, "AuditEvents": 1, "Devices": 0, "DryRun": True}
    assert _one_document(broker.cli("db", "prune", "--json")) == {**dry, "DryRun": False}
    assert _one_document(broker.cli("db", "prune", "--json"))["RevokedOrigins"] == 0
    assert (_refresh(broker, pool, client_id, late), _refresh(broker, pool, client_id, sound)) == (400, 200)


def test_db_prune_refuses_bad_days_and_deletes_nothing(tmp_path) -> None:
    url, port = f"sqlite:///{tmp_path}/cli.db", free_port()  # only for BROKER_BASE_URL: no server
    cli = Broker(base_url=f"http://127.0.0.1:{port}", env=broker_env(tmp_path, url, None, port))
    cli.pool()  # the CLI's database exists
    db = Database(url)
    try:
        with db.session() as s:
            pool = s.scalars(select(UserPool.id)).first()
            s.add(AuditEvent(pool_id=pool, event="Ancient", outcome="Pass",
                             created_at=utcnow() - dt.timedelta(days=3650)))
        cases = [(("db", "prune", "--audit-days", "-1"), "--audit-days"),
                 (("db", "prune", "--device-days", "-5"), "--device-days"),
                 (("db", "prune", "--audit-days", "ten"), "--audit-days"),
                 (("db", "prune", "--device-days", "1.5"), "--device-days")]
        _refused([cli.cli(*args, check=False) for args, _ in cases], cases)
        with db.sessions() as s:
            assert s.scalars(select(AuditEvent.id).where(AuditEvent.event == "Ancient")).one()
    finally:
        db.dispose()
