"""Delivery of codes and notices, by email and SMS. These senders deliver at once and raise
:class:`DeliveryFailed`; requests hand messages to :mod:`.outbox`, which delivers them
after the answer with retries, and the CLI wraps them in :class:`Reporting`. The outbox
also runs the pool's custom sender triggers after the answer (an :class:`Invocation`)."""
from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from ..config import Settings

log = logging.getLogger("broker.sender")


class DeliveryFailed(Exception):
    """The server or webhook did not take the message; worth another try later."""


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    #: Optional HTML version, sent with the text as multipart/alternative (RFC 2046 §5.1.4).
    html: str | None = None


class Sender(Protocol):
    def send(self, message: Message) -> None: ...


class LogSender:
    """Development default: the message goes to the server log."""

    def send(self, message: Message) -> None:
        log.warning("message to %s: %s\n%s", message.to, message.subject, message.text)


class SmtpSender:
    """Sends through ``BROKER_SMTP_HOST``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        try:
            with smtplib.SMTP(s.smtp_host or "localhost", s.smtp_port, timeout=10) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(str(exc) or type(exc).__name__) from exc


def open_sender(settings: Settings) -> Sender:
    return SmtpSender(settings) if settings.smtp_host else LogSender()


@dataclass(frozen=True)
class Sms:
    to: str  # E.164
    text: str


class SmsSender(Protocol):
    def send(self, message: Sms) -> None: ...


class LogSmsSender:
    """Development default: the text message goes to the server log."""

    def send(self, message: Sms) -> None:
        log.warning("SMS to %s: %s", message.to, message.text)


class HttpSmsSender:
    """Pluggable delivery: POSTs ``{"to", "message"}`` as JSON to a webhook (a small bridge to
    Twilio, SNS, ... of the operator's choice), with an optional bearer token."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10) -> None:
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, message: Sms) -> None:
        body = json.dumps({"to": message.to, "message": message.text}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (operator's URL)
                response.read()
        except (OSError, ValueError) as exc:
            raise DeliveryFailed(str(exc) or type(exc).__name__) from exc


@dataclass(frozen=True)
class Invocation:
    """A custom sender trigger (CustomEmailSender, CustomSMSSender) to run after the answer,
    as Cognito invokes them asynchronously (:mod:`broker.triggers.senders`): the caller of
    the request that asked for it, so the event names it."""

    pool_id: str
    trigger: str
    source: str
    username: str
    attributes: dict[str, str]
    code: str | None
    client_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    sdk: str | None = None

    @property
    def to(self) -> str:
        """Whom logs name (never the code)."""
        return self.username


@dataclass(frozen=True)
class Logout:
    """An app client to tell that ``sub`` signed out (OpenID Connect Back-Channel Logout 1.0),
    after the answer: of the hosted session ``sid``, or of every session when None (a sign-out
    everywhere). :mod:`broker.oauth.backchannel` mints and POSTs the logout token."""

    pool_id: str
    client_id: str
    sub: str
    sid: str | None = None

    @property
    def to(self) -> str:
        """Whom logs name: the app client."""
        return self.client_id


class Reporting:
    """Delivers at once through ``sender`` and logs a failure instead of raising (the CLI)."""

    def __init__(self, sender: Sender | SmsSender) -> None:
        self.sender = sender

    def send(self, message: Message | Sms) -> None:
        try:
            self.sender.send(message)  # type: ignore[arg-type]
        except DeliveryFailed as exc:
            log.error("could not send %s to %s: %s", describe(message), message.to, exc)


def describe(message: Message | Sms | Invocation | Logout) -> str:
    """What the log may say of a message: never its text, which carries codes."""
    if isinstance(message, Logout):
        return "a back-channel logout"
    if isinstance(message, Invocation):
        return f"the {message.trigger} trigger ({message.source})"
    return repr(message.subject) if isinstance(message, Message) else "an SMS"


def open_sms_sender(settings: Settings) -> SmsSender:
    return HttpSmsSender(settings.sms_webhook_url, settings.sms_webhook_token) if settings.sms_webhook_url \
        else LogSmsSender()
