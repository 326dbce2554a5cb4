"""What the sign-in operations of the JSON door share (:mod:`.auth_operations`,
:mod:`.custom_auth_operations`, :mod:`.refresh_operations`): the engine's view of a call,
the ``Session`` a challenge waits behind (resumed, or kept for another answer), the
engine's refusals as Cognito words them, and a step rendered as the next challenge or as
Cognito's ``AuthenticationResult``.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_RespondToAuthChallenge.html

    progress, user = resume(call, params.get("Session"), pool, client, "SMS_MFA")
    return render(call, client, pool, signin.answer_code(engine_env(call, pool, None), progress, user, code))
"""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from typing import Any, Iterator

from .. import ids, sealing
from ..engine import sessions, signin
from ..engine.first_factor import SELECT_CHALLENGE
from ..engine.challenges import (
    BLOCKED, CODE_MISMATCH, DEVICE_PASSWORD_VERIFIER, DEVICE_SRP_AUTH, ENDED, MFA_SETUP, NOT_AVAILABLE, NOT_CONFIRMED,
    NOT_OFFERED, PASSWORD_VERIFIER, RESET_REQUIRED, Challenge, Refused, SignedIn,
)
from ..errors import SignInFailed, Throttled
from ..oauth.issue import issue_tokens, pre_token
from ..oauth.tokens import ADMIN_SCOPE
from ..store.models import AppClient, User, UserPool
from ..triggers import pre_token as pre_token_trigger
from ..userpool import adaptive, client_auth, tracked_devices
from .call import Call
from .errors import AwsError

#: The engine's refusals as Cognito answers them.
REFUSALS = {
    NOT_CONFIRMED: ("UserNotConfirmedException", "User is not confirmed."),
    RESET_REQUIRED: ("PasswordResetRequiredException", "Password reset required for the user"),
    BLOCKED: ("NotAuthorizedException", "Incorrect username or password."),
    CODE_MISMATCH: ("CodeMismatchException", "Invalid code received for user"),
    ENDED: ("NotAuthorizedException", "Invalid session for the user, too many failed attempts."),
    NOT_OFFERED: ("InvalidParameterException", "The chosen second factor is not one of those offered."),
    NOT_AVAILABLE: ("InvalidParameterException", "The chosen challenge is not one of the AvailableChallenges."),
}
EXPIRED = "Invalid session for the user, session is expired."
#: The step a challenge's answer must find its session at, where it is not the challenge's
#: own: MFA_SETUP is answered once VerifySoftwareToken has enrolled the first code.
ANSWERED_AT = {MFA_SETUP: signin.SETUP_DONE}


@contextmanager
def password_refusals() -> Iterator[None]:
    """A password (or its SRP proof) refused, as Cognito words it."""
    try:
        yield
    except SignInFailed as exc:
        raise AwsError("NotAuthorizedException", exc.message) from None
    except Throttled:
        raise AwsError("NotAuthorizedException", "Password attempts exceeded") from None
    except Refused as exc:
        raise refusal(exc) from None


def first_progress(client: AppClient, pool: UserPool) -> dict[str, Any]:
    """What an API sign-in's progress starts with: its pool and client, which every later
    call must be of."""
    return {"pool": pool.id, "client_id": client.id}


def engine_env(call: Call, pool: UserPool, device_key: str | None) -> signin.Env:
    """The engine's view of this call: a sign-in with Cognito's DEVICE_KEY is weighed as that
    device, which must prove itself (DEVICE_SRP_AUTH) before it skips MFA or is noted; one
    without, as a new device each time."""
    rt = call.runtime
    context = adaptive.Context(call.ip, device_key or secrets.token_urlsafe(24), call.headers.get("User-Agent"))
    return signin.Env(call.session, rt.state, rt.sender, rt.sms, pool, context, can_select=True,
                      remembered_skips_mfa=False, note_device=False, throttle=call.throttle,
                      tracked_device=device_key)


