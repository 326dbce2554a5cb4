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

from ..engine import custom_auth
from ..engine.challenges import CUSTOM_CHALLENGE
from ..errors import Throttled
from ..store.models import AppClient, UserPool, canonical_username
from . import auth_operations
from .auth_operations import srp_refusals
from .auth_session import engine_env, first_progress, keep, password_refusals, render, required, resume_any
from .call import Call
from .errors import AwsError


def custom_auth_flow(call: Call, client: AppClient, pool: UserPool, auth: dict[str, str]) -> dict[str, Any]:
    """CUSTOM_AUTH's first step: DefineAuthChallenge's first challenge, or tokens."""
    call.check_auth_flow(client, "ALLOW_CUSTOM_AUTH")
    username = required(auth, "USERNAME")
    call.check_secret_hash(client, username, {"AuthParameters": auth})
    if auth.get("CHALLENGE_NAME") not in (None, "SRP_A"):
        raise AwsError("InvalidParameterException", "CHALLENGE_NAME must be SRP_A when it is given.")
    env = engine_env(call, pool, auth.get("DEVICE_KEY"))
    with srp_refusals(), password_refusals():
        step = custom_auth.start(env, first_progress(client, pool), username, auth.get("SRP_A"))
    return render(call, client, pool, step)


def answer_custom_challenge(call: Call, client: AppClient, pool: UserPool, params: dict[str, Any]) -> dict[str, Any]:
    """A CUSTOM_CHALLENGE answered: the next challenge, or tokens. Its Session is used up
    once the answer is judged, whatever the verdict."""
    responses = params.get("ChallengeResponses") or {}
    token = params.get("Session")
    progress, user = resume_any(call, token, pool, client, CUSTOM_CHALLENGE)  # (no user: a name the pool lacks)
    try:
        given = responses.get("USERNAME")
        if given is not None and canonical_username(given) != progress["username"]:
            raise AwsError("NotAuthorizedException", "The USERNAME is not the user of this session.")
        call.check_secret_hash(client, given or progress["username"], {"ChallengeResponses": responses})
        answer = required(responses, "ANSWER")
    except AwsError:  # nothing was judged: the same Session answers again
        keep(call, progress, token)
        raise
    with password_refusals():  # (the engine's refusals, as Cognito words them)
        try:
            step = custom_auth.answer(engine_env(call, pool, responses.get("DEVICE_KEY")), progress, user, answer)
        except Throttled:  # nothing was judged: the same Session answers once the wait is over
            keep(call, progress, token)
            raise
    return render(call, client, pool, step, answered=token)


auth_operations.FLOWS["CUSTOM_AUTH"] = custom_auth_flow
auth_operations.RESPONDERS[CUSTOM_CHALLENGE] = answer_custom_challenge
