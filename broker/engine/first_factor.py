"""Choice-based sign-in (Cognito's ``USER_AUTH``): the first factor is chosen per user among
those the pool allows (its ``SignInPolicy.AllowedFirstAuthFactors``): a passkey, a code by
email or text message, or the password. This module holds what both doors share: which
factors a sign-in offers, and the passkey's challenge and answer.
https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flows-selection-sdk.html

A passkey proves possession of a device-bound key and, with user verification, the user
(RFC 8176's ``hwk`` and ``user``): it is two factors at once, so it ends the sign-in without
a second one even where the pool requires MFA, after the account's status, PreAuthentication
and the risk decision have had their say.

What a sign-in offers (:func:`offered`, Cognito's ``AvailableChallenges``) is the pool's,
the same for every name: telling one user's factors would tell who exists and how they sign
in. A factor a user cannot use fails as it does for a name the pool lacks: a wrong password,
a refused passkey, a code that never comes.

A code by email or text message as the first factor proves the address it went to
(``otp``); Cognito offers it only in pools that do not require MFA ("MFA and passwordless
cannot be used together", :func:`code_factors`), and sends it only to users without a second
factor: an emailed code never stands in for a user's authenticator app. A name the pool
lacks, or a user who cannot get the code, gets the same challenge with a stand-in
destination and no code, and every answer fails as a wrong code does. The codes' bounds are the second
factor's: :data:`~.signin.MAX_FAILURES` per sign-in, the user's lockout
(:func:`broker.userpool.lockout.factor_try`), and the per-name and per-address limits on
codes sent (:func:`broker.userpool.limits.send`), for unknown names alike.

    step = passkey_challenge(env, progress, relying_party)          # WEB_AUTHN, options
    step = answer_passkey(env, step.progress, credential_json)      # SignedIn
    step = send_code(env, progress, "alice", EMAIL_OTP)             # EMAIL_OTP, code sent
    step = answer_code(env, step.progress, user, "123456")          # SignedIn, or Refused
"""
from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInput
from ..i18n import gettext as _
from ..store.models import User, UserPool
from ..triggers import authentication
from ..userpool import adaptive, attributes, audit, delivery, limits, mfa, passkeys, risk, sign_in_policy
from ..userpool.sign_in_policy import EMAIL_OTP, PASSWORD, SMS_OTP, WEB_AUTHN
from . import password_verifier
from .challenges import Challenge, Step
from .signin import Env, account_status, after_password, blocked, code_refused, proven, signed_in
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


def code_factors(pool: UserPool) -> list[str]:
    """The codes a sign-in may offer first (both doors ask here): those the pool allows,
    none where the pool requires MFA (Cognito: "MFA and passwordless cannot be used together")."""
    return [] if pool.mfa == "ON" else [f for f in allowed(pool) if f in CODE_FACTORS]


def offered(pool: UserPool) -> list[str]:
    """The first factors a sign-in offers (``AvailableChallenges``), the same for every name:
    the password in both its forms, passkeys, and :func:`code_factors`."""
    out: list[str] = []
    for factor in allowed(pool):
        if factor == PASSWORD:
            out += [PASSWORD, PASSWORD_SRP]
        elif factor == WEB_AUTHN or factor in code_factors(pool):
            out.append(factor)
    return out


def _gets_code(env: Env, user: User | None, factor: str) -> bool:
    """Whether ``user`` may get ``factor``'s code now: enabled, with that address verified,
    and no second factor to use instead."""
    if user is None or not user.enabled:
        return False
    second = mfa.challenge(env.db, env.pool, user)
    address = "email" if factor == EMAIL_OTP else "phone_number"
    return second.factor is None and not second.setup and attributes.verified(user.attributes, address)


