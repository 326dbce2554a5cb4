"""The JSON door of the sign-in engine (:mod:`broker.engine.signin`): InitiateAuth,
RespondToAuthChallenge and the TOTP enrolment of a sign-in in progress; each parses,
calls the engine, and renders its next challenge with a ``Session`` or its tokens.

As on AWS, the tokens of an API sign-in carry the scope ``aws.cognito.signin.user.admin``
(not ``openid``), an ID token always comes with them, and a refresh token when the client
allows ``ALLOW_REFRESH_TOKEN_AUTH``.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_InitiateAuth.html
"""
from __future__ import annotations

import secrets
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .. import sealing
from ..engine import device_verifier, password_verifier, sessions, signin, srp
from ..engine.challenges import (
    BLOCKED, CODE_MISMATCH, DEVICE_PASSWORD_VERIFIER, DEVICE_SRP_AUTH, EMAIL_OTP, ENDED, MFA_SETUP,
    NEW_PASSWORD_REQUIRED, NOT_CONFIRMED, NOT_OFFERED, PASSWORD_VERIFIER, RESET_REQUIRED, SELECT_MFA_TYPE, SMS_MFA,
    SOFTWARE_TOKEN_MFA, Challenge, Refused, SignedIn,
)
from ..errors import FormInvalid, SignInFailed, Throttled, TriggerFailed
from ..oauth.issue import issue_tokens, pre_token
from ..oauth.tokens import ADMIN_SCOPE
from ..store.models import AppClient, User, UserPool, canonical_username
from ..store import repo
from ..triggers import pre_token as pre_token_trigger
from ..userpool import adaptive, client_auth, tracked_devices
from .call import Call
from .errors import AwsError
from .registry import operation

#: The engine's refusals as Cognito answers them.
REFUSALS = {
    NOT_CONFIRMED: ("UserNotConfirmedException", "User is not confirmed."),
    RESET_REQUIRED: ("PasswordResetRequiredException", "Password reset required for the user"),
    BLOCKED: ("NotAuthorizedException", "Incorrect username or password."),
    CODE_MISMATCH: ("CodeMismatchException", "Invalid code received for user"),
    ENDED: ("NotAuthorizedException", "Invalid session for the user, too many failed attempts."),
    NOT_OFFERED: ("InvalidParameterException", "The chosen second factor is not one of those offered."),
}
EXPIRED = "Invalid session for the user, session is expired."
#: The step a challenge's answer must find its session at, where it is not the challenge's
#: own: MFA_SETUP is answered once VerifySoftwareToken has enrolled the first code.
ANSWERED_AT = {MFA_SETUP: signin.SETUP_DONE}


Flow = Callable[[Call, AppClient, UserPool, dict[str, str]], dict[str, Any]]


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
        username, password = _required(auth, "USERNAME"), _required(auth, "PASSWORD")
        call.check_secret_hash(client, username, {"AuthParameters": auth})
        env = _env(call, pool, auth.get("DEVICE_KEY"))
        with _password_refusals():
            step = signin.password(env, _start(client, pool), username, password)
        return _render(call, client, pool, step)
    return flow


@contextmanager
def _password_refusals() -> Iterator[None]:
    """A password (or its SRP proof) refused, as Cognito words it."""
    try:
        yield
    except SignInFailed as exc:
        raise AwsError("NotAuthorizedException", exc.message) from None
    except Throttled:
        raise AwsError("NotAuthorizedException", "Password attempts exceeded") from None
    except Refused as exc:
        raise _refusal(exc) from None


