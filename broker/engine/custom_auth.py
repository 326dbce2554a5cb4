"""CUSTOM_AUTH: a sign-in whose challenges the pool's triggers define
(:mod:`broker.triggers.custom_auth`), as Cognito runs it.
https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-authentication-flow.html#Custom-authentication-flow-and-challenges

InitiateAuth runs PreAuthentication, then asks DefineAuthChallenge what comes first; each
answer to a CUSTOM_CHALLENGE is judged by VerifyAuthChallengeResponse and added to the
sign-in's history, and DefineAuthChallenge is asked again: another challenge, tokens, or
the end. A sign-in that starts with ``SRP_A`` (amazon-cognito-identity-js and Amplify's
CUSTOM_WITH_SRP) begins its history with ``SRP_A``, and DefineAuthChallenge may ask for
PASSWORD_VERIFIER first: the password is proven by SRP exactly as at USER_SRP_AUTH
(:mod:`.password_verifier`: the same throttle, lockout and audit), followed by what follows
any password (the risk decision, then MFA or MFA_SETUP, as Cognito asks the user's second
factor right after PASSWORD_VERIFIER), and the history goes on with ``PASSWORD_VERIFIER``.

The history, the name and the private challenge parameters (sealed: they hold the answer)
wait in the sign-in's progress behind a one-time Session, as every challenge's do; a
sign-in gets at most :data:`MAX_CHALLENGES` custom challenges. A name the pool lacks goes
through the same steps (``userNotFound``) and can never get tokens.

    step = custom_auth.start(env, progress, "alice")           # CUSTOM_CHALLENGE, or tokens
    step = custom_auth.answer(env, step.progress, user, "42")  # the next one, or tokens
"""
from __future__ import annotations

import json
from typing import Any

from .. import sealing
from ..errors import InvalidInput, Throttled
from ..store.models import User
from ..triggers import authentication
from ..triggers import custom_auth as triggers
from ..triggers import invoke
from ..triggers.invoke import invalid
from ..triggers.settings import CREATE_AUTH_CHALLENGE, DEFINE_AUTH_CHALLENGE, VERIFY_AUTH_CHALLENGE_RESPONSE
from ..userpool import audit
from . import password_verifier
from .challenges import BLOCKED, CUSTOM_CHALLENGE, ENDED, PASSWORD_VERIFIER, Challenge, Refused, Step
from .signin import Env, account_status, signed_in

#: Custom challenges one sign-in may be asked.
MAX_CHALLENGES = 8
PRIVATE_PURPOSE = "custom-challenge"
FAILED = "Incorrect username or password."


class NotConfigured(InvalidInput):
    """The pool lacks a trigger the flow needs now (Cognito's InvalidParameterException)."""

    def __init__(self) -> None:
        super().__init__("Custom auth lambda trigger is not configured for the user pool.")


def _needs(env: Env, name: str) -> None:
    """:class:`NotConfigured` when the pool lacks the trigger the flow needs now."""
    if not invoke.configured(env.pool, name):
        raise NotConfigured()


def start(env: Env, progress: dict[str, Any], username: str, srp_a: str | None = None) -> Step:
    """InitiateAuth with CUSTOM_AUTH (:class:`NotConfigured` without DefineAuthChallenge;
    with ``srp_a``, :class:`password_verifier.SrpDisabled` or :class:`srp.InvalidSrpA` as
    USER_SRP_AUTH raises them)."""
    _needs(env, DEFINE_AUTH_CHALLENGE)
    if srp_a is not None:
        password_verifier.check_srp(env, srp_a)
    name, user = password_verifier.find(env, username)
    _count_start(env, name, user)
    with authentication.initiating() as validation:
        authentication.pre_authentication(env.db, env.pool, name, user, validation)
        history = [triggers.entry("SRP_A", True)] if srp_a is not None else []
        identity = {"user_id": user.id, "sub": user.sub, "epoch": user.session_epoch} if user else {"user_id": None}
        begun = {**progress, **identity, "username": name, "srp_a_sent": srp_a,
                 "custom": {"history": history, "asked": 0}}
        return _next(env, begun, user)


def _count_start(env: Env, name: str, user: User | None) -> None:
    """A start is a try of the name, counted by the password throttle before any trigger
    runs (each may send a code: CreateAuthChallenge), for names the pool lacks alike;
    :class:`~broker.errors.Throttled` while earlier failures of the name or the address
    must be waited out. Wrong answers count as failures (:func:`answer`), tokens clear the
    name's count."""
    assert env.throttle is not None
    try:
        env.throttle.attempt(env.pool.id, name or "-", env.context.ip)
    except Throttled:
        audit.record(env.db, env.pool.id, "SignIn", audit.FAIL, user=user, username=name or None,
                     ip=env.context.ip, reason="throttled", flow="CUSTOM_AUTH")
        raise


def answer(env: Env, progress: dict[str, Any], user: User | None, given: str) -> Step:
    """The answer to the CUSTOM_CHALLENGE ``progress`` waits at, judged by
    VerifyAuthChallengeResponse (once the password throttle lets it be: a wrong one
    counts as a failed try); DefineAuthChallenge then says what follows."""
    _needs(env, VERIFY_AUTH_CHALLENGE_RESPONSE)
    custom, name = progress["custom"], progress["username"]
    assert env.throttle is not None
    env.throttle.check(env.pool.id, name, env.context.ip)  # (Throttled: nothing judged, the answer may come again)
    private = _unseal(env, progress)
    correct = triggers.verify(env.db, env.pool, name, user, private, given)
    if not correct:
        env.throttle.wrong_answer(env.pool.id, name, env.context.ip)
    audit.record(env.db, env.pool.id, "CustomChallenge", audit.PASS if correct else audit.FAIL, user=user,
                 username=name, ip=env.context.ip, challenge=custom.get("metadata"))
    env.db.commit()
    history = [*custom["history"], triggers.entry(CUSTOM_CHALLENGE, correct, custom.get("metadata"))]
    return _next(env, {**progress, "custom": {**custom, "history": history, "private": None, "metadata": None}},
                 user)