def send_code(env: Env, progress: dict[str, Any], username: str, factor: str) -> Challenge:
    """EMAIL_OTP or SMS_OTP as the first factor: a code sent to ``username``'s verified
    address (Cognito's ``CODE_DELIVERY_*`` parameters), once the limits on codes sent and
    the pool's PreAuthentication let it go. A name that cannot get the code (unknown,
    disabled, no verified address, or a second factor to use) gets the same challenge with
    a stand-in destination, and no code. :class:`broker.errors.LimitExceeded` when no code
    may be sent now, for every name alike; :class:`InvalidInput` for a factor the sign-in
    does not offer (:func:`code_factors`)."""
    if factor not in code_factors(env.pool):
        raise InvalidInput(_("This way of signing in is not available."))
    name, user = password_verifier.find(env, username)
    limits.send(env.db, env.state, env.pool.id, name or "-", user,
                limits.Requester(env.context.ip, env.context.device_key))
    with authentication.initiating() as validation:
        password_verifier.gate(env, name, user, validation)
    if user is not None and _gets_code(env, user, factor):
        parameters = send_factor_code(env, user, factor)
        waiting = proven(progress, user)
    else:
        parameters = _stand_in(env, name, factor)
        waiting = {**progress, "user_id": None}
    env.db.commit()
    waiting = {**waiting, "username": name, "step": factor, "factor": factor, "first_factor": True,
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


def passkey_challenge(env: Env, progress: dict[str, Any], rp: passkeys.RelyingParty, user: User | None = None,
                      named: bool = False) -> Challenge:
    """WEB_AUTHN: the request options (``CREDENTIAL_REQUEST_OPTIONS``, a JSON string), the
    same whoever is named (no credential ids: every passkey is discoverable); ``named``: the
    answer must be ``user``'s (None: a name the pool lacks, which no passkey answers). The
    challenge and the relying party stay in the sign-in's progress until the answer."""
    options, challenge = passkeys.authentication_options(env.pool, rp.id)
    waiting = proven(progress, user) if user is not None else {**progress, "user_id": None} if named else progress
    return Challenge(WEB_AUTHN, {**waiting, "step": WEB_AUTHN, "webauthn": challenge, "named": named,
                                 **rp.as_progress()},
                     {"CREDENTIAL_REQUEST_OPTIONS": json.dumps(options, separators=(",", ":"))})


def answer_passkey(env: Env, progress: dict[str, Any], credential: object, user: User | None = None) -> Step:
    """The browser's answer to :func:`passkey_challenge` (its JSON form): the user it signs
    in, past their account's status, PreAuthentication and the risk decision.
    :class:`~broker.userpool.passkeys.PasskeySignInFailed` with the one generic message
    otherwise, for a name the pool lacks too."""
    challenge, rp = progress.get("webauthn"), passkeys.RelyingParty.from_progress(progress)
    ip = env.context.ip
    try:
        if not challenge or rp is None or (progress.get("named") and user is None):
            raise passkeys.PasskeySignInFailed(_("The passkey could not sign you in."))
        owner, _passkey, verified = passkeys.finish_authentication(env.db, env.pool, credential, str(challenge), rp,
                                                                   user=user, ip=ip)
    except passkeys.PasskeySignInFailed:
        audit.record(env.db, env.pool.id, "SignIn", audit.FAIL, user=user, ip=ip, reason="passkey")
        env.db.commit()
        raise
    if not owner.enabled:
        env.db.rollback()
        raise passkeys.PasskeySignInFailed(_("The passkey could not sign you in."))
    progress = proven({k: v for k, v in progress.items() if k not in ("webauthn", "named")}, owner)
    if not verified:  # (a pool that prefers verification only) possession alone: one factor, as a password is
        authentication.pre_authentication(env.db, env.pool, owner.username, owner, {})
        return after_password(env, {**progress, "amr": ["hwk"]}, owner)
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
        blocked()
    audit.record(env.db, env.pool.id, "SignIn", audit.PASS, user=user, ip=env.context.ip, factor=factor)
    env.db.commit()
    return signed_in(env, {**progress, "amr": amr}, user)
