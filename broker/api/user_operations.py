"""Cognito's unauthenticated account operations: SignUp, ConfirmSignUp,
ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword
(https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_SignUp.html and
siblings). Each names its app client (and proves its secret with ``SecretHash``), then calls
the protocol-neutral functions of :mod:`broker.userpool.accounts`, which the hosted pages
call too: the same limits, codes, mails and audit records through either door.

User existence, as Cognito answers with ``PreventUserExistenceErrors`` on (its default, and
the only behaviour Cognate has): a code for an unknown, unconfirmed-or-not or federated user
is answered like a sent one, with a stand-in ``CodeDeliveryDetails``; a wrong code and a
code for nobody are both ``CodeMismatchException``; ``UserNotFoundException`` is never
answered. SignUp with a taken name answers ``UsernameExistsException``, as Cognito
documents for the API even with the setting on; the hosted sign-up page keeps not telling.
The name costs the same work either way (:func:`~broker.userpool.accounts.sign_up`).

The pool's triggers run below, as at the hosted pages: ``ValidationData`` and
``ClientMetadata`` reach PreSignUp (whose ``autoConfirmUser`` answers ``UserConfirmed``
true, without a code), ``ClientMetadata`` PostConfirmation and CustomMessage.
"""
from __future__ import annotations

from typing import Any, Callable

from ..userpool import accounts, client_attributes, delivery
from .admin_users import attributes
from .call import Call
from .errors import AwsError
from .registry import operation


@operation("SignUp")
def sign_up(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client, pool = call.client(params)
    username = params["Username"]
    call.check_secret_hash(client, username, params)
    if not pool.self_signup:
        raise AwsError("NotAuthorizedException", "SignUp is not permitted for this user pool")
    given = attributes(params.get("UserAttributes"))
    client_attributes.check_writable(pool, client, given)
    rt = call.runtime
    signed = accounts.sign_up(call.session, rt.state, rt.sender, pool, username, params.get("Password") or "",
                              given, call.requester, client, attributes(params.get("ValidationData")))
    user = signed.user
    if user is None:
        raise AwsError("UsernameExistsException", "User already exists")
    out: dict[str, Any] = {"UserConfirmed": signed.confirmed, "UserSub": user.sub}
    if user.attributes.get("email") and not signed.confirmed:
        out["CodeDeliveryDetails"] = delivery.details(user.attributes["email"])
    return out


@operation("ConfirmSignUp")
def confirm_sign_up(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client, pool = call.client(params)
    call.check_secret_hash(client, params["Username"], params)
    accounts.confirm_sign_up(call.session, call.runtime.state, pool, params["Username"],
                             params["ConfirmationCode"], call.requester)
    return {}


@operation("ResendConfirmationCode")
def resend_confirmation_code(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return _send_code(call, params, accounts.resend_confirmation)


@operation("ForgotPassword")
def forgot_password(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return _send_code(call, params, accounts.forgot_password)


@operation("ConfirmForgotPassword")
def confirm_forgot_password(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client, pool = call.client(params)
    call.check_secret_hash(client, params["Username"], params)
    password = params["Password"]
    accounts.confirm_forgot_password(call.session, call.runtime.state, pool, params["Username"],
                                     params["ConfirmationCode"], password, password, call.requester)
    return {}


def _send_code(call: Call, params: dict[str, Any], send: Callable[..., str | None]) -> dict[str, Any]:
    """Ask ``send`` (an account function that mails a code) for a code to ``Username``; where
    it went, or the stand-in answer when nothing was sent."""
    client, pool = call.client(params)
    username = params["Username"]
    call.check_secret_hash(client, username, params)
    rt = call.runtime
    sent_to = send(call.session, rt.state, rt.sender, pool, username, call.requester)
    details = delivery.details(sent_to) if sent_to else delivery.stand_in(call.session, pool.id, username)
    return {"CodeDeliveryDetails": details}
