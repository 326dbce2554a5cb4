"""The operations Cognito authorizes with the user's own access token: GetUser,
UpdateUserAttributes, DeleteUserAttributes, GetUserAttributeVerificationCode,
VerifyUserAttribute, DeleteUser, ChangePassword, GlobalSignOut; and RevokeToken, which
names its app client instead
(https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_GetUser.html
and siblings). Each resolves the token (:mod:`.bearer`), then calls the protocol-neutral
functions the hosted pages and the CLI use (:mod:`broker.userpool.attribute_changes`,
:mod:`broker.userpool.self_service`, :mod:`broker.oauth.refresh`): the same rules, codes,
limits and audit records through every door.

What a client may see and set follows its ReadAttributes and WriteAttributes
(:mod:`broker.userpool.client_attributes`); a new email or phone number waits for its code
before it replaces the old one, as in pools that keep original values until verified.
"""
from __future__ import annotations

from typing import Any

from flask import g

from ..errors import CodeMismatch, Throttled
from ..oauth.jose import compact_header
from ..oauth.refresh import find_refresh_token, issued_to_another_client, revoke_family
from ..userpool import attribute_changes, client_attributes, client_auth, delivery, self_service
from ..userpool.attributes import attribute_types
from . import account_mfa
from .bearer import resolve
from .call import Call
from .errors import AwsError
from .registry import operation


@operation("GetUser")
def get_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The user's attributes that the token's client may read (``sub`` always) and factors."""
    bearer = resolve(call, params["AccessToken"])
    user = bearer.user
    readable = client_attributes.readable(bearer.client, attribute_changes.current(user))
    return {"Username": user.username, "UserAttributes": attribute_types(user.sub, readable),
            **account_mfa.describe(call, bearer)}


@operation("UpdateUserAttributes")
def update_user_attributes(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Attributes the client may write change at once; a new email or phone number waits for
    the code sent to it (VerifyUserAttribute)."""
    bearer = resolve(call, params["AccessToken"])
    changes = {a["Name"]: a.get("Value") or "" for a in params["UserAttributes"]}
    client_attributes.check_writable(bearer.pool, bearer.client, changes)
    rt = call.runtime
    waiting = attribute_changes.update_attributes(call.session, rt.state, rt.sender, rt.sms, bearer.pool,
                                                  bearer.user, changes, event="UpdateUserAttributes",
                                                  requester=call.requester)
    to = attribute_changes.pending(bearer.user)
    return {"CodeDeliveryDetailsList": [delivery.attribute_details(name, to[name]) for name in waiting]}


@operation("DeleteUserAttributes")
def delete_user_attributes(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    names = list(params["UserAttributeNames"])
    client_attributes.check_writable(bearer.pool, bearer.client, dict.fromkeys(names, ""))
    attribute_changes.delete_attributes(call.session, bearer.pool, bearer.user, names, event="DeleteUserAttributes")
    return {}


@operation("GetUserAttributeVerificationCode")
def get_user_attribute_verification_code(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    name, rt = params["AttributeName"], call.runtime
    sent_to = attribute_changes.resend_code(call.session, rt.state, rt.sender, rt.sms, bearer.pool, bearer.user,
                                            name, call.requester)
    return {"CodeDeliveryDetails": delivery.attribute_details(name, sent_to)}


@operation("VerifyUserAttribute")
def verify_user_attribute(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    if not attribute_changes.verify_attribute(call.session, call.runtime.state, bearer.pool, bearer.user,
                                              params["AttributeName"], params["Code"]):
        raise CodeMismatch(["Invalid verification code provided, please try again."])
    return {}


@operation("DeleteUser")
def delete_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    self_service.delete_account(call.session, bearer.pool, bearer.user)
    return {}


@operation("ChangePassword")
def change_password(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The previous password is checked as a sign-in checks it; too many tries at once are
    Cognito's ``LimitExceededException``."""
    bearer = resolve(call, params["AccessToken"])
    try:
        self_service.change_password(call.session, call.throttle, bearer.pool, bearer.user,
                                     params["PreviousPassword"], params["ProposedPassword"], call.ip)
    except Throttled:
        raise AwsError("LimitExceededException", "Attempt limit exceeded, please try after some time.") from None
    return {}


@operation("GlobalSignOut")
def global_sign_out(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    self_service.global_sign_out(call.session, bearer.pool, bearer.user, bearer.origin_jti, call.ip)
    return {}


@operation("RevokeToken")
def revoke_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Revoke a refresh token's family (RFC 7009, as ``/oauth2/revoke``): the refresh token
    and every access token issued from it. An unknown, expired or already revoked token is
    revoked already: success, as RFC 7009 §2.2 answers. A token of another client is
    refused, an access or ID token is not a refresh token."""
    client, pool = call.client(params)
    if not client_auth.check_client_secret(client, params.get("ClientSecret")):
        raise AwsError("UnauthorizedException", f"Unable to verify secret for client {client.id}")
    value = params["Token"]
    if value.count(".") == 2 and compact_header(value) is not None:
        raise AwsError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked.")
    g.pool, g.db_session = pool, call.session  # the token store reads the request's pool
    token = find_refresh_token(value, client.id)
    if token is None:
        if issued_to_another_client(call.session, pool.id, client.id, value):
            raise AwsError("UnauthorizedException", "Refresh Token has different Client")
        return {}
    revoke_family(call.session, pool.id, token.row.origin_jti, client.id, "refresh_token", call.ip, user=token.user)
    return {}

