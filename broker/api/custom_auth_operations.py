"""CUSTOM_AUTH at the JSON door (InitiateAuth and AdminInitiateAuth with ``AuthFlow``
CUSTOM_AUTH; RespondToAuthChallenge and AdminRespondToAuthChallenge with ``ChallengeName``
CUSTOM_CHALLENGE and ``ChallengeResponses.ANSWER``), over :mod:`broker.engine.custom_auth`.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RespondToAuthChallenge.html

    InitiateAuth  {"AuthFlow": "CUSTOM_AUTH", "AuthParameters": {"USERNAME": "alice"}}
      -> {"ChallengeName": "CUSTOM_CHALLENGE", "Session": "...", "ChallengeParameters": {...}}
    RespondToAuthChallenge {"ChallengeName": "CUSTOM_CHALLENGE", "Session": "...",
                            "ChallengeResponses": {"USERNAME": "alice", "ANSWER": "42"}}

Without DefineAuthChallenge the pool answers as Cognito does ("Custom auth lambda trigger
is not configured for the user pool."). ``SRP_A`` (with ``CHALLENGE_NAME: SRP_A``) in
``AuthParameters`` starts with an SRP password proof when DefineAuthChallenge asks for it.
Each Session answers once: a wrong answer is judged, and what follows comes with a new one.
"""
from __future__ import annotations

from typing import Any

from ..engine import custom_auth, sessions, signin
from ..engine.challenges import CUSTOM_CHALLENGE
from ..errors import Throttled
from ..store.models import AppClient, User, UserPool, canonical_username
from ..triggers import custom_auth as custom_triggers
from . import auth_operations
from .auth_operations import EXPIRED, _env, _keep, _password_refusals, _render, _required, _start
from .call import Call
from .errors import AwsError


def custom_auth_flow(call: Call, client: AppClient, pool: UserPool, auth: dict[str, str]) -> dict[str, Any]:
    """CUSTOM_AUTH's first step: DefineAuthChallenge's first challenge, or tokens."""
    if not custom_triggers.configured(pool):
        raise custom_auth.NotConfigured()
    call.check_auth_flow(client, "ALLOW_CUSTOM_AUTH")
    username = _required(auth, "USERNAME")
    call.check_secret_hash(client, username, {"AuthParameters": auth})
    if auth.get("CHALLENGE_NAME") not in (None, "SRP_A"):
        raise AwsError("InvalidParameterException", "CHALLENGE_NAME must be SRP_A when it is given.")
    env = _env(call, pool, auth.get("DEVICE_KEY"))
    with auth_operations.srp_refusals(), _password_refusals():
        step = custom_auth.start(env, _start(client, pool), username, auth.get("SRP_A"))
    return _render(call, client, pool, step)


def answer_custom_challenge(call: Call, client: AppClient, pool: UserPool, params: dict[str, Any]) -> dict[str, Any]:
    """A CUSTOM_CHALLENGE answered: the next challenge, or tokens. Its Session is used up
    once the answer is judged, whatever the verdict."""
    responses = params.get("ChallengeResponses") or {}
    token = params.get("Session")
    progress = sessions.take(call.runtime.state, token, pool.id, client.id)
    if progress is None:
        raise AwsError("NotAuthorizedException", EXPIRED)
    if progress.get("step") != CUSTOM_CHALLENGE:
        _keep(call, progress, token)
        raise AwsError("InvalidParameterException", f"The session is not waiting for this {CUSTOM_CHALLENGE} step.")
    user = _user_of(call, progress)
    try:
        given = responses.get("USERNAME")
        if given is not None and canonical_username(given) != progress["username"]:
            raise AwsError("NotAuthorizedException", "The USERNAME is not the user of this session.")
        call.check_secret_hash(client, given or progress["username"], {"ChallengeResponses": responses})
        answer = _required(responses, "ANSWER")
    except AwsError:  # nothing was judged: the same Session answers again
        _keep(call, progress, token)
        raise
    with _password_refusals():  # (the engine's refusals, as Cognito words them)
        try:
            step = custom_auth.answer(_env(call, pool, responses.get("DEVICE_KEY")), progress, user, answer)
        except Throttled:  # nothing was judged: the same Session answers once the wait is over
            _keep(call, progress, token)
            raise
    return _render(call, client, pool, step, answered=token)


def _user_of(call: Call, progress: dict[str, Any]) -> User | None:
    """The sign-in's user (None for a name the pool lacks); a user deleted, disabled or
    signed out everywhere since ends the sign-in."""
    if progress.get("user_id") is None:
        return None
    user = call.session.get(User, progress["user_id"])
    if user is None or not signin.still_current(progress, user):
        raise AwsError("NotAuthorizedException", EXPIRED)
    return user


auth_operations.FLOWS["CUSTOM_AUTH"] = custom_auth_flow
auth_operations.RESPONDERS[CUSTOM_CHALLENGE] = answer_custom_challenge
