"""CustomMessage: the text of a message that carries a code, written by the pool's handler
instead of the pool's template
(https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-custom-message.html).
Fired by :mod:`broker.userpool.outgoing`, the one place every code leaves through.

The handler gets placeholders, never the code: ``codeParameter`` ``{####}`` (the temporary
password for ``CustomMessage_AdminCreateUser``), ``usernameParameter`` ``{username}``
(AdminCreateUser only, else null) and ``linkParameter`` ``{##Click Here##}``; it answers
``emailSubject``, ``emailMessage`` and ``smsMessage``, and Cognate fills the placeholders in
afterwards, as Cognito does:

    {"response": {"emailSubject": "Welcome", "emailMessage": "Your code is {####}", "smsMessage": null}}

What the handler leaves null (or leaves out) comes from the pool's template. A message it
writes must hold the code parameter (and, for AdminCreateUser, the username parameter), or
the operation is refused with ``InvalidParameterException``, as Cognito refuses a message
without its code; a member of another type than a string is an invalid response
(``InvalidLambdaResponseException``). Cognate verifies by code only, so the link parameter
becomes the code. An email message with HTML tags is sent as HTML, with a text version
without them.
"""
from __future__ import annotations

import html as html_lib
import re

from sqlalchemy.orm import Session

from ..errors import FormInvalid
from ..store.models import UserPool
from ..userpool.messages import MAX_BODY, MAX_SUBJECT, Template
from . import answers, invoke, settings

CODE = "{####}"
USERNAME = "{username}"
LINK = "{##Click Here##}"
ADMIN_CREATE_USER = "AdminCreateUser"
#: Cognito's SMS limit, code included.
MAX_SMS = 140
TAG = re.compile(r"<[A-Za-z/!][^>]*>")
BREAK = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/li|/tr)\b[^>]*>", re.IGNORECASE)


def customize(session: Session, pool: UserPool, source: str, username: str, attributes: dict[str, str],
              medium: str, template: Template) -> Template:
    """The message for ``source`` (``SignUp``, ``ForgotPassword``, ...) by ``medium``
    (``EMAIL`` or ``SMS``): the handler's, what it leaves null taken from ``template``;
    ``template`` itself when the pool has no CustomMessage trigger. Placeholders stay
    unfilled."""
    request = {"userAttributes": attributes, "codeParameter": CODE, "linkParameter": LINK,
               "usernameParameter": USERNAME if source == ADMIN_CREATE_USER else None}
    response = invoke.fire(session, pool, settings.CUSTOM_MESSAGE, f"CustomMessage_{source}", username, request,
                           {"smsMessage": None, "emailMessage": None, "emailSubject": None})
    if response is None:
        return template
    subject, email, sms = (answers.string(response.get(name)) for name in ("emailSubject", "emailMessage", "smsMessage"))
    if medium == "SMS":
        return Template(template.subject, _checked(sms, "smsMessage", source, MAX_SMS)) if sms else template
    if subject is not None and len(subject) > MAX_SUBJECT:
        raise invoke.invalid()
    subject = " ".join(subject.split()) if subject else template.subject
    if not email:
        return Template(subject, template.text, template.html)
    email = _checked(email, "emailMessage", source, MAX_BODY)
    if TAG.search(email):
        return Template(subject, as_text(email), email)
    return Template(subject, email)


def _checked(message: str, name: str, source: str, limit: int) -> str:
    """The handler's message with the link parameter made the code; refused without the
    placeholders Cognito requires, or too long to send."""
    if len(message) > limit:
        raise invoke.invalid()
    message = message.replace(LINK, CODE)
    needed = (CODE, USERNAME) if source == ADMIN_CREATE_USER else (CODE,)
    for placeholder in needed:
        if placeholder not in message:
            raise FormInvalid([f"CustomMessage: the {name} must contain the placeholder {placeholder}."])
    return message


def as_text(markup: str) -> str:
    """The text version of an HTML message: line breaks kept, tags dropped, entities read."""
    text = TAG.sub("", BREAK.sub("\n", markup))
    return html_lib.unescape(text).strip()