def srp_auth(call: Call, client: AppClient, pool: UserPool, auth: dict[str, str]) -> dict[str, Any]:
    call.check_auth_flow(client, "ALLOW_USER_SRP_AUTH")
    username, srp_a = _required(auth, "USERNAME"), _required(auth, "SRP_A")
    call.check_secret_hash(client, username, {"AuthParameters": auth})
    with srp_refusals(), _password_refusals():
        step = password_verifier.start(_env(call, pool, auth.get("DEVICE_KEY")), _start(client, pool), username, srp_a)
    return _render(call, client, pool, step)


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
        if canonical_username(_required(responses, "USERNAME")) != progress["username"]:
            raise AwsError("NotAuthorizedException", "Incorrect username or password.")
        call.check_secret_hash(client, responses["USERNAME"], {"ChallengeResponses": responses})
        timestamp, signature = _required(responses, "TIMESTAMP"), _required(responses, "PASSWORD_CLAIM_SIGNATURE")
    except AwsError:  # nothing was checked: the same SECRET_BLOCK answers again
        _keep(call, progress, token)
        raise
    with _password_refusals():
        try:
            step = password_verifier.answer(_env(call, pool, responses.get("DEVICE_KEY")), progress, timestamp,
                                            signature)
        except srp.SrpError as exc:  # a stale or unreadable TIMESTAMP, refused before the proof is checked
            _keep(call, progress, token)
            raise AwsError("InvalidParameterException", _srp_message(exc)) from None
    return _render(call, client, pool, step)


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
    progress, user = _resume(call, token, pool, client, name)
    given = responses.get("USERNAME")
    if given is not None and canonical_username(given) != user.username:
        _keep(call, progress, token)
        raise AwsError("NotAuthorizedException", "The USERNAME is not the user of this session.")
    try:
        call.check_secret_hash(client, given or user.username, {"ChallengeResponses": responses})
        step = answer(_env(call, pool, responses.get("DEVICE_KEY")), progress, user, responses)
    except Refused as exc:
        if exc.progress is not None:
            _keep(call, exc.progress, token)  # the same Session answers again
        raise _refusal(exc) from None
    except TriggerFailed:
        raise  # the sign-in is over; answered as the trigger's AWS error
    except FormInvalid as exc:
        _keep(call, progress, token)
        raise AwsError("InvalidPasswordException", exc.errors[0] if exc.errors else exc.message) from None
    except srp.SrpError as exc:
        _keep(call, progress, token)
        raise AwsError("InvalidParameterException", _srp_message(exc)) from None
    except AwsError:
        _keep(call, progress, token)
        raise
    return _render(call, client, pool, step, answered=params.get("Session"))


def _srp_message(exc: srp.SrpError) -> str:
    return "SRP_A is not a valid SRP public value." if isinstance(exc, srp.InvalidSrpA) else str(exc)


@operation("AssociateSoftwareToken")
def associate_software_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """MFA_SETUP of a sign-in in progress (``Session``): the secret to enrol, and a new Session."""
    if "AccessToken" in params:
        from .account_mfa import associate_for_user  # the signed-in user's own enrolment

        return associate_for_user(call, params["AccessToken"])
    progress, _user = _resume(call, params.get("Session"), None, None, MFA_SETUP, step=MFA_SETUP)
    progress = signin.setup_secret(progress)
    return {"SecretCode": progress["secret"], "Session": sessions.open_session(call.runtime.state, progress)}


