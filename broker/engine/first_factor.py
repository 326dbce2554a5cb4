"""Choice-based sign-in (Cognito's ``USER_AUTH``): the first factor is chosen per user among
those the pool allows (its ``SignInPolicy.AllowedFirstAuthFactors``): a passkey, a code by
email or text message, or the password. This module holds what both doors share: which
factors a user can use, and the passkey's challenge and answer.
https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flows-selection-sdk.html

A passkey proves possession of a device-bound key and, with user verification, the user
(RFC 8176's ``hwk`` and ``user``): it is two factors at once, so it ends the sign-in without
a second one even where the pool requires MFA, after the account's status, PreAuthentication
and the risk decision have had their say.

    step = passkey_challenge(env, progress, "example.com")           # WEB_AUTHN, options
    step = answer_passkey(env, step.progress, credential_json)      # SignedIn
"""
from __future__ import annotations

import json
from typing import Any

from ..errors import SignInFailed
from ..i18n import gettext as _
from ..store.models import User, UserPool
from ..triggers import authentication
from ..userpool import adaptive, audit, passkeys, risk
from .challenges import BLOCKED, Challenge, Refused, Step
from .signin import Env, account_status, proven, signed_in

PASSWORD, EMAIL_OTP, SMS_OTP, WEB_AUTHN = "PASSWORD", "EMAIL_OTP", "SMS_OTP", "WEB_AUTHN"
#: The factors a pool may allow first (``AllowedFirstAuthFactors``), in the order offered.
FACTORS = (WEB_AUTHN, PASSWORD, EMAIL_OTP, SMS_OTP)
#: Challenge names of choice-based sign-in (the password's two forms are two challenges).
SELECT_CHALLENGE, PASSWORD_SRP = "SELECT_CHALLENGE", "PASSWORD_SRP"
#: What a passkey sign-in proves (RFC 8176): a hardware-bound key, and the user (verified).
PASSKEY_AMR = ["hwk", "user", "mfa"]


def allowed(pool: UserPool) -> tuple[str, ...]:
    """The pool's allowed first factors; without a policy, the password only (Cognito's default)."""
    chosen = set(pool.first_factors or (PASSWORD,))
    return tuple(f for f in FACTORS if f in chosen)


def available(env: Env, user: User) -> list[str]:
    """The first factors ``user`` can use now (Cognito's ``AvailableChallenges``): the
    password where they have one, their passkeys, codes to a verified address."""
    out: list[str] = []
    attributes = user.attributes
    for factor in allowed(env.pool):
        if factor == WEB_AUTHN and passkeys.for_user(env.db, user):
            out.append(WEB_AUTHN)
        elif factor == PASSWORD and user.password_hash:
            out += [PASSWORD, PASSWORD_SRP]
        elif factor == EMAIL_OTP and attributes.get("email") and attributes.get("email_verified") in ("true", True):
            out.append(EMAIL_OTP)
        elif factor == SMS_OTP and attributes.get("phone_number") and \
                attributes.get("phone_number_verified") in ("true", True):
            out.append(SMS_OTP)
    return out


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
    waiting = account_status(progress, owner)
    if waiting is not None:
        return waiting
    authentication.pre_authentication(env.db, env.pool, owner.username, owner, {})
    assessment = adaptive.decide(env.db, env.pool, owner, env.context)
    if assessment.action == risk.BLOCK:
        env.db.commit()
        raise Refused(BLOCKED, _("This sign-in was blocked for your protection. Contact your administrator."))
    audit.record(env.db, env.pool.id, "SignIn", audit.PASS, user=owner, ip=ip, factor=WEB_AUTHN)
    env.db.commit()
    return signed_in(env, {**progress, "amr": PASSKEY_AMR}, owner)
