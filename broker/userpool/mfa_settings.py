"""A signed-in user's own second factors, with one set of rules for both doors: the hosted
``/mfaSettings`` page and the JSON API (AssociateSoftwareToken / VerifySoftwareToken with
an access token, SetUserMFAPreference).

- **A new authenticator app** is enrolled in two steps, as Cognito's API does
  (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-mfa-totp.html):
  :func:`begin_totp` hands out a secret that waits in the state store, :func:`finish_totp`
  enrols it with its first code (:func:`broker.userpool.mfa.enable_totp`). The factor the
  user had keeps working until then.
- **Turning factors on and off** (:func:`change`): a factor is turned on only when it can
  be used (the pool offers it; an app proven by a first code; a verified email; a phone
  number), at most one is preferred, and in a pool that requires MFA a user is never left
  without a factor they had.

    secret = begin_totp(state, pool, user)
    finish_totp(session, state, pool, user, "123456")   # None: wrong code
    change(session, pool, user, {mfa.EMAIL_OTP: True}, preferred=mfa.EMAIL_OTP)
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..i18n import gettext as _
from ..store.models import User, UserMfa, UserPool
from ..store.state import Keys, StateStore
from . import attributes, audit, mfa

FACTORS = (mfa.TOTP, mfa.EMAIL_OTP, mfa.SMS_OTP)
#: How long a secret handed out waits for its first code.
PENDING_TTL = 3600


class FactorRefused(InvalidInput):
    """A change of factors the rules refuse (Cognito's ``InvalidParameterException``)."""


class NotAssociated(InvalidInput):
    """A first code, with no secret waiting for it (Cognito's ``SoftwareTokenMFANotFoundException``)."""


def begin_totp(state: StateStore, pool: UserPool, user: User) -> str:
    """A new TOTP secret for ``user``, waiting for its first code (a secret handed out
    before is replaced)."""
    secret = mfa.new_secret()
    state.put(Keys.pending_totp(pool.id, user.sub), {"secret": secret}, PENDING_TTL)
    return secret


def finish_totp(session: Session, state: StateStore, pool: UserPool, user: User, code: str,
                ip: str | None = None) -> bool:
    """Enrol the waiting secret with its first ``code`` (it becomes the preferred factor;
    the user's recovery codes stay as they were). False when the code is wrong (the secret
    keeps waiting); :class:`NotAssociated` when no secret waits."""
    key = Keys.pending_totp(pool.id, user.sub)
    waiting = state.get(key)
    if not waiting or not waiting.get("secret"):
        raise NotAssociated(_("Associate an authenticator app first."))
    if mfa.enable_totp(session, user, str(waiting["secret"]), code, recovery=False) is None:
        audit.record(session, pool.id, "VerifySoftwareToken", audit.FAIL, user=user, ip=ip)
        return False
    state.delete(key)
    audit.record(session, pool.id, "VerifySoftwareToken", audit.PASS, user=user, ip=ip)
    return True


def email_allowed(pool: UserPool, user: User) -> bool:
    """Codes by email need a verified address and a pool that offers them."""
    return attributes.verified(user.attributes, "email") and mfa.EMAIL_OTP in pool.mfa_methods


def refusal(pool: UserPool, user: User, row: UserMfa, factor: str) -> str | None:
    """Why ``factor`` may not be turned on for ``user`` now, or None when it may."""
    if factor not in pool.mfa_methods:
        return _("This application does not offer this second factor.")
    if factor == mfa.TOTP and not row.totp_secret:
        return _("Set up an authenticator app first.")
    if factor == mfa.EMAIL_OTP and not email_allowed(pool, user):
        return _("Codes by email need a verified email address.")
    if factor == mfa.SMS_OTP and not user.attributes.get("phone_number"):
        return _("Codes by text message need a phone number.")
    return None


def change(session: Session, pool: UserPool, user: User, wanted: dict[str, bool],
           preferred: str | None = None, unpreferred: frozenset[str] = frozenset(), ip: str | None = None,
           event: str = "SetUserMFAPreference") -> UserMfa:
    """Turn the factors of ``wanted`` on or off, prefer ``preferred`` and stop preferring
    those of ``unpreferred``; everything is checked before anything changes
    (:class:`FactorRefused`). A factor turned off keeps its authenticator app, so it can be
    turned on again; once no factor is left, the recovery codes go."""
    row = mfa.record(session, user)
    before = _flags(row)
    for factor, on in wanted.items():
        reason = refusal(pool, user, row, factor) if on and not before[factor] else None
        if reason:
            raise FactorRefused(reason)
    after = {**before, **wanted}
    if pool.mfa == "ON" and any(before.values()) and not any(after.values()):
        raise FactorRefused(_("This application requires two-step verification: set up a new app instead."))
    if preferred is not None and not after.get(preferred):
        raise FactorRefused(_("Only a second factor that is turned on can be the preferred one."))
    row.totp_enabled, row.email_otp_enabled, row.sms_otp_enabled = after[mfa.TOTP], after[mfa.EMAIL_OTP], \
        after[mfa.SMS_OTP]
    if preferred is not None:
        row.preferred = preferred
    elif row.preferred in unpreferred or (row.preferred and not after.get(row.preferred)):
        row.preferred = None
    if not any(after.values()):
        row.recovery_codes = []
    audit.record(session, pool.id, event, audit.PASS, user=user, ip=ip,
                 enabled=sorted(f for f, on in after.items() if on), preferred=row.preferred)
    return row


def remove_totp(session: Session, pool: UserPool, user: User, ip: str | None = None) -> None:
    """Turn the authenticator app off and forget its secret (the hosted "remove")."""
    row = change(session, pool, user, {mfa.TOTP: False}, ip=ip, event="RemoveSoftwareToken")
    row.totp_secret = None


def _flags(row: UserMfa) -> dict[str, bool]:
    return {mfa.TOTP: bool(row.totp_enabled), mfa.EMAIL_OTP: bool(row.email_otp_enabled),
            mfa.SMS_OTP: bool(row.sms_otp_enabled)}