@operation("VerifySoftwareToken")
def verify_software_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The first code of the secret being enrolled: the sign-in may now answer MFA_SETUP."""
    if "AccessToken" in params:
        from .account_mfa import verify_for_user

        return verify_for_user(call, params["AccessToken"], params["UserCode"])
    token = params.get("Session")
    progress, user = _resume(call, token, None, None, MFA_SETUP, step=MFA_SETUP)
    pool = call.runtime.config.pool(call.session, progress["pool"])
    if pool is None or not progress.get("secret"):
        _keep(call, progress, token)
        raise AwsError("InvalidParameterException", "Call AssociateSoftwareToken first.")
    try:
        progress, _codes = signin.answer_setup(_env(call, pool, None), progress, user, params["UserCode"])
    except Refused:
        _keep(call, progress, token)
        raise AwsError("EnableSoftwareTokenMFAException", "Code mismatch") from None
    return {"Status": "SUCCESS", "Session": sessions.open_session(call.runtime.state, progress)}


def _new_password(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
    return signin.answer_new_password(env, progress, user, _required(responses, "NEW_PASSWORD"))


def _code(key: str) -> Callable[[signin.Env, dict[str, Any], User, dict[str, str]], signin.Step]:
    def answer(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
        return signin.answer_code(env, progress, user, _required(responses, key))
    return answer


def _select(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
    return signin.select_factor(env, progress, user, _required(responses, "ANSWER"))


def _device_srp(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
    return device_verifier.start(env, progress, user, _required(responses, "SRP_A"))


def _device_verifier(env: signin.Env, progress: dict[str, Any], user: User,
                     responses: dict[str, str]) -> signin.Step:
    return device_verifier.answer(env, progress, user, _required(responses, "TIMESTAMP"),
                                  _required(responses, "PASSWORD_CLAIM_SIGNATURE"))


def _setup_done(env: signin.Env, progress: dict[str, Any], user: User, responses: dict[str, str]) -> signin.Step:
    return signin.signed_in(env, progress, user)


ANSWERS: dict[str, Callable[[signin.Env, dict[str, Any], User, dict[str, str]], signin.Step]] = {
    NEW_PASSWORD_REQUIRED: _new_password,
    SOFTWARE_TOKEN_MFA: _code("SOFTWARE_TOKEN_MFA_CODE"),
    SMS_MFA: _code("SMS_MFA_CODE"),
    EMAIL_OTP: _code("EMAIL_OTP_CODE"),
    SELECT_MFA_TYPE: _select,
    MFA_SETUP: _setup_done,
    DEVICE_SRP_AUTH: _device_srp,
    DEVICE_PASSWORD_VERIFIER: _device_verifier,
}


def _start(client: AppClient, pool: UserPool) -> dict[str, Any]:
    """What an API sign-in's progress starts with: its pool and client, which every later
    call must be of."""
    return {"pool": pool.id, "client_id": client.id}


def _env(call: Call, pool: UserPool, device_key: str | None) -> signin.Env:
    """The engine's view of this call: a sign-in with Cognito's DEVICE_KEY is weighed as that
    device, which must prove itself (DEVICE_SRP_AUTH) before it skips MFA or is noted; one
    without, as a new device each time."""
    rt = call.runtime
    context = adaptive.Context(call.ip, device_key or secrets.token_urlsafe(24), call.headers.get("User-Agent"))
    return signin.Env(call.session, rt.state, rt.sender, rt.sms, pool, context, can_select=True,
                      remembered_skips_mfa=False, note_device=False, throttle=call.throttle,
                      tracked_device=device_key)


def _resume(call: Call, token: str | None, pool: UserPool | None, client: AppClient | None,
            name: str, step: str | None = None) -> tuple[dict[str, Any], User]:
    """The sign-in ``token`` (a Session) names, waiting at ``step`` (by default the step
    that answers the challenge ``name``), and its user; anything else is an expired session,
    and changes nothing."""
    step = step or ANSWERED_AT.get(name, name)
    progress = sessions.take(call.runtime.state, token, pool.id if pool else None, client.id if client else None)
    if progress is None:
        raise AwsError("NotAuthorizedException", EXPIRED)
    if progress.get("step") != step:
        _keep(call, progress, token)
        raise AwsError("InvalidParameterException", f"The session is not waiting for this {name} step.")
    user = call.session.get(User, progress.get("user_id") or 0)
    if user is None or not signin.still_current(progress, user):
        raise AwsError("NotAuthorizedException", EXPIRED)
    return progress, user


def _keep(call: Call, progress: dict[str, Any], token: str | None) -> None:
    sessions.open_session(call.runtime.state, progress, token, keep=True)


def _render(call: Call, client: AppClient, pool: UserPool, step: signin.Step,
            answered: str | None = None) -> dict[str, Any]:
    """The challenge with its Session, or the tokens. ``answered`` is the Session the call
    answered, which amazon-cognito-identity-js sends again with DEVICE_SRP_AUTH after an
    MFA code (``sendMFACode`` never replaces it)."""
    if isinstance(step, Challenge):
        user = call.session.get(User, step.progress.get("user_id") or 0)
        username = user.username if user is not None else step.progress["username"]  # (before a password)
        token = None  # a new random Session, except where a client may answer without it:
        if step.name == PASSWORD_VERIFIER:  # found by its SECRET_BLOCK: pycognito answers without the Session
            token = step.parameters["SECRET_BLOCK"]
        elif step.name == DEVICE_SRP_AUTH and user is not None:
            srp_a = step.progress.get("password_srp_a")
            token = answered or (_device_session(call, client, user, step.progress["device_key"], srp_a)
                                 if srp_a else None)
        elif step.name == DEVICE_PASSWORD_VERIFIER:
            token = step.parameters["SECRET_BLOCK"]
        return {"ChallengeName": step.name,
                "Session": sessions.open_session(call.runtime.state, step.progress, token),
                "ChallengeParameters": {**step.parameters, "USER_ID_FOR_SRP": username}}
    result = tokens(call, client, pool, step)
    if tracked_devices.tracking(pool) and not step.progress.get("device_proven"):
        result["NewDeviceMetadata"] = tracked_devices.new_device(call.session, pool, step.user)
    return {"ChallengeParameters": {}, "AuthenticationResult": result}


def _device_session(call: Call, client: AppClient, user: User, device_key: str, srp_a: str) -> str:
    """The Session of a DEVICE_SRP_AUTH that follows an SRP password proof, for clients that
    answer it without the Session they were given (pycognito): derived, under the
    deployment's key, from the client, the user, the device and the SRP_A of the password
    proof, which pycognito sends again with DEVICE_SRP_AUTH and only it knows."""
    mac = sealing.of(call.session).mac("device-srp-session", f"{client.id}\0{user.id}\0{device_key}\0{srp_a}".encode())
    return "device-" + mac.hex()


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
        return _device_session(call, client, user, device, srp_a) if user is not None and device and srp_a else None
    if name == DEVICE_PASSWORD_VERIFIER:
        return responses.get("PASSWORD_CLAIM_SECRET_BLOCK")
    return None


def tokens(call: Call, client: AppClient, pool: UserPool, done: SignedIn) -> dict[str, Any]:
    """Cognito's ``AuthenticationResult`` for a finished sign-in (PreTokenGeneration's
    ``triggerSource`` named by the challenge that ended it)."""
    with_refresh = "ALLOW_REFRESH_TOKEN_AUTH" in client_auth.allowed_auth_flows(client)
    overrides = pre_token(call.session, pool, client, done.user, (ADMIN_SCOPE,),
                          pre_token_trigger.source_of(done.progress))
    return issue(call, client, pool, done.user, (ADMIN_SCOPE,), done.auth_time, str(uuid.uuid4()),
                 str(uuid.uuid4()), include_refresh_token=with_refresh, amr=done.amr, overrides=overrides)


def issue(call: Call, client: AppClient, pool: UserPool, user: User, scopes: tuple[str, ...], auth_time: int,
          origin_jti: str, event_id: str, **options: Any) -> dict[str, Any]:
    """Tokens as the JSON API answers them (an ID token always, without ``at_hash``, as
    Cognito's), in Cognito's ``AuthenticationResult`` shape; ``options`` as
    :func:`broker.oauth.issue.issue_tokens` takes them."""
    rt = call.runtime
    return authentication_result(issue_tokens(call.session, rt.keys, rt.settings.base_url, pool, client, user,
                                              scopes, auth_time, origin_jti, event_id, id_token=True, at_hash=False,
                                              **options))


def authentication_result(issued: dict[str, Any]) -> dict[str, Any]:
    """A token response (:func:`broker.oauth.issue.issue_tokens`) in Cognito's shape."""
    result = {"AccessToken": issued["access_token"], "ExpiresIn": issued["expires_in"], "TokenType": "Bearer"}
    if "id_token" in issued:
        result["IdToken"] = issued["id_token"]
    if "refresh_token" in issued:
        result["RefreshToken"] = issued["refresh_token"]
    return result


def _refusal(exc: Refused) -> AwsError:
    kind, message = REFUSALS.get(exc.reason, ("NotAuthorizedException", exc.message))
    return AwsError(kind, message)


def _required(values: dict[str, str], key: str) -> str:
    value = values.get(key)
    if not isinstance(value, str) or not value:
        raise AwsError("InvalidParameterException", f"Missing required parameter {key}")
    return value


FLOWS: dict[str, Flow] = {
    "USER_PASSWORD_AUTH": password_flow("ALLOW_USER_PASSWORD_AUTH"),
    "USER_SRP_AUTH": srp_auth,
}
#: Challenges answered by a function of their own (the Session found their own way, or a
#: sign-in that may have no user yet): RespondToAuthChallenge's input in, its output out.
RESPONDERS: dict[str, Callable[[Call, AppClient, UserPool, dict[str, Any]], dict[str, Any]]] = {
    PASSWORD_VERIFIER: _password_verifier,
}
