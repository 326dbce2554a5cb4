"""Attribute changes that need re-verification (Cognito's AdminUpdateUserAttributes and
VerifyUserAttribute with ``AttributesRequireVerificationBeforeUpdate``):
https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-email-phone-verification.html

A new ``email`` or ``phone_number`` does not replace the old one until its owner types the
code sent to the NEW address: until then the old value and its ``*_verified`` flag stay,
so tokens keep carrying an address the user proved. The new value waits in
``user.attributes`` under ``pending:<name>``, a name tokens never release (only standard
claims and ``custom:*`` are) and :func:`check_attributes` never accepts from outside.

    update_attributes(session, state, sender, sms, pool, user, {"email": "new@example.com"})
    # -> ["email"]; the code goes to new@example.com
    verify_attribute(session, state, pool, user, "email", "123456")  # -> True: email replaced, verified

With nothing pending, a current address that is not verified yet (an admin set it, or the
user signed up before verification was asked) is verified the same way: a code sent to it
(GetUserAttributeVerificationCode), then typed back.
"""
from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..i18n import gettext as _
from ..store.models import User, UserPool
from ..store.state import StateStore
from . import audit, codes, limits, messages, outgoing
from .attributes import check_attributes, check_name, label
from .limits import Requester
from .senders import Sender, SmsSender

#: Attributes that change only once the new value is verified, with their flags.
VERIFIED_BY = {"email": "email_verified", "phone_number": "phone_number_verified"}
PENDING = "pending:"
CODE_TTL = 24 * 3600  # Cognito's verification codes last a day


def pending_key(name: str) -> str:
    return PENDING + name


def pending(user: User) -> dict[str, str]:
    """The values waiting for verification, by attribute name."""
    return {name: str(user.attributes[pending_key(name)]) for name in VERIFIED_BY
            if pending_key(name) in user.attributes}


def current(user: User) -> dict[str, Any]:
    """The user's attributes as they are, without the values waiting for verification."""
    return {name: value for name, value in user.attributes.items() if not name.startswith(PENDING)}


def describe_pending(user: User) -> list[dict[str, str]]:
    """Pending values in Cognito's AttributeType shape, as the CLI prints them."""
    return [{"Name": name, "Value": value} for name, value in pending(user).items()]


def to_verify(user: User, name: str) -> str | None:
    """The value of ``name`` a code would verify: the pending one, else the current one
    when it is not verified yet; None when there is nothing to verify."""
    if name not in VERIFIED_BY:
        return None
    waiting = pending(user).get(name)
    if waiting is not None:
        return waiting
    current = user.attributes.get(name)
    verified = user.attributes.get(VERIFIED_BY[name]) in ("true", True)
    return str(current) if current and not verified else None


def update_attributes(session: Session, state: StateStore | None, sender: Sender | None, sms: SmsSender | None,
                      pool: UserPool, user: User, changes: dict[str, str],
                      event: str = "AdminUpdateUserAttributes", requester: Requester | None = None,
                      vouched: bool = False) -> list[str]:
    """Apply ``changes``; returns the attributes now waiting for verification. Everything is
    checked before anything is written. ``state``/``sender``/``sms`` None (the CLI without
    Redis, SMTP or an SMS webhook): no code now; the next hosted sign-in sends one. A
    change a user asks for (``requester``) sends its codes within the limits on codes
    (:func:`broker.userpool.limits.send`): nobody mails a stranger's address at will.
    ``vouched`` (the admin API, as Cognito's AdminUpdateUserAttributes): ``*_verified``
    flags may be set, and a new value sent with its flag ``true`` replaces the old one at
    once, verified, without a code."""
    if not changes:
        raise InvalidInput("give at least one attribute to change")
    checked = check_attributes(changes)
    flags = {k: v for k, v in checked.items() if k in VERIFIED_BY.values()}
    if flags and not vouched:
        raise InvalidInput(f"{sorted(flags)[0]} changes only by verifying the new value (verify-attribute)")
    for flag, value in flags.items():
        if value not in ("true", "false"):
            raise InvalidInput(f"{flag} must be true or false")
    attributes = dict(user.attributes)
    waiting: list[str] = []
    for name, value in checked.items():
        if name not in VERIFIED_BY:
            attributes[name] = value
        elif value == attributes.get(name) or flags.get(VERIFIED_BY[name]) == "true":
            attributes[name] = value
            attributes.pop(pending_key(name), None)  # the current value, or one vouched for: nothing to verify
        else:
            attributes[pending_key(name)] = value
            waiting.append(name)
    if waiting and requester is not None and state is not None:
        limits.send(session, state, pool.id, user.username, user, requester)
    user.attributes = attributes
    session.flush()
    _send_codes(session, state, sender, sms, pool, user, waiting, "UpdateUserAttribute")
    audit.record(session, pool.id, event, audit.PASS, user=user, changed=sorted(set(checked) - set(waiting)),
                 pending=waiting)
    return waiting