def resume(call: Call, token: str | None, pool: UserPool | None, client: AppClient | None,
           name: str, step: str | None = None) -> tuple[dict[str, Any], User]:
    """The sign-in ``token`` (a Session) names, waiting at ``step`` (by default the step
    that answers the challenge ``name``), and its user; anything else is an expired session,
    and changes nothing."""
    progress, user = resume_any(call, token, pool, client, name, step)
    if user is None:
        raise AwsError("NotAuthorizedException", EXPIRED)
    return progress, user


def resume_any(call: Call, token: str | None, pool: UserPool | None, client: AppClient | None,
               name: str, step: str | None = None) -> tuple[dict[str, Any], User | None]:
    """:func:`resume` for a sign-in that may name no user yet (None: a custom challenge for
    a name the pool lacks); a user deleted, disabled or signed out everywhere since ends it."""
    step = step or ANSWERED_AT.get(name, name)
    progress = sessions.take(call.runtime.state, token, pool.id if pool else None, client.id if client else None)
    if progress is None:
        raise AwsError("NotAuthorizedException", EXPIRED)
    if progress.get("step") != step:
        keep(call, progress, token)
        raise AwsError("InvalidParameterException", f"The session is not waiting for this {name} step.")
    if "user_id" in progress and progress["user_id"] is None:
        return progress, None
    user = call.session.get(User, progress.get("user_id") or 0)
    if user is None or not signin.still_current(progress, user):
        raise AwsError("NotAuthorizedException", EXPIRED)
    return progress, user


def keep(call: Call, progress: dict[str, Any], token: str | None) -> None:
    sessions.open_session(call.runtime.state, progress, token, keep=True)


def render(call: Call, client: AppClient, pool: UserPool, step: signin.Step,
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
            token = answered or (device_session(call, client, user, step.progress["device_key"], srp_a)
                                 if srp_a else None)
        elif step.name == DEVICE_PASSWORD_VERIFIER:
            token = step.parameters["SECRET_BLOCK"]
        out = {"ChallengeName": step.name, "Session": sessions.open_session(call.runtime.state, step.progress, token),
               "ChallengeParameters": {**step.parameters, "USER_ID_FOR_SRP": username}}
        if step.name == SELECT_CHALLENGE:  # choice-based sign-in: the first factors to choose from
            out["AvailableChallenges"] = list(step.progress.get("offered") or ())
        return out
    result = tokens(call, client, pool, step)
    if tracked_devices.tracking(pool) and not step.progress.get("device_proven"):
        result["NewDeviceMetadata"] = tracked_devices.new_device(call.session, pool, step.user)
    return {"ChallengeParameters": {}, "AuthenticationResult": result}


def device_session(call: Call, client: AppClient, user: User, device_key: str, srp_a: str) -> str:
    """The Session of a DEVICE_SRP_AUTH that follows an SRP password proof, for clients that
    answer it without the Session they were given (pycognito): derived, under the
    deployment's key, from the client, the user, the device and the SRP_A of the password
    proof, which pycognito sends again with DEVICE_SRP_AUTH and only it knows."""
    mac = sealing.of(call.session).mac("device-srp-session", f"{client.id}\0{user.id}\0{device_key}\0{srp_a}".encode())
    return "device-" + mac.hex()


def tokens(call: Call, client: AppClient, pool: UserPool, done: SignedIn) -> dict[str, Any]:
    """Cognito's ``AuthenticationResult`` for a finished sign-in (PreTokenGeneration's
    ``triggerSource`` named by the challenge that ended it)."""
    with_refresh = "ALLOW_REFRESH_TOKEN_AUTH" in client_auth.allowed_auth_flows(client)
    overrides = pre_token(call.session, pool, client, done.user, (ADMIN_SCOPE,),
                          pre_token_trigger.source_of(done.progress))
    return issue(call, client, pool, done.user, (ADMIN_SCOPE,), done.auth_time, ids.uuid4(),
                 ids.uuid4(), include_refresh_token=with_refresh, amr=done.amr, overrides=overrides)


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


def refusal(exc: Refused) -> AwsError:
    kind, message = REFUSALS.get(exc.reason, ("NotAuthorizedException", exc.message))
    return AwsError(kind, message)


def required(values: dict[str, str], key: str) -> str:
    value = values.get(key)
    if not isinstance(value, str) or not value:
        raise AwsError("InvalidParameterException", f"Missing required parameter {key}")
    return value


