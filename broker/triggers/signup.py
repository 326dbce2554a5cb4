"""PreSignUp and PostConfirmation: the triggers around a new account, fired by
:mod:`broker.userpool.accounts` (SignUp, the hosted sign-up page, confirmations and password
resets), :mod:`broker.userpool.admin` (AdminCreateUser, ``broker user create``) and
:mod:`broker.userpool.federation` (a first federated sign-in), so both doors fire them alike.

PreSignUp (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-sign-up.html)
runs before anything is written; a handler that raises refuses the sign-up. Its answer
counts for ``PreSignUp_SignUp`` only (Cognito ignores it for AdminCreateUser, and a
federated user is confirmed by its IdP):

    verdict = pre_sign_up(session, pool, SIGN_UP, "alice", {"email": "a@corp.example"}, {})
    verdict.confirm, verdict.verify_email   # autoConfirmUser, autoVerifyEmail

As in Cognito, ``autoVerifyEmail``/``autoVerifyPhone`` need ``autoConfirmUser`` ("Phone or
email cannot be auto verified, when user is not being auto confirmed.") and the attribute
they verify; other values than booleans are an invalid response.

PostConfirmation (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-confirmation.html)
runs once the confirmation is committed: a handler that fails cannot undo it. Cognito
answers the operation with the handler's error all the same (the user stays confirmed),
and so does Cognate; the failure is logged.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..errors import FormInvalid
from ..store.models import User, UserPool
from . import answers, invoke, settings
from .attributes import text, user_attributes

SIGN_UP = "PreSignUp_SignUp"
ADMIN_CREATE_USER = "PreSignUp_AdminCreateUser"
EXTERNAL_PROVIDER = "PreSignUp_ExternalProvider"
CONFIRM_SIGN_UP = "PostConfirmation_ConfirmSignUp"
CONFIRM_FORGOT_PASSWORD = "PostConfirmation_ConfirmForgotPassword"
#: PreSignUp's response members, sent as false, and the attribute each verifies.
ANSWERS = {"autoConfirmUser": None, "autoVerifyEmail": "email", "autoVerifyPhone": "phone_number"}
NOT_CONFIRMED = "Phone or email cannot be auto verified, when user is not being auto confirmed."


@dataclass(frozen=True)
class Verdict:
    """What a PreSignUp handler asked for the new user."""

    confirm: bool = False
    verify_email: bool = False
    verify_phone: bool = False

    def verified(self) -> dict[str, str]:
        """The ``*_verified`` attributes the verdict sets."""
        flags = {"email_verified": self.verify_email, "phone_number_verified": self.verify_phone}
        return {name: "true" for name, on in flags.items() if on}


NOTHING = Verdict()


def pre_sign_up(session: Session, pool: UserPool, source: str, username: str, attributes: dict[str, str],
                validation: dict[str, str] | None = None) -> Verdict:
    """Run the pool's PreSignUp trigger (if any) for a user about to be created with
    ``attributes``; ``validation`` is the call's ``ValidationData`` (hosted pages: none).
    A :class:`~broker.errors.TriggerFailed` refuses the sign-up."""
    request = {"userAttributes": {k: text(v) for k, v in attributes.items()},
               "validationData": dict(validation or {})}
    response = invoke.fire(session, pool, settings.PRE_SIGN_UP, source, username, request,
                           dict.fromkeys(ANSWERS, False))
    if response is None or source != SIGN_UP:
        return NOTHING
    verdict = Verdict(*(answers.flag(response.get(name)) for name in ANSWERS))
    if (verdict.verify_email or verdict.verify_phone) and not verdict.confirm:
        raise FormInvalid([NOT_CONFIRMED])
    for on, name in ((verdict.verify_email, "email"), (verdict.verify_phone, "phone_number")):
        if on and not str(attributes.get(name) or "").strip():
            raise FormInvalid([f"Cannot auto verify {name}: the user has no {name}."])
    return verdict


def post_confirmation(session: Session, pool: UserPool, user: User, source: str) -> None:
    """Run the pool's PostConfirmation trigger (if any) for ``user``, just confirmed (or
    with a new password), once the confirmation is committed (:func:`.invoke.fire_after`)."""
    invoke.fire_after(session, pool, settings.POST_CONFIRMATION, source, user.username,
                      {"userAttributes": user_attributes(user)}, "the user stays confirmed")
