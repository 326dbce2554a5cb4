"""Adaptive authentication: each password sign-in gets a risk level from signals computed
here, and the pool's policy maps LOW / MEDIUM / HIGH to allow, require MFA, or block
(Cognito's adaptive authentication, without a third-party risk service).

Signals: a device (long-lived cookie) the user never completed a sign-in from; an IP
network (/24 for IPv4, /48 for IPv6) none of the user's devices last signed in from;
failed sign-ins for the user in the last hour. Anyone can fail sign-ins in a user's name, so
failures from elsewhere raise the risk of a device the user already signed in from by one
step at most (to MEDIUM on a known network): only failures from that device itself can make
it HIGH. A new device still counts them all. An admin's unlock or a password reset ends the
failures before it. Impossible travel needs a GeoIP database and is reported as not evaluated.
Devices the user chose to remember skip MFA (not a block) while the pool allows it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from ..store import repo
from ..store.models import AuditEvent, Device, User, UserPool, utcnow
from .security import Security

LOW, MEDIUM, HIGH = "LOW", "MEDIUM", "HIGH"
ALLOW, MFA, BLOCK = "ALLOW", "MFA", "BLOCK"
#: Events after which earlier failures no longer count toward the risk (``Pass`` only).
FRESH_START = ("AdminUnlockUser", "ConfirmForgotPassword", "AdminResendInvitation")
#: Enough failures to reach every threshold, however many there were.
MAX_FAILURES_READ = 200
#: The user's devices whose networks are known ones (the most recently seen).
RECENT_DEVICES = 50


@dataclass(frozen=True)
class Assessment:
    level: str
    action: str
    signals: dict[str, Any] = field(default_factory=dict)
    remembered: bool = False  # a remembered device: MFA may be skipped


def device_hash(device_key: str) -> str:
    return hashlib.sha256(f"device:{device_key}".encode()).hexdigest()


def network_of(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def assess(session: Session, pool: UserPool, user: User, device_key: str, ip: str,
           now: dt.datetime | None = None) -> Assessment:
    now = now or utcnow()
    key_hash = device_hash(device_key)
    device, networks = _devices(session, user, key_hash)
    here, elsewhere = recent_failures(session, pool, user, key_hash, now)
    failures = here + elsewhere
    signals = {"new_device": device is None, "new_network": network_of(ip) not in networks,
               "failed_last_hour": failures, "impossible_travel": "not evaluated (no GeoIP database)"}
    if device is None:
        failure_score = _failure_score(failures)
    else:  # others' failures cannot make a device the user signed in from HIGH risk
        failure_score = max(_failure_score(here), min(_failure_score(failures), 1))
    score = int(signals["new_device"]) + int(signals["new_network"]) + failure_score
    level = LOW if score == 0 else MEDIUM if score <= 2 else HIGH
    action = Security.of(pool.security).adaptive.get(level, ALLOW)
    remembered = bool(device and device.remembered_until and device.remembered_until > now)
    return Assessment(level, action, signals, remembered)


def _devices(session: Session, user: User, key_hash: str) -> tuple[Device | None, set[str]]:
    """This browser's device of the user, and the networks the user's
    :data:`RECENT_DEVICES` most recently seen devices last signed in from, in one read: the
    device first (whenever it was last seen), then the most recent others."""
    this = Device.key_hash == key_hash
    rows = session.scalars(select(Device).where(Device.user_id == user.id, this | Device.last_ip.is_not(None))
                           .order_by(this.desc(), Device.last_seen.desc()).limit(RECENT_DEVICES + 1)).all()
    device = rows[0] if rows and rows[0].key_hash == key_hash else None
    recent = sorted((r for r in rows if r.last_ip is not None), key=lambda r: r.last_seen, reverse=True)
    return device, {network_of(r.last_ip) for r in recent[:RECENT_DEVICES]}


def _failure_score(failures: int) -> int:
    return (1 if failures >= 3 else 0) + (2 if failures >= 10 else 0)


def recent_failures(session: Session, pool: UserPool, user: User, device: str, now: dt.datetime) -> tuple[int, int]:
    """The user's failed sign-ins in the last hour, from this device and from anywhere else;
    only those after the user's last unlock or password reset, which end what came before."""
    since = now - dt.timedelta(hours=1)
    fresh_start = select(func.max(AuditEvent.created_at)).where(
        AuditEvent.pool_id == pool.id, AuditEvent.user_id == user.id, AuditEvent.event.in_(FRESH_START),
        AuditEvent.outcome == "Pass", AuditEvent.created_at > since).scalar_subquery()
    failed = select(AuditEvent.details).where(
        AuditEvent.pool_id == pool.id, AuditEvent.user_id == user.id, AuditEvent.event == "SignIn",
        AuditEvent.outcome == "Fail",
        AuditEvent.created_at > func.coalesce(fresh_start, literal(since, AuditEvent.created_at.type)))
    tags = [details.get("device") if isinstance(details, dict) else None
            for details in session.scalars(failed.limit(MAX_FAILURES_READ))]
    here = sum(1 for tag in tags if tag == device_tag(device))
    return here, len(tags) - here


def device_tag(key_hash: str) -> str:
    """What a failed sign-in's audit event keeps of its device: enough to tell devices apart."""
    return key_hash[:16]


def find_device(session: Session, user: User, device_key: str) -> Device | None:
    stmt = select(Device).where(Device.user_id == user.id, Device.key_hash == device_hash(device_key))
    return session.scalars(stmt).first()


def seen(session: Session, user: User, device_key: str, ip: str, user_agent: str | None,
         remember_days: int = 0) -> None:
    """Note a completed sign-in from this device; ``remember_days`` lets it skip MFA that long.

    Whatever happened since the device was read, it lands (:func:`repo.note_device`): two
    sign-ins of the user from one browser at once (a double-submitted form), or a device
    ``broker db prune`` deleted meanwhile."""
    now = utcnow()
    values = {"last_seen": now, "last_ip": ip[:64], "user_agent": (user_agent or "")[:512] or None}
    if remember_days > 0:
        values["remembered_until"] = now + dt.timedelta(days=remember_days)
    repo.note_device(session, user.id, device_hash(device_key), now, values)
