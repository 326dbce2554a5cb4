"""Second factors: TOTP (RFC 6238, with pyotp), one-time codes by email, recovery codes.

A TOTP code is accepted once: the last accepted time step is stored and only later steps
pass (RFC 6238 §5.2). Recovery codes are shown once, kept as Argon2 hashes, and each works
once. Which factor a sign-in needs follows the pool's MFA setting (OFF / OPTIONAL / ON).
"""
from __future__ import annotations

import base64
import io
import secrets
import time
from dataclasses import dataclass

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy.orm import Session

from ..store.models import User, UserMfa, UserPool, utcnow
from ..store.state import StateStore
from . import codes, lockout, outgoing
from .messages import Template
from .passwords import hash_password, verify_password
from .senders import Sender, SmsSender

TOTP = "TOTP"
EMAIL_OTP = "EMAIL_OTP"
SMS_OTP = "SMS_OTP"
RECOVERY_CODES = 10
EMAIL_CODE_TTL = 300
STEP = 30
#: What a sign-in proved with a one-time code, and with a recovery code in its place.
OTP_AMR = ["pwd", "otp", "mfa"]
RECOVERY_AMR = ["pwd", "mfa"]


@dataclass(frozen=True)
class Challenge:
    """What the sign-in of ``user`` still needs after the password."""

    factor: str | None  # TOTP or EMAIL_OTP to ask for; None when nothing is needed
    setup: bool = False  # the pool requires MFA and the user has none yet: enrol first
    #: The factors the user may choose from, when several are enabled and none is preferred.
    choices: tuple[str, ...] = ()


def record(session: Session, user: User) -> UserMfa:
    row = session.get(UserMfa, user.id)
    if row is None:
        row = UserMfa(user_id=user.id, recovery_codes=[])
        session.add(row)
    return row


def enabled_factors(pool: UserPool, user: User, row: UserMfa | None) -> list[str]:
    """The factors a sign-in of ``user`` may ask for: turned on, offered by the pool, and
    with an address or number to send codes to."""
    if row is None:
        return []
    enabled = []
    if row.totp_enabled and TOTP in pool.mfa_methods:
        enabled.append(TOTP)
    if row.email_otp_enabled and EMAIL_OTP in pool.mfa_methods and user.attributes.get("email"):
        enabled.append(EMAIL_OTP)
    if row.sms_otp_enabled and SMS_OTP in pool.mfa_methods and user.attributes.get("phone_number"):
        enabled.append(SMS_OTP)
    return enabled


def challenge(session: Session, pool: UserPool, user: User) -> Challenge:
    if pool.mfa == "OFF":
        return Challenge(None)
    row = session.get(UserMfa, user.id)
    enabled = enabled_factors(pool, user, row)
    if enabled:
        if row is not None and row.preferred in enabled:
            return Challenge(row.preferred)
        return Challenge(enabled[0], choices=tuple(enabled) if len(enabled) > 1 else ())
    if pool.mfa == "ON":
        return Challenge(None, setup=True)
    return Challenge(None)


def new_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, pool: UserPool, user: User) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=pool.name)


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code in a data: URI (allowed by the page's CSP)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def matching_step(secret: str, code: str, after: int, now: float | None = None) -> int | None:
    """The time step (±1 for clock drift) whose code is ``code``, if later than ``after``."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP)
    for step in (current - 1, current, current + 1):
        if step > after and secrets.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def enable_totp(session: Session, user: User, secret: str, code: str, recovery: bool = True) -> list[str] | None:
    """Enrol ``secret`` once the user proves it with a first code; returns the new recovery
    codes (shown once) or None when the code is wrong. Without ``recovery`` (a door that
    cannot show codes) the user's recovery codes stay as they were and none are returned."""
    step = matching_step(secret, code, after=0)
    if step is None:
        return None
    row = record(session, user)
    row.totp_secret, row.totp_enabled, row.totp_last_step, row.preferred = secret, True, step, TOTP
    return new_recovery_codes(row) if recovery else []


def new_recovery_codes(row: UserMfa) -> list[str]:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    clear = ["-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2))
             for _ in range(RECOVERY_CODES)]
    row.recovery_codes = [hash_password(c) for c in clear]
    return clear


def check_totp(session: Session, user: User, code: str) -> bool:
    row = session.get(UserMfa, user.id)
    if row is None or not row.totp_enabled or not row.totp_secret:
        return False
    step = matching_step(row.totp_secret, code, after=row.totp_last_step)
    if step is None:
        return False
    row.totp_last_step = step
    return True


def use_recovery_code(session: Session, user: User, code: str) -> bool:
    row = session.get(UserMfa, user.id)
    code = code.strip().lower()
    if row is None or not row.recovery_codes or len(code) != 11:
        return False
    for stored in row.recovery_codes:
        if verify_password(stored, code):
            row.recovery_codes = [c for c in row.recovery_codes if c != stored]
            return True
    return False


def send_code(session: Session, state: StateStore, channel: Sender | SmsSender, pool: UserPool, user: User,
              factor: str, template: Template) -> None:
    """A sign-in code for ``factor`` (EMAIL_OTP or SMS_OTP), living five minutes, in
    ``template`` (``{####}`` the code) or the pool's CustomMessage (``CustomMessage_Authentication``),
    or handed to the pool's custom sender (:mod:`.outgoing`)."""
    medium = outgoing.EMAIL if factor == EMAIL_OTP else outgoing.SMS
    to = str(user.attributes[outgoing.ATTRIBUTE[medium]])
    letter = outgoing.compose(session, pool, user, "Authentication", medium, template)
    code = codes.issue(state, pool.id, "mfa", user.username, EMAIL_CODE_TTL)
    outgoing.deliver(letter, channel, to, {"####": code})


def check_sent_code(state: StateStore, pool: UserPool, user: User, code: str) -> bool:
    """The code sent by email or text message, once."""
    return codes.consume(state, pool.id, "mfa", user.username, code.strip(), EMAIL_CODE_TTL)


@dataclass(frozen=True)
class Answer:
    """A code given for the second factor of a sign-in."""

    amr: list[str] | None  # what it proved; None: refused
    checked: bool = True  # False: not even checked (the user is locked, or sent too many at once)


def answer(session: Session, state: StateStore, pool: UserPool, user: User, factor: str, code: str,
           ip: str | None = None, recovery: bool = True) -> Answer:
    """Check ``code`` for ``factor`` (a recovery code works in its place, unless
    ``recovery`` is off: a code sent as the first factor is no second factor to recover).
    Each try counts toward the user's lockout before it is checked
    (:func:`lockout.factor_try`); a right code clears the count."""
    now = utcnow()
    tries = lockout.factor_try(state, pool, user, now)
    if tries is None:
        return Answer(None, checked=False)
    if recovery and len(code) == 11 and use_recovery_code(session, user, code):
        amr: list[str] | None = RECOVERY_AMR
    elif factor == TOTP and check_totp(session, user, code):
        amr = OTP_AMR
    elif factor in (EMAIL_OTP, SMS_OTP) and check_sent_code(state, pool, user, code):
        amr = OTP_AMR
    else:
        amr = None
    if amr:
        lockout.factor_passed(state, user)
    else:
        lockout.factor_failed(session, state, pool, user, tries, now, ip)
    return Answer(amr)


def reset(session: Session, user: User) -> bool:
    """Remove every factor (``broker user mfa reset``)."""
    row = session.get(UserMfa, user.id)
    if row is not None:
        session.delete(row)
    return row is not None
