"""Choice-based sign-in (Cognito's ``USER_AUTH``): the first factor is chosen per user among
those the pool allows (its ``SignInPolicy.AllowedFirstAuthFactors``): a passkey, a code by
email or text message, or the password. This module holds what both doors share: which
factors a user can use, and the passkey's challenge and answer.
https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flows-selection-sdk.html

A passkey proves possession of a device-bound key and, with user verification, the user
(RFC 8176's ``hwk`` and ``user``): it is two factors at once, so it ends the sign-in without
a second one even where the pool requires MFA, after the account's status, PreAuthentication
and the risk decision have had their say.

A code by email or text message as the first factor proves the address it went to
(``otp``); Cognito offers it only to users without a second factor, in pools that do not
require one ("MFA and passwordless cannot be used together"), and so does :func:`available`:
an emailed code never stands in for a user's authenticator app. A name the pool lacks, or a
user who cannot get the code, gets the same challenge with a stand-in destination and no
code, and every answer fails as a wrong code does. The codes' bounds are the second
factor's: :data:`~.signin.MAX_FAILURES` per sign-in, the user's lockout
(:func:`broker.userpool.lockout.factor_try`), and the per-name and per-address limits on
codes sent (:func:`broker.userpool.limits.send`), for unknown names alike.

    step = passkey_challenge(env, progress, "example.com")           # WEB_AUTHN, options
    step = answer_passkey(env, step.progress, credential_json)      # SignedIn
    step = send_code(env, progress, "alice", EMAIL_OTP)             # EMAIL_OTP, code sent
    step = answer_code(env, step.progress, user, "123456")          # SignedIn, or Refused
"""
from __future__ import annotations

import json
from typing import Any

from ..errors import SignInFailed
from ..i18n import gettext as _
from ..store.models import User, UserPool
from ..triggers import authentication
from ..userpool import adaptive, audit, delivery, limits, mfa, passkeys, risk, sign_in_policy
from ..userpool.sign_in_policy import EMAIL_OTP, FACTORS, PASSWORD, SMS_OTP, WEB_AUTHN  # noqa: F401 (theirs)
from . import password_verifier
from .challenges import BLOCKED, Challenge, Refused, Step
from .signin import Env, account_status, code_refused, proven, signed_in
from .signin import send_code as send_factor_code

#: Challenge names of choice-based sign-in (the password's two forms are two challenges).
SELECT_CHALLENGE, PASSWORD_SRP = "SELECT_CHALLENGE", "PASSWORD_SRP"
#: What a passkey sign-in proves (RFC 8176): a hardware-bound key, and the user (verified).
PASSKEY_AMR = ["hwk", "user", "mfa"]
#: What a code sent as the first factor proves (RFC 8176): a one-time password.
OTP_AMR = ["otp"]
#: The first factors that send a code.
CODE_FACTORS = (EMAIL_OTP, SMS_OTP)


def allowed(pool: UserPool) -> tuple[str, ...]:
    """The pool's allowed first factors; without a policy, the password only (Cognito's default)."""
    return tuple(sign_in_policy.factors_of(pool))


def passkeys_enabled(pool: UserPool) -> bool:
    """Whether users of ``pool`` may register passkeys and sign in with them."""
    return WEB_AUTHN in allowed(pool)


def available(env: Env, user: User) -> list[str]:
    """The first factors ``user`` can use now (Cognito's ``AvailableChallenges``): the
    password where they have one, their passkeys, codes to a verified address."""
    out: list[str] = []
    attributes = user.attributes
    second = mfa.challenge(env.db, env.pool, user)
    codes = second.factor is None and not second.setup  # (Cognito: no passwordless code with MFA)
    for factor in allowed(env.pool):
        if factor == WEB_AUTHN and passkeys.for_user(env.db, user):
            out.append(WEB_AUTHN)
        elif factor == PASSWORD and user.password_hash:
            out += [PASSWORD, PASSWORD_SRP]
        elif factor == EMAIL_OTP and codes and attributes.get("email") and \
                attributes.get("email_verified") in ("true", True):
            out.append(EMAIL_OTP)
        elif factor == SMS_OTP and codes and attributes.get("phone_number") and \
                attributes.get("phone_number_verified") in ("true", True):
            out.append(SMS_OTP)
    return out


def offered(env: Env, user: User | None) -> list[str]:
    """The first factors a sign-in offers (``AvailableChallenges``): the user's own, or for a
    name the pool lacks (or a disabled user) those of a user with a password and a verified
    address, which most users of a pool are, so that the offer does not tell who exists."""
    if user is not None and user.enabled:
        return available(env, user)
    out: list[str] = []
    for factor in allowed(env.pool):
        if factor == PASSWORD:
            out += [PASSWORD, PASSWORD_SRP]
        elif factor in CODE_FACTORS and env.pool.mfa != "ON":
            out.append(factor)
    return out


