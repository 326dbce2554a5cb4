"""The one way out for every message that carries a code or a temporary password (sign-up
and resent confirmation codes, password-reset codes, invitations, codes verifying an
address, sign-in codes), whichever door asked for it, so that the pool's triggers apply to
all of them alike:

1. with a custom sender for the medium (CustomEmailSender, CustomSMSSender), Cognate sends
   nothing itself and hands the code over (:mod:`broker.triggers.senders`);
2. else the pool's CustomMessage trigger may write the message instead of the pool's
   template (:mod:`broker.triggers.custom_message`);
3. the placeholders are filled in and the message goes to ``channel`` (the outbox).

A message is composed first (the triggers that write it run then) and delivered once its
code exists, so that a caller can compose before it writes anything:

    letter = compose(session, pool, user, "SignUp", EMAIL, messages.template(pool, "verification"))
    ...  # the user is stored, a code issued
    deliver(letter, sender, "alice@example.com", {"####": code})

``source`` is the end of Cognito's trigger source: ``SignUp``, ``ResendCode``,
``ForgotPassword``, ``UpdateUserAttribute``, ``VerifyUserAttribute``, ``AdminCreateUser``,
``Authentication``, ``AccountTakeOverNotification``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..store.models import User, UserPool
from ..triggers import custom_message, senders
from ..triggers.attributes import user_attributes
from . import messages
from .messages import Template
from .senders import Message, Sms

EMAIL, SMS = "EMAIL", "SMS"
#: The attribute each medium delivers to (a custom sender is told the address in it).
ATTRIBUTE = {EMAIL: "email", SMS: "phone_number"}


@dataclass(frozen=True)
class Letter:
    """A message composed for one user; its code comes at delivery."""

    session: Session
    pool: UserPool
    username: str
    attributes: dict[str, str]
    source: str
    medium: str
    template: Template
    #: The custom sender trigger that delivers it instead of Cognate, if any.
    custom: str | None = None


def compose(session: Session, pool: UserPool, user: User, source: str, medium: str, template: Template) -> Letter:
    """The message ``source`` sends ``user`` by ``medium``: ``template`` (placeholders
    unfilled), or the CustomMessage trigger's text; nothing to write when a custom sender
    delivers it. Raises a :class:`~broker.errors.TriggerFailed` when CustomMessage fails."""
    attributes = user_attributes(user)
    custom = senders.trigger_for(pool, medium)
    if custom is None:
        template = custom_message.customize(session, pool, source, user.username, attributes, medium, template)
    return Letter(session, pool, user.username, attributes, source, medium, template, custom)


def deliver(letter: Letter, channel: Any, to: str, values: dict[str, str]) -> None:
    """Send ``letter`` to ``to`` through ``channel`` (a sender of its medium) with
    ``values`` filled in (the code as ``####``), or hand the code to the custom sender."""
    values = {"username": letter.username, **values}
    if letter.custom is not None:
        attributes = {**letter.attributes, ATTRIBUTE[letter.medium]: to}
        call = senders.invocation(letter.pool, letter.custom, letter.source, letter.username, attributes,
                                  values.get("####"))
        senders.hand_over(letter.session, channel, letter.pool, call)
        return
    filled = messages.fill_template(letter.template, values)
    if letter.medium == SMS:
        channel.send(Sms(to=to, text=filled.text))
    else:
        channel.send(Message(to=to, subject=filled.subject, text=filled.text, html=filled.html))


def notify(session: Session, channel: Any, pool: UserPool, user: User, source: str, message: Message) -> None:
    """A notice without a code (a blocked sign-in: ``AccountTakeOverNotification``): to the
    custom email sender when the pool has one, else as it is."""
    custom = senders.trigger_for(pool, EMAIL)
    if custom is None:
        channel.send(message)
        return
    attributes = {**user_attributes(user), "email": message.to}
    senders.hand_over(session, channel, pool, senders.invocation(pool, custom, source, user.username, attributes, None))
