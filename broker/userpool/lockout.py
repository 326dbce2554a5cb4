"""Per-user lockout after repeated failed sign-ins (Keycloak's temporary lockout, Cognito's
lockout after failed attempts), on top of the growing delay of :mod:`.throttle`.

Each try at a password is counted before the password is checked, by one atomic increment
(:func:`password_try`), so tries sent at once cannot all pass: of a burst, at most
``lockout_threshold`` passwords are checked, and the rest fail unchecked. Once the count
reaches the threshold, ``User.locked_until`` is set ``lockout_seconds`` ahead. A locked
sign-in fails with the same message as a wrong password, so nobody learns that the account
is locked (or exists). Until :data:`~.throttle.WINDOW` after a lock ends, a user has one try
per lock: a failure right after a lockout ends locks again. A success or an admin's unlock
starts the count again.

The count is kept per lock (its key names the ``locked_until`` it follows), so a new lock
starts a new count without deleting anything a request still in flight could increment.

Second factors (authenticator, recovery, emailed or texted codes) have a count of their own,
which a right password does not reset: tries at a second factor lock the user the same way,
so the password alone gives an attacker ``lockout_threshold`` guesses per lockout, not five
per password entry.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..store.models import User, UserPool, utcnow
from ..store.state import Keys, StateStore
from . import audit
from .security import Security
from .throttle import WINDOW, forget_failures


def is_locked(user: User, now: dt.datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def after_failure(session: Session, pool: UserPool, user: User, failures: int, now: dt.datetime,
                  ip: str | None = None, limit: int | None = None) -> None:
    """Lock ``user`` when ``failures`` consecutive failures reach ``limit`` (the pool's
    threshold unless given)."""
    security = Security.of(pool.security)
    if failures < (limit or security.lockout_threshold) or is_locked(user, now):
        return
    user.locked_until = now + dt.timedelta(seconds=security.lockout_seconds)
    audit.record(session, pool.id, "Lockout", audit.BLOCK, user=user, ip=ip, failures=failures,
                 locked_until=user.locked_until.isoformat())


def unlock(state: StateStore | None, user: User) -> None:
    """Clear the lock and the user's failure counts (not the per-IP one)."""
    if state is not None:
        forget_failures(state, user.pool_id, user.username)
        password_passed(state, user)
        factor_passed(state, user)
    user.locked_until = None


@dataclass(frozen=True)
class Try:
    """A try at a user's password, counted before the password is checked."""

    checked: bool  # False: refuse it without looking at the password
    number: int  # its number in the count it belongs to
    limit: int  # the tries that count allows: the threshold, or one right after a lock


def password_try(state: StateStore, pool: UserPool, user: User, now: dt.datetime) -> Try:
    """Count a try at ``user``'s password before it is checked (as :func:`factor_try` does),
    in the count of the current lock period."""
    key, limit = _password_count(pool, user, now)
    if is_locked(user, now):  # not counted: the one try after this lock is the user's
        return Try(False, 0, limit)
    number = state.incr(key, WINDOW)
    return Try(number <= limit, number, limit)


def password_failed(session: Session, pool: UserPool, user: User, attempt: Try, now: dt.datetime,
                    ip: str | None = None) -> None:
    after_failure(session, pool, user, attempt.number, now, ip, limit=attempt.limit)


def password_passed(state: StateStore, user: User) -> None:
    """A right password (or an unlock): the count starts again, and a lock that ended is forgotten."""
    keys = {_tries_key(user, None)}
    if user.locked_until is not None:
        keys.add(_tries_key(user, user.locked_until))
    state.delete(*keys)
    if user.locked_until is not None and not is_locked(user, utcnow()):
        user.locked_until = None


def _password_count(pool: UserPool, user: User, now: dt.datetime) -> tuple[str, int]:
    """The key of the count a try now belongs to, and the tries it allows."""
    ended = user.locked_until
    if ended is None or ended + dt.timedelta(seconds=WINDOW) <= now:
        return _tries_key(user, None), Security.of(pool.security).lockout_threshold
    return _tries_key(user, ended), 1


def _tries_key(user: User, locked_until: dt.datetime | None) -> str:
    if locked_until is not None and locked_until.tzinfo is None:  # SQLite keeps UTC without the zone
        locked_until = locked_until.replace(tzinfo=dt.timezone.utc)
    after = "none" if locked_until is None else str(int(locked_until.timestamp()))
    return Keys.failures(user.pool_id, "password", f"{user.username}:{after}")


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
