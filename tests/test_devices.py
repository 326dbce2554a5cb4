"""The device a sign-in notes (risk scoring, remembered devices): one row per user and
browser, whatever else touched it since the sign-in read it. On SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from broker.store.db import Database
from broker.store.models import AuditEvent, Device, User, UserPool, utcnow
from broker.userpool import risk
from broker.userpool.retention import Retention, prune

DEVICE_KEY = "browser-cookie-key"


@pytest.fixture
def db(migrated_db: Database) -> Iterator[Database]:
    with migrated_db.session() as s:
        s.add(UserPool(id="local_devices", name="p"))
        s.flush()
        s.add(User(pool_id="local_devices", username="alice"))
    yield migrated_db


def _assess(s: Session, ip: str) -> tuple[User, risk.Assessment]:
    """What the password step of a sign-in reads before it notes the device."""
    user = s.scalars(select(User)).one()
    return user, risk.assess(s, s.get(UserPool, "local_devices"), user, DEVICE_KEY, ip)


def _devices(db: Database) -> list[tuple]:
    with db.session() as s:
        return [tuple(row) for row in s.execute(select(Device.key_hash, Device.last_ip, Device.user_agent,
                                                             Device.remembered_until.is_not(None)))]


def test_two_sign_ins_from_one_new_browser_at_once_both_land_on_one_row(db):
    """A double-submitted sign-in form: both requests read "new device"; the second notes it
    while the first has written it but not yet committed (so it waits for that row)."""
    with db.session() as first, db.session() as second:
        user_1, assessed_1 = _assess(first, "192.0.2.1")
        user_2, assessed_2 = _assess(second, "192.0.2.2")
        assert assessed_1.signals["new_device"] and assessed_2.signals["new_device"]
        risk.seen(first, user_1, DEVICE_KEY, "192.0.2.1", "UA 1")

        def note_second() -> None:
            risk.seen(second, user_2, DEVICE_KEY, "192.0.2.2", "UA 2", remember_days=30)
            second.commit()

        with ThreadPoolExecutor(1) as pool:
            noting = pool.submit(note_second)
            time.sleep(0.3)
            assert not noting.done()  # waiting for the first request's row
            first.commit()
            noting.result(timeout=30)
    assert _devices(db) == [(risk.device_hash(DEVICE_KEY), "192.0.2.2", "UA 2", True)]


def test_a_device_pruned_during_the_sign_in_that_uses_it_is_noted_again(db):
    with db.session() as s:
        user, _ = _assess(s, "192.0.2.1")
        risk.seen(s, user, DEVICE_KEY, "192.0.2.1", "UA", remember_days=30)
        s.flush()
        s.execute(update(Device).values(last_seen=utcnow() - dt.timedelta(days=181), remembered_until=None))
    with db.session() as signing_in:
        user, assessed = _assess(signing_in, "192.0.2.1")
        assert not assessed.signals["new_device"]
        with db.session() as pruning:
            assert prune(pruning, Retention())["Devices"] == 1
        risk.seen(signing_in, user, DEVICE_KEY, "192.0.2.1", "UA")
    assert _devices(db) == [(risk.device_hash(DEVICE_KEY), "192.0.2.1", "UA", False)]


def test_a_known_device_keeps_its_row_its_memory_and_the_id_sequence(db):
    """Later sign-ins from a remembered device, not asking again, keep it remembered; they
    update its row without drawing ids (PostgreSQL's upsert would draw one each time)."""
    with db.session() as s:
        user, _ = _assess(s, "192.0.2.1")
        risk.seen(s, user, DEVICE_KEY, "192.0.2.1", "UA", remember_days=30)
        for _ in range(3):
            risk.seen(s, user, DEVICE_KEY, "192.0.2.9", "UA 2")
        risk.seen(s, user, "another-browser", "192.0.2.1", "UA")
    with db.session() as s:
        rows = s.execute(select(Device.id, Device.key_hash, Device.last_ip, Device.remembered_until.is_not(None))
                         .order_by(Device.id)).all()
    assert [tuple(r)[1:] for r in rows] == [(risk.device_hash(DEVICE_KEY), "192.0.2.9", True),
                                            (risk.device_hash("another-browser"), "192.0.2.1", False)]
    assert rows[1].id == rows[0].id + 1


def test_networks_come_from_the_most_recent_devices_and_the_device_is_found_however_old(db):
    """One read finds this browser's device among many (the oldest of them, here) and the
    networks of the user's 50 most recently seen devices, not of older ones."""
    now = utcnow()
    with db.session() as s:
        user = s.scalars(select(User)).one()
        s.add(Device(user_id=user.id, key_hash=risk.device_hash(DEVICE_KEY), last_ip="192.0.2.7",
                     first_seen=now - dt.timedelta(days=90), last_seen=now - dt.timedelta(days=90)))
        for n in range(55):  # 50 recent ones on 10.n.0.0/24, five older on 172.16.n.0/24
            older = n >= risk.RECENT_DEVICES
            seen = now - dt.timedelta(days=30 + n if older else n)
            s.add(Device(user_id=user.id, key_hash=f"other-{n}", first_seen=seen, last_seen=seen,
                         last_ip=f"172.16.{n}.1" if older else f"10.{n}.0.1"))
        s.add(Device(user_id=user.id, key_hash="never-signed-in", first_seen=now, last_seen=now))
    with db.session() as s:
        _, recent = _assess(s, "10.49.0.200")
        _, older = _assess(s, "172.16.50.9")
        _, own = _assess(s, "192.0.2.200")
    assert (recent.signals["new_device"], recent.signals["new_network"]) == (False, False)
    assert older.signals["new_network"] is True  # the 51st most recent device does not count
    assert own.signals["new_network"] is True  # nor does this device's own network, 90 days old
    with db.session() as s:
        user = s.scalars(select(User)).one()
        s.execute(update(Device).where(Device.key_hash == risk.device_hash(DEVICE_KEY)).values(last_seen=now))
    with db.session() as s:
        _, own = _assess(s, "192.0.2.200")
    assert own.signals["new_network"] is False  # once seen again, it is among the recent ones


def test_failures_count_from_the_last_unlock_or_reset_within_the_hour(db):
    """Failed sign-ins of the last hour count, from this device and elsewhere, except those
    before the last ``Pass`` of an unlock or password reset."""
    now = utcnow()
    tag = risk.device_tag(risk.device_hash(DEVICE_KEY))

    def event(minutes_ago: int, name: str = "SignIn", outcome: str = "Fail", device: str = "elsewhere") -> AuditEvent:
        return AuditEvent(pool_id="local_devices", user_id=user_id, event=name, outcome=outcome,
                          details={"device": device}, created_at=now - dt.timedelta(minutes=minutes_ago))

    with db.session() as s:
        user_id = s.scalars(select(User)).one().id
        s.add_all([event(90), event(50), event(40, device=tag), event(30), event(20, device=tag)])
    with db.session() as s:
        user = s.scalars(select(User)).one()
        assert risk.recent_failures(s, s.get(UserPool, "local_devices"), user, risk.device_hash(DEVICE_KEY),
                                    now) == (2, 2)  # the one of 90 minutes ago is too old
        s.add_all([event(35, "AdminUnlockUser", "Pass"), event(25, "ConfirmForgotPassword", "Fail")])
        s.flush()
        assert risk.recent_failures(s, s.get(UserPool, "local_devices"), user, risk.device_hash(DEVICE_KEY),
                                    now) == (1, 1)  # after the unlock; a failed reset ends nothing
