"""The signed-in user's own second factors over the JSON API: AssociateSoftwareToken and
VerifySoftwareToken with an ``AccessToken`` (the ``Session`` variants, during a sign-in, are
in :mod:`.auth_operations`), SetUserMFAPreference, and the MFA part of GetUser. The rules
are those of the hosted ``/mfaSettings`` page (:mod:`broker.userpool.mfa_settings`).
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_SetUserMFAPreference.html
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..engine.challenges import FACTOR_CHALLENGES
from ..store.models import User, UserMfa, UserPool
from ..userpool import mfa, mfa_settings
from ..userpool.mfa_settings import NotAssociated
from .bearer import Bearer, resolve
from .call import Call
from .errors import AwsError
from .registry import operation

#: SetUserMFAPreference's members and the factor each one sets.
SETTINGS = {"SoftwareTokenMfaSettings": mfa.TOTP, "EmailMfaSettings": mfa.EMAIL_OTP, "SMSMfaSettings": mfa.SMS_OTP}


def associate_for_user(call: Call, access_token: str) -> dict[str, Any]:
    """A new TOTP secret for the token's user, enrolled once VerifySoftwareToken gets its
    first code; the factor the user has keeps working until then."""
    bearer = resolve(call, access_token)
    return {"SecretCode": mfa_settings.begin_totp(call.runtime.state, bearer.pool, bearer.user)}


def verify_for_user(call: Call, access_token: str, user_code: str) -> dict[str, Any]:
    """The first code of the secret AssociateSoftwareToken handed out: the authenticator app
    is enrolled, turned on and preferred."""
    bearer = resolve(call, access_token)
    try:
        enrolled = mfa_settings.finish_totp(call.session, call.runtime.state, bearer.pool, bearer.user, user_code,
                                            call.ip)
    except NotAssociated:
        raise AwsError("SoftwareTokenMFANotFoundException", "Software Token MFA not found for the user.") from None
    if not enrolled:
        raise AwsError("EnableSoftwareTokenMFAException", "Code mismatch")
    return {"Status": "SUCCESS"}


@operation("SetUserMFAPreference")
def set_user_mfa_preference(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Each ``*MfaSettings`` given turns its factor on or off (``Enabled``) and makes it the
    preferred one or not (``PreferredMfa``); a setting not given changes nothing, and
    turning off a factor that is not on is accepted (pycognito always sends SMS)."""
    bearer = resolve(call, params["AccessToken"])
    wanted, preferred, unpreferred = preferences(params)
    mfa_settings.change(call.session, bearer.pool, bearer.user, wanted, preferred, unpreferred, ip=call.ip)
    return {}


def preferences(params: dict[str, Any]) -> tuple[dict[str, bool], str | None, frozenset[str]]:
    """The ``*MfaSettings`` of SetUserMFAPreference or AdminSetUserMFAPreference: the factors
    to turn on or off, the one to prefer, those to stop preferring."""
    if (params.get("WebAuthnMfaSettings") or {}).get("Enabled"):
        raise AwsError("InvalidParameterException", "WebAuthn is not available in this user pool.")
    wanted: dict[str, bool] = {}
    preferred: list[str] = []
    unpreferred: set[str] = set()
    for member, factor in SETTINGS.items():
        given = params.get(member) or {}
        if given.get("Enabled") is not None:
            wanted[factor] = bool(given["Enabled"])
        if given.get("PreferredMfa"):
            preferred.append(factor)
        elif given.get("PreferredMfa") is not None:
            unpreferred.add(factor)
    if len(preferred) > 1:
        raise AwsError("InvalidParameterException", "Only one MFA method can be preferred.")
    return wanted, preferred[0] if preferred else None, frozenset(unpreferred)


def describe(call: Call, bearer: Bearer) -> dict[str, Any]:
    """GetUser's ``UserMFASettingList`` and ``PreferredMfaSetting``."""
    return mfa_fields(call.session, bearer.pool, bearer.user)


def mfa_fields(session: Session, pool: UserPool, user: User) -> dict[str, Any]:
    """``UserMFASettingList`` and ``PreferredMfaSetting`` (GetUser, AdminGetUser), in
    Cognito's names; absent when the user has none."""
    row = session.get(UserMfa, user.id)
    enabled = mfa.enabled_factors(pool, user, row)
    out: dict[str, Any] = {}
    if enabled:
        out["UserMFASettingList"] = [FACTOR_CHALLENGES[f] for f in enabled]
    if row is not None and row.preferred in enabled:
        out["PreferredMfaSetting"] = FACTOR_CHALLENGES[row.preferred]
    return out
