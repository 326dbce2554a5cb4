"""UserMigration: a name the pool does not have is looked up in the directory the pool
replaces, and the user it finds is created here, once; after that the trigger is never
called for that user again.
https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-migrate-user.html

- ``UserMigration_Authentication``, at a sign-in that sends the password (USER_PASSWORD_AUTH,
  ADMIN_USER_PASSWORD_AUTH, the hosted sign-in page; an SRP sign-in cannot migrate, the
  password never reaches the server): the user is created with that password (Argon2id
  hash and SRP verifier, as any password set), and the sign-in goes on with it;
- ``UserMigration_ForgotPassword``, at ForgotPassword (API or hosted page): the user is
  created ``RESET_REQUIRED`` without a password, and the reset code goes out as for anyone.

The handler answers with ``userAttributes`` (required), ``finalUserStatus``
(``CONFIRMED`` or, by default, ``RESET_REQUIRED``), ``messageAction``,
``desiredDeliveryMediums``, ``forceAliasCreation`` and ``enableSMSMFA``. A handler that
finds nobody (no ``userAttributes``), raises, fails or answers nonsense migrates nobody, and
the caller gets the answer any unknown name gets: Cognate never tells whether a user
exists, so neither does a broken handler (its failure is audited and logged). What lazy
migration cannot hide is time: only names the pool lacks wait for the handler, as on
Cognito. It runs after the password throttle has counted the try (sign-in) or the code
limits have (forgotten password), so it is called no more often than those allow.

Cognate has no welcome message for migrated users (Cognito's would be the invitation, whose
temporary password a migrated user does not have) and no alias attributes, so
``messageAction``, ``desiredDeliveryMediums`` and ``forceAliasCreation`` are checked and
otherwise have no effect. ``enableSMSMFA`` turns SMS codes on (the pool must offer them and
the user have a phone number, or nobody is migrated).

    user = at_sign_in(session, pool, "legacy_ann", "her-old-password", {"app": "web"})
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InvalidInput, TriggerFailed
from ..store import repo
from ..store.models import User, UserPool
from ..userpool import audit, mfa, mfa_settings, password_rules, srp_verifiers
from ..userpool.attributes import check_attributes
from ..userpool.passwords import hash_password
from ..userpool.usernames import check_username
from . import answers, invoke
from .attributes import text
from .settings import USER_MIGRATION

STATUSES = ("CONFIRMED", "RESET_REQUIRED")
MESSAGE_ACTIONS = ("SUPPRESS", "RESEND")
MEDIUMS = ("EMAIL", "SMS")
#: Attributes a handler may name that are not the user's to set (``username`` stands for an
#: alias, which Cognate's pools have none of).
IGNORED = ("username", "sub")
log = logging.getLogger("broker.triggers")


@dataclass(frozen=True)
class Migrated:
    """What the handler found: the user to create."""

    attributes: dict[str, str]
    status: str
    sms_mfa: bool


def at_sign_in(session: Session, pool: UserPool, username: str, password: str,
               validation: dict[str, str]) -> User | None:
    """The user created for a sign-in of an unknown ``username`` with ``password``, or None
    (no trigger, or the handler found nobody)."""
    request = {"password": password, "validationData": dict(validation)}
    return _migrate(session, pool, "UserMigration_Authentication", username, password, request)


def at_forgot_password(session: Session, pool: UserPool, username: str) -> User | None:
    """The user created, ``RESET_REQUIRED``, for a forgotten password of an unknown
    ``username``, or None."""
    return _migrate(session, pool, "UserMigration_ForgotPassword", username, None, {"validationData": {}})


def _migrate(session: Session, pool: UserPool, source: str, username: str, password: str | None,
             request: dict[str, Any]) -> User | None:
    if not invoke.configured(pool, USER_MIGRATION):
        return None
    try:
        name = check_username(username)
    except InvalidInput:
        return None  # no name the pool could hold: nobody to ask about
    empty = {"userAttributes": None, "finalUserStatus": None, "messageAction": None,
             "desiredDeliveryMediums": None, "forceAliasCreation": None, "enableSMSMFA": None}
    try:
        found = read(invoke.fire(session, pool, USER_MIGRATION, source, name, request, empty), forgot=password is None)
        if found is None:
            audit.record(session, pool.id, USER_MIGRATION, audit.FAIL, username=name, source=source, reason="not_found")
            return None
        return _create(session, pool, name, password, found, source)
    except TriggerFailed as exc:
        log.warning("%s of %r in %s failed: %s", source, name, pool.id, exc.message)
        audit.record(session, pool.id, USER_MIGRATION, audit.FAIL, username=name, source=source, reason="trigger_failed")
        return None


def read(response: dict[str, Any] | None, forgot: bool = False) -> Migrated | None:
    """The handler's answer: None when it found nobody (no ``userAttributes``);
    :class:`~broker.errors.TriggerInvalidResponse` when a member is of the wrong kind."""
    response = response or {}
    given = answers.obj(response.get("userAttributes"))
    if not given:
        return None
    if not all(isinstance(v, (str, bool)) for v in given.values()):
        raise invoke.invalid()
    status = answers.choice(response.get("finalUserStatus"), STATUSES) or "RESET_REQUIRED"
    answers.choice(response.get("messageAction"), MESSAGE_ACTIONS)
    answers.flag(response.get("forceAliasCreation"))
    sms = answers.flag(response.get("enableSMSMFA"))
    if not set(answers.string_list(response.get("desiredDeliveryMediums"))) <= set(MEDIUMS):
        raise invoke.invalid()
    values = {k: text(v) for k, v in given.items() if k not in IGNORED}
    try:
        attributes = check_attributes(values)
    except InvalidInput:
        raise invoke.invalid() from None
    return Migrated(attributes, "RESET_REQUIRED" if forgot else status, sms)


def _create(session: Session, pool: UserPool, name: str, password: str | None, found: Migrated,
            source: str) -> User | None:
    """Create the user the handler found (the sign-in it came from then checks the password
    against what was stored, as for anyone). Two sign-ins migrating one name at once: the
    one whose insert loses takes the user the other created."""
    if found.sms_mfa and (mfa.SMS_OTP not in pool.mfa_methods or not found.attributes.get("phone_number")):
        raise invoke.invalid()  # SMS codes need a pool that offers them and a phone number
    user = User(pool_id=pool.id, username=name, password_hash=hash_password(password) if password else None,
                status=found.status, attributes=found.attributes)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return repo.get_user(session, pool.id, name)
    if password:
        password_rules.remember(session, pool, user)
        srp_verifiers.remember(session, pool, user, password)
    if found.sms_mfa:
        mfa_settings.change(session, pool, user, {mfa.SMS_OTP: True}, event="UserMigrationMfa")
    audit.record(session, pool.id, USER_MIGRATION, audit.PASS, user=user, source=source, status=found.status)
    return user
