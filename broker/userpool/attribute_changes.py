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
"""
from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..store.models import User, UserPool
from ..store.state import StateStore
from . import audit, codes, messages
from .attributes import check_attributes
from .senders import Message, Sender, Sms, SmsSender

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


def describe_pending(user: User) -> list[dict[str, str]]:
    """Pending values in Cognito's AttributeType shape, as the CLI prints them."""
    return [{"Name": name, "Value": value} for name, value in pending(user).items()]


def update_attributes(session: Session, state: StateStore | None, sender: Sender | None, sms: SmsSender | None,
                      pool: UserPool, user: User, changes: dict[str, str]) -> list[str]:
    """Apply ``changes``; returns the attributes now waiting for verification. Everything is
    checked before anything is written. ``state``/``sender``/``sms`` None (the CLI without
    Redis, SMTP or an SMS webhook): no code now; the next hosted sign-in sends one."""
    if not changes:
        raise InvalidInput("give at least one attribute to change")
    checked = check_attributes(changes)
    flags = sorted(set(checked) & set(VERIFIED_BY.values()))
    if flags:
        raise InvalidInput(f"{flags[0]} changes only by verifying the new value (verify-attribute)")
    attributes = dict(user.attributes)
    waiting: list[str] = []
    for name, value in checked.items():
        if name not in VERIFIED_BY:
            attributes[name] = value
        elif value == attributes.get(name):
            attributes.pop(pending_key(name), None)  # back to the current value: nothing to verify
        else:
            attributes[pending_key(name)] = value
            waiting.append(name)
    user.attributes = attributes
    session.flush()
    for name in waiting:
        send_code(state, sender, sms, pool, user, name)
    audit.record(session, pool.id, "AdminUpdateUserAttributes", audit.PASS, user=user,
                 changed=sorted(set(checked) - set(waiting)), pending=waiting)
    return waiting


def send_code(state: StateStore | None, sender: Sender | None, sms: SmsSender | None, pool: UserPool,
              user: User, name: str) -> bool:
    """A fresh code for ``name``'s pending value, sent to that NEW address (the pool's
    verification message, as Cognito does); False when nothing is pending or nothing can
    deliver it."""
    value = pending(user).get(name)
    if value is None or state is None:
        return False
    if name == "email" and sender is not None:
        message = _message(state, pool, user, name, value)
        sender.send(Message(to=value, subject=message.subject, text=message.text, html=message.html))
    elif name == "phone_number" and sms is not None:
        sms.send(Sms(to=value, text=_message(state, pool, user, name, value).text))
    else:
        return False
    return True


def _message(state: StateStore, pool: UserPool, user: User, name: str, value: str) -> messages.Template:
    code = codes.issue(state, pool.id, _purpose(name, value), user.username, CODE_TTL)
    return messages.render(pool, "verification", {"username": user.username, "####": code})


def verify_attribute(session: Session, state: StateStore, pool: UserPool, user: User, name: str, code: str) -> bool:
    """With the right code, the pending value replaces the old one and is verified. Wrong
    codes are bounded as every code is (:mod:`codes`): after a few, only a new code works."""
    if name not in VERIFIED_BY:
        raise InvalidInput(f"only {' and '.join(VERIFIED_BY)} are verified by code, not {name!r}")
    value = pending(user).get(name)
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


def _purpose(name: str, value: str) -> str:
    """Codes are bound to the value they were sent to: a code sent to an address the admin
    has since replaced never verifies the replacement."""
    return f"verify-{name}-{hashlib.sha256(value.encode()).hexdigest()[:16]}"