def password_proven(env: Env, progress: dict[str, Any], user: User) -> Step:
    """PASSWORD_VERIFIER passed in a sign-in that began with SRP_A, and what follows a
    password at any sign-in done (:func:`broker.engine.signin.after_password`: the account's
    status, the risk decision, MFA or MFA_SETUP), as Cognito asks the user's second factor
    right after the password: the history goes on."""
    custom = progress["custom"]
    history = [*custom["history"], triggers.entry(PASSWORD_VERIFIER, True)]
    return _next(env, {**progress, "username": user.username, "amr": list(progress.get("amr") or ["pwd"]),
                       "custom": {**custom, "history": history}}, user)


def _next(env: Env, progress: dict[str, Any], user: User | None) -> Step:
    """What DefineAuthChallenge says comes next."""
    custom, name = progress["custom"], progress["username"]
    decision = triggers.define(env.db, env.pool, name, user, custom["history"])
    env.db.commit()
    if decision.fail:
        audit.record(env.db, env.pool.id, "SignIn", audit.FAIL, user=user, username=name, ip=env.context.ip,
                     reason="custom_auth_failed", flow="CUSTOM_AUTH")
        env.db.commit()
        raise Refused(BLOCKED, FAILED)
    if decision.issue_tokens:
        return _finish(env, progress, user)
    if decision.challenge == PASSWORD_VERIFIER and _may_prove_password(progress):
        waiting = {**progress, "srp_a_sent": None}
        return password_verifier.challenge(env, waiting, name, user, str(progress["srp_a_sent"]))
    if decision.challenge == CUSTOM_CHALLENGE:
        return _custom_challenge(env, progress, user)
    raise invalid()  # no challenge Cognate can ask, and neither tokens nor a failure


def _may_prove_password(progress: dict[str, Any]) -> bool:
    """PASSWORD_VERIFIER comes right after SRP_A, once."""
    history = progress["custom"]["history"]
    return bool(progress.get("srp_a_sent")) and len(history) == 1 and history[0]["challengeName"] == "SRP_A"


def _custom_challenge(env: Env, progress: dict[str, Any], user: User | None) -> Challenge:
    custom, name = progress["custom"], progress["username"]
    if custom["asked"] >= MAX_CHALLENGES:
        audit.record(env.db, env.pool.id, "CustomChallenge", audit.BLOCK, user=user, username=name,
                     ip=env.context.ip, reason="too_many_challenges")
        env.db.commit()
        raise Refused(ENDED, FAILED)
    _needs(env, CREATE_AUTH_CHALLENGE)
    created = triggers.create(env.db, env.pool, name, user, CUSTOM_CHALLENGE, custom["history"])
    env.db.commit()
    sealed = sealing.of(env.db).seal(PRIVATE_PURPOSE, json.dumps(created.private).encode(), bound_to=_bound(progress))
    waiting = {**progress, "step": CUSTOM_CHALLENGE, "srp_a_sent": None,
               "custom": {**custom, "asked": custom["asked"] + 1, "private": sealed, "metadata": created.metadata}}
    return Challenge(CUSTOM_CHALLENGE, waiting, {**created.public, "USERNAME": name})


def _finish(env: Env, progress: dict[str, Any], user: User | None) -> Step:
    """DefineAuthChallenge issues tokens: to a user who exists and may sign in, whose
    account asks nothing more (a temporary password still asks for a new one)."""
    if user is None or not user.enabled or user.status == "EXTERNAL_PROVIDER":
        audit.record(env.db, env.pool.id, "SignIn", audit.FAIL, user=user, username=progress["username"],
                     ip=env.context.ip, reason="unknown_user" if user is None else "not_allowed", flow="CUSTOM_AUTH")
        env.db.commit()
        raise Refused(BLOCKED, FAILED)
    history = progress["custom"]["history"]
    amr = list(progress.get("amr") or [])  # "pwd" once PASSWORD_VERIFIER passed
    if not amr or any(e["challengeName"] == CUSTOM_CHALLENGE for e in history):
        amr.append("custom")
    done = {k: v for k, v in progress.items() if k not in ("custom", "srp_a_sent")} | {"amr": amr}
    waiting = account_status(done, user)
    if waiting is not None:
        return waiting
    assert env.throttle is not None
    env.throttle.succeeded(env.pool.id, progress["username"])
    audit.record(env.db, env.pool.id, "SignIn", audit.PASS, user=user, ip=env.context.ip, flow="CUSTOM_AUTH")
    return signed_in(env, done, user)


def _bound(progress: dict[str, Any]) -> str:
    return f"{progress.get('pool')}/{progress['username']}"


def _unseal(env: Env, progress: dict[str, Any]) -> dict[str, str]:
    raw = sealing.of(env.db).unseal(PRIVATE_PURPOSE, progress["custom"].get("private"), bound_to=_bound(progress))
    return json.loads(raw) if raw else {}
