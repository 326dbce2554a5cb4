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
from ..identity.errors import CLASSIC_FLOW_MAPPINGS, CLASSIC_FLOW_OFF, Refused, identity_not_found
from ..store.models import Identity
from ..userpool import admin_keys
from .call import Call
from .identity_pools import SERVICE, _pool as admin_pool
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
    pool = admin_pool(call, params["IdentityPoolId"])
    verified = logins.developer(call.session, call.runtime, pool, params["Logins"])
    identity = identities.resolve(call.session, pool, params.get("IdentityId"), verified, vouched=True)
    token = tokens.open_id_token(call.session, call.runtime, pool, identity, verified,
                                 ttl=params.get("TokenDuration") or tokens.DEVELOPER_TTL,
                                 principal_tags=params.get("PrincipalTags"))
    return {"IdentityId": identity.id, "Token": token}


@operation("LookupDeveloperIdentity", SERVICE)
def lookup_developer_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = admin_pool(call, params["IdentityPoolId"])
    identity_id, users = developer.lookup(call.session, pool, params.get("IdentityId"),
                                          params.get("DeveloperUserIdentifier"))
    page, token = paged(users, params.get("MaxResults"), params.get("NextToken"), key=str)
    out: dict[str, Any] = {"IdentityId": identity_id, "DeveloperUserIdentifierList": page}
    if token:
        out["NextToken"] = token
    return out


@operation("MergeDeveloperIdentities", SERVICE)
def merge_developer_identities(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = admin_pool(call, params["IdentityPoolId"])
    return {"IdentityId": developer.merge_users(call.session, pool, params["DeveloperProviderName"],
                                                params["SourceUserIdentifier"], params["DestinationUserIdentifier"])}


@operation("UnlinkDeveloperIdentity", SERVICE)
def unlink_developer_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = admin_pool(call, params["IdentityPoolId"])
    developer.unlink_user(call.session, pool, params["IdentityId"], params["DeveloperProviderName"],
                          params["DeveloperUserIdentifier"])
    return {}


@operation("DescribeIdentity", SERVICE)
def describe_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return directory.describe(_admin_identity(call, params["IdentityId"]))


@operation("ListIdentities", SERVICE)
def list_identities(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = admin_pool(call, params["IdentityPoolId"])
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
        if not _allowed(call, identity):
            if identity is not None or call.admin_key is None or call.admin_key.pools:
                unprocessed.append({"IdentityId": identity_id, "ErrorCode": "AccessDenied"})
            continue
        directory.delete(call.session, identity)
    return {"UnprocessedIdentityIds": unprocessed}


def _allowed(call: Call, identity: Identity | None) -> bool:
    key = call.admin_key
    return identity is not None and key is not None and admin_keys.allows(key, identity.pool_id)


def _admin_identity(call: Call, identity_id: str) -> Identity:
    """The identity, if the admin key may act on its pool (else it is "not found")."""
    identity = call.session.get(Identity, identity_id)
    if not _allowed(call, identity):
        raise identity_not_found(identity_id)
    assert identity is not None
    return identity
