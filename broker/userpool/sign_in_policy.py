"""A pool's sign-in policy (Cognito's ``Policies.SignInPolicy.AllowedFirstAuthFactors``)
and its passkey settings (``WebAuthnConfiguration``, and Cognate's allow-list of
authenticator models), as the admin API and the CLI set and show them.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_SignInPolicyType.html

The password stays among the allowed first factors, as Cognito requires ("PASSWORD ...
must be true"): a user without a passkey or a verified address can always sign in.

    factors = parse_factors(["PASSWORD", "EMAIL_OTP"])      # or InvalidInput
    update(session, pool_id, factors=factors, web_authn={"RelyingPartyId": "example.com"})
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..store.models import UserPool
from . import admin, audit, passkeys

PASSWORD, EMAIL_OTP, SMS_OTP, WEB_AUTHN = "PASSWORD", "EMAIL_OTP", "SMS_OTP", "WEB_AUTHN"
#: The factors a pool may allow first, in the order a sign-in offers them.
FACTORS = (WEB_AUTHN, PASSWORD, EMAIL_OTP, SMS_OTP)
#: Cognito's ``WebAuthnConfiguration.FactorConfiguration`` Cognate applies: a passkey with
#: user verification counts as two factors (it satisfies a pool's MFA).
MULTI_FACTOR = "MULTI_FACTOR_WITH_USER_VERIFICATION"


def factors_of(pool: UserPool) -> list[str]:
    """The pool's allowed first factors (without a policy, the password only)."""
    chosen = set(pool.first_factors or (PASSWORD,))
    return [f for f in FACTORS if f in chosen]


def parse_factors(given: Any) -> list[str]:
    """Checked ``AllowedFirstAuthFactors``; :class:`InvalidInput` names what is wrong."""
    if not isinstance(given, (list, tuple)) or not given:
        raise InvalidInput("AllowedFirstAuthFactors must list at least one factor.")
    unknown = [f for f in given if f not in FACTORS]
    if unknown:
        raise InvalidInput(f"Unsupported first factor {unknown[0]!r}: one of {', '.join(FACTORS)}.")
    if PASSWORD not in given:
        raise InvalidInput("AllowedFirstAuthFactors must include PASSWORD.")
    return [f for f in FACTORS if f in given]


def parse_web_authn(given: dict[str, Any], pool: UserPool, roots: bool = False, own: bool = False) -> dict[str, Any]:
    """Cognito's ``WebAuthnConfiguration`` (or, ``own``, the CLI's options with Cognate's
    ``AllowedAaguids`` and ``AllowedOrigins``) over the pool's current passkey settings, in
    their stored form; :class:`InvalidInput` names what is wrong. ``roots``: the server has
    attestation roots (an allow-list of models needs them)."""
    factor = given.get("FactorConfiguration")
    if factor is not None and factor != MULTI_FACTOR:
        raise InvalidInput(f"WebAuthnConfiguration.FactorConfiguration: Cognate counts a passkey with user "
                           f"verification as two factors ({MULTI_FACTOR} only).")
    fields = ("RelyingPartyId", "UserVerification") + (("AllowedAaguids", "AllowedOrigins") if own else ())
    known = {k: v for k, v in given.items() if k in fields}
    return passkeys.parse_config(known, passkeys.Config.of(pool), roots=roots)


def update(session: Session, pool_id: str, factors: list[str] | None = None,
           web_authn: dict[str, Any] | None = None, roots: bool = False, own: bool = False) -> UserPool:
    """Set the pool's allowed first factors and (checked) passkey settings, those given
    (``roots``, ``own``: as :func:`parse_web_authn` has them)."""
    pool = admin.require_pool(session, pool_id)
    changes: dict[str, Any] = {}  # (all checked before any is set)
    if factors is not None:
        changes["first_factors"] = parse_factors(factors)
    if web_authn is not None:
        changes["web_authn"] = parse_web_authn(web_authn, pool, roots, own)
    for name, value in changes.items():
        setattr(pool, name, value)
    if changes:
        session.flush()
        audit.record(session, pool.id, "UpdateUserPool", audit.PASS, **changes)
    return pool


def describe(pool: UserPool) -> dict[str, Any]:
    """``SignInPolicy`` and ``WebAuthnConfiguration`` in Cognito's shapes (with the
    allow-list of authenticator models, when the pool has one)."""
    return {"SignInPolicy": {"AllowedFirstAuthFactors": factors_of(pool)},
            "WebAuthnConfiguration": passkeys.Config.of(pool).describe()}
