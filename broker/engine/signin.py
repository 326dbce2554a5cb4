"""A sign-in as a state machine: each input (a password, a new password, a second-factor
code, a factor's choice, a first TOTP code) moves it to the next :class:`Challenge` or ends
it :class:`SignedIn`. Lockout, throttles, adaptive risk, the MFA policy and the audit log
are applied here, once, whichever door the user came through.

The sign-in's state (``progress``) is a small dict the door keeps between steps (the
hosted UI in its login transaction, the API behind its ``Session`` string) and hands back
with the next input:

    step = signin.password(env, progress, username, password)
    while isinstance(step, Challenge):
        step = signin.answer_code(env, step.progress, user, code)   # or another answer
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from ..errors import TriggerFailed
from ..i18n import gettext as _
from ..store.models import User, UserPool
from ..store.state import StateStore
from ..triggers import authentication, invoke, migration
from ..triggers.settings import POST_AUTHENTICATION, PRE_AUTHENTICATION, USER_MIGRATION
from ..userpool import adaptive, audit, mfa, risk, tracked_devices
from ..userpool.delivery import mask_email, mask_phone
from ..userpool.messages import Template
from ..userpool.security import Security
from ..userpool.senders import Sender, SmsSender
from ..userpool.signin import Hooks, SignIn, authenticate, set_new_password
from ..userpool.throttle import Throttle
from .challenges import (
    BLOCKED, CHALLENGE_FACTORS, CODE_MISMATCH, DEVICE_SRP_AUTH, ENDED, FACTOR_CHALLENGES, MFA_SETUP,
    NEW_PASSWORD_REQUIRED, NOT_CONFIRMED, NOT_OFFERED, RESET_REQUIRED, SELECT_MFA_TYPE, Challenge, Refused, SignedIn,
    Step,
)

#: Wrong second-factor codes one sign-in may send before it ends (each also counts toward
#: the user's lockout: :func:`broker.userpool.lockout.factor_try`).
MAX_FAILURES = 5
#: The step after MFA_SETUP's first code: the TOTP is enrolled, the sign-in may finish.
SETUP_DONE = "MFA_SETUP_DONE"


@dataclass(frozen=True)
class Env:
    """What the steps of one request need, given by the door."""

    db: Session
    state: StateStore
    sender: Sender
    sms: SmsSender
    pool: UserPool
    #: The client's address, its device key (Cognito's DEVICE_KEY, the hosted UI's device
    #: cookie; None when the request has none to weigh) and user agent.
    context: adaptive.Context
    #: Whether a user with several factors and no preferred one is asked to choose
    #: (SELECT_MFA_TYPE); otherwise the first is asked for.
    can_select: bool = False
    #: Whether a remembered device may skip the second factor (not to manage the factors).
    remembered_skips_mfa: bool = True
    #: Whether ``context.device_key`` names a device to note at the end (the API's sign-ins
    #: without DEVICE_KEY are weighed as a new device each time and noted nowhere).
    note_device: bool = True
    #: The password throttle (needed by :func:`password` only).
    throttle: Throttle | None = None
    #: The tracked device the sign-in names (Cognito's DEVICE_KEY): once the password is
    #: proven, the device must prove itself (DEVICE_SRP_AUTH) before it counts.
    tracked_device: str | None = None


def password(env: Env, progress: dict[str, Any], username: str, password: str) -> Step:
    """A password (the hosted form, USER_PASSWORD_AUTH): :class:`broker.errors.SignInFailed`
    with the one generic message, or the next step for the user it proves. The pool's
    UserMigration may create the user of an unknown name first, and its PreAuthentication
    refuse the sign-in before the password is checked (:class:`broker.errors.TriggerFailed`)."""
    assert env.throttle is not None
    with authentication.initiating() as validation:
        try:
            signed = authenticate(env.db, env.throttle, env.pool, username, password, env.context.ip, env.context,
                                  env.sender, hooks=_hooks(env, validation))
        except TriggerFailed:  # the refusal's audit record and a user UserMigration made stay (the door
            env.db.commit()    # rolls back what a failed trigger leaves: broker.api.protocol._run)
            raise
        env.db.commit()
        return after_password(env, proven(progress, signed.user, signed), signed.user)


def _hooks(env: Env, validation: dict[str, str]) -> Hooks | None:
    """The pool's triggers around a password check (None without any: nothing changes)."""
    migrates, gates = invoke.configured(env.pool, USER_MIGRATION), invoke.configured(env.pool, PRE_AUTHENTICATION)
    if not migrates and not gates:
        return None
    return Hooks(migrate=(lambda name, given: migration.at_sign_in(env.db, env.pool, name, given, validation))
                 if migrates else None,
                 gate=(lambda name, user: authentication.pre_authentication(env.db, env.pool, name, user, validation))
                 if gates else None)