def send_code(env: Env, progress: dict[str, Any], username: str, factor: str) -> Challenge:
    """EMAIL_OTP or SMS_OTP as the first factor: a code sent to ``username``'s verified
    address (Cognito's ``CODE_DELIVERY_*`` parameters), once the limits on codes sent and
    the pool's PreAuthentication let it go. A name that cannot get the code (unknown,
    disabled, no verified address, or a second factor to use) gets the same challenge with
    a stand-in destination, and no code. :class:`broker.errors.LimitExceeded` when no code
    may be sent now, for every name alike."""
    name, user = password_verifier.find(env, username)
    limits.send(env.db, env.state, env.pool.id, name or "-", user,
                limits.Requester(env.context.ip, env.context.device_key))
    with authentication.initiating() as validation:
        password_verifier.gate(env, name, user, validation)
    usable = user is not None and user.enabled and factor in available(env, user)
    if user is not None and usable:
        parameters = send_factor_code(env, user, factor)
        identity: dict[str, Any] = {"user_id": user.id, "sub": user.sub, "epoch": user.session_epoch}
    else:
        parameters = _stand_in(env, name, factor)
        identity = {"user_id": None}
    env.db.commit()
    waiting = {**progress, **identity, "username": name, "step": factor, "factor": factor, "first_factor": True,
               "failures": 0}
    return Challenge(factor, waiting, parameters)


def _stand_in(env: Env, name: str, factor: str) -> dict[str, str]:
    """Where a code would have gone, for a name that gets none (the same for the same name)."""
    if factor == SMS_OTP:
        return {"CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
                "CODE_DELIVERY_DESTINATION": delivery.stand_in_phone(env.db, env.pool.id, name)}
    return {"CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
            "CODE_DELIVERY_DESTINATION": delivery.stand_in(env.db, env.pool.id, name)["Destination"]}


def answer_code(env: Env, progress: dict[str, Any], user: User | None, code: str) -> Step:
    """The code :func:`send_code` sent (``user`` None: the sign-in of a name that got none,
    which no code passes). A wrong one is :class:`Refused` as a wrong second-factor code is
    (``CODE_MISMATCH`` with the progress to keep; ``ENDED`` after
    :data:`~.signin.MAX_FAILURES`, or when the user's lockout refused to check it)."""
    if user is None:
        code_refused(env, progress, None, "SignInOtp", username=progress.get("username"))
    answer = mfa.answer(env.db, env.state, env.pool, user, str(progress["factor"]), code, env.context.ip,
                        recovery=False)
    if not answer.amr:
        code_refused(env, progress, user, "SignInOtp", checked=answer.checked)
    done = {k: v for k, v in progress.items() if k not in ("first_factor", "failures")}
    return _signed_in(env, proven(done, user), user, str(progress["factor"]), OTP_AMR)


def passkey_challenge(env: Env, progress: dict[str, Any], rp_id: str, user: User | None = None) -> Challenge:
    """WEB_AUTHN: the request options (``CREDENTIAL_REQUEST_OPTIONS``, a JSON string) for
    ``user``'s passkeys, or for any discoverable one when no user is named yet; the
    challenge stays in the sign-in's progress until the answer."""
    options, challenge = passkeys.authentication_options(
        env.pool, rp_id, passkeys.for_user(env.db, user) if user is not None else None)
    more = {"user_id": user.id, "sub": user.sub} if user is not None else {}
    return Challenge(WEB_AUTHN, {**progress, **more, "step": WEB_AUTHN, "webauthn": challenge, "rp_id": rp_id},
                     {"CREDENTIAL_REQUEST_OPTIONS": json.dumps(options, separators=(",", ":"))})


def answer_passkey(env: Env, progress: dict[str, Any], credential: str | dict[str, Any],
                   user: User | None = None) -> Step:
    """The browser's answer to :func:`passkey_challenge` (its JSON form): the user it signs
    in, past their account's status, PreAuthentication and the risk decision.
    :class:`broker.errors.SignInFailed` with the one generic message otherwise."""
    challenge, rp_id = progress.get("webauthn"), progress.get("rp_id")
    if not challenge or not rp_id:
        raise SignInFailed(_("The passkey could not sign you in."))
    ip = env.context.ip
    try:
        owner, _passkey = passkeys.finish_authentication(env.db, env.pool, credential, str(challenge), str(rp_id),
                                                         user=user, ip=ip)
    except passkeys.PasskeySignInFailed:
        audit.record(env.db, env.pool.id, "SignIn", audit.FAIL, user=user, ip=ip, reason="passkey")
        env.db.commit()
        raise
    if not owner.enabled:
        env.db.rollback()
        raise SignInFailed(_("The passkey could not sign you in."))
    progress = proven({k: v for k, v in progress.items() if k != "webauthn"}, owner)
    return _signed_in(env, progress, owner, WEB_AUTHN, PASSKEY_AMR, gate=True)


def _signed_in(env: Env, progress: dict[str, Any], user: User, factor: str, amr: list[str],
               gate: bool = False) -> Step:
    """A first factor that needs no second one is proven: the account's status, the pool's
    PreAuthentication (``gate``: not run yet in this sign-in) and the risk decision have
    their say. A risk that asks for a second factor is met by what was just proven (a code
    to the user's verified address is the very factor a step-up would send; a passkey is
    two factors); a blocking one ends the sign-in."""
    waiting = account_status(progress, user)
    if waiting is not None:
        return waiting
    if gate:
        authentication.pre_authentication(env.db, env.pool, user.username, user, {})
    assessment = adaptive.decide(env.db, env.pool, user, env.context)
    if assessment.action == risk.BLOCK:
        env.db.commit()
        raise Refused(BLOCKED, _("This sign-in was blocked for your protection. Contact your administrator."))
    audit.record(env.db, env.pool.id, "SignIn", audit.PASS, user=user, ip=env.context.ip, factor=factor)
    env.db.commit()
    return signed_in(env, {**progress, "amr": amr}, user)
