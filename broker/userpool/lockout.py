"""Per-user lockout after repeated failed sign-ins (Keycloak's temporary lockout, Cognito's
lockout after failed attempts), on top of the growing delay of :mod:`.throttle`.

Failures are counted in the state store by :class:`~.throttle.Throttle`, for unknown
usernames too; once a user's count reaches the pool's ``lockout_threshold``,
``User.locked_until`` is set ``lockout_seconds`` ahead. A locked sign-in fails with the
same message as a wrong password, so nobody learns that the account is locked (or exists).
The count lives for :data:`~.throttle.WINDOW` from the first failure and a success resets
it, so a failure right after a lockout ends locks again until then.

Second factors (authenticator, recovery, emailed or texted codes) have a count of their own,
which a right password does not reset: tries at a second factor lock the user the same way,
so the password alone gives an attacker ``lockout_threshold`` guesses per lockout, not five
per password entry.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ..store.models import User, UserPool
from ..store.state import Keys, StateStore
from . import audit
from .security import Security
from .throttle import WINDOW, forget_failures


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
    """Clear the lock and the user's failure counts (not the per-IP one)."""
    user.locked_until = None
    if state is not None:
        forget_failures(state, user.pool_id, user.username)
        factor_passed(state, user)


def factor_try(state: StateStore, pool: UserPool, user: User, now: dt.datetime) -> int | None:
    """Count a try at ``user``'s second factor, before it is checked (so that tries sent at
    once count too): the tries in a row, or None when the code must not even be checked
    (the user is locked, or tries sent at once went past the pool's threshold)."""
    if is_locked(user, now):
        return None
    tries = state.incr(_factor_key(user), WINDOW)
    return None if tries > Security.of(pool.security).lockout_threshold else tries


def factor_failed(session: Session, state: StateStore, pool: UserPool, user: User, tries: int,
                  now: dt.datetime, ip: str | None = None) -> None:
    """A wrong code: lock ``user`` at the pool's threshold, as wrong passwords do; the count
    starts again after the lock, which lasts ``lockout_seconds`` like any other."""
    after_failure(session, pool, user, tries, now, ip)
    if is_locked(user, now):
        factor_passed(state, user)


def factor_passed(state: StateStore, user: User) -> None:
    state.delete(_factor_key(user))


def _factor_key(user: User) -> str:
    return Keys.failures(user.pool_id, "factor", user.username)