def proven(progress: dict[str, Any], user: User, signed: SignIn | None = None) -> dict[str, Any]:
    """The sign-in once ``user`` has proven a password: their ``sub`` and ``session_epoch``
    (a sign-out everywhere meanwhile ends it) and the risk decision made at the password."""
    more = {"risk": adaptive.as_data(signed.risk)} if signed is not None and signed.risk else {}
    return {**progress, "sub": user.sub, "epoch": user.session_epoch, "user_id": user.id, **more}


def after_password(env: Env, progress: dict[str, Any], user: User) -> Step:
    """The account's status decides first (:func:`account_status`), else MFA."""
    progress = {**progress, "user_id": user.id}
    waiting = account_status(progress, user)
    if waiting is not None:
        return waiting
    device = tracked_devices.find(env.db, user, env.tracked_device) if env.tracked_device else None
    if device is not None and tracked_devices.verifier(env.db, device) is not None:
        progress = {**progress, "device_key": device.device_key}
        if tracked_devices.is_remembered(device):  # it may stand in for the second factor: proven first
            return device_challenge(progress, user)
    return second_factor(env, progress, user)


def account_status(progress: dict[str, Any], user: User) -> Challenge | None:
    """What the account's status asks of a user who has just proven who they are: a new
    password to set, or a sign-up to confirm or a reset to finish (both refused with
    ``progress``, so a door can carry on); None when the sign-in may go on."""
    if user.status == "UNCONFIRMED":
        raise Refused(NOT_CONFIRMED, "User is not confirmed.", progress)  # each door words these
    if user.status == "RESET_REQUIRED":
        raise Refused(RESET_REQUIRED, "Password reset required for the user", progress)
    if user.status == "FORCE_CHANGE_PASSWORD":
        attributes = {k: v for k, v in user.attributes.items() if not k.startswith("_")}
        return Challenge(NEW_PASSWORD_REQUIRED, {**progress, "step": NEW_PASSWORD_REQUIRED},
                         {"requiredAttributes": "[]", "userAttributes": json.dumps(attributes)})
    return None


def after_confirmation(env: Env, progress: dict[str, Any], user: User) -> Step:
    """The sign-in that a confirmed sign-up finishes (its password was proven at sign-up):
    PreAuthentication as at any sign-in, then the second factor."""
    authentication.pre_authentication(env.db, env.pool, user.username, user, {})
    return second_factor(env, progress, user)


def device_challenge(progress: dict[str, Any], user: User) -> Challenge:
    """DEVICE_SRP_AUTH for the device ``progress`` names: a remembered one right after the
    password, in place of the second factor; one confirmed but not remembered last, after
    the second factor, as Cognito does ("instead of an MFA challenge" only when remembered:
    amazon-cognito-identity-js and Amplify answer DEVICE_PASSWORD_VERIFIER expecting tokens,
    and answer DEVICE_SRP_AUTH after an MFA code).
    https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-device-tracking.html"""
    return Challenge(DEVICE_SRP_AUTH, {**progress, "step": DEVICE_SRP_AUTH},
                     {"USERNAME": user.username, "DEVICE_KEY": str(progress["device_key"])})


def answer_new_password(env: Env, progress: dict[str, Any], user: User, password: str,
                        confirm: str | None = None) -> Step:
    """NEW_PASSWORD_REQUIRED: the permanent password replaces the temporary one
    (:class:`broker.errors.FormInvalid` naming each broken rule), then MFA."""
    set_new_password(env.db, env.pool, user, password, password if confirm is None else confirm)
    env.db.commit()
    return second_factor(env, progress, user)


