"""Self-service accounts: sign up, confirm by code, resend, forgot password, reset.

Answers never reveal whether a username exists, by their text or their time: signing up
with a taken name looks like success and costs the same password hash (the owner gets a
notice instead), and password-reset requests always say a code was sent if the account
exists. Codes sent and guesses at them are limited per user and per address
(:mod:`.limits`), for unknown usernames alike.

The pool's triggers run here, for both doors (:mod:`broker.triggers.signup`): PreSignUp
before a sign-up (and before its name is looked up, so that neither a handler's answer nor
its time tells a taken name), PostConfirmation after a confirmation or a password reset;
codes leave through :mod:`.outgoing` (CustomMessage, the custom senders).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import CodeMismatch, FormInvalid, InvalidInput, PasswordRejected
from ..i18n import gettext as _
from ..store import repo
from ..store.models import AppClient, User, UserPool, canonical_username
from ..store.state import StateStore
from ..triggers import migration, signup
from . import audit, client_attributes, codes, limits, lockout, messages, outgoing, password_rules, srp_verifiers
from .attributes import check_attributes, label
from .limits import Requester
from .admin import check_username
from .passwords import hash_password
from .senders import Message, Sender
from .signin import check_new_password

SIGNUP_CODE_TTL = 24 * 3600
RESET_CODE_TTL = 3600
EXTERNAL_PROVIDER = "EXTERNAL_PROVIDER"


@dataclass(frozen=True)
class SignedUp:
    """A sign-up's outcome: the new user (None when the name is taken, which the hosted page
    does not tell) and whether the PreSignUp trigger confirmed it, which a taken name
    answers alike."""

    user: User | None
    confirmed: bool = False


def sign_up(session: Session, state: StateStore, sender: Sender, pool: UserPool,
            username: str, password: str, attributes: dict[str, str], requester: Requester,
            client: AppClient | None = None, validation: dict[str, str] | None = None) -> SignedUp:
    """The new UNCONFIRMED user, its confirmation code sent; or CONFIRMED, without a code,
    when the pool's PreSignUp trigger confirms it (``validation`` is the call's
    ValidationData for the trigger). Only attributes ``client`` may write are accepted (see
    :mod:`.client_attributes`). Every problem is listed in one :class:`FormInvalid`, a
    :class:`PasswordRejected` when the password is the only one.

    PreSignUp and the CustomMessage that writes the code's mail run before the name is
    looked up, for a taken name alike: what the triggers answer, and how long they take,
    never tell whether it is taken. Nothing is written when either refuses."""
    username, attributes = _checked(pool, client, username, password, attributes)
    limits.require(state, pool.id, (limits.SIGN_UP_IP, (requester.ip,)))
    verdict = signup.pre_sign_up(session, pool, signup.SIGN_UP, username, attributes, validation)
    status = "CONFIRMED" if verdict.confirm else "UNCONFIRMED"
    user = User(pool_id=pool.id, sub=str(uuid.uuid4()), username=username, status=status,
                attributes={**attributes, **verdict.verified()})
    letter = None if verdict.confirm else _confirmation_letter(session, pool, user, "SignUp")
    existing = repo.get_user(session, pool.id, username)
    if existing is not None:
        hash_password(password)  # the work a new name costs: the answer's time tells nothing
        srp_verifiers.spend(pool, username, password)
        _notify_existing(state, sender, pool, existing)
        audit.record(session, pool.id, "SignUp", audit.FAIL, username=username, reason="username_exists")
        return SignedUp(None, verdict.confirm)
    user.password_hash = hash_password(password)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # a concurrent sign-up took the name
        session.rollback()
        return SignedUp(None, verdict.confirm)
    password_rules.remember(session, pool, user)
    srp_verifiers.remember(session, pool, user, password)
    audit.record(session, pool.id, "SignUp", audit.PASS, user=user, auto_confirmed=verdict.confirm)
    if letter is not None:
        _deliver_confirmation(state, sender, pool, user, letter)
    if verdict.confirm:
        signup.post_confirmation(session, pool, user, signup.CONFIRM_SIGN_UP)
    return SignedUp(user, verdict.confirm)


def _checked(pool: UserPool, client: AppClient | None, username: str, password: str,
             attributes: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The username and attributes of a sign-up as stored; every problem in one :class:`FormInvalid`."""
    errors: list[str] = []
    try:
        username = check_username(username)
    except InvalidInput as exc:
        errors.append(exc.message)
    for name in pool.required_attributes:
        if not attributes.get(name, "").strip():
            errors.append(_("%(name)s is required.", name=label(name)))
    try:
        attributes = check_attributes({k: v.strip() for k, v in attributes.items() if v.strip()})
        client_attributes.check_writable(pool, client, attributes)
    except InvalidInput as exc:
        errors.append(exc.message)
    try:
        check_new_password(pool, password)
    except PasswordRejected as exc:
        if not errors:
            raise
        errors.extend(exc.errors)
    if errors:
        raise FormInvalid(errors)
    return username, attributes


