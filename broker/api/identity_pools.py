"""Identity pools over the management API of ``cognito-identity`` (CreateIdentityPool,
DescribeIdentityPool, UpdateIdentityPool, DeleteIdentityPool, ListIdentityPools,
Set/GetIdentityPoolRoles, Set/GetPrincipalTagAttributeMap), signed with an admin key:
thin calls into :mod:`broker.identity.pools`.
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_Operations.html

A key limited to some pools acts only on the identity pools it names, and cannot create one.
"""
from __future__ import annotations

from typing import Any

from ..identity import pools
from .call import Call
from .listing import paged
from .registry import operation

SERVICE = "cognito-identity"


def _settings(call: Call, params: dict[str, Any]) -> pools.PoolSettings:
    """The pool's settings; a key limited to some pools names only those pools' user pools
    and SAML IdPs."""
    return pools.from_cognito(call.session, call.runtime.settings, params, call.may_act_on)


@operation("CreateIdentityPool", SERVICE)
def create_identity_pool(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    call.require_every_pool("NotAuthorizedException", "creating an identity pool")
    return pools.describe(pools.create(call.session, _settings(call, params)))


@operation("DescribeIdentityPool", SERVICE)
def describe_identity_pool(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return pools.describe(call.admin_identity_pool(params["IdentityPoolId"]))


@operation("UpdateIdentityPool", SERVICE)
def update_identity_pool(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    return pools.describe(pools.update(call.session, pool, _settings(call, params)))


@operation("DeleteIdentityPool", SERVICE)
def delete_identity_pool(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pools.delete(call.session, call.admin_identity_pool(params["IdentityPoolId"]))
    return {}


@operation("ListIdentityPools", SERVICE)
def list_identity_pools(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found = [p for p in pools.listed(call.session) if call.may_act_on(p.id)]
    page, token = paged(found, params["MaxResults"], params.get("NextToken"), key=lambda p: p.id)
    out: dict[str, Any] = {"IdentityPools": [{"IdentityPoolId": p.id, "IdentityPoolName": p.name} for p in page]}
    if token:
        out["NextToken"] = token
    return out


@operation("SetIdentityPoolRoles", SERVICE)
def set_identity_pool_roles(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    pools.set_roles(call.session, pool, params["Roles"], params.get("RoleMappings") or {})
    return {}


@operation("GetIdentityPoolRoles", SERVICE)
def get_identity_pool_roles(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return pools.roles_of(call.admin_identity_pool(params["IdentityPoolId"]))


@operation("SetPrincipalTagAttributeMap", SERVICE)
def set_principal_tag_attribute_map(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_identity_pool(params["IdentityPoolId"])
    return pools.set_tag_map(call.session, pool, params["IdentityProviderName"], bool(params.get("UseDefaults")),
                             params.get("PrincipalTags") or {})


@operation("GetPrincipalTagAttributeMap", SERVICE)
def get_principal_tag_attribute_map(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return pools.tag_map(call.admin_identity_pool(params["IdentityPoolId"]), params["IdentityProviderName"])
