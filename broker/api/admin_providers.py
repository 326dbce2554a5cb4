"""Federated identities of a pool's users over the admin API: AdminLinkProviderForUser and
AdminDisableProviderForUser, thin over :mod:`broker.userpool.idps` (``broker user link`` and
``broker user unlink`` call the same functions).

Identities are named as Cognito names them (``ProviderUserIdentifierType``): the native
user as ``{"ProviderName": "Cognito", "ProviderAttributeValue": <username>}``, the
identity as ``{"ProviderName": <IdP name>, "ProviderAttributeName": "Cognito_Subject",
"ProviderAttributeValue": <subject at the IdP>}``. Cognate links by subject only, so an
attribute name other than ``Cognito_Subject`` is refused.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminLinkProviderForUser.html
"""
from __future__ import annotations

from typing import Any

from ..userpool import idps
from .admin_users import find_user
from .call import Call
from .errors import AwsError
from .registry import operation

SUBJECT = "Cognito_Subject"


@operation("AdminLinkProviderForUser")
def admin_link_provider_for_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    destination = params["DestinationUser"]
    if str(destination.get("ProviderName", "")).lower() != "cognito":
        raise AwsError("InvalidParameterException", "DestinationUser must be a Cognito user (ProviderName Cognito).")
    user = find_user(call, pool, _value(destination, "DestinationUser"))
    provider, subject = _identity(params["SourceUser"], "SourceUser")
    idps.link_user(call.session, pool.id, user.username, provider, subject)
    return {}


@operation("AdminDisableProviderForUser")
def admin_disable_provider_for_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    provider, subject = _identity(params["User"], "User")
    idps.unlink_user(call.session, pool.id, provider, subject)
    return {}


def _identity(given: dict[str, Any], member: str) -> tuple[str, str]:
    name = given.get("ProviderAttributeName")
    if name not in (None, SUBJECT):
        raise AwsError("InvalidParameterException", f"{member}.ProviderAttributeName must be {SUBJECT}.")
    provider = given.get("ProviderName")
    if not provider:
        raise AwsError("InvalidParameterException", f"{member}.ProviderName is required.")
    return provider, _value(given, member)


def _value(given: dict[str, Any], member: str) -> str:
    value = given.get("ProviderAttributeValue")
    if not value:
        raise AwsError("InvalidParameterException", f"{member}.ProviderAttributeValue is required.")
    return str(value)