def blocked() -> NoReturn:
    """The risk decision blocks this sign-in (said the same way wherever it is met)."""
    raise Refused(BLOCKED, _("This sign-in was blocked for your protection. Contact your administrator."))


def second_factor(env: Env, progress: dict[str, Any], user: User) -> Step:
    """Follow the risk decision made at the password (weighed now when the user came
    another way, such as a confirmed sign-up), then ask for the factor the pool, the user
    and the risk call for, or sign in."""
    assessment = adaptive.from_data(progress.get("risk")) or adaptive.decide(env.db, env.pool, user, env.context)
    env.db.commit()
    if assessment.action == risk.BLOCK:  # not after a password: a password step answers a block as a wrong one
        blocked()
    found = mfa.challenge(env.db, env.pool, user)
    progress = {**progress, "user_id": user.id, "amr": progress.get("amr") or ["pwd"]}
    if found.setup:
        return Challenge(MFA_SETUP, {**progress, "step": MFA_SETUP}, {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'})
    skip = assessment.remembered and env.remembered_skips_mfa and _remember_days(env.pool) > 0
    factor = None if skip else found.factor
    if factor is None and assessment.action == risk.MFA and not skip:
        factor = adaptive.step_up_factor(env.db, env.pool, user)
        if factor is None:
            blocked()
    if factor and env.can_select and factor == found.factor and found.choices:
        choices = json.dumps([FACTOR_CHALLENGES[f] for f in found.choices])
        return Challenge(SELECT_MFA_TYPE, {**progress, "step": SELECT_MFA_TYPE, "choices": list(found.choices)},
                         {"MFAS_CAN_CHOOSE": choices})
    if factor:
        return ask_factor(env, progress, user, factor)
    return signed_in(env, progress, user)


def select_factor(env: Env, progress: dict[str, Any], user: User, chosen: str) -> Step:
    """SELECT_MFA_TYPE: the challenge of one of the factors offered."""
    factor = CHALLENGE_FACTORS.get(chosen)
    if factor is None or factor not in progress.get("choices", ()):
        raise Refused(NOT_OFFERED, "The chosen second factor is not one of those offered.", progress)  # API only
    return ask_factor(env, {k: v for k, v in progress.items() if k != "choices"}, user, factor)


def ask_factor(env: Env, progress: dict[str, Any], user: User, factor: str) -> Challenge:
    """The challenge of ``factor``, its code sent when it goes by email or text message."""
    name = FACTOR_CHALLENGES[factor]
    parameters = send_code(env, user, factor)
    return Challenge(name, {**progress, "step": name, "factor": factor, "failures": 0}, parameters)


def send_code(env: Env, user: User, factor: str) -> dict[str, str]:
    """Send a sign-in code for an emailed or texted ``factor``; Cognito's delivery parameters."""
    template = Template(_("Your sign-in code"),
                        _("Your sign-in code is %(code)s. It expires in 5 minutes.", code="{####}"))
    if factor == mfa.EMAIL_OTP:
        mfa.send_code(env.db, env.state, env.sender, env.pool, user, factor, template)
        return {"CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
                "CODE_DELIVERY_DESTINATION": mask_email(str(user.attributes.get("email", "")))}
    if factor == mfa.SMS_OTP:
        mfa.send_code(env.db, env.state, env.sms, env.pool, user, factor, template)
        return {"CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
                "CODE_DELIVERY_DESTINATION": mask_phone(str(user.attributes.get("phone_number", "")))}
    return {}


def answer_code(env: Env, progress: dict[str, Any], user: User, code: str, remember: bool = False) -> Step:
    """A second-factor code (a recovery code works in its place). A wrong one is
    :class:`Refused` with ``CODE_MISMATCH`` and the progress to keep, or with ``ENDED``
    after :data:`MAX_FAILURES` of them or when the user's lockout refused to check it."""
    factor = progress["factor"]
    ip = env.context.ip
    answer = mfa.answer(env.db, env.state, env.pool, user, factor, code, ip)
    if answer.amr:
        audit.record(env.db, env.pool.id, "SignInMfa", audit.PASS, user=user, ip=ip, factor=factor, amr=answer.amr)
        env.db.commit()
        return signed_in(env, {**progress, "amr": answer.amr}, user, remember)
    code_refused(env, progress, user, "SignInMfa", checked=answer.checked)


def code_refused(env: Env, progress: dict[str, Any], user: User | None, event: str, checked: bool = True,
                 **details: Any) -> NoReturn:
    """A wrong code (or one not checked): :class:`Refused` with ``CODE_MISMATCH`` and the
    progress to keep, or with ``ENDED`` after :data:`MAX_FAILURES` of them or when the
    code was not even checked (the user's lockout); audited as ``event``."""
    failures = int(progress.get("failures", 0)) + 1
    ended = failures >= MAX_FAILURES or not checked
    audit.record(env.db, env.pool.id, event, audit.BLOCK if ended else audit.FAIL, user=user, ip=env.context.ip,
                 factor=progress.get("factor"), failures=failures, **details)
    env.db.commit()
    if ended:
        raise Refused(ENDED, _("Too many wrong codes. Go back to the application and sign in again."))
    raise Refused(CODE_MISMATCH, _("The code is not valid. Try again."), {**progress, "failures": failures})


def setup_secret(progress: dict[str, Any]) -> dict[str, Any]:
    """MFA_SETUP: the progress holding the TOTP secret to enrol (a new one unless it has one)."""
    return progress if progress.get("secret") else {**progress, "secret": mfa.new_secret()}


def answer_setup(env: Env, progress: dict[str, Any], user: User, code: str) -> tuple[dict[str, Any], list[str]]:
    """MFA_SETUP: the first code of the new TOTP secret enrols it; the progress now proves
    the second factor, and the new recovery codes (to show once). :class:`Refused` with
    ``CODE_MISMATCH`` when the code is wrong."""
    secret = progress.get("secret")
    recovery = mfa.enable_totp(env.db, user, secret, code) if secret else None
    if recovery is None:
        raise Refused(CODE_MISMATCH, _("The code is not valid. Try again."), progress)
    audit.record(env.db, env.pool.id, "AssociateSoftwareToken", audit.PASS, user=user, ip=env.context.ip)
    env.db.commit()
    return {**progress, "secret": None, "amr": mfa.OTP_AMR, "step": SETUP_DONE}, recovery


def signed_in(env: Env, progress: dict[str, Any], user: User, remember: bool = False) -> Step:
    """The sign-in is done: note the device (remembered if asked and allowed); unless the
    tracked device it names has still to prove itself (:func:`device_challenge`), or it is
    a CUSTOM_AUTH whose password and second factor are now proven, which DefineAuthChallenge
    goes on with (:func:`broker.engine.custom_auth.password_proven`)."""
    if progress.get("custom") is not None:
        from .custom_auth import password_proven  # (custom_auth is built on this module)

        return password_proven(env, progress, user)
    if progress.get("device_key") and not progress.get("device_proven"):
        return device_challenge({**progress, "factors_done": True}, user)
    post = invoke.configured(env.pool, POST_AUTHENTICATION)
    new_device = post and _new_device(env, progress, user)
    if env.note_device:
        days = _remember_days(env.pool) if remember else 0
        risk.seen(env.db, user, env.context.device_key, env.context.ip, env.context.user_agent, days)
    env.db.commit()
    if post:
        authentication.post_authentication(env.db, env.pool, user, new_device)
        env.db.commit()
    return SignedIn(user, progress, tuple(progress.get("amr") or ("pwd",)), int(time.time()))


def _new_device(env: Env, progress: dict[str, Any], user: User) -> bool:
    """PostAuthentication's ``newDeviceUsed``: in a pool that tracks devices, whether the
    sign-in came from a device the user had not signed in from (the API: no tracked device
    proved itself; the hosted UI: the browser's device cookie is new to the user)."""
    if not tracked_devices.tracking(env.pool) or progress.get("device_proven"):
        return False
    return not env.note_device or risk.find_device(env.db, user, env.context.device_key) is None


def still_current(progress: dict[str, Any], user: User | None) -> bool:
    """Whether ``progress`` is a sign-in of this very user (an id freed by a deletion can
    come back on SQLite; the ``sub`` never does) that no sign-out everywhere has ended."""
    return (user is not None and user.enabled and progress.get("sub") == user.sub
            and progress.get("epoch", 0) == user.session_epoch)


def _remember_days(pool: UserPool) -> int:
    return Security.of(pool.security).remember_devices_days
