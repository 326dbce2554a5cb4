"""Per-user lockout after repeated failed sign-ins (Keycloak's temporary lockout, Cognito's
lockout after failed attempts), on top of the growing delay of :mod:`.throttle`.

Failures are counted in the state store by :class:`~.throttle.Throttle`, for unknown
usernames too; once a user's count reaches the pool's ``lockout_threshold``,
``User.locked_until`` is set ``lockout_seconds`` ahead. A locked sign-in fails with the
same message as a wrong password, so nobody learns that the account is locked (or exists).
The count lives for :data:`~.throttle.WINDOW` from the first failure and a success resets
it, so a failure right after a lockout ends locks again until then.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ..store.models import User, UserPool
from ..store.state import StateStore
from . import audit
from .security import Security
from .throttle import forget_failures


def is_locked(user: User, now: dt.datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def after_failure(session: Session, pool: UserPool, user: User, failures: int, now: dt.datetime,
                  ip: str | None = None) -> None:
    """Lock ``user`` when ``failures`` consecutive failures reach the pool's threshold."""
    security = Security.of(pool.security)
    if failures < security.lockout_threshold or is_locked(user, now):
        return
    user.locked_until = now + dt.timedelta(seconds=security.lockout_seconds)
    audit.record(session, pool.id, "Lockout", audit.BLOCK, user=user, ip=ip, failures=failures,
                 locked_until=user.locked_until.isoformat())


def unlock(state: StateStore | None, user: User) -> None:
    """Clear the lock and the user's failure count (not the per-IP one)."""
    user.locked_until = None
    if state is not None:
        forget_failures(state, user.pool_id, user.username)