def send_code(session: Session, state: StateStore | None, sender: Sender | None, sms: SmsSender | None,
              pool: UserPool, user: User, name: str, source: str = "VerifyUserAttribute") -> bool:
    """A fresh code for the value of ``name`` to verify (:func:`to_verify`: a pending value
    goes to the NEW address), in the pool's verification message, as Cognito does (through
    the pool's triggers, ``source`` naming why: :mod:`.outgoing`); False when there is
    nothing to verify or nothing can deliver it."""
    found = _code_letter(session, state, sender, sms, pool, user, name, source)
    if found is None:
        return False
    _deliver_code(state, pool, user, name, *found)
    return True


def _send_codes(session: Session, state: StateStore | None, sender: Sender | None, sms: SmsSender | None,
                pool: UserPool, user: User, names: list[str], source: str) -> None:
    """A code for the value of each of ``names``, their messages all composed before any
    goes: a CustomMessage that fails sends none."""
    letters = [(name, found) for name in names
               if (found := _code_letter(session, state, sender, sms, pool, user, name, source))]
    for name, (letter, channel, value) in letters:
        _deliver_code(state, pool, user, name, letter, channel, value)


def _code_letter(session: Session, state: StateStore | None, sender: Sender | None, sms: SmsSender | None,
                 pool: UserPool, user: User, name: str, source: str) -> tuple[outgoing.Letter, Any, str] | None:
    """The verification message for ``name`` (composed, no code yet), its channel and the
    value it goes to; None when there is nothing to verify or nothing can deliver it."""
    value = to_verify(user, name)
    channel = {"email": sender, "phone_number": sms}.get(name)
    if value is None or state is None or channel is None:
        return None
    medium = outgoing.EMAIL if name == "email" else outgoing.SMS
    return outgoing.compose(session, pool, user, source, medium, messages.template(pool, "verification")), channel, value


def _deliver_code(state: StateStore | None, pool: UserPool, user: User, name: str, letter: outgoing.Letter,
                  channel: Any, value: str) -> None:
    assert state is not None
    code = codes.issue(state, pool.id, _purpose(name, value), user.username, CODE_TTL)
    outgoing.deliver(letter, channel, value, {"####": code})


def resend_code(session: Session, state: StateStore, sender: Sender, sms: SmsSender, pool: UserPool, user: User,
                name: str, requester: Requester) -> str:
    """A new code for ``name`` (GetUserAttributeVerificationCode), within the limits on
    codes; returns the address or number it went to. :class:`InvalidInput` when there is
    nothing to verify."""
    value = to_verify(user, name)
    if value is None:
        raise InvalidInput(_("%(name)s has no value waiting for verification.", name=label(name)))
    limits.send(session, state, pool.id, user.username, user, requester)
    send_code(session, state, sender, sms, pool, user, name)
    audit.record(session, pool.id, "GetUserAttributeVerificationCode", audit.IN_PROGRESS, user=user, attribute=name)
    return value


def verify_attribute(session: Session, state: StateStore, pool: UserPool, user: User, name: str, code: str) -> bool:
    """With the right code, the value it was sent to (:func:`to_verify`) replaces the old
    one and is verified. Wrong codes are bounded as every code is (:mod:`codes`): after a
    few, only a new code works."""
    if name not in VERIFIED_BY:
        raise InvalidInput(f"only {' and '.join(VERIFIED_BY)} are verified by code, not {name!r}")
    value = to_verify(user, name)
    valid = value is not None and codes.consume(state, pool.id, _purpose(name, value), user.username,
                                                code.strip(), CODE_TTL)
    if not valid:
        audit.record(session, pool.id, "VerifyUserAttribute", audit.FAIL, user=user, attribute=name,
                     reason="invalid_code" if value is not None else "nothing_pending")
        return False
    attributes = {k: v for k, v in user.attributes.items() if k != pending_key(name)}
    user.attributes = {**attributes, name: value, VERIFIED_BY[name]: "true"}
    audit.record(session, pool.id, "VerifyUserAttribute", audit.PASS, user=user, attribute=name)
    return True


def delete_attributes(session: Session, pool: UserPool, user: User, names: list[str],
                      event: str = "AdminDeleteUserAttributes") -> None:
    """Remove attributes (Cognito's DeleteUserAttributes): never one the pool requires; an
    address or number goes with its verification flag and any value waiting to replace it."""
    for name in names:
        check_name(name)
        if name in pool.required_attributes:
            raise InvalidInput(_("%(name)s is required and cannot be removed.", name=label(name)))
    gone = set(names)
    gone |= {VERIFIED_BY[n] for n in names if n in VERIFIED_BY} | {pending_key(n) for n in names if n in VERIFIED_BY}
    user.attributes = {k: v for k, v in user.attributes.items() if k not in gone}
    audit.record(session, pool.id, event, audit.PASS, user=user, removed=sorted(set(names)))


def _purpose(name: str, value: str) -> str:
    """Codes are bound to the value they were sent to: a code sent to an address the admin
    has since replaced never verifies the replacement."""
    return f"verify-{name}-{hashlib.sha256(value.encode()).hexdigest()[:16]}"
