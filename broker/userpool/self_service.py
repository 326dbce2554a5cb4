"""What a signed-in user does to their own account, whichever door they use: change the
password (proving the current one), sign out everywhere, delete the account. Cognito's
ChangePassword, GlobalSignOut and DeleteUser
(https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ChangePassword.html
and siblings).

    change_password(session, throttle, pool, user, "old", "new", ip)  # SignInFailed, PasswordRejected
    global_sign_out(session, pool, user, origin_jti)                   # the number of families revoked
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..store import repo
from ..store.models import User, UserPool
from . import admin, audit, password_rules
from .signin import authenticate, check_new_password
from .throttle import Throttle


def change_password(session: Session, throttle: Throttle, pool: UserPool, user: User, previous: str,
                    proposed: str, ip: str) -> None:
    """Replace ``user``'s password with ``proposed`` once ``previous`` is proven.

    The new password's policy is checked first (it costs no password try); ``previous``
    goes through the sign-in's own check (:func:`.signin.authenticate`: throttle, lockout,
    one message for every refusal), so a stolen access token is no way around the lockout;
    the password history is checked last, so that only the owner learns about old
    passwords. Other sessions stay signed in, as on Cognito."""
    check_new_password(pool, proposed)
    authenticate(session, throttle, pool, user.username, previous, ip, event="ChangePasswordCheck")
    password_rules.check_reuse(pool, user, proposed)
    password_rules.set_password(session, pool, user, proposed)
    audit.record(session, pool.id, "ChangePassword", audit.PASS, user=user, ip=ip)


def global_sign_out(session: Session, pool: UserPool, user: User, origin_jti: str | None = None,
                    ip: str | None = None) -> int:
    """Sign ``user`` out everywhere (:func:`broker.store.repo.sign_out_everywhere`: every
    token family, hosted sessions, sign-ins in progress). ``origin_jti``, the family of the
    access token that asked, is revoked too: a token issued without a refresh token has no
    stored family for the sweep to find. Returns the number of families revoked."""
    revoked = repo.sign_out_everywhere(session, user)
    if origin_jti:
        revoked += int(repo.revoke_origin(session, origin_jti))
    audit.record(session, pool.id, "GlobalSignOut", audit.PASS, user=user, ip=ip, families=revoked)
    return revoked


def delete_account(session: Session, pool: UserPool, user: User) -> None:
    """The user's own DeleteUser: everything AdminDeleteUser ends ends with it."""
    admin.remove_user(session, pool.id, user, event="DeleteUser")
