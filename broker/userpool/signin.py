"""Password sign-in: one answer for unknown users, wrong passwords, disabled or locked
accounts and expired temporary passwords; hashes of other algorithms are upgraded to
Argon2id on success. Every decision goes to the audit log with its reason.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.orm import Session

from ..errors import PasswordRejected, SignInFailed, Throttled, TriggerFailed
from ..i18n import gettext as _
from ..store import repo
from ..store.models import User, UserPool, canonical_username, utcnow
from . import adaptive, audit, lockout, password_rules, srp_verifiers
from .passwords import hash_password, needs_rehash, verify_password
from .risk import BLOCK, Assessment, device_hash, device_tag
from .senders import Sender
from .throttle import Throttle

MAX_FIELD = 256


@dataclass(frozen=True)
class Hooks:
    """What the pool's triggers add to a password check (:mod:`broker.triggers`):
    ``migrate(username, password)`` may create a user for a name the pool lacks
    (UserMigration); ``gate(username, user)`` may refuse the sign-in before the password
    is checked (PreAuthentication; ``user`` is None for a name the pool lacks)."""

    migrate: Callable[[str, str], User | None] | None = None
    gate: Callable[[str, User | None], None] | None = None


@dataclass(frozen=True)
class SignIn:
    """A right password: the user, and the risk decision the next steps follow (None when
    the sign-in came without a device to weigh)."""

    user: User
    risk: Assessment | None = None


def authenticate(session: Session, throttle: Throttle, pool: UserPool, username: str, password: str, ip: str,
                 context: adaptive.Context | None = None, sender: Sender | None = None,
                 proof: Callable[[User | None], bool] | None = None, event: str = "SignIn",
                 hooks: Hooks | None = None) -> SignIn:
    """The user whose password this is, or :class:`SignInFailed` with the one generic message.

    The try is counted before the password is checked (:meth:`Throttle.attempt`,
    :func:`lockout.password_try`), so tries sent at once get no more checks than tries sent
    one by one, and the lock is read again once the check is done. With a ``context``, the
    risk is weighed before the answer: a blocked sign-in fails exactly as a wrong password
    does, and the user is told by mail (:mod:`.adaptive`). A ``proof`` checks another proof
    of the password in its place (SRP's PASSWORD_CLAIM_SIGNATURE), counted the same way; it
    is called for unknown names too (with None), so they take as long. ``event`` names the
    check in the audit log (a password proven again to change it is not a sign-in).
    ``hooks`` are the pool's triggers: a user to migrate for an unknown name, and a check
    before the password's (see :class:`Hooks`)."""
    username = canonical_username(username)  # ａｌｉｃｅ is alice: one name, one failure count
    try:
        throttle.attempt(pool.id, username or "-", ip)
    except Throttled:
        audit.record(session, pool.id, event, audit.FAIL, username=username or None, ip=ip, reason="throttled")
        raise
    too_long = len(username) > MAX_FIELD or len(password) > MAX_FIELD
    user = None if too_long or not username else repo.get_user(session, pool.id, username)
    if hooks is not None:
        user = _before_check(session, pool, hooks, username, password, user, too_long, ip)
    now = utcnow()
    attempt = lockout.password_try(throttle.state, pool, user, now) if user is not None else None
    proven = proof(user) if proof is not None else verify_password(user.password_hash if user else None, password)
    reason = _refusal_after_check(session, user, proven, attempt, now)
    assessment, level = None, None
    if reason is None and context is not None:
        assert user is not None
        assessment = adaptive.decide(session, pool, user, context)
        level = assessment.level
        if assessment.action == BLOCK:
            reason = "blocked"
            adaptive.notify_blocked(session, sender, pool, user, context, now)
    elif reason == "wrong_password" and context is not None:
        assert user is not None
        level = adaptive.weigh_only(session, pool, user, context)  # the same queries: a block takes no longer
    if reason is not None:
        throttle.failed(pool.id, ip)
        device = {"device": device_tag(device_hash(context.device_key))} if context is not None else {}
        outcome = audit.BLOCK if reason == "blocked" else audit.FAIL  # counted as blocked, answered as failed
        audit.record(session, pool.id, event, outcome, user=user, username=username or None, ip=ip, risk=level,
                     reason=reason, **device)
        if user is not None and attempt is not None:
            lockout.password_failed(session, pool, user, attempt, now, ip)
        raise SignInFailed(_("Incorrect username or password."))
    assert user is not None
    throttle.succeeded(pool.id, username)
    lockout.password_passed(throttle.state, user)
    if proof is None:
        if needs_rehash(user.password_hash or ""):
            user.password_hash = hash_password(password)
        srp_verifiers.remember_missing(session, pool, user, password)  # imported with a hash, or from before SRP
    decided = {"action": assessment.action} if assessment is not None else {}
    audit.record(session, pool.id, event, audit.PASS, user=user, ip=ip, risk=level, status=user.status, **decided)
    return SignIn(user, assessment)


def _before_check(session: Session, pool: UserPool, hooks: Hooks, username: str, password: str,
                  user: User | None, too_long: bool, ip: str) -> User | None:
    """The hooks' turn, once the try is counted and before its lockout count: a name the
    pool lacks may be migrated (never a name too long to be one), then the sign-in may be
    refused (:class:`broker.errors.TriggerFailed`; a refusal is not a wrong password, so it
    locks nobody out, but the try was counted by the throttle)."""
    if user is None and hooks.migrate is not None and username and not too_long:
        user = hooks.migrate(username, password)
    if hooks.gate is not None:
        try:
            hooks.gate(username, user)
        except TriggerFailed:
            audit.record(session, pool.id, "SignIn", audit.BLOCK, user=user, username=username or None, ip=ip,
                         reason="pre_authentication")
            raise
    return user


def _refusal_after_check(session: Session, user: User | None, password_ok: bool, attempt: lockout.Try | None,
                         now: dt.datetime) -> str | None:
    """:func:`refusal`, with the lock read again after the ~50 ms check (a try sent at the
    same time may have locked the user) and a try past the lock's allowance refused as
    locked, whatever its password."""
    if password_ok and user is not None:
        session.refresh(user, ["locked_until"])
    reason = refusal(user, password_ok, now)
    if reason in (None, "wrong_password") and attempt is not None and not attempt.checked:
        return "locked"
    return reason


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
    """:class:`PasswordRejected` naming each rule ``password`` breaks: the pool's policy, the list
    of compromised passwords and, given the ``user``, the history of their passwords."""
    problems = password_rules.problems(pool, password)
    if confirm is not None and password != confirm:
        problems.append(_("The passwords do not match."))
    if problems:
        raise PasswordRejected(problems)
    if user is not None:
        password_rules.check_reuse(pool, user, password)
