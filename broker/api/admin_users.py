"""The admin operations on one user, signed with an admin key (AWS Signature Version 4,
:mod:`.sigv4`): thin calls into :mod:`broker.userpool`, the functions the CLI calls
(``broker user ...``). Unlike the user-facing operations, these tell whether a user exists
(``UserNotFoundException``), as Cognito's admin API does; a user is named by username or
by ``sub``.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminGetUser.html
and siblings.

AdminCreateUser sends the pool's invitation (the mail ``broker user create`` sends, or a
text message) with the temporary password, by ``DesiredDeliveryMediums`` (by default SMS
when the user has a phone number, else email); ``MessageAction`` SUPPRESS sends nothing,
RESEND gives a user who has not signed in yet a new temporary password and invitation.
``ValidationData`` and ``ClientMetadata`` reach the pool's PreSignUp and CustomMessage
triggers (``PreSignUp_AdminCreateUser``, ``CustomMessage_AdminCreateUser``);
``ForceAliasCreation`` is accepted and ignored (Cognate has no aliases).
"""
from __future__ import annotations

from typing import Any

from ..store import repo
from ..store.models import User, UserPool, canonical_username
from ..userpool import admin, admin_security, admin_users, attribute_changes, mfa_settings
from ..userpool.attributes import attribute_types
from .account_mfa import mfa_fields, preferences
from .call import Call
from .errors import AwsError
from .registry import operation


@operation("AdminGetUser")
def admin_get_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool, user = pool_user(call, params)
    return {"Username": user.username, "UserAttributes": attribute_types(user.sub, attribute_changes.current(user)),
            "UserCreateDate": user.created_at, "UserLastModifiedDate": user.updated_at, "Enabled": user.enabled,
            "UserStatus": user.status, **mfa_fields(call.session, pool, user)}


@operation("AdminCreateUser")
def admin_create_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    rt, action = call.runtime, params.get("MessageAction")
    sender, sms = (None, None) if action == "SUPPRESS" else (rt.sender, rt.sms)
    mediums = params.get("DesiredDeliveryMediums")
    if action == "RESEND":
        user = find_user(call, pool, params["Username"])
        invitation = admin_security.resend_invitation(call.session, sender, rt.state, pool.id, user.username, sms,
                                                      mediums, params.get("TemporaryPassword"))
    else:
        invitation = admin_security.create_invited(call.session, sender, sms, pool.id, params["Username"],
                                                   params.get("TemporaryPassword"),
                                                   attributes(params.get("UserAttributes")), mediums=mediums,
                                                   validation=attributes(params.get("ValidationData")))
    return {"User": user_type(invitation.user)}


@operation("AdminDeleteUser")
def admin_delete_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool, user = pool_user(call, params)
    admin.remove_user(call.session, pool.id, user)
    return {}


@operation("AdminDisableUser")
def admin_disable_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    admin_users.disable(call.session, *pool_user(call, params))
    return {}


@operation("AdminEnableUser")
def admin_enable_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    admin_users.enable(call.session, *pool_user(call, params))
    return {}


@operation("AdminUserGlobalSignOut")
def admin_user_global_sign_out(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    admin_users.sign_out(call.session, *pool_user(call, params))
    return {}


@operation("AdminSetUserPassword")
def admin_set_user_password(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool, user = pool_user(call, params)
    admin_users.set_password(call.session, pool, user, params["Password"], bool(params.get("Permanent")),
                             call.runtime.state)
    return {}


@operation("AdminResetUserPassword")
def admin_reset_user_password(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """RESET_REQUIRED, signed out everywhere; the reset code goes to the user's email."""
    pool, user = pool_user(call, params)
    rt = call.runtime
    admin_security.reset_password(call.session, rt.sender, rt.state, pool.id, user.username)
    return {}


@operation("AdminConfirmSignUp")
def admin_confirm_sign_up(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    admin_users.confirm(call.session, *pool_user(call, params))
    return {}


@operation("AdminUpdateUserAttributes")
def admin_update_user_attributes(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """As Cognito's: a new email or phone number waits for the code sent to it, unless its
    ``*_verified`` flag comes with it as ``true`` (the admin vouches for it)."""
    pool, user = pool_user(call, params)
    rt = call.runtime
    attribute_changes.update_attributes(call.session, rt.state, rt.sender, rt.sms, pool, user,
                                        attributes(params["UserAttributes"]), vouched=True)
    return {}


@operation("AdminDeleteUserAttributes")
def admin_delete_user_attributes(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool, user = pool_user(call, params)
    attribute_changes.delete_attributes(call.session, pool, user, list(params["UserAttributeNames"]))
    return {}


@operation("AdminSetUserMFAPreference")
def admin_set_user_mfa_preference(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The rules of the user's own SetUserMFAPreference (:mod:`broker.userpool.mfa_settings`)."""
    pool, user = pool_user(call, params)
    wanted, preferred, unpreferred = preferences(params)
    mfa_settings.change(call.session, pool, user, wanted, preferred, unpreferred, ip=call.ip,
                        event="AdminSetUserMFAPreference")
    return {}


def pool_user(call: Call, params: dict[str, Any]) -> tuple[UserPool, User]:
    """The pool ``UserPoolId`` names (if the key may act on it) and its user ``Username``."""
    pool = call.admin_pool(params["UserPoolId"])
    return pool, find_user(call, pool, params["Username"])


def find_user(call: Call, pool: UserPool, username: str) -> User:
    """The pool's user ``username`` (or ``sub``, which Cognito accepts in its place)."""
    user = repo.get_user(call.session, pool.id, canonical_username(username))
    if user is None:
        user = repo.get_user_by_sub(call.session, pool.id, username)
    if user is None:
        raise AwsError("UserNotFoundException", "User does not exist.")
    return user


def attributes(given: list[dict[str, Any]] | None) -> dict[str, str]:
    """Cognito's ``AttributeType`` list as a map (a missing value is empty)."""
    return {a["Name"]: a.get("Value") or "" for a in given or []}


def user_type(user: User, names: frozenset[str] | None = None) -> dict[str, Any]:
    """Cognito's ``UserType``; only the attributes ``names`` when given (ListUsers'
    ``AttributesToGet``)."""
    listed = attribute_types(user.sub, attribute_changes.current(user))
    if names is not None:
        listed = [a for a in listed if a["Name"] in names]
    return {"Username": user.username, "Attributes": listed, "UserCreateDate": user.created_at,
            "UserLastModifiedDate": user.updated_at, "Enabled": user.enabled, "UserStatus": user.status}
