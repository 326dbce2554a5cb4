"""Choice-based sign-in at the JSON door (InitiateAuth ``USER_AUTH``), over
:mod:`broker.engine.user_auth` and :mod:`broker.engine.first_factor`: the client must allow
``ALLOW_USER_AUTH``.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html

    InitiateAuth {"AuthFlow": "USER_AUTH", "AuthParameters": {"USERNAME": "alice",
                  "PREFERRED_CHALLENGE": "EMAIL_OTP"}}
      -> {"ChallengeName": "EMAIL_OTP", "ChallengeParameters": {"CODE_DELIVERY_DESTINATION": ...}}
    InitiateAuth {"AuthFlow": "USER_AUTH", "AuthParameters": {"USERNAME": "alice"}}
      -> {"ChallengeName": "SELECT_CHALLENGE", "AvailableChallenges": ["PASSWORD", ...]}
    RespondToAuthChallenge {"ChallengeName": "SELECT_CHALLENGE",
                            "ChallengeResponses": {"USERNAME": "alice", "ANSWER": "PASSWORD", "PASSWORD": "..."}}
    RespondToAuthChallenge {"ChallengeName": "EMAIL_OTP", ... {"EMAIL_OTP_CODE": "123456"}}
    RespondToAuthChallenge {"ChallengeName": "WEB_AUTHN", ... {"CREDENTIAL": "<AuthenticationResponseJSON>"}}

``PASSWORD_SRP`` answers with PASSWORD_VERIFIER, answered as at USER_SRP_AUTH. A name the
pool lacks answers as a user's does (the offer, a code "sent"), and fails at the code or
password as a wrong one does.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ..engine import first_factor, signin, user_auth
from ..engine.challenges import EMAIL_OTP
from ..engine.first_factor import SELECT_CHALLENGE, SMS_OTP, WEB_AUTHN
from ..errors import LimitExceeded, Throttled
from ..store.models import AppClient, User, UserPool
from ..userpool import passkeys
from . import auth_operations
from .auth_operations import Answer, answer_with, srp_refusals
from .auth_session import engine_env, first_progress, password_refusals, render, required, resume, resume_any
from .call import Call
from .errors import AwsError


def user_auth_flow(call: Call, client: AppClient, pool: UserPool, auth: dict[str, str]) -> dict[str, Any]:
    """USER_AUTH's first step: the preferred factor's challenge, or SELECT_CHALLENGE."""
    call.check_auth_flow(client, "ALLOW_USER_AUTH")
    username = required(auth, "USERNAME")
    call.check_secret_hash(client, username, {"AuthParameters": auth})
    env = engine_env(call, pool, auth.get("DEVICE_KEY"))
    progress = {**first_progress(client, pool),
                **passkeys.relying_party(call.session, pool, call.runtime.settings).as_progress()}
    with srp_refusals(), password_refusals(), _choice_refusals():
        step = user_auth.start(env, progress, username, auth.get("PREFERRED_CHALLENGE"), auth)
    return render(call, client, pool, step)


@contextmanager
def _choice_refusals() -> Iterator[None]:
    """What a chosen factor may be refused with before anything is checked, in AWS's words
    (raised inside :func:`password_refusals`, which would answer a limit on codes sent as
    a password's)."""
    try:
        yield
    except user_auth.MissingAnswer as exc:
        raise AwsError("InvalidParameterException", f"Missing required parameter {exc.message}") from None
    except LimitExceeded as exc:
        raise AwsError("LimitExceededException", exc.message) from None


def _select(env: signin.Env, progress: dict[str, Any], user: User | None, responses: dict[str, str]) -> signin.Step:
    """SELECT_CHALLENGE answered with ``ANSWER`` (and ``PASSWORD`` or ``SRP_A``)."""
    with srp_refusals(), _choice_refusals():
        try:
            return user_auth.select(env, progress, user, required(responses, "ANSWER"), responses)
        except Throttled:  # (nothing was checked: the same Session chooses again)
            raise AwsError("NotAuthorizedException", "Password attempts exceeded") from None


def _code(key: str) -> Answer:
    """A code answered as the first factor (``first_factor`` sign-ins), or as the second."""
    def answer(env: signin.Env, progress: dict[str, Any], user: User | None, responses: dict[str, str]) -> signin.Step:
        code = required(responses, key)
        if progress.get("first_factor"):
            return first_factor.answer_code(env, progress, user, code)
        assert user is not None  # a second factor's sign-in always names its user
        return signin.answer_code(env, progress, user, code)
    return answer


def _passkey(env: signin.Env, progress: dict[str, Any], user: User | None, responses: dict[str, str]) -> signin.Step:
    return first_factor.answer_passkey(env, progress, required(responses, "CREDENTIAL"), user)


def responder(name: str, answer: Answer, nameless: bool) -> auth_operations.Responder:
    """RespondToAuthChallenge for ``name``, whose sign-in may name no user (``nameless``:
    a name the pool lacks, which fails at the end as a user's wrong answer does)."""
    def respond(call: Call, client: AppClient, pool: UserPool, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("Session")
        if nameless:
            progress, user = resume_any(call, token, pool, client, name)
        else:
            progress, user = resume(call, token, pool, client, name)
        username = user.username if user is not None else str(progress.get("username", ""))
        return answer_with(call, client, pool, params, token, progress, user, username, answer)
    return respond


auth_operations.FLOWS["USER_AUTH"] = user_auth_flow
auth_operations.RESPONDERS.update({
    SELECT_CHALLENGE: responder(SELECT_CHALLENGE, _select, nameless=True),
    EMAIL_OTP: responder(EMAIL_OTP, _code("EMAIL_OTP_CODE"), nameless=True),
    SMS_OTP: responder(SMS_OTP, _code("SMS_OTP_CODE"), nameless=True),
    WEB_AUTHN: responder(WEB_AUTHN, _passkey, nameless=True),
})