def _confirmation_letter(session: Session, pool: UserPool, user: User, source: str) -> outgoing.Letter | None:
    """The mail that will carry ``user``'s confirmation code (None without an address)."""
    if not user.attributes.get("email"):
        return None
    return outgoing.compose(session, pool, user, source, outgoing.EMAIL, messages.template(pool, "verification"))


def _deliver_confirmation(state: StateStore, sender: Sender, pool: UserPool, user: User,
                          letter: outgoing.Letter) -> str:
    code = codes.issue(state, pool.id, "signup", user.username, SIGNUP_CODE_TTL)
    to = str(user.attributes["email"])
    outgoing.deliver(letter, sender, to, {"####": code})
    return to


def send_confirmation(session: Session, state: StateStore, sender: Sender, pool: UserPool, user: User,
                      source: str = "ResendCode") -> str | None:
    """Send a confirmation code to ``user``; the address it went to (None without one)."""
    letter = _confirmation_letter(session, pool, user, source)
    return _deliver_confirmation(state, sender, pool, user, letter) if letter is not None else None


def resend_confirmation(session: Session, state: StateStore, sender: Sender, pool: UserPool, username: str,
                        requester: Requester) -> str | None:
    """Send a new code to an unconfirmed user; :class:`LimitExceeded` (for any name) past the
    limits. The address the code went to, None when none was sent (which callers do not tell)."""
    username = canonical_username(username)[:128]
    user = repo.get_user(session, pool.id, username)
    limits.send(session, state, pool.id, username, user, requester)
    if user is None or user.status != "UNCONFIRMED":
        audit.record(session, pool.id, "ResendConfirmationCode", audit.FAIL, user=user, username=username,
                     reason="not_unconfirmed")  # the same work as a code sent: the time tells nothing
        return None
    sent_to = send_confirmation(session, state, sender, pool, user)
    audit.record(session, pool.id, "ResendConfirmationCode", audit.IN_PROGRESS, user=user)
    return sent_to


def confirm_sign_up(session: Session, state: StateStore, pool: UserPool, username: str, code: str,
                    requester: Requester) -> User:
    username = canonical_username(username)[:128]
    user = repo.get_user(session, pool.id, username)
    limits.guess(session, state, pool.id, "signup", username, user, requester)
    valid = codes.consume(state, pool.id, "signup", username, code.strip(), SIGNUP_CODE_TTL)
    if not valid or user is None or user.status != "UNCONFIRMED":
        audit.record(session, pool.id, "ConfirmSignUp", audit.FAIL, user=user, username=username, reason="invalid_code")
        raise CodeMismatch([_("Invalid verification code provided, please try again.")])
    user.status = "CONFIRMED"
    if user.attributes.get("email"):
        user.attributes = {**user.attributes, "email_verified": "true"}
    audit.record(session, pool.id, "ConfirmSignUp", audit.PASS, user=user)
    signup.post_confirmation(session, pool, user, signup.CONFIRM_SIGN_UP)
    return user


