"""CustomEmailSender and CustomSMSSender: the pool's own delivery of codes, temporary
passwords and notices
(https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-custom-email-sender.html).
With one set, Cognate sends nothing by that medium itself: it hands the code to the target,
with trigger source ``CustomEmailSender_SignUp``, ``_ResendCode``, ``_ForgotPassword``,
``_UpdateUserAttribute``, ``_VerifyUserAttribute``, ``_AdminCreateUser``, ``_Authentication``
or ``_AccountTakeOverNotification`` (``CustomSMSSender_`` likewise), and this request:

    {"type": "customEmailSenderRequestV1", "code": "...", "clientMetadata": {...},
     "userAttributes": {"sub": "...", "email": "<where this message goes>", ...}}

The code reaches a ``python:`` target in the clear (it runs inside the deployment). A
webhook gets it encrypted, as Cognito encrypts it under the pool's KMS key: ``code`` is
``base64(nonce (12 bytes) || AES-256-GCM ciphertext and tag)``, without associated data,
under the key HKDF-SHA256(ikm = the pool's trigger secret as UTF-8, salt =
``b"cognate-custom-sender"``, info = ``b"code"``, length 32). A receiver decrypts it so:

    from base64 import b64decode
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def decrypt_code(trigger_secret: str, code: str) -> str:
        key = HKDF(hashes.SHA256(), 32, salt=b"cognate-custom-sender", info=b"code").derive(trigger_secret.encode())
        blob = b64decode(code)
        return AESGCM(key).decrypt(blob[:12], blob[12:], None).decode()

Cognito invokes these triggers asynchronously, after its answer; so does Cognate, through
the outbox (:mod:`broker.userpool.outbox`): how long an answer takes never tells whether a
code was handed over (so nothing about whether an account exists), and a failed invocation
is tried again (three tries, as Lambda's asynchronous invocations), then logged. The CLI,
which has no outbox, runs them at once. What a target returns is ignored.
"""
from __future__ import annotations

import base64
import logging
import os
from typing import Any, Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from .. import sealing
from ..errors import TriggerFailed
from ..store import repo
from ..store.db import Database
from ..store.models import UserPool
from ..userpool.senders import DeliveryFailed, Invocation
from . import invoke, settings

log = logging.getLogger("broker.triggers")

#: The trigger that delivers each medium, and its request's ``type``.
TRIGGERS = {"EMAIL": settings.CUSTOM_EMAIL_SENDER, "SMS": settings.CUSTOM_SMS_SENDER}
REQUEST_TYPES = {settings.CUSTOM_EMAIL_SENDER: "customEmailSenderRequestV1",
                 settings.CUSTOM_SMS_SENDER: "customSMSSenderRequestV1"}
SALT, INFO = b"cognate-custom-sender", b"code"


def trigger_for(pool: UserPool, medium: str) -> str | None:
    """The custom sender trigger that delivers ``medium`` (``EMAIL``/``SMS``) for ``pool``, if set."""
    name = TRIGGERS[medium]
    return name if invoke.configured(pool, name) else None


def invocation(pool: UserPool, trigger: str, source: str, username: str, attributes: dict[str, str],
               code: str | None) -> Invocation:
    """``trigger`` to run for ``source`` (``SignUp``, ...), naming the caller of this request."""
    who = invoke.caller()
    return Invocation(pool.id, trigger, f"{trigger}_{source}", username, dict(attributes), code,
                      invoke.current_client(), dict(who.metadata), who.sdk)


def hand_over(session: Session, channel: Any, pool: UserPool, call: Invocation) -> None:
    """Queue ``call`` on ``channel`` (the server's outbox) to run after the answer; run it
    now where there is no outbox (the CLI), its failure logged."""
    later = getattr(channel, "later", None)
    if later is not None:
        later(call)
        return
    try:
        run(session, pool, call)
    except TriggerFailed as exc:
        log.error("%s for %s in pool %s failed: %s", call.source, call.username, pool.id, exc.message)


def run(session: Session, pool: UserPool, call: Invocation) -> None:
    """Invoke the custom sender (:class:`~broker.errors.TriggerFailed` when it fails)."""
    target = settings.target(pool, call.trigger)
    if target is None:  # removed since: nobody to hand the code to
        log.warning("%s for %s in pool %s dropped: the trigger is no longer set", call.source, call.username, pool.id)
        return
    code = call.code
    if code is not None and not target.startswith("python:"):
        secret = settings.readable_secret(sealing.of(session), pool)
        if secret is None:
            raise invoke.unexpected(call.trigger, invoke.NO_SECRET)
        code = encrypt_code(secret, code)
    request = {"type": REQUEST_TYPES[call.trigger], "code": code, "userAttributes": dict(call.attributes)}
    with invoke.acting(call.client_id, call.metadata, call.sdk):
        invoke.fire(session, pool, call.trigger, call.source, call.username, request, answer_ignored=True)


def courier(db: Database) -> Callable[[Invocation], None]:
    """How the outbox's courier runs a queued invocation: in a session of its own; any
    failure is :class:`DeliveryFailed` (tried again). The invocation's audit event is the
    journal's (:mod:`.journal`)."""
    def deliver(call: Invocation) -> None:
        try:
            with db.session() as session:
                pool = repo.get_pool(session, call.pool_id)
                if pool is None:
                    return  # the pool is gone
                try:
                    run(session, pool, call)
                except TriggerFailed as exc:
                    raise DeliveryFailed(exc.message) from None
        except DeliveryFailed:
            raise
        except Exception as exc:  # the database is away: try again later, never kill the courier
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    return deliver


def code_key(trigger_secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=INFO).derive(trigger_secret.encode())


def encrypt_code(trigger_secret: str, code: str) -> str:
    """``code`` as a webhook receives it (see the module's docstring)."""
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(code_key(trigger_secret)).encrypt(nonce, code.encode(), None)).decode()


def decrypt_code(trigger_secret: str, code: str) -> str:
    blob = base64.b64decode(code)
    return AESGCM(code_key(trigger_secret)).decrypt(blob[:12], blob[12:], None).decode()
