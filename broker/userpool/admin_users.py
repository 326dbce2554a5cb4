"""What an admin does to one user's account, for the CLI (``broker user ...``) and the admin
API alike: turn it off and on (AdminDisableUser / AdminEnableUser), sign it out everywhere
(AdminUserGlobalSignOut), set its password (AdminSetUserPassword) and confirm its sign-up
(AdminConfirmSignUp). Each takes the user already found (the CLI by name, the API by name or
``sub``), checks before it writes, and is written to the audit log.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminDisableUser.html
and siblings.

    revoked = disable(session, pool, user)        # sign-ins refused, tokens revoked
    set_password(session, pool, user, "N3w-Password!", permanent=True)
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..errors import NotPermitted
from ..store import repo
from ..store.models import User, UserPool
from ..store.state import StateStore
from ..triggers import signup
from . import admin, audit, lockout, password_rules, srp_verifiers
from .passwords import hash_password
from .signin import check_new_password

EXTERNAL = "EXTERNAL_PROVIDER"


def disable(session: Session, pool: UserPool, user: User) -> int:
    """No more sign-ins, by password or through any IdP; the user's token families (refresh
    tokens and the access tokens issued from them) are revoked and hosted sign-in sessions
    end, so that enabling the user again brings none back. The number of families revoked."""
    user.enabled = False
    revoked = repo.sign_out_everywhere(session, user)
    audit.record(session, pool.id, "AdminDisableUser", audit.PASS, user=user, families=revoked)
    return revoked


def enable(session: Session, pool: UserPool, user: User) -> None:
    """Sign-ins work again (with the password the user had)."""
    user.enabled = True
    audit.record(session, pool.id, "AdminEnableUser", audit.PASS, user=user)


def sign_out(session: Session, pool: UserPool, user: User) -> int:
    """Every token family of ``user`` revoked, and hosted sign-in sessions and sign-ins in
    progress ended (Cognito leaves hosted sessions alone; Cognate ends them too). The number
    of families revoked."""
    revoked = repo.sign_out_everywhere(session, user)
    audit.record(session, pool.id, "AdminUserGlobalSignOut", audit.PASS, user=user, families=revoked)
    return revoked


def set_password(session: Session, pool: UserPool, user: User, password: str, permanent: bool,
                 state: StateStore | None = None) -> None:
    """A password set by the admin: ``permanent`` makes the user CONFIRMED (a sign-up not
    confirmed yet, or a reset asked for, is over), otherwise it is temporary
    (FORCE_CHANGE_PASSWORD, working for the pool's ``temp_password_days``). The pool's rules
    and the history apply (:class:`PasswordRejected`). A lockout ends: the admin vouches for
    the new password. Sessions stay signed in, as on Cognito."""
    if user.status == EXTERNAL:
        raise NotPermitted(f"user {user.username!r} signs in at its identity provider and has no password")
    check_new_password(pool, password, user=user)
    if permanent:
        password_rules.set_password(session, pool, user, password)
        user.status = "CONFIRMED"
    else:
        user.password_hash = hash_password(password)
        srp_verifiers.remember(session, pool, user, password)
        password_rules.remember(session, pool, user)
        user.temp_password_expires_at = admin.temporary_expiry(pool)
        user.status = "FORCE_CHANGE_PASSWORD"
    lockout.unlock(state, user)
    audit.record(session, pool.id, "AdminSetUserPassword", audit.PASS, user=user, permanent=permanent)


def confirm(session: Session, pool: UserPool, user: User) -> None:
    """Confirm a sign-up without its code: only an UNCONFIRMED user (Cognito answers "User
    cannot be confirmed. Current status is CONFIRMED" otherwise). The email is not marked
    verified: nobody proved it. The pool's PostConfirmation trigger runs, as on ConfirmSignUp."""
    if user.status != "UNCONFIRMED":
        raise NotPermitted(f"User cannot be confirmed. Current status is {user.status}")
    user.status = "CONFIRMED"
    audit.record(session, pool.id, "AdminConfirmSignUp", audit.PASS, user=user)
    signup.post_confirmation(session, pool, user, signup.CONFIRM_SIGN_UP)