def forgot_password(session: Session, state: StateStore, sender: Sender, pool: UserPool, username: str,
                    requester: Requester) -> str | None:
    """Send a reset code if the account can have one; :class:`LimitExceeded` (for any name)
    past the limits, when the code sent last stays good. The address the code went to, None
    when none was sent (which callers do not tell)."""
    username = canonical_username(username)[:128]
    user = repo.get_user(session, pool.id, username)
    limits.send(session, state, pool.id, username, user, requester)
    if user is None:  # the pool's UserMigration may find the user in the directory it replaces
        user = migration.at_forgot_password(session, pool, username)
    if user is None or not user.enabled or user.status in ("UNCONFIRMED", EXTERNAL_PROVIDER):
        # (a federated user's password lives at its IdP: Cognito refuses too)
        audit.record(session, pool.id, "ForgotPassword", audit.FAIL, user=user, username=username,
                     reason="no_password_to_reset")  # the same work as a code sent: the time tells nothing
        return None
    return send_reset_code(session, state, sender, pool, user)


def send_reset_code(session: Session, state: StateStore, sender: Sender, pool: UserPool, user: User) -> str | None:
    to = user.attributes.get("email")
    if to:
        letter = outgoing.compose(session, pool, user, "ForgotPassword", outgoing.EMAIL,
                                  messages.template(pool, "reset"))
        code = codes.issue(state, pool.id, "reset", user.username, RESET_CODE_TTL)
        outgoing.deliver(letter, sender, str(to), {"####": code})
    audit.record(session, pool.id, "ForgotPassword", audit.IN_PROGRESS, user=user)
    return str(to) if to else None


def confirm_forgot_password(session: Session, state: StateStore, pool: UserPool, username: str,
                            code: str, password: str, confirm: str, requester: Requester) -> User:
    """Set the new password when the code is right. The user's password history is checked
    only after the code, so that nobody without it learns about old passwords; the code
    stays usable when the history refuses the password."""
    check_new_password(pool, password, confirm)
    username = canonical_username(username)[:128]
    user = repo.get_user(session, pool.id, username)
    limits.guess(session, state, pool.id, "reset", username, user, requester)
    code = code.strip()
    valid = codes.check(state, pool.id, "reset", username, code, RESET_CODE_TTL)
    if not valid or user is None or not user.enabled or user.status == EXTERNAL_PROVIDER:
        audit.record(session, pool.id, "ConfirmForgotPassword", audit.FAIL, user=user, username=username,
                     reason="invalid_code")
        raise CodeMismatch([_("Invalid code provided, please request a code again.")])
    check_new_password(pool, password, user=user)
    if not codes.redeem(state, pool.id, "reset", username, code):
        raise CodeMismatch([_("Invalid code provided, please request a code again.")])
    password_rules.set_password(session, pool, user, password)
    user.status = "CONFIRMED"
    lockout.unlock(state, user)  # the emailed code proves the owner: a lockout has no more use
    # Whoever knew the old password is signed out: tokens and hosted sessions, everywhere.
    revoked = repo.sign_out_everywhere(session, user)
    audit.record(session, pool.id, "ConfirmForgotPassword", audit.PASS, user=user, families=revoked)
    signup.post_confirmation(session, pool, user, signup.CONFIRM_FORGOT_PASSWORD)
    return user


def _notify_existing(state: StateStore, sender: Sender, pool: UserPool, user: User) -> None:
    """Tell the owner of a name someone tried to sign up with, at most once an hour."""
    if limits.spend(state, pool.id, limits.NOTICE_USER, user.username) > 0:
        return
    _send(sender, user, _("Sign-up attempt"),
          _("Someone tried to sign up with your username %(u)s. If it was you, sign in or reset your password.",
            u=user.username))


def _send(sender: Sender, user: User, subject: str, text: str) -> None:
    to = user.attributes.get("email")
    if to:
        sender.send(Message(to=to, subject=subject, text=text))
