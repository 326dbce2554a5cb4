"""Password sign-in: one answer for unknown users, wrong passwords and disabled accounts;
hashes of other algorithms are upgraded to Argon2id on success.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..errors import FormInvalid, SignInFailed
from ..i18n import gettext as _
from ..store import repo
from ..store.models import User, UserPool
from .passwords import PasswordPolicy, hash_password, needs_rehash, verify_password
from .throttle import Throttle

MAX_FIELD = 256


def authenticate(session: Session, throttle: Throttle, pool: UserPool, username: str, password: str, ip: str) -> User:
    """The user whose password this is, or :class:`SignInFailed` with the one generic message."""
    username = username.strip().lower()
    throttle.check(pool.id, username, ip)
    too_long = len(username) > MAX_FIELD or len(password) > MAX_FIELD
    user = None if too_long or not username else repo.get_user(session, pool.id, username)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.enabled:
        throttle.failed(pool.id, username or "-", ip)
        raise SignInFailed(_("Incorrect username or password."))
    throttle.succeeded(pool.id, username)
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    return user


def set_new_password(session: Session, pool: UserPool, user: User, password: str, confirm: str) -> None:
    """Replace a temporary password (FORCE_CHANGE_PASSWORD) or reset one (RESET_REQUIRED)."""
    check_new_password(pool, password, confirm)
    user.password_hash = hash_password(password)
    user.status = "CONFIRMED"


def check_new_password(pool: UserPool, password: str, confirm: str | None = None) -> None:
    problems = PasswordPolicy.from_dict(pool.password_policy).violations(password)
    if confirm is not None and password != confirm:
        problems.append(_("The passwords do not match."))
    if problems:
        raise FormInvalid(problems)
