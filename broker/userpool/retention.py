"""How long the durable rows that only grow are kept, and :func:`prune`, which deletes the
rest (``broker db prune``, run daily: ``deploy/k8s/cronjob-prune.yaml``).

- Refresh tokens, :data:`TOKEN_WINDOW` after they expired, not at once: an access token
  refreshed just before its refresh token expired lives that long, and until then
  ``broker user sign-out`` and ``disable`` must still find the family (by its refresh
  tokens) to revoke that access token. A refresh with an expired token fails the same
  either way.
- Revoked token families (``revoked_origins``), :data:`TOKEN_WINDOW` after the revocation:
  by then every access token of the family has expired. Refresh tokens of the family that
  are not marked revoked (stored after the revocation) are marked in the same transaction,
  so a deleted row never brings one back. A family revoked so long ago gains no new token:
  only an authorization code in flight (minutes) could add one.
- Audit events, after ``audit_days``; devices, when not seen for ``device_days`` and not
  remembered. 0 keeps them for ever.

Rows go in batches of :data:`BATCH`, one transaction each, so that a first prune of a large
table neither holds locks for long nor builds one huge transaction.

    prune(session, Retention(audit_days=30))  # {"RefreshTokens": 12, ..., "Devices": 0}
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy.orm import InstrumentedAttribute, Session

from ..errors import InvalidInput
from ..oauth.keys import SKEW
from ..store import prune as rows
from ..store.models import AuditEvent, Device, RefreshToken, RevokedOrigin, utcnow
from .app_clients import LIMITS

#: Rows per statement and transaction.
BATCH = 5000
AUDIT_DAYS = 90
DEVICE_DAYS = 180
#: How long an access token can outlive the refresh of its family or its revocation: the
#: longest lifetime any client may give it (not today's: a client may have shortened it
#: since), plus the clock skew allowed to verifiers.
TOKEN_WINDOW = dt.timedelta(seconds=LIMITS["access_token_ttl"][1] + SKEW)


@dataclass(frozen=True)
class Retention:
    """Days audit events and unremembered devices are kept; 0 keeps them for ever."""

    audit_days: int = AUDIT_DAYS
    device_days: int = DEVICE_DAYS

    def __post_init__(self) -> None:
        if self.audit_days < 0 or self.device_days < 0:
            raise InvalidInput("days to keep must be 0 (for ever) or more")


class _Kind(NamedTuple):
    name: str
    key: InstrumentedAttribute[Any]
    where: rows.Conditions | None  # None: kept for ever
    families: bool = False  # revoked families: mark their tokens first


def prune(session: Session, retention: Retention = Retention(), dry_run: bool = False,
          now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what ``retention`` no longer keeps, committing after each batch; with
    ``dry_run``, only count it. The counts per kind, named as ``broker db prune`` prints them."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    for kind in _kinds(retention, now):
        if kind.where is None:
            counts[kind.name] = 0
        elif dry_run:
            counts[kind.name] = rows.count(session, kind.key, kind.where)
        else:
            counts[kind.name] = _delete_in_batches(session, kind.key, kind.where, kind.families)
    return counts


def _kinds(retention: Retention, now: dt.datetime) -> list[_Kind]:
    audit, device = (dt.timedelta(days=d) if d else None for d in (retention.audit_days, retention.device_days))
    return [
        _Kind("RefreshTokens", RefreshToken.id, rows.expired_refresh_tokens(now - TOKEN_WINDOW)),
        _Kind("RevokedOrigins", RevokedOrigin.origin_jti, rows.revoked_origins(now - TOKEN_WINDOW), families=True),
        _Kind("AuditEvents", AuditEvent.id, rows.audit_events(now - audit) if audit else None),
        _Kind("Devices", Device.id, rows.stale_devices(now - device, now) if device else None),
    ]


def _delete_in_batches(session: Session, key: InstrumentedAttribute[Any], where: rows.Conditions,
                       families: bool) -> int:
    deleted, after = 0, None
    while (upto := rows.next_bound(session, key, where, after, BATCH)) is not None:
        batch = [*where, *rows.in_range(key, after, upto)]
        if families:
            rows.revoke_family_tokens(session, batch)
        deleted += rows.delete_rows(session, key, batch)
        session.commit()
        after = upto
    return deleted
