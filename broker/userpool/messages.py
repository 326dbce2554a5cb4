"""Message templates per pool: the equivalent of Cognito's custom verification, password
reset and invitation messages (VerificationMessageTemplate, AdminCreateUserConfig).

Three kinds, each a subject, a text body and an optional HTML body:

- ``verification``: the sign-up confirmation code, and the code that verifies a changed
  email or phone number, placeholder ``{####}``;
- ``reset``: the password-reset code, ``{####}``;
- ``invitation``: an admin-created user's ``{username}`` and temporary ``{password}``
  (Cognito writes the temporary password as ``{####}``: both work) and ``{days}``, how
  long the temporary password works.

``{username}`` works in every kind. Placeholders are replaced in one pass (a value that
looks like a placeholder stays as it is, nothing is ever ``str.format``-ed), and values are
HTML-escaped in the HTML body. A pool without a template of its own gets the default,
in the language of the page that triggered the message.

    >>> fill("Hi {username}, your code is {####}", {"username": "<b>", "####": "123456"}, html=True)
    'Hi &lt;b&gt;, your code is 123456'
"""
from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..i18n import gettext as _, ngettext
from ..store.models import UserPool
from .security import Security

KINDS = ("verification", "reset", "invitation")
PLACEHOLDER = re.compile(r"\{(username|####|password|days)\}")
#: Placeholders a template of each kind must contain (in its text, and its HTML if any).
REQUIRED = {"verification": ("{####}",), "reset": ("{####}",), "invitation": ("{username}", "{password}")}
MAX_SUBJECT, MAX_BODY = 140, 20000  # Cognito's EmailSubject and EmailMessage limits


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str | None = None


def _invitation(pool: UserPool) -> Template:
    days = Security.of(pool.security).temp_password_days
    return Template(_("Your temporary password"), ngettext(
        "Your username is %(username)s and temporary password is %(password)s. "
        "It works for %(num)s day; you will choose a new password when you first sign in.",
        "Your username is %(username)s and temporary password is %(password)s. "
        "It works for %(num)s days; you will choose a new password when you first sign in.",
        days, username="{username}", password="{password}"))


#: Built-in messages, translated into the language of the page that sends them.
DEFAULTS: dict[str, Callable[[UserPool], Template]] = {
    "verification": lambda pool: Template(_("Your verification code"),
                                          _("Your confirmation code is %(code)s.", code="{####}")),
    "reset": lambda pool: Template(_("Your password reset code"),
                                   _("Your password reset code is %(code)s.", code="{####}")),
    "invitation": _invitation,
}


def template(pool: UserPool, kind: str) -> Template:
    custom = (pool.messages or {}).get(kind)
    return Template(**custom) if custom else DEFAULTS[kind](pool)


def render(pool: UserPool, kind: str, values: dict[str, str]) -> Template:
    """The pool's ``kind`` message with ``values`` filled in."""
    if kind == "invitation":
        values = {**values, "####": values.get("password", "")}
    return fill_template(template(pool, kind), values)


def fill_template(t: Template, values: dict[str, str]) -> Template:
    """``t`` with ``values`` filled in (HTML-escaped in the HTML body), its subject one line."""
    subject = fill(t.subject, values).replace("\r", " ").replace("\n", " ")
    return Template(subject, fill(t.text, values), fill(t.html, values, html=True) if t.html else None)


def fill(text: str, values: dict[str, str], html: bool = False) -> str:
    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            return match.group(0)
        found = str(values[match.group(1)])
        return html_lib.escape(found) if html else found

    return PLACEHOLDER.sub(value, text)


def set_template(session: Session, pool: UserPool, kind: str, subject: str | None, text: str | None,
                 html: str | None = None) -> None:
    """Give ``pool`` its own ``kind`` message; ``subject`` and ``text`` None: back to the default."""
    if kind not in KINDS:
        raise InvalidInput(f"message kind must be one of {', '.join(KINDS)}")
    messages = dict(pool.messages or {})
    if subject is None and text is None and html is None:
        messages.pop(kind, None)
    else:
        messages[kind] = check(kind, subject or "", text or "", html)
    pool.messages = messages
    session.flush()


def check(kind: str, subject: str, text: str, html: str | None) -> dict[str, Any]:
    subject = subject.strip()
    if not 1 <= len(subject) <= MAX_SUBJECT or "\n" in subject or "\r" in subject:
        raise InvalidInput(f"--subject must be one line of 1 to {MAX_SUBJECT} characters")
    for name, body in (("text", text), ("html", html)):
        if body is None:
            continue
        if not body.strip() or len(body) > MAX_BODY:
            raise InvalidInput(f"the {name} message must have 1 to {MAX_BODY} characters")
        for needed in REQUIRED[kind]:
            if needed not in body and not (needed == "{password}" and "{####}" in body):
                raise InvalidInput(f"the {name} message of a {kind} template must contain {needed}")
        if kind != "invitation" and "{password}" in body:
            raise InvalidInput("{password} is only for invitation messages")
    return {"subject": subject, "text": text, "html": html}


def describe(pool: UserPool) -> dict[str, Any]:
    """Every kind's template as ``broker pool describe`` shows it."""
    out = {}
    for kind in KINDS:
        t = template(pool, kind)
        out[kind] = {"Subject": t.subject, "Text": t.text, "Html": t.html, "Default": kind not in (pool.messages or {})}
    return out
