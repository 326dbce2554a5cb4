"""The rules a new password must pass beyond the pool's policy, and what setting one records.

- **Compromised passwords**: refused when found, case-insensitively, in the frequency list
  of common and breached passwords that ships with ``zxcvbn`` (30,000 entries; no network
  call). NIST SP 800-63B §5.1.1.2 asks verifiers to check "passwords obtained from previous
  breach corpuses" and "commonly-used" ones.
- **History**: no reuse of the last N passwords (the pool's ``password_history``, Cognito's
  PasswordHistorySize), the current one included. Each set password leaves a
  :class:`PasswordHistory` row; only the newest N are kept.

    >>> is_compromised("P@ssw0rd"), is_compromised("correct-H0rse-battery-staple")
    (True, False)
"""
from __future__ import annotations

import functools

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from ..errors import FormInvalid
from ..i18n import gettext as _, ngettext
from ..store.models import PasswordHistory, User, UserPool
from .passwords import PasswordPolicy, hash_password, verify_password
from .security import Security


@functools.cache
def _common_passwords() -> frozenset[str]:
    """Loaded once, at the first check (zxcvbn's lists are a few MB in memory)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def is_compromised(password: str) -> bool:
    return password.lower() in _common_passwords()


def problems(pool: UserPool, password: str) -> list[str]:
    """Each rule ``password`` breaks that does not depend on the user: policy, then the list."""
    found = PasswordPolicy.from_dict(pool.password_policy).violations(password)
    if Security.of(pool.security).compromised_check and is_compromised(password):
        found.append(_("Password must not be a commonly used or compromised password."))
    return found


def check_reuse(pool: UserPool, user: User, password: str) -> None:
    """:class:`FormInvalid` when ``password`` is one of ``user``'s last N passwords."""
    keep = Security.of(pool.security).password_history
    if keep and any(verify_password(stored, password) for stored in _recent(user, keep)):
        raise FormInvalid([ngettext("Password must not be the same as your previous password.",
                                    "Password must not be one of your last %(num)s passwords.", keep)])


def set_password(session: Session, pool: UserPool, user: User, password: str) -> None:
    """Set a permanent password (the checks are the caller's) and remember it."""
    user.password_hash = hash_password(password)
    user.temp_password_expires_at = None
    remember(session, pool, user)


def remember(session: Session, pool: UserPool, user: User) -> None:
    """Record ``user``'s current password hash and keep only the pool's newest N."""
    keep = Security.of(pool.security).password_history
    if keep and user.password_hash:
        session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
        session.flush()
    newest = select(PasswordHistory.id).where(PasswordHistory.user_id == user.id) \
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc()).limit(keep)
    session.execute(delete(PasswordHistory).where(PasswordHistory.user_id == user.id,
                                                  PasswordHistory.id.not_in(newest.scalar_subquery())))


def _recent(user: User, keep: int) -> list[str]:
    """The current hash and the remembered ones, newest first, at most ``keep``."""
    session = object_session(user)
    rows: list[str] = []
    if session is not None and user.id is not None:
        stmt = select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id) \
            .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc()).limit(keep)
        rows = list(session.scalars(stmt))
    return list(dict.fromkeys([h for h in [user.password_hash, *rows] if h]))[:keep]
