"""Mail and SMS are delivered after the answer, never inside a request: a slow or stopped
SMTP server neither slows nor fails a page, and how long a page took tells nothing about
whether a message was sent (so nothing about whether an account exists).

Requests queue messages in the state store (Redis: a sorted set by due time, shared by the
nodes of one deployment); a courier thread in each server process delivers what is due.
A failed delivery is tried again after 5 s, 10 s, 20 s, ... (at most 10 minutes apart) and
given up after :data:`ATTEMPTS` tries, about an hour; a given-up message is written to the
dead-letter log (logger ``broker.outbox``, level ERROR, without its text, which holds codes).
A message claimed by a process that dies comes back after :data:`LEASE` seconds, so each
is delivered at least once.

The pool's custom sender triggers (CustomEmailSender, CustomSMSSender) go the same way, as
Cognito invokes them asynchronously after its answer: queued as an :class:`Invocation`,
run by the courier through :attr:`Outbox.invoker` (:func:`broker.triggers.senders.courier`),
tried :data:`TRIGGER_ATTEMPTS` times as a Lambda invoked asynchronously is. Back-channel
logouts (a :class:`Logout`, :mod:`broker.oauth.backchannel`) go the same way, through
:attr:`Outbox.notifier`, tried as often.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets
import threading
from typing import Any, Callable

from flask import Response, g, has_request_context

from ..config import Settings
from ..store.state import Keys, StateStore
from .senders import DeliveryFailed, Invocation, Logout, Message, Sender, Sms, SmsSender, describe, open_sender, \
    open_sms_sender

log = logging.getLogger("broker.outbox")

ATTEMPTS = 12
TRIGGER_ATTEMPTS = 3  # a Lambda invoked asynchronously is tried again twice
KINDS: dict[str, type[Message] | type[Sms] | type[Invocation] | type[Logout]] = {
    "mail": Message, "sms": Sms, "trigger": Invocation, "logout": Logout}
#: Tries of the kinds that are not tried :data:`ATTEMPTS` times.
FEWER_ATTEMPTS = {"trigger": TRIGGER_ATTEMPTS, "logout": TRIGGER_ATTEMPTS}
Queued = Message | Sms | Invocation | Logout
LEASE = 60.0
MAX_DELAY = 600.0
IDLE_POLL = 1.0  # how soon a message queued by another node is seen


class Outbox:
    """Both senders of a running server (``send`` takes a :class:`Message` or an :class:`Sms`),
    and the custom sender triggers (:meth:`later`)."""

    def __init__(self, state: StateStore, queue: str, mail: Sender, sms: SmsSender, retry_seconds: float) -> None:
        self.state, self.queue, self.mail, self.sms = state, queue, mail, sms
        self.retry_seconds = retry_seconds
        #: Runs an :class:`Invocation` (raising :class:`DeliveryFailed`); set by ``create_app``.
        self.invoker: Callable[[Invocation], None] | None = None
        #: Delivers a :class:`Logout` (raising :class:`DeliveryFailed`); set by ``create_app``.
        self.notifier: Callable[[Logout], None] | None = None
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._courier: tuple[int, threading.Thread] | None = None

    def send(self, message: Message | Sms) -> None:
        self._queue("mail" if isinstance(message, Message) else "sms", message)

    def later(self, item: Invocation | Logout) -> None:
        """Run a custom sender trigger, or tell an app of a sign-out, after the answer."""
        self._queue("logout" if isinstance(item, Logout) else "trigger", item)

    def _queue(self, kind: str, message: Queued) -> None:
        self.state.enqueue(self.queue, secrets.token_hex(12),
                           {"kind": kind, "message": dataclasses.asdict(message), "attempt": 0}, 0)
        if has_request_context():
            g.outbox_queued = True  # the courier starts once the answer is sent (see after_request)
        else:
            self._wake.set()

    def after_request(self, response: Response) -> Response:
        """Wake the courier when the answer has gone out: delivering sooner would compete with
        the request for the CPU, and make an answer that sent mail slower than one that did not."""
        if g.pop("outbox_queued", False):
            response.call_on_close(self._wake.set)
        return response

    def deliver_due(self) -> bool:
        """Deliver one due message; False when none was due."""
        claimed = self.state.claim(self.queue, LEASE)
        if claimed is None:
            return False
        item_id, item = claimed
        message = KINDS[item["kind"]](**item["message"])
        try:
            self._deliver(message)
        except DeliveryFailed as exc:
            self._failed(item_id, item, message, exc)
            return True
        self.state.finish(self.queue, item_id)
        return True

    def _deliver(self, message: Queued) -> None:
        if isinstance(message, Logout):
            if self.notifier is None:
                raise DeliveryFailed("this process tells no app of sign-outs")
            self.notifier(message)
        elif isinstance(message, Invocation):
            if self.invoker is None:
                raise DeliveryFailed("this process runs no triggers")
            self.invoker(message)
        elif isinstance(message, Message):
            self.mail.send(message)
        else:
            self.sms.send(message)

    def _failed(self, item_id: str, item: dict[str, Any], message: Queued, exc: DeliveryFailed) -> None:
        attempt = item["attempt"] + 1
        if attempt >= FEWER_ATTEMPTS.get(item["kind"], ATTEMPTS):
            self.state.finish(self.queue, item_id)
            log.error("could not send %s to %s after %s attempts, giving up: %s", describe(message), message.to,
                      attempt, exc)
            return
        delay = min(self.retry_seconds * 2 ** (attempt - 1), MAX_DELAY)
        self.state.enqueue(self.queue, item_id, {**item, "attempt": attempt}, delay)
        log.warning("delivery of %s to %s failed (attempt %s), next try in %.0f s: %s", describe(message),
                    message.to, attempt, delay, exc)

    def ensure_courier(self) -> None:
        """Start this process's courier thread unless it runs (cheap: called before each request;
        a forked gunicorn worker starts its own)."""
        courier = self._courier
        if courier is not None and courier[0] == os.getpid() and courier[1].is_alive():
            return
        with self._lock:
            courier = self._courier
            if courier is None or courier[0] != os.getpid() or not courier[1].is_alive():
                thread = threading.Thread(target=self._run, name="broker-courier", daemon=True)
                self._courier = (os.getpid(), thread)
                thread.start()

    def _run(self) -> None:
        while True:
            try:
                busy = self.deliver_due()
            except Exception as exc:  # the store is away: wait and try again, never let the thread die
                log.warning("the outbox could not be read: %s", exc)
                busy = False
            if not busy:
                self._wake.wait(IDLE_POLL)
                self._wake.clear()


def open_outbox(settings: Settings, state: StateStore) -> Outbox:
    """The deployment's queue: nodes of one deployment (one base URL) share it, another
    deployment on the same Redis has its own."""
    deployment = hashlib.sha256(settings.base_url.encode()).hexdigest()[:16]
    return Outbox(state, Keys.outbox(deployment), open_sender(settings), open_sms_sender(settings),
                  settings.delivery_retry_seconds)
