"""The JSON door of the sign-in engine (:mod:`broker.engine.signin`): InitiateAuth,
RespondToAuthChallenge and the TOTP enrolment of a sign-in in progress; each parses,
calls the engine, and renders its next challenge with a ``Session`` or its tokens.

As on AWS, the tokens of an API sign-in carry the scope ``aws.cognito.signin.user.admin``
(not ``openid``), an ID token always comes with them, and a refresh token when the client
allows ``ALLOW_REFRESH_TOKEN_AUTH``.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ..engine import device_verifier, password_verifier, sessions, signin, srp
from ..engine.challenges import (
    DEVICE_PASSWORD_VERIFIER, DEVICE_SRP_AUTH, MFA_SETUP, NEW_PASSWORD_REQUIRED, PASSWORD_VERIFIER,
    SELECT_MFA_TYPE, SMS_MFA, SOFTWARE_TOKEN_MFA, Refused,
)
from ..errors import FormInvalid, TriggerFailed
from ..store import repo
from ..store.models import AppClient, User, UserPool, canonical_username
from .auth_session import (
    EXPIRED, device_session, engine_env, first_progress, keep, password_refusals, refusal, render, required, resume,
)
from .call import Call
from .errors import AwsError
from .registry import operation

Flow = Callable[[Call, AppClient, UserPool, dict[str, str]], dict[str, Any]]
#: RespondToAuthChallenge for one challenge: its input in, its output out.
Responder = Callable[[Call, AppClient, UserPool, dict[str, Any]], dict[str, Any]]
#: The engine's answer to a challenge: the sign-in's progress, its user, the responses in.
Answer = Callable[[signin.Env, dict[str, Any], Any, dict[str, str]], signin.Step]


@operation("InitiateAuth")
def initiate_auth(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client, pool = call.client(params)
    return begin(call, client, pool, params, FLOWS)


def begin(call: Call, client: AppClient, pool: UserPool, params: dict[str, Any],
          flows: dict[str, Flow]) -> dict[str, Any]:
    """Start the sign-in ``params["AuthFlow"]`` names, one of ``flows`` (InitiateAuth's, or
    AdminInitiateAuth's): the first challenge, or the tokens."""
    name = params["AuthFlow"]
    flow = flows.get(name)
    if flow is None:
        raise AwsError("InvalidParameterException", f"Unsupported AuthFlow {name} for {call.operation}")
    return flow(call, client, pool, params.get("AuthParameters") or {})


def password_flow(allowed_by: str) -> Flow:
    """A flow that sends the password itself (USER_PASSWORD_AUTH; ADMIN_USER_PASSWORD_AUTH,
    which only a signed call may start), if the client allows ``allowed_by``."""
    def flow(call: Call, client: AppClient, pool: UserPool, auth: dict[str, str]) -> dict[str, Any]:
        call.check_auth_flow(client, allowed_by)
        username, password = required(auth, "USERNAME"), required(auth, "PASSWORD")
        call.check_secret_hash(client, username, {"AuthParameters": auth})
        env = engine_env(call, pool, auth.get("DEVICE_KEY"))
        with password_refusals():
            step = signin.password(env, first_progress(client, pool), username, password)
        return render(call, client, pool, step)
    return flow


def srp_auth(call: Call, client: AppClient, pool: UserPool, auth: dict[str, str]) -> dict[str, Any]:
    call.check_auth_flow(client, "ALLOW_USER_SRP_AUTH")
    username, srp_a = required(auth, "USERNAME"), required(auth, "SRP_A")
    call.check_secret_hash(client, username, {"AuthParameters": auth})
    with srp_refusals(), password_refusals():
        step = password_verifier.start(engine_env(call, pool, auth.get("DEVICE_KEY")), first_progress(client, pool),
                                       username, srp_a)
    return render(call, client, pool, step)


@contextmanager
def srp_refusals() -> Iterator[None]:
    """An SRP start refused before anything is checked, as Cognito words it."""
    try:
        yield
    except password_verifier.SrpDisabled:
        raise AwsError("InvalidParameterException", "USER_SRP_AUTH is not enabled for this user pool.") from None
    except srp.InvalidSrpA as exc:
        raise AwsError("InvalidParameterException", _srp_message(exc)) from None


def _password_verifier(call: Call, client: AppClient, pool: UserPool, params: dict[str, Any]) -> dict[str, Any]:
    """The PASSWORD_VERIFIER answer, found by its SECRET_BLOCK (or Session)."""
    responses = params.get("ChallengeResponses") or {}
    token = responses.get("PASSWORD_CLAIM_SECRET_BLOCK") or params.get("Session")
    progress = sessions.take(call.runtime.state, token, pool.id, client.id)
    if progress is None or progress.get("step") != PASSWORD_VERIFIER:
        raise AwsError("NotAuthorizedException", EXPIRED)
    try:
        if canonical_username(required(responses, "USERNAME")) != progress["username"]:
            raise AwsError("NotAuthorizedException", "Incorrect username or password.")
        call.check_secret_hash(client, responses["USERNAME"], {"ChallengeResponses": responses})
        timestamp, signature = required(responses, "TIMESTAMP"), required(responses, "PASSWORD_CLAIM_SIGNATURE")
    except AwsError:  # nothing was checked: the same SECRET_BLOCK answers again
        keep(call, progress, token)
        raise
    with password_refusals():
        try:
            step = password_verifier.answer(engine_env(call, pool, responses.get("DEVICE_KEY")), progress, timestamp,
                                            signature)
        except srp.SrpError as exc:  # a stale or unreadable TIMESTAMP, refused before the proof is checked
            keep(call, progress, token)
            raise AwsError("InvalidParameterException", _srp_message(exc)) from None
    return render(call, client, pool, step)


@operation("RespondToAuthChallenge")
def respond_to_auth_challenge(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client, pool = call.client(params)
    return respond(call, client, pool, params)


def respond(call: Call, client: AppClient, pool: UserPool, params: dict[str, Any]) -> dict[str, Any]:
    """The answer to a challenge of ``client``'s sign-in (RespondToAuthChallenge's, or
    AdminRespondToAuthChallenge's): the next challenge, or the tokens."""
    name, responses = params["ChallengeName"], params.get("ChallengeResponses") or {}
    own = RESPONDERS.get(name)
    if own is not None:  # challenges whose Session is found another way
        return own(call, client, pool, params)
    answer = ANSWERS.get(name)
    if answer is None:
        raise AwsError("InvalidParameterException", f"Unsupported challenge {name}")
    token = _session_of(call, client, pool, name, params.get("Session"), responses)
    progress, user = resume(call, token, pool, client, name)
    return answer_with(call, client, pool, params, token, progress, user, user.username, answer)


def answer_with(call: Call, client: AppClient, pool: UserPool, params: dict[str, Any], token: str | None,
                progress: dict[str, Any], user: User | None, username: str, answer: Answer) -> dict[str, Any]:
    """Answer the challenge the sign-in ``token`` named waits at (its ``progress`` taken, of
    ``user``, or of a ``username`` the pool lacks when None) with ``answer``: the next
    challenge or the tokens. A refusal that lets the challenge be answered again keeps the
    same Session."""
    responses = params.get("ChallengeResponses") or {}
    given = responses.get("USERNAME")
    if given is not None and canonical_username(given) != username:
        keep(call, progress, token)
        raise AwsError("NotAuthorizedException", "The USERNAME is not the user of this session.")
    try:
        call.check_secret_hash(client, given or username, {"ChallengeResponses": responses})
        step = answer(engine_env(call, pool, responses.get("DEVICE_KEY")), progress, user, responses)
    except Refused as exc:
        if exc.progress is not None:
            keep(call, exc.progress, token)  # the same Session answers again
        raise refusal(exc) from None
    except TriggerFailed:
        raise  # the sign-in is over; answered as the trigger's AWS error
    except FormInvalid as exc:
        keep(call, progress, token)
        raise AwsError("InvalidPasswordException", exc.errors[0] if exc.errors else exc.message) from None
    except srp.SrpError as exc:
        keep(call, progress, token)
        raise AwsError("InvalidParameterException", _srp_message(exc)) from None
    except AwsError:
        keep(call, progress, token)
        raise
    return render(call, client, pool, step, answered=params.get("Session"))


def _srp_message(exc: srp.SrpError) -> str:
    return "SRP_A is not a valid SRP public value." if isinstance(exc, srp.InvalidSrpA) else str(exc)


@operation("AssociateSoftwareToken")
def associate_software_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """MFA_SETUP of a sign-in in progress (``Session``): the secret to enrol, and a new Session."""
    if "AccessToken" in params:
        from .account_mfa import associate_for_user  # the signed-in user's own enrolment

        return associate_for_user(call, params["AccessToken"])
    progress, _user = resume(call, params.get("Session"), None, None, MFA_SETUP, step=MFA_SETUP)
    progress = signin.setup_secret(progress)
    return {"SecretCode": progress["secret"], "Session": sessions.open_session(call.runtime.state, progress)}


@operation("VerifySoftwareToken")
def verify_software_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The first code of the secret being enrolled: the sign-in may now answer MFA_SETUP."""
    if "AccessToken" in params:
        from .account_mfa import verify_for_user

        return verify_for_user(call, params["AccessToken"], params["UserCode"])
    token = params.get("Session")
    progress, user = resume(call, token, None, None, MFA_SETUP, step=MFA_SETUP)
    pool = call.runtime.config.pool(call.session, progress["pool"])
    if pool is None or not progress.get("secret"):
        keep(call, progress, token)
        raise AwsError("InvalidParameterException", "Call AssociateSoftwareToken first.")
    try:
        progress, _codes = signin.answer_setup(engine_env(call, pool, None), progress, user, params["UserCode"])
    except Refused:
        keep(call, progress, token)
        raise AwsError("EnableSoftwareTokenMFAException", "Code mismatch") from None
    return {"Status": "SUCCESS", "Session": sessions.open_session(call.runtime.state, progress)}


def _new_password(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
    return signin.answer_new_password(env, progress, user, required(responses, "NEW_PASSWORD"))


def _code(key: str) -> Callable[[signin.Env, dict[str, Any], User, dict[str, str]], signin.Step]:
    def answer(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
        return signin.answer_code(env, progress, user, required(responses, key))
    return answer


def _select(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
    return signin.select_factor(env, progress, user, required(responses, "ANSWER"))


def _device_srp(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
    return device_verifier.start(env, progress, user, required(responses, "SRP_A"))


def _device_verifier(env: signin.Env, progress: dict[str, Any], user: User,
                     responses: dict[str, str]) -> signin.Step:
    return device_verifier.answer(env, progress, user, required(responses, "TIMESTAMP"),
                                  required(responses, "PASSWORD_CLAIM_SIGNATURE"))


def _setup_done(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
    return signin.signed_in(env, progress, user)


ANSWERS: dict[str, Answer] = {
    NEW_PASSWORD_REQUIRED: _new_password,
    SOFTWARE_TOKEN_MFA: _code("SOFTWARE_TOKEN_MFA_CODE"),
    SMS_MFA: _code("SMS_MFA_CODE"),
    SELECT_MFA_TYPE: _select,
    MFA_SETUP: _setup_done,
    DEVICE_SRP_AUTH: _device_srp,
    DEVICE_PASSWORD_VERIFIER: _device_verifier,
}


def _session_of(call: Call, client: AppClient, pool: UserPool, name: str, given: str | None,
                responses: dict[str, str]) -> str | None:
    """The sign-in an answer to ``name`` continues: the ``given`` Session; without one,
    DEVICE_SRP_AUTH is found by its user, device and password proof's SRP_A
    (:func:`_device_session`), and DEVICE_PASSWORD_VERIFIER by its SECRET_BLOCK."""
    if given:
        return given
    if name == DEVICE_SRP_AUTH:
        user = repo.get_user(call.session, pool.id, canonical_username(responses.get("USERNAME", "")))
        device, srp_a = responses.get("DEVICE_KEY"), responses.get("SRP_A")
        return device_session(call, client, user, device, srp_a) if user is not None and device and srp_a else None
    if name == DEVICE_PASSWORD_VERIFIER:
        return responses.get("PASSWORD_CLAIM_SECRET_BLOCK")
    return None


FLOWS: dict[str, Flow] = {
    "USER_PASSWORD_AUTH": password_flow("ALLOW_USER_PASSWORD_AUTH"),
    "USER_SRP_AUTH": srp_auth,
}
#: Challenges answered by a function of their own (the Session found their own way, or a
#: sign-in that may have no user yet): RespondToAuthChallenge's input in, its output out.
RESPONDERS: dict[str, Responder] = {
    PASSWORD_VERIFIER: _password_verifier,
}
