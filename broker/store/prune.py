"""Queries behind ``broker db prune``; :mod:`broker.userpool.retention` decides what is old
and runs them a batch at a time.

A batch is a range of primary keys: :func:`next_bound` finds the key of the last of the
next ``limit`` rows that match, and the batch is the matching rows after the previous bound
up to that one (:func:`in_range`). Walking the primary key, each batch starts where the
last one ended, so it never re-reads what earlier batches deleted, and a column without an
index of its own (``expires_at``, ``last_seen``) costs one pass over the table in all.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from .models import AuditEvent, Device, RefreshToken, RevokedOrigin

Conditions = Sequence[ColumnElement[bool]]


def expired_refresh_tokens(before: dt.datetime) -> Conditions:
    return [RefreshToken.expires_at < before]


def revoked_origins(before: dt.datetime) -> Conditions:
    return [RevokedOrigin.revoked_at < before]


def audit_events(before: dt.datetime) -> Conditions:
    return [AuditEvent.created_at < before]


def stale_devices(before: dt.datetime, now: dt.datetime) -> Conditions:
    """Not seen since ``before`` and not remembered (a remembered device skips MFA until
    ``remembered_until``: see :mod:`broker.userpool.risk`)."""
    return [Device.last_seen < before, or_(Device.remembered_until.is_(None), Device.remembered_until <= now)]


def count(session: Session, key: InstrumentedAttribute[Any], where: Conditions) -> int:
    return session.scalar(select(func.count()).select_from(key.class_).where(*where)) or 0


def next_bound(session: Session, key: InstrumentedAttribute[Any], where: Conditions, after: Any, limit: int) -> Any:
    """The key of the last of the next ``limit`` matching rows after ``after`` (None: the
    first batch); None when no row is left."""
    page = select(key.label("k")).where(*where, *_after(key, after)).order_by(key).limit(limit).subquery()
    return session.scalar(select(func.max(page.c.k)))


def in_range(key: InstrumentedAttribute[Any], after: Any, upto: Any) -> Conditions:
    return [*_after(key, after), key <= upto]


def delete_rows(session: Session, key: InstrumentedAttribute[Any], where: Conditions) -> int:
    stmt = delete(key.class_).where(*where).execution_options(synchronize_session=False)
    return session.execute(stmt).rowcount or 0


def revoke_family_tokens(session: Session, where: Conditions) -> None:
    """Mark revoked, as of their family's revocation, the refresh tokens of the revoked
    families matching ``where`` that are not marked yet (stored after the revocation: see
    :func:`broker.store.repo.get_refresh_token_and_user`), so that deleting the families'
    rows never makes one of them usable again."""
    families = select(RevokedOrigin.origin_jti).where(*where)
    revoked_at = select(RevokedOrigin.revoked_at).where(RevokedOrigin.origin_jti == RefreshToken.origin_jti)
    stmt = (update(RefreshToken)
            .where(RefreshToken.origin_jti.in_(families), RefreshToken.revoked_at.is_(None))
            .values(revoked_at=revoked_at.scalar_subquery())
            .execution_options(synchronize_session=False))
    session.execute(stmt)


def _after(key: InstrumentedAttribute[Any], after: Any) -> Conditions:
    return [] if after is None else [key > after]
