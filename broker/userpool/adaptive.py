"""Adaptive authentication at the password step: what the risk of a sign-in with a right
password leads to, decided before anything tells the client that the password was right.

A ``BLOCK`` (or ``MFA`` for a user with no factor to ask for) must not answer differently
from a wrong password, or the block becomes a test of passwords: the sign-in fails with the
one generic message and counts toward the lockout like a wrong password, and the user is
told out of band, by mail to their address (Cognito's adaptive authentication notifies users
of a blocked sign-in the same way). A user with a second factor is asked for it instead of
being blocked: the factor is what an attacker holding the password lacks.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..i18n import gettext as _
from ..store.models import User, UserPool, utcnow
from . import attributes, audit, mfa, outgoing, risk
from .security import Security
from .senders import Message, Sender


@dataclass(frozen=True)
class Context:
    """Where a sign-in comes from: the client's address and this browser's device."""

    ip: str
    device_key: str
    user_agent: str | None = None


def decide(session: Session, pool: UserPool, user: User, context: Context) -> risk.Assessment:
    """The sign-in's risk and action, recorded as a ``RiskDecision``: a ``BLOCK`` steps up
    to the user's enrolled second factor instead, and ``MFA`` without any factor to ask for
    (enrolled, or a code to a verified address) blocks."""
    found = risk.assess(session, pool, user, context.device_key, context.ip)
    action, skippable = found.action, found.remembered
    remembered = found.remembered and Security.of(pool.security).remember_devices_days > 0
    if action == risk.BLOCK and mfa.challenge(session, pool, user).factor:  # the factor the attacker lacks
        action, skippable = risk.MFA, False  # a remembered device does not skip this one
    elif action == risk.MFA and not remembered and step_up_factor(session, pool, user) is None:
        action = risk.BLOCK  # nothing to step up to (a remembered device skips MFA)
    assessment = risk.Assessment(found.level, action, found.signals, skippable)
    audit.record(session, pool.id, "RiskDecision", audit.BLOCK if action == risk.BLOCK else audit.PASS,
                 user=user, ip=context.ip, risk=assessment.level, action=action,
                 remembered_device=assessment.remembered, **assessment.signals)
    return assessment


def weigh_only(session: Session, pool: UserPool, user: User, context: Context) -> str:
    """What :func:`decide` reads, for a wrong password: a blocked right one then answers no
    later than a wrong one does. The risk level, for the audit log."""
    found = risk.assess(session, pool, user, context.device_key, context.ip)
    if found.action == risk.BLOCK:
        mfa.challenge(session, pool, user)
    return found.level


def step_up_factor(session: Session, pool: UserPool, user: User) -> str | None:
    """The factor to ask ``user`` for when the risk calls for one: an enrolled factor, else a
    code by email when the address is verified and the pool allows emailed codes."""
    enrolled = mfa.challenge(session, pool, user).factor
    if enrolled:
        return enrolled
    verified = attributes.verified(user.attributes, "email")
    return mfa.EMAIL_OTP if verified and mfa.EMAIL_OTP in pool.mfa_methods else None


def as_data(assessment: risk.Assessment) -> dict[str, Any]:
    """The decision as the login transaction keeps it for the steps after the password."""
    return {"level": assessment.level, "action": assessment.action, "remembered": assessment.remembered}


def from_data(data: dict[str, Any] | None) -> risk.Assessment | None:
    if not isinstance(data, dict) or data.get("action") not in (risk.ALLOW, risk.MFA, risk.BLOCK):
        return None
    return risk.Assessment(str(data.get("level")), data["action"], {}, bool(data.get("remembered")))


def notify_blocked(session: Session, sender: Sender | None, pool: UserPool, user: User, context: Context,
                   now: dt.datetime | None = None) -> None:
    """Tell the user by mail that a sign-in with their password was blocked: when, from where
    (or the pool's custom email sender, as ``AccountTakeOverNotification``)."""
    to = user.attributes.get("email")
    if sender is None or not to:
        return
    when = (now or utcnow()).strftime("%Y-%m-%d %H:%M UTC")
    text = _("A sign-in to your account %(username)s with your password was blocked for your protection "
             "on %(time)s from the address %(ip)s (%(agent)s). If it was you, sign in again from a device "
             "you have used before. If not, change your password now.",
             username=user.username, time=when, ip=context.ip, agent=(context.user_agent or "-")[:200])
    notice = Message(to=str(to), subject=_("A sign-in to your account was blocked"), text=text)
    outgoing.notify(session, sender, pool, user, "AccountTakeOverNotification", notice)
