"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives, so
tests read codes out of the mail Cognate actually sent.

    with MailServer() as mail:
        broker = make_broker(..., **mail.broker_env())
        ...
        text = mail.wait_for("alice@example.com")
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import Broker, free_port, start_broker

SENDER = "no-reply@cognate.test"


@dataclass(frozen=True)
class Mail:
    """One received message: the SMTP envelope and the parsed headers and body."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    sender: str
    to: str
    subject: str
    text: str
    #: The text/html alternative, when the message has one.
    html: str | None = None


class MailServer:
    """Collects messages in a thread-safe list; ``wait_for`` hands each message out once."""

    def __init__(self, sender: str = SENDER) -> None:
        self.sender = sender
        self.port = free_port()
        self.messages: list[Mail] = []
        self._taken: set[int] = set()
        self._cond = threading.Condition()
        self._controller: Controller | None = None

    def __enter__(self) -> MailServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on ``port`` (again, after :meth:`stop`)."""
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections to ``port`` are refused until :meth:`start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def broker_env(self) -> dict[str, str]:
        """The settings that make Cognate send through this server."""
        return {"BROKER_SMTP_HOST": "127.0.0.1", "BROKER_SMTP_PORT": str(self.port), "BROKER_SMTP_FROM": self.sender}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        mail = Mail(mail_from=envelope.mail_from, rcpt_to=tuple(envelope.rcpt_tos), sender=str(parsed["From"]),
                    to=str(parsed["To"]), subject=str(parsed["Subject"]), text=body.get_content() if body else "",
                    html=html.get_content() if html else None)
        with self._cond:
            self.messages.append(mail)
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for_mail(self, to: str, timeout: float = 10) -> Mail:
        """The oldest message to ``to`` not handed out yet; waits up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, mail in enumerate(self.messages):
                    if i not in self._taken and to.lower() in (r.lower() for r in mail.rcpt_to):
                        self._taken.add(i)
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {to} within {timeout} s; received: {self.messages!r}")
                self._cond.wait(left)

    def wait_for(self, to: str, timeout: float = 10) -> str:
        """The text of the oldest message to ``to`` not handed out yet."""
        return self.wait_for_mail(to, timeout).text

    def pending(self, to: str) -> list[Mail]:
        """Messages to ``to`` received but not handed out yet (to prove nothing else was sent)."""
        with self._cond:
            return [m for i, m in enumerate(self.messages)
                    if i not in self._taken and to.lower() in (r.lower() for r in m.rcpt_to)]


@contextmanager
def broker_with_mail(tmp: Path, redis_url: str, **extra: str) -> Iterator[tuple[Broker, MailServer]]:
    """A server on SQLite (``tmp/broker.db``) + real Redis sending its mail to a real SMTP
    server (``extra``: more settings); afterwards its log must show no traceback and no
    failed delivery."""
    with MailServer() as mail:
        broker = start_broker(tmp, database_url=f"sqlite:///{tmp}/broker.db", redis_url=redis_url,
                              **mail.broker_env(), **extra)
        try:
            yield broker, mail
        finally:
            broker.stop()
        text = broker.log.read_text() if broker.log and broker.log.exists() else ""
        assert "Traceback" not in text, f"server logged a traceback:\n{text[-4000:]}"
        assert "could not send" not in text, f"mail delivery failed:\n{text[-4000:]}"


def code_in(text: str) -> str:
    """The one 6-digit code in a message's text."""
    found = re.findall(r"(?<!\d)\d{6}(?!\d)", text)
    assert len(found) == 1, f"expected exactly one 6-digit code in {text!r}"
    return found[0]
