"""The identities of identity pools over ``cognito-identity``: GetId, GetOpenIdToken and
UnlinkIdentity (public: the logins are the proof), and, signed with an admin key allowed on
the identity pool, GetOpenIdTokenForDeveloperIdentity, LookupDeveloperIdentity,
MergeDeveloperIdentities, UnlinkDeveloperIdentity, DescribeIdentity, ListIdentities and
DeleteIdentities. Thin calls into :mod:`broker.identity`.
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_Operations.html
"""
from __future__ import annotations

from typing import Any

from ..identity import credentials, developer, directory, identities, limits, logins, pools
from .call import Call
from .identity_pools import SERVICE
from .listing import MAX_RESULTS, decode_token, encode_token, paged
from .registry import operation


@operation("GetId", SERVICE)
def get_id(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = pools.require(call.session, params["IdentityPoolId"])
    limits.admit(call.runtime.state, call.runtime.settings, pool.id, call.ip)
    verified = logins.verify(call.session, call.runtime, pool, params.get("Logins"))
    return {"IdentityId": identities.resolve(call.session, pool, None, verified).id}


@operation("GetOpenIdToken", SERVICE)
def get_open_id_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return credentials.basic_flow_token(call.session, call.runtime, params["IdentityId"], params.get("Logins"),
                                        call.ip)


@operation("UnlinkIdentity", SERVICE)
def unlink_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    identity, pool = identities.with_pool(call.session, params["IdentityId"])
    verified = logins.verify(call.session, call.runtime, pool, params["Logins"])
    directory.unlink(call.session, pool, identity, verified, params["LoginsToRemove"])
    return {}


@operation("GetOpenIdTokenForDeveloperIdentity", SERVICE)
def get_open_id_token_for_developer_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    identity_id, token = developer.open_id_token(call.session, call.runtime, pool, params.get("IdentityId"),
                                                 params["Logins"], params.get("TokenDuration"),
                                                 params.get("PrincipalTags"))
    return {"IdentityId": identity_id, "Token": token}


@operation("LookupDeveloperIdentity", SERVICE)
def lookup_developer_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    identity_id, users = developer.lookup(call.session, pool, params.get("IdentityId"),
                                          params.get("DeveloperUserIdentifier"))
    page, token = paged(users, params.get("MaxResults"), params.get("NextToken"), key=str)
    out: dict[str, Any] = {"IdentityId": identity_id, "DeveloperUserIdentifierList": page}
    if token:
        out["NextToken"] = token
    return out


@operation("MergeDeveloperIdentities", SERVICE)
def merge_developer_identities(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    return {"IdentityId": developer.merge_users(call.session, pool, params["DeveloperProviderName"],
                                                params["SourceUserIdentifier"], params["DestinationUserIdentifier"])}


@operation("UnlinkDeveloperIdentity", SERVICE)
def unlink_developer_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    developer.unlink_user(call.session, pool, params["IdentityId"], params["DeveloperProviderName"],
                          params["DeveloperUserIdentifier"])
    return {}


@operation("DescribeIdentity", SERVICE)
def describe_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return directory.describe(call.admin_identity(params["IdentityId"]))


@operation("ListIdentities", SERVICE)
def list_identities(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    after = decode_token(params["NextToken"]) if params.get("NextToken") else None
    page, last = directory.listed(call.session, pool, params.get("MaxResults") or MAX_RESULTS, after,
                                  bool(params.get("HideDisabled")))
    out: dict[str, Any] = {"IdentityPoolId": pool.id, "Identities": [directory.describe(i) for i in page]}
    if last:
        out["NextToken"] = encode_token(last)
    return out


@operation("DeleteIdentities", SERVICE)
def delete_identities(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"UnprocessedIdentityIds": directory.delete_many(call.session, params["IdentityIdsToDelete"],
                                                            call.may_act_on)}
