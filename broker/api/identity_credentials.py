"""GetCredentialsForIdentity over ``cognito-identity`` (public, as Cognito's: the logins are
the proof): a thin call into :mod:`broker.identity.credentials`.
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetCredentialsForIdentity.html
"""
from __future__ import annotations

from typing import Any

from ..identity import credentials
from .call import Call
from .identity_pools import SERVICE
from .registry import operation


@operation("GetCredentialsForIdentity", SERVICE)
def get_credentials_for_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return credentials.for_identity(call.session, call.runtime, params["IdentityId"], params.get("Logins"),
                                    params.get("CustomRoleArn"), call.ip)
