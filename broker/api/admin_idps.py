"""A pool's identity providers over the admin API (CreateIdentityProvider,
DescribeIdentityProvider, UpdateIdentityProvider, DeleteIdentityProvider,
ListIdentityProviders), signed with an admin key: thin calls into
:mod:`broker.userpool.idps`, the functions ``broker idp`` uses, with each type's
``ProviderDetails`` (Cognito's names) checked by its connector.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateIdentityProvider.html

Secrets (``client_secret``) are never shown; sending the masked value back keeps the secret.
"""
from __future__ import annotations

from typing import Any

from ..store.models import IdentityProvider
from ..userpool import idps
from .call import Call
from .errors import AwsError
from .listing import paged
from .registry import operation


@operation("CreateIdentityProvider")
def create_identity_provider(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    name, kind = params["ProviderName"], params["ProviderType"]
    if any(p.name.lower() == name.lower() for p in idps.list_idps(call.session, pool.id)):
        raise AwsError("DuplicateProviderException", f"A provider with the name {name} already exists in this pool.")
    _no_acr(params)
    options = idps.options_from_cognito(kind, params["ProviderDetails"])
    row = idps.create_idp(call.session, pool.id, kind, name, options,
                          idps.mapping_from_cognito(params.get("AttributeMapping")), params.get("IdpIdentifiers"))
    return {"IdentityProvider": describe(row)}


@operation("DescribeIdentityProvider")
def describe_identity_provider(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"IdentityProvider": describe(_idp(call, params))}


@operation("UpdateIdentityProvider")
def update_identity_provider(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The details given are changed, the others kept; a mapping or list of identifiers
    given replaces the old one."""
    idp = _idp(call, params)
    _no_acr(params)
    options = idps.options_from_cognito(idp.type, params.get("ProviderDetails") or {})
    row = idps.update_idp(call.session, idp.pool_id, idp.name, options,
                          idps.mapping_from_cognito(params.get("AttributeMapping")), params.get("IdpIdentifiers"))
    return {"IdentityProvider": describe(row)}


@operation("DeleteIdentityProvider")
def delete_identity_provider(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    idp = _idp(call, params)
    idps.delete_idp(call.session, idp.pool_id, idp.name)
    return {}


@operation("ListIdentityProviders")
def list_identity_providers(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    page, token = paged(idps.list_idps(call.session, pool.id), params.get("MaxResults"), params.get("NextToken"),
                        key=lambda p: p.name)
    listed = [{"ProviderName": p.name, "ProviderType": p.type, "CreationDate": p.created_at,
               "LastModifiedDate": p.updated_at} for p in page]
    return {"Providers": listed, **({"NextToken": token} if token else {})}


def describe(idp: IdentityProvider) -> dict[str, Any]:
    """Cognito's ``IdentityProviderType``."""
    return {"UserPoolId": idp.pool_id, "ProviderName": idp.name, "ProviderType": idp.type,
            "ProviderDetails": idps.cognito_details(idp), "AttributeMapping": idp.attribute_mapping,
            "IdpIdentifiers": idp.identifiers, "CreationDate": idp.created_at, "LastModifiedDate": idp.updated_at}


def _idp(call: Call, params: dict[str, Any]) -> IdentityProvider:
    pool = call.admin_pool(params["UserPoolId"])
    idp = idps.get_idp(call.session, pool.id, params["ProviderName"])
    if idp is None:
        raise AwsError("ResourceNotFoundException", f"Identity provider {params['ProviderName']} does not exist.")
    return idp


def _no_acr(params: dict[str, Any]) -> None:
    if params.get("AcrMapping"):
        raise AwsError("InvalidParameterException", "AcrMapping is not supported by Cognate.")
