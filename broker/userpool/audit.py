"""The audit log: every sign-in decision and account or admin change, as a row
(:class:`AuditEvent`, listed by ``broker events list``) and as one JSON line on the
``broker.audit`` logger for log shippers (in JSON logs, nested under ``audit``, with the
request id).

Event names and outcomes follow Cognito's user auth events (AdminListUserAuthEvents):
``EventType`` such as ``SignIn``, ``SignUp``, ``ForgotPassword``, ``PasswordChange``, and
``EventResponse`` ``Pass`` / ``Fail`` (``InProgress`` for a step that waits on another one,
such as a code sent), and ``Block`` where Cognate stops an account or a sign-in (a lockout,
an adaptive-authentication block). Admin changes are named after Cognito's operations
(``AdminCreateUser``, ``CreateUserPoolClient``, ...; ``RotateSigningKey`` is Cognate's
own); ``details`` say why (``reason="wrong_password"``) or what changed, with the ids.
Tokens: ``TokenIssued`` (the code and implicit grants only), ``RevokeToken``, ``RefreshTokenReuse`` and
``AuthorizationCodeReuse`` (``Block``: a reused refresh token or code revoked its family),
named by ``origin_jti``.

    record(session, pool.id, "SignIn", FAIL, user=user, ip="203.0.113.7", reason="wrong_password")

Details never hold secrets: no passwords, codes, tokens or their hashes, client secrets or keys.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import observability
from ..store.models import AuditEvent, User, utcnow

log = logging.getLogger("broker.audit")

PASS, FAIL, IN_PROGRESS, BLOCK = "Pass", "Fail", "InProgress", "Block"
MAX_LIMIT = 1000


def record(session: Session, pool_id: str, event: str, outcome: str, /, user: User | None = None,
           username: str | None = None, ip: str | None = None, risk: str | None = None,
           **details: Any) -> AuditEvent:
    """Add one event to the session (committed with the rest of the request) and log it.
    The first four are positional, so that ``details`` may use any name. (Events written
    apart from the request, as the triggers' are, go through :func:`announce`.)"""
    row = AuditEvent(**announce(pool_id, event, outcome, user, username, ip, risk, details))
    session.add(row)
    return row


def announce(pool_id: str, event: str, outcome: str, user: User | None = None, username: str | None = None,
             ip: str | None = None, risk: str | None = None, details: dict[str, Any] | None = None,
             level: int = logging.INFO) -> dict[str, Any]:
    """The event's row as column values (no ORM object: writers that store rows in batches
    of their own insert them as they are, :mod:`broker.triggers.journal`), once logged (at
    ``level``) and counted."""
    details = details or {}
    name = _clean(user.username if user is not None else username) or None
    row = {"pool_id": pool_id, "user_id": user.id if user is not None else None,
           "username": name[:128] if name else None, "event": event, "outcome": outcome, "risk": risk,
           "ip": _clean(ip)[:64] if ip else None, "details": _clean(details), "created_at": utcnow()}
    if log.isEnabledFor(level):
        log.log(level, observability.Structured("audit", f"{event} {outcome}", {
            "time": row["created_at"].isoformat(), "pool": pool_id, "event": event, "outcome": outcome,
            "username": row["username"], "sub": user.sub if user is not None else None, "ip": row["ip"],
            "risk": risk, "request_id": observability.request_id(), **details}))
    observability.audit_event(event, outcome, details)
    return row


def _clean(value: Any) -> Any:
    """Client-chosen text without NUL, which PostgreSQL text and JSON cannot hold."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def list_events(session: Session, pool_id: str, username: str | None = None, limit: int = 100) -> list[AuditEvent]:
    """The pool's events, newest first; only ``username``'s when given."""
    stmt = select(AuditEvent).where(AuditEvent.pool_id == pool_id)
    if username is not None:
        stmt = stmt.where(AuditEvent.username == username.strip().lower())
    stmt = stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    return list(session.scalars(stmt))


def describe(event: AuditEvent) -> dict[str, Any]:
    """An event as ``broker events list`` prints it (Cognito's AuthEvent names)."""
    return {
        "EventId": event.id, "EventType": event.event, "EventResponse": event.outcome,
        "CreationDate": event.created_at.isoformat(), "Username": event.username,
        "IpAddress": event.ip, "RiskLevel": event.risk, "Details": event.details,
    }


def last_changes(session: Session, pool_ids: list[str], events: tuple[str, ...]) -> dict[str, Any]:
    """When each pool of ``pool_ids`` last had one of ``events`` (only those that had one):
    Cognate keeps no modification date of its own for what its audit log records."""
    if not pool_ids:
        return {}
    stmt = (select(AuditEvent.pool_id, func.max(AuditEvent.created_at))
            .where(AuditEvent.pool_id.in_(pool_ids), AuditEvent.event.in_(events), AuditEvent.outcome == PASS)
            .group_by(AuditEvent.pool_id))
    return {pool_id: _aware(when) for pool_id, when in session.execute(stmt)}


def _aware(when: Any) -> Any:
    """``max()`` bypasses the column type: SQLite hands back naive text or datetimes."""
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    return when.replace(tzinfo=dt.timezone.utc) if when is not None and when.tzinfo is None else when


def last_client_change(session: Session, pool_id: str, client_id: str, scan: int = 500) -> Any:
    """When app client ``client_id`` last changed (UpdateUserPoolClient, RotateClientSecret),
    among the pool's ``scan`` newest such events; None if none of them is about it."""
    stmt = (select(AuditEvent.created_at, AuditEvent.details)
            .where(AuditEvent.pool_id == pool_id, AuditEvent.event.in_(("UpdateUserPoolClient", "RotateClientSecret")))
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(scan))
    return next((when for when, details in session.execute(stmt) if (details or {}).get("client_id") == client_id),
                None)
