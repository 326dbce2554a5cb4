"""The identities of identity pools over ``cognito-identity``: GetId, GetOpenIdToken and
UnlinkIdentity (public: the logins are the proof), and, signed with an admin key allowed on
the identity pool, GetOpenIdTokenForDeveloperIdentity, LookupDeveloperIdentity,
MergeDeveloperIdentities, UnlinkDeveloperIdentity, DescribeIdentity, ListIdentities and
DeleteIdentities. Thin calls into :mod:`broker.identity`.
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_Operations.html
"""
from __future__ import annotations

from typing import Any

from ..identity import developer, directory, identities, limits, logins, pools, tokens
from ..identity.errors import CLASSIC_FLOW_MAPPINGS, CLASSIC_FLOW_OFF, Refused
from ..store.models import Identity
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
    """The basic flow's token: only where the pool allows that flow and maps no roles
    (the app then chooses any role that trusts the pool)."""
    identity, pool = identities.with_pool(call.session, params["IdentityId"])
    limits.admit(call.runtime.state, call.runtime.settings, pool.id, call.ip)
    if not pool.allow_classic_flow:
        raise Refused("InvalidParameterException", CLASSIC_FLOW_OFF)
    if pool.role_mappings:
        raise Refused("InvalidParameterException", CLASSIC_FLOW_MAPPINGS)
    verified = logins.verify(call.session, call.runtime, pool, params.get("Logins"))
    identity = identities.resolve(call.session, pool, identity.id, verified)
    return {"IdentityId": identity.id,
            "Token": tokens.open_id_token(call.session, call.runtime, pool, identity, verified)}


@operation("UnlinkIdentity", SERVICE)
def unlink_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    identity, pool = identities.with_pool(call.session, params["IdentityId"])
    verified = logins.verify(call.session, call.runtime, pool, params["Logins"])
    directory.unlink(call.session, pool, identity, verified, params["LoginsToRemove"])
    return {}


@operation("GetOpenIdTokenForDeveloperIdentity", SERVICE)
def get_open_id_token_for_developer_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    verified = logins.developer(call.session, call.runtime, pool, params["Logins"])
    identity = identities.resolve(call.session, pool, params.get("IdentityId"), verified, vouched=True)
    token = tokens.open_id_token(call.session, call.runtime, pool, identity, verified,
                                 ttl=params.get("TokenDuration") or tokens.DEVELOPER_TTL,
                                 principal_tags=params.get("PrincipalTags"))
    return {"IdentityId": identity.id, "Token": token}


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
    """Identities the key may not act on are answered as AccessDenied (whether they exist
    or not, for a key limited to some pools); unknown ones are already gone."""
    unprocessed = []
    for identity_id in dict.fromkeys(params["IdentityIdsToDelete"]):
        identity = call.session.get(Identity, identity_id)
        if identity is None or not call.may_act_on(identity.pool_id):
            if identity is not None or not call.may_act_on(None):
                unprocessed.append({"IdentityId": identity_id, "ErrorCode": "AccessDenied"})
            continue
        directory.delete(call.session, identity)
    return {"UnprocessedIdentityIds": unprocessed}


