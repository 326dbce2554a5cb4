"""Password sign-in: one answer for unknown users, wrong passwords, disabled or locked
accounts and expired temporary passwords; hashes of other algorithms are upgraded to
Argon2id on success. Every decision goes to the audit log with its reason.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ..errors import FormInvalid, SignInFailed, Throttled
from ..i18n import gettext as _
from ..store import repo
from ..store.models import User, UserPool, canonical_username, utcnow
from . import audit, lockout, password_rules
from .passwords import hash_password, needs_rehash, verify_password
from .throttle import Throttle

MAX_FIELD = 256


def authenticate(session: Session, throttle: Throttle, pool: UserPool, username: str, password: str, ip: str) -> User:
    """The user whose password this is, or :class:`SignInFailed` with the one generic message."""
    username = canonical_username(username)  # ａｌｉｃｅ is alice: one name, one failure count
    try:
        throttle.check(pool.id, username, ip)
    except Throttled:
        audit.record(session, pool.id, "SignIn", audit.FAIL, username=username or None, ip=ip, reason="throttled")
        raise
    too_long = len(username) > MAX_FIELD or len(password) > MAX_FIELD
    user = None if too_long or not username else repo.get_user(session, pool.id, username)
    ok = verify_password(user.password_hash if user else None, password)
    now = utcnow()
    reason = refusal(user, ok, now)
    if reason is not None:
        failures = throttle.failed(pool.id, username or "-", ip)
        audit.record(session, pool.id, "SignIn", audit.FAIL, user=user, username=username or None, ip=ip,
                     reason=reason)
        if user is not None:
            lockout.after_failure(session, pool, user, failures, now, ip)
        raise SignInFailed(_("Incorrect username or password."))
    assert user is not None
    throttle.succeeded(pool.id, username)
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    audit.record(session, pool.id, "SignIn", audit.PASS, user=user, ip=ip, status=user.status)
    return user


def refusal(user: User | None, password_ok: bool, now: dt.datetime) -> str | None:
    """Why a sign-in fails (for the audit log only; the user sees one message), or None."""
    if user is None:
        return "unknown_user"
    if not user.enabled:
        return "disabled"
    if user.status == "EXTERNAL_PROVIDER":
        return "external_provider"  # signs in at its IdP only
    if lockout.is_locked(user, now):
        return "locked"
    if not password_ok:
        return "wrong_password"
    expires = user.temp_password_expires_at
    if user.status == "FORCE_CHANGE_PASSWORD" and expires is not None and expires <= now:
        return "temporary_password_expired"
    return None


def set_new_password(session: Session, pool: UserPool, user: User, password: str, confirm: str) -> None:
    """Replace a temporary password (FORCE_CHANGE_PASSWORD) or reset one (RESET_REQUIRED)."""
    check_new_password(pool, password, confirm, user=user)
    previous = user.status
    password_rules.set_password(session, pool, user, password)
    user.status = "CONFIRMED"
    audit.record(session, pool.id, "PasswordChange", audit.PASS, user=user, forced=previous)


def check_new_password(pool: UserPool, password: str, confirm: str | None = None, user: User | None = None) -> None:
    """:class:`FormInvalid` naming each rule ``password`` breaks: the pool's policy, the list
    of compromised passwords and, given the ``user``, the history of their passwords."""
    problems = password_rules.problems(pool, password)
    if confirm is not None and password != confirm:
        problems.append(_("The passwords do not match."))
    if problems:
        raise FormInvalid(problems)
    if user is not None:
        password_rules.check_reuse(pool, user, password)
