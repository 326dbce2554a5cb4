"""Firing a trigger: the event in Cognito's shape, the target's answer, and the operation
failed as Cognito fails it when the target does not answer well.

Every event carries Cognito's common members
(https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-working-with-lambda-triggers.html#cognito-user-pools-lambda-trigger-syntax-shared):

    {"version": "1", "triggerSource": "PreSignUp_SignUp", "region": "local",
     "userPoolId": "local_Ab12Cd34E", "userName": "alice",
     "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "..."},
     "request": {..., "clientMetadata": {...}}, "response": {...}}

The caller (app client, ``ClientMetadata``, SDK) is set once per request by the door
(:func:`acting`); the engine and userpool/ fire triggers without knowing which door it was:

    response = fire(session, pool, "PreSignUp", "PreSignUp_SignUp", "alice",
                    {"userAttributes": {...}, "validationData": {}}, {"autoConfirmUser": False})

Each invocation is audited (event ``Trigger``, with its duration and outcome, stored by
:mod:`.journal` off the request's path) and counted in ``/metrics``. A trigger that raises fails the operation with
:class:`~broker.errors.TriggerRejected` ("PreSignUp failed with error <message>."), one
that times out or crashes with :class:`~broker.errors.TriggerUnexpected`, one that
returns something else than an event with a ``response`` object with
:class:`~broker.errors.TriggerInvalidResponse`.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy.orm import Session

from .. import sealing
from ..errors import TriggerFailed, TriggerInvalidResponse, TriggerRejected, TriggerUnexpected
from ..sealing import Sealer
from ..store.models import UserPool
from ..userpool import audit
from . import journal, settings
from .outcome import CRASHED, INVALID, RAISED, RETURNED, Outcome
from .webhooks import Webhooks
from .workers import PythonWorkers

log = logging.getLogger("broker.triggers")

#: The hard limit on one invocation, as a Cognito trigger's Lambda has (Cognito waits 5 s).
TIMEOUT = 5.0
#: Worker processes per server process for Python targets (started as needed).
WORKERS = 4
UNKNOWN_SDK = "aws-sdk-unknown-unknown"
#: Cognito's message for a Lambda's answer it cannot read.
UNRECOGNIZABLE = "Unrecognizable lambda output"
NO_SECRET = "the pool's trigger secret cannot be read here (make it anew: broker pool trigger-secret --rotate)"


@dataclass(frozen=True)
class Caller:
    """Who the operation is for: Cognito's ``callerContext`` and the ``ClientMetadata`` the
    API call passed (hosted pages pass none)."""

    client_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    sdk: str = UNKNOWN_SDK


_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("cognate_trigger_caller", default=Caller())


@contextlib.contextmanager
def acting(client_id: str | None, metadata: dict[str, str] | None = None, sdk: str | None = None) -> Iterator[None]:
    """Triggers fired inside name this caller."""
    token = _caller.set(Caller(client_id, dict(metadata or {}), sdk or UNKNOWN_SDK))
    try:
        yield
    finally:
        _caller.reset(token)


def caller() -> Caller:
    return _caller.get()


def current_client() -> str | None:
    """The app client the current operation is for: the API call's, else the hosted page's."""
    return caller().client_id or _hosted_client()


class Triggers:
    """The invokers of one deployment (its sealer opens the pools' trigger secrets)."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.python = PythonWorkers(WORKERS, TIMEOUT)
        self.webhooks = Webhooks(TIMEOUT)

    def run(self, pool: UserPool, target: str, event: dict[str, Any]) -> Outcome:
        """The target's outcome for ``event``; a webhook of a pool whose trigger secret this
        deployment cannot read is not called (an unsigned event would be no proof)."""
        if target.startswith("python:"):
            return self.python.invoke(target.removeprefix("python:"), event)
        secret = settings.readable_secret(self.sealer, pool)
        if secret is None:
            return Outcome(CRASHED, NO_SECRET)
        return self.webhooks.invoke(target, event, secret)


_by_sealer: weakref.WeakKeyDictionary[Sealer, Triggers] = weakref.WeakKeyDictionary()


def of(session: Session) -> Triggers:
    """The invokers of the deployment ``session`` belongs to (one per sealer, so per app)."""
    sealer = sealing.of(session)
    found = _by_sealer.get(sealer)
    if found is None:
        found = _by_sealer.setdefault(sealer, Triggers(sealer))
    return found


def configured(pool: UserPool, name: str) -> bool:
    return settings.target(pool, name) is not None


def event(pool: UserPool, source: str, username: str | None, request: dict[str, Any],
          response: dict[str, Any] | None = None, version: str = "1", client_id: str | None = None) -> dict[str, Any]:
    """A Cognito event (the shared members, and ``clientMetadata`` in ``request``); the app
    client is ``client_id``, else the caller's, else the hosted page's."""
    who = caller()
    client_id = client_id or current_client()
    return {"version": version, "triggerSource": source, "region": pool.id.split("_", 1)[0],
            "userPoolId": pool.id, "userName": username,
            "callerContext": {"awsSdkVersion": who.sdk, "clientId": client_id or "CLIENT_ID_NOT_APPLICABLE"},
            "request": {**request, "clientMetadata": dict(who.metadata)}, "response": dict(response or {})}


def _hosted_client() -> str | None:
    """The app client of the hosted page being answered (:func:`broker.web.flow.load_login`)."""
    from flask import g, has_request_context

    return g.get("client_id") if has_request_context() else None


def fire(session: Session, pool: UserPool, name: str, source: str, username: str | None,
         request: dict[str, Any], response: dict[str, Any] | None = None,
         version: str = "1", client_id: str | None = None, answer_ignored: bool = False) -> dict[str, Any] | None:
    """Run the pool's ``name`` trigger, if it has one; the ``response`` object the target
    returned (None without a trigger). Raises a :class:`~broker.errors.TriggerFailed`.
    ``answer_ignored``: whatever the target returns is fine (Cognito reads nothing back from
    the custom senders); the answer is then ``{}`` unless it is a response object."""
    target = settings.target(pool, name)
    if target is None:
        return None
    sent = event(pool, source, username, request, response, version, client_id)
    started = time.perf_counter()
    outcome = of(session).run(pool, target, sent)
    took = round((time.perf_counter() - started) * 1000, 1)
    answer = outcome.value.get("response") if outcome.kind == RETURNED and isinstance(outcome.value, dict) else None
    kind = INVALID if outcome.kind == RETURNED and not isinstance(answer, dict) else outcome.kind
    if answer_ignored and kind == INVALID:
        kind, answer = RETURNED, answer if isinstance(answer, dict) else {}
    journal.record(session, pool.id, audit.PASS if kind == RETURNED else audit.FAIL, username,
                   {"trigger": name, "source": source, "outcome": kind, "duration_ms": took,
                    "target": "python" if target.startswith("python:") else "webhook"})
    if kind == RETURNED:
        assert isinstance(answer, dict)
        return answer
    if kind == RAISED:
        raise TriggerRejected(f"{name} failed with error {outcome.value}.")
    if kind == INVALID:
        raise TriggerInvalidResponse(UNRECOGNIZABLE)
    raise unexpected(name, outcome.value)  # timed out, crashed


def fire_after(session: Session, pool: UserPool, name: str, source: str, username: str,
               request: dict[str, Any], done: str) -> None:
    """Fire ``name`` for something already ``done`` (a confirmation, a sign-in), if the pool
    has it: what the operation wrote is committed first, so that it stands whatever the
    handler does and the handler may call the API about it. A failure is logged and raised:
    Cognito answers the operation with the handler's error all the same."""
    if settings.target(pool, name) is None:
        return
    session.commit()
    try:
        fire(session, pool, name, source, username, request)
    except TriggerFailed as exc:
        log.warning("%s (%s) of %s in pool %s failed; %s: %s", name, source, username, pool.id, done, exc.message)
        raise


def unexpected(name: str, why: str) -> TriggerUnexpected:
    """The error of a trigger that could not run or answer (Cognito's UnexpectedLambdaException)."""
    return TriggerUnexpected(f"{name} invocation failed due to error {why}.")


def invalid() -> TriggerInvalidResponse:
    """The error for a response whose members are of the wrong kind (callers check them)."""
    return TriggerInvalidResponse(UNRECOGNIZABLE)
