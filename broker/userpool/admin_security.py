"""Admin operations on account security, shaped like Cognito's: admin-created users and
their invitations by email or text message (AdminCreateUser, its DesiredDeliveryMediums and
MessageAction=RESEND; the CLI's ``user create`` and the admin API call the same
:func:`create_invited`), a forced password reset
(AdminResetUserPassword), unlocking a locked-out user, and the pool's security settings
(UpdateUserPool). Each validates its input before writing and is written to the audit log.

``state`` is the server's state store (Redis), or None when the server keeps its state in
its own process (no ``REDIS_URL``): the CLI then cannot reach codes and failure counters.
``sender`` (``sms``) None means nothing can be delivered by email (text message): no SMTP
server, or MessageAction=SUPPRESS; the CLI then shows the temporary password to the admin.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..errors import InvalidInput, PasswordRejected, UnsupportedUserState
from ..store import repo
from ..store.models import User, UserPool
from ..store.state import StateStore
from ..triggers import settings as trigger_settings
from . import accounts, admin, audit, lockout, messages, outgoing, password_rules, srp_verifiers
from .passwords import PasswordPolicy, hash_password
from .mfa_settings import FACTORS
from .security import ACTIONS, LEVELS, Security
from .senders import Sender, SmsSender

#: Cognito's names where it has the setting; the others are Cognate's own.
SECURITY_NAMES = {
    "lockout_threshold": "LockoutThreshold", "lockout_seconds": "LockoutSeconds",
    "password_history": "PasswordHistorySize", "compromised_check": "CompromisedPasswordCheck",
    "temp_password_days": "TemporaryPasswordValidityDays", "remember_devices_days": "RememberDevicesDays",
    "adaptive": "AdaptivePolicy",
}
#: Cognito's DeliveryMediumType values and the attribute each one delivers to.
MEDIUMS = {"EMAIL": "email", "SMS": "phone_number"}


@dataclass(frozen=True)
class Invitation:
    """An invited user: the temporary password set (None when the admin set a permanent
    one or imported a hash) and where the invitation went (empty: nowhere, so the admin
    must pass the password on)."""

    user: User
    temporary: str | None
    sent_to: tuple[str, ...] = ()


def create_invited(session: Session, sender: Sender | None, sms: SmsSender | None, pool_id: str, username: str,
                   password: str | None = None, attributes: dict[str, str] | None = None, confirmed: bool = False,
                   groups: list[str] | None = None, password_hash: str | None = None,
                   mediums: list[str] | None = None, validation: dict[str, str] | None = None) -> Invitation:
    """AdminCreateUser (:func:`admin.create_user`, which runs the pool's PreSignUp trigger
    with ``validation``, the call's ValidationData) and its invitation: a temporary password
    (generated, or ``password`` without ``confirmed``) goes to the user by the ``mediums``
    asked for (Cognito's DesiredDeliveryMediums, each needing its attribute, checked before
    anything is written). ``sender``/``sms`` None: that medium delivers nothing (Cognito's
    MessageAction=SUPPRESS, or the CLI without SMTP)."""
    _check_mediums(mediums, attributes or {})
    user, generated = admin.create_user(session, pool_id, username, password, attributes, confirmed, groups,
                                        password_hash=password_hash, validation=validation or {})
    temporary = generated
    if user.status == "FORCE_CHANGE_PASSWORD" and password_hash is None:
        temporary = temporary or password
    pool = admin.require_pool(session, pool_id)
    sent_to = invite(session, sender, sms, pool, user, temporary, mediums) if temporary else ()
    return Invitation(user, temporary, sent_to)


def _check_mediums(mediums: list[str] | None, attributes: dict[str, Any]) -> None:
    for medium in mediums or ():
        if medium not in MEDIUMS:
            raise InvalidInput(f"unknown delivery medium {medium!r}: {' or '.join(MEDIUMS)}")
        if not attributes.get(MEDIUMS[medium]):
            raise InvalidInput(f"{MEDIUMS[medium]} is required to deliver the invitation by {medium}")


def invite(session: Session, sender: Sender | None, sms: SmsSender | None, pool: UserPool, user: User,
           temporary: str, mediums: list[str] | None = None) -> tuple[str, ...]:
    """Send ``user`` the pool's invitation with the temporary password by each of
    ``mediums``; none asked for: by SMS to a phone number (Cognito's default), else by
    email. Returns the addresses and numbers it went to (through the pool's triggers:
    :mod:`.outgoing`)."""
    if mediums is None:
        mediums = ["SMS"] if user.attributes.get("phone_number") and sms is not None else ["EMAIL"]
    days = Security.of(pool.security).temp_password_days
    values = {"password": temporary, "####": temporary, "days": str(days)}
    template = messages.template(pool, "invitation")
    letters = []  # all composed before any goes: a CustomMessage that fails sends none
    for medium, channel in (("EMAIL", sender), ("SMS", sms)):
        to = user.attributes.get(MEDIUMS[medium])
        if medium in mediums and channel is not None and to:
            letters.append((outgoing.compose(session, pool, user, "AdminCreateUser", medium, template), channel,
                            str(to)))
    for letter, channel, to in letters:
        outgoing.deliver(letter, channel, to, values)
    return tuple(to for _letter, _channel, to in letters)


def resend_invitation(session: Session, sender: Sender | None, state: StateStore | None, pool_id: str,
                      username: str, sms: SmsSender | None = None, mediums: list[str] | None = None,
                      temporary: str | None = None) -> Invitation:
    """A new temporary password (``temporary``, or a generated one), a new validity period
    and a new invitation for a user who has not signed in yet (Cognito's
    MessageAction=RESEND)."""
    pool = admin.require_pool(session, pool_id)
    user = admin.require_user(session, pool.id, username)
    if user.status != "FORCE_CHANGE_PASSWORD":
        raise UnsupportedUserState(f"user {user.username!r} has status {user.status}: only FORCE_CHANGE_PASSWORD "
                                   "users get invitations (use reset-password for the others)")
    _check_mediums(mediums, user.attributes)
    if temporary is not None:
        problems = password_rules.problems(pool, temporary)
        if problems:
            raise PasswordRejected(problems)
    temporary = temporary or admin.generate_password(PasswordPolicy.from_dict(pool.password_policy))
    user.password_hash = hash_password(temporary)
    srp_verifiers.remember(session, pool, user, temporary)
    user.temp_password_expires_at = admin.temporary_expiry(pool)
    password_rules.remember(session, pool, user)
    lockout.unlock(state, user)
    sent_to = invite(session, sender, sms, pool, user, temporary, mediums)
    audit.record(session, pool.id, "AdminResendInvitation", audit.PASS, user=user, sent=bool(sent_to))
    return Invitation(user, temporary, sent_to)


def reset_password(session: Session, sender: Sender | None, state: StateStore | None, pool_id: str,
                   username: str) -> tuple[User, str | None, int]:
    """RESET_REQUIRED: the user's next sign-in leads to /confirmForgotPassword. The password
    is distrusted, so the user is signed out everywhere (tokens and hosted sessions). A code
    is sent now when the state store is shared (another one at that sign-in). Returns the
    user, the address the code went to and the number of token families revoked."""
    pool = admin.require_pool(session, pool_id)
    user = admin.require_user(session, pool.id, username)
    if user.status not in ("CONFIRMED", "RESET_REQUIRED"):
        raise InvalidInput(f"user {user.username!r} has status {user.status}: only confirmed users can be reset")
    user.status = "RESET_REQUIRED"
    revoked = repo.sign_out_everywhere(session, user)
    audit.record(session, pool.id, "AdminResetUserPassword", audit.PASS, user=user, families=revoked)
    if state is None or sender is None or not user.attributes.get("email"):
        return user, None, revoked
    accounts.send_reset_code(session, state, sender, pool, user)
    return user, str(user.attributes["email"]), revoked


def unlock(session: Session, state: StateStore | None, pool_id: str, username: str) -> User:
    pool = admin.require_pool(session, pool_id)
    user = admin.require_user(session, pool.id, username)
    was_locked = user.locked_until
    lockout.unlock(state, user)
    audit.record(session, pool.id, "AdminUnlockUser", audit.PASS, user=user,
                 was_locked_until=was_locked.isoformat() if was_locked else None)
    return user


def update_pool(session: Session, pool_id: str, mfa: str | None = None, adaptive: dict[str, str] | None = None,
                link_by_email: bool | None = None, name: str | None = None, self_signup: bool | None = None,
                password_policy: dict[str, Any] | None = None, **changes: Any) -> UserPool:
    """UpdateUserPool for the settings given (None: unchanged): ``changes`` are
    :class:`Security` fields; ``adaptive`` maps risk levels to actions, merged into the
    current map; ``link_by_email`` links a first federated sign-in to the user with that
    verified email; ``password_policy`` replaces the policy (:class:`PasswordPolicy` fields)."""
    pool = admin.require_pool(session, pool_id)
    if mfa is not None and mfa not in admin.MFA:
        raise InvalidInput(f"--mfa must be one of {', '.join(admin.MFA)}")
    if mfa in ("ON", "OPTIONAL") and not pool.mfa_methods:
        raise InvalidInput("the pool offers no second factor: choose some first (SetUserPoolMfaConfig, "
                           "broker pool set-mfa)")
    current = Security.of(pool.security)
    given = {k: v for k, v in changes.items() if v is not None}
    unknown = set(given) - {f.name for f in dataclasses.fields(Security)}
    if unknown:
        raise InvalidInput(f"unknown security setting {sorted(unknown)[0]!r}")
    if adaptive:
        given["adaptive"] = {**current.adaptive, **{k.upper(): v.upper() for k, v in adaptive.items()}}
    policy = admin.check_password_policy(password_policy) if password_policy is not None else None
    pool_changes = {k: v for k, v in (("mfa", mfa), ("link_by_email", link_by_email), ("name", _name(name)),
                                      ("self_signup", self_signup), ("password_policy", policy)) if v is not None}
    if not pool_changes and not given:
        raise InvalidInput("give at least one setting to change")
    updated = dataclasses.replace(current, **given).check()
    for key, value in pool_changes.items():
        setattr(pool, key, value)
    pool.security = updated.as_dict()
    session.flush()
    audit.record(session, pool.id, "UpdateUserPool", audit.PASS, **pool_changes, **given)
    return pool


def _name(name: str | None) -> str | None:
    if name is not None and not 1 <= len(name.strip()) <= 128:
        raise InvalidInput("pool name must have 1 to 128 characters")
    return name.strip() if name is not None else None


def parse_adaptive(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``LEVEL=ACTION`` pairs (``MEDIUM=MFA``) as a map; one clear line when malformed."""
    out = {}
    for item in values:
        level, sep, action = item.partition("=")
        level, action = level.strip().upper(), action.strip().upper()
        if not sep or level not in LEVELS or action not in ACTIONS:
            raise InvalidInput(f"--adaptive takes LEVEL=ACTION with LEVEL in {'/'.join(LEVELS)} "
                               f"and ACTION in {'/'.join(ACTIONS)}, got {item!r}")
        out[level] = action
    return out


def set_message(session: Session, pool_id: str, kind: str, subject: str | None, text: str | None,
                html: str | None) -> UserPool:
    pool = admin.require_pool(session, pool_id)
    messages.set_template(session, pool, kind, subject, text, html)
    audit.record(session, pool.id, "UpdateUserPool", audit.PASS, message_template=kind,
                 default=kind not in pool.messages)
    return pool


def describe_pool(pool: UserPool) -> dict[str, Any]:
    """A pool as DescribeUserPool shows it, with the security settings and message templates."""
    security = Security.of(pool.security).as_dict()
    return {
        "Id": pool.id, "Name": pool.name, "MfaConfiguration": pool.mfa, "SelfSignUp": pool.self_signup,
        "SigningAlgorithm": pool.signing_alg, "PasswordPolicy": pool.password_policy,
        "RequiredAttributes": pool.required_attributes,
        "Security": {SECURITY_NAMES.get(k, _camel(k)): v for k, v in security.items()},
        "MessageTemplates": messages.describe(pool),
        "LinkFederatedUsersByEmail": pool.link_by_email,
        "LambdaConfig": trigger_settings.describe(pool),
        "CreationDate": pool.created_at.isoformat(),
    }


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def set_mfa_config(session: Session, pool_id: str, mfa: str, methods: list[str]) -> UserPool:
    """SetUserPoolMfaConfig: whether sign-ins ask for a second factor (OFF, OPTIONAL, ON)
    and which factors users may choose (``TOTP``, ``EMAIL_OTP``, ``SMS_OTP``). A pool that
    asks for one offers at least one, as Cognito requires."""
    pool = admin.require_pool(session, pool_id)
    if mfa not in admin.MFA:
        raise InvalidInput(f"MFA must be one of {', '.join(admin.MFA)}")
    unknown = sorted(set(methods) - set(FACTORS))
    if unknown:
        raise InvalidInput(f"unknown second factor {unknown[0]!r}: one of {', '.join(FACTORS)}")
    if mfa != "OFF" and not methods:
        raise InvalidInput("Invalid MFA configuration given, can't turn on MFA without any MFA type enabled")
    pool.mfa, pool.mfa_methods = mfa, [m for m in FACTORS if m in methods]
    session.flush()
    audit.record(session, pool.id, "SetUserPoolMfaConfig", audit.PASS, mfa=mfa, methods=pool.mfa_methods)
    return pool
