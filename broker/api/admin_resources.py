"""A pool's resource servers (CreateResourceServer, DescribeResourceServer,
UpdateResourceServer, DeleteResourceServer, ListResourceServers) and its hosted-UI branding
(SetUICustomization, GetUICustomization) over the admin API, signed with an admin key: thin
calls into :mod:`broker.userpool.resource_servers` and :mod:`broker.branding`, whose CSS
and logo rules apply as they do to ``broker ui set``.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_SetUICustomization.html
"""
from __future__ import annotations

import base64
from typing import Any

from .. import branding
from ..oauth.issue import issuer
from ..store import repo
from ..store.models import UiCustomization
from ..userpool import resource_servers
from .call import Call
from .errors import AwsError
from .listing import paged
from .registry import operation


@operation("CreateResourceServer")
def create_resource_server(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    server = resource_servers.create_resource_server(call.session, pool.id, params["Identifier"], params["Name"],
                                                     _scopes(params))
    return {"ResourceServer": resource_servers.describe(server)}


@operation("DescribeResourceServer")
def describe_resource_server(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"ResourceServer": resource_servers.describe(_server(call, params))}


@operation("UpdateResourceServer")
def update_resource_server(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    server = _server(call, params)
    updated = resource_servers.update_resource_server(call.session, server.pool_id, server.identifier,
                                                      params["Name"], _scopes(params))
    return {"ResourceServer": resource_servers.describe(updated)}


@operation("DeleteResourceServer")
def delete_resource_server(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    server = _server(call, params)
    resource_servers.delete_resource_server(call.session, server.pool_id, server.identifier)
    return {}


@operation("ListResourceServers")
def list_resource_servers(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    page, token = paged(resource_servers.listed(call.session, pool.id), params.get("MaxResults"),
                        params.get("NextToken"), key=lambda s: s.identifier, default=50)
    return {"ResourceServers": [resource_servers.describe(s) for s in page], **({"NextToken": token} if token else {})}


@operation("SetUICustomization")
def set_ui_customization(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The CSS and the image given replace the ones set, those left out are removed; with
    neither the pool (``ALL``) or the client has the default look again."""
    pool = call.admin_pool(params["UserPoolId"])
    target = _target(call, pool.id, params.get("ClientId"))
    image = base64.b64decode(params["ImageFile"]) if params.get("ImageFile") else None
    row = branding.put(call.session, pool.id, target, params.get("CSS"), image)
    return {"UICustomization": _described(call, pool.id, target, row)}


@operation("GetUICustomization")
def get_ui_customization(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """A client without branding of its own shows the pool's (``ALL``), which its pages use."""
    pool = call.admin_pool(params["UserPoolId"])
    target = _target(call, pool.id, params.get("ClientId"))
    row = branding.resolve(call.session, pool.id, None if target == branding.ALL else target)
    return {"UICustomization": _described(call, pool.id, target, row)}


def _described(call: Call, pool_id: str, target: str, row: UiCustomization | None) -> dict[str, Any]:
    """Cognito's ``UICustomizationType``: the logo as the URL the hosted pages load it from."""
    out: dict[str, Any] = {"UserPoolId": pool_id, "ClientId": row.client_id if row else target}
    if row is None:
        return out
    if row.css:
        out.update(CSS=row.css, CSSVersion=branding.version(row.css))
    if row.logo:
        base = issuer(call.runtime.settings.base_url, pool_id)
        out["ImageUrl"] = f"{base}/ui/{row.client_id}/logo?v={branding.version(row.logo)}"
    out.update(CreationDate=row.updated_at, LastModifiedDate=row.updated_at)
    return out


def _target(call: Call, pool_id: str, client_id: str | None) -> str:
    if client_id and client_id != branding.ALL and repo.get_client(call.session, pool_id, client_id) is None:
        raise AwsError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
    return client_id or branding.ALL


def _server(call: Call, params: dict[str, Any]) -> Any:
    pool = call.admin_pool(params["UserPoolId"])
    server = resource_servers.find(call.session, pool.id, params["Identifier"])
    if server is None:
        raise AwsError("ResourceNotFoundException", f"Resource server {params['Identifier']} does not exist.")
    return server


def _scopes(params: dict[str, Any]) -> list[str]:
    return [scope["ScopeName"] for scope in params.get("Scopes") or []]
