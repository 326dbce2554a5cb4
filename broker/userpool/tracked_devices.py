"""Cognito's tracked devices (the JSON API's remembered devices): a sign-in from a new device
gets ``NewDeviceMetadata`` (a DeviceKey and a DeviceGroupKey), the client proves it holds a
random device password by an SRP verifier it sets with ConfirmDevice, and later sign-ins
that name the DeviceKey answer DEVICE_SRP_AUTH with it; a remembered device then skips the
second factor, as the hosted UI's remembered browsers do.
https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-device-tracking.html

Devices share the hosted UI's table (:class:`broker.store.models.Device`): ``key_hash`` is
the hash of the DeviceKey, so risk scoring knows them; the verifier is sealed as users'
are. Tracking is on in a pool that remembers devices (``remember_devices_days`` > 0).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine.srp import N, Verifier
from ..store import repo
from ..store.models import Device, User, UserPool, utcnow
from . import srp_verifiers
from .risk import device_hash
from .security import Security

PURPOSE = "device-verifier"
MAX_NAME = 256


def tracking(pool: UserPool) -> bool:
    return Security.of(pool.security).remember_devices_days > 0


def new_device(session: Session, pool: UserPool, user: User) -> dict[str, str]:
    """A new device of ``user`` (Cognito's ``NewDeviceMetadata``): known, not yet confirmed."""
    key = f"{pool.id.split('_', 1)[0]}_{uuid.uuid4()}"
    group = "-" + secrets.token_urlsafe(9)
    now = utcnow()
    repo.note_device(session, user.id, device_hash(key), now, {"last_seen": now, "device_key": key, "group_key": group})
    return {"DeviceKey": key, "DeviceGroupKey": group}


def find(session: Session, user: User, device_key: str | None) -> Device | None:
    """``user``'s tracked device ``device_key`` (another user's is none of theirs)."""
    if not device_key or len(device_key) > 64:
        return None
    found = session.scalars(select(Device).where(Device.user_id == user.id, Device.device_key == device_key))
    return found.first()


def confirm(session: Session, pool: UserPool, device: Device, verifier_b64: str, salt_b64: str,
            name: str | None) -> None:
    """ConfirmDevice: keep the device's SRP verifier (sealed) and name; the device is
    remembered at once (Cognito's "always remember"). ValueError for a verifier that is
    not one."""
    try:
        verifier = int.from_bytes(base64.b64decode(verifier_b64, validate=True), "big")
        salt = base64.b64decode(salt_b64, validate=True).hex()
    except (binascii.Error, ValueError):
        raise ValueError("DeviceSecretVerifierConfig is not base64") from None
    if not 1 < verifier < N or not salt:
        raise ValueError("DeviceSecretVerifierConfig holds no SRP verifier")
    given = Verifier.loads(Verifier(salt, verifier).dumps())  # ValueError: a salt not in the SRP clients' own form
    device.srp_verifier = srp_verifiers.seal(session, PURPOSE, given, device.device_key or "")
    device.name = (name or "")[:MAX_NAME] or None
    remember(pool, device, True)


def verifier(session: Session, device: Device) -> Verifier | None:
    return srp_verifiers.unseal(session, PURPOSE, device.srp_verifier, bound_to=device.device_key or "")


def remember(pool: UserPool, device: Device, remembered: bool) -> None:
    """UpdateDeviceStatus: remembered devices skip the second factor for the pool's days."""
    days = Security.of(pool.security).remember_devices_days
    device.remembered_until = utcnow() + dt.timedelta(days=days) if remembered and days else None


def listed(session: Session, user: User, limit: int, after: int = 0) -> list[Device]:
    """``user``'s confirmed devices by id, ``limit`` of them after id ``after`` (ListDevices)."""
    stmt = select(Device).where(Device.user_id == user.id, Device.device_key.is_not(None),
                                Device.srp_verifier.is_not(None), Device.id > after)
    return list(session.scalars(stmt.order_by(Device.id).limit(limit)))


def is_remembered(device: Device) -> bool:
    """Whether ``device`` is remembered now (UpdateDeviceStatus, and not past its days)."""
    return device.remembered_until is not None and device.remembered_until > utcnow()


def describe(device: Device) -> dict[str, object]:
    """Cognito's ``DeviceType``."""
    remembered = "remembered" if is_remembered(device) else "not_remembered"
    attributes = [{"Name": "device_status", "Value": "valid"},
                  {"Name": "dev:device_remembered_status", "Value": remembered}]
    if device.name:
        attributes.append({"Name": "device_name", "Value": device.name})
    if device.last_ip:
        attributes.append({"Name": "last_ip_used", "Value": device.last_ip})
    return {"DeviceKey": device.device_key, "DeviceAttributes": attributes, "DeviceCreateDate": device.first_seen,
            "DeviceLastModifiedDate": device.last_seen, "DeviceLastAuthenticatedDate": device.last_seen}
