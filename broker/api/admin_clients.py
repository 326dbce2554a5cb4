"""App clients over the admin API (CreateUserPoolClient, DescribeUserPoolClient,
UpdateUserPoolClient, DeleteUserPoolClient, ListUserPoolClients), signed with an admin key:
thin calls into :mod:`broker.userpool.app_clients`, the functions ``broker client`` uses,
with Cognito's settings read by :mod:`broker.userpool.client_settings`.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html

As on Cognito, CreateUserPoolClient and DescribeUserPoolClient show the client's secret,
and UpdateUserPoolClient sets every setting it leaves out to its default.
"""
from __future__ import annotations

from typing import Any

from ..store import repo
from ..store.models import AppClient
from ..userpool import app_clients, client_settings
from .call import Call
from .errors import AwsError
from .listing import paged
from .registry import operation


@operation("CreateUserPoolClient")
def create_user_pool_client(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    settings = client_settings.from_cognito(params, creating=True)
    client, _clear = app_clients.create_client(call.session, pool.id, params["ClientName"], **settings)
    return {"UserPoolClient": client_settings.describe(call.session, client)}


@operation("DescribeUserPoolClient")
def describe_user_pool_client(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client = _client(call, params)
    return {"UserPoolClient": client_settings.describe(call.session, client)}


@operation("UpdateUserPoolClient")
def update_user_pool_client(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client = _client(call, params)
    settings = client_settings.from_cognito(params, creating=False)
    updated = app_clients.update_client(call.session, client.pool_id, client.id, replace=True, **settings)
    return {"UserPoolClient": client_settings.describe(call.session, updated)}


@operation("DeleteUserPoolClient")
def delete_user_pool_client(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client = _client(call, params)
    app_clients.delete_client(call.session, client.pool_id, client.id)
    return {}


@operation("ListUserPoolClients")
def list_user_pool_clients(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    clients = repo.list_clients(call.session, pool.id) if params.get("ClientType", "REGULAR") == "REGULAR" else []
    page, token = paged(clients, params.get("MaxResults"), params.get("NextToken"), key=lambda c: c.id)
    listed = [{"ClientId": c.id, "UserPoolId": c.pool_id, "ClientName": c.name} for c in page]
    return {"UserPoolClients": listed, **({"NextToken": token} if token else {})}


def _client(call: Call, params: dict[str, Any]) -> AppClient:
    """The pool's client, from this session (the cached rows are read-only)."""
    pool = call.admin_pool(params["UserPoolId"])
    client = repo.get_client(call.session, pool.id, params["ClientId"])
    if client is None:
        raise AwsError("ResourceNotFoundException", f"User pool client {params['ClientId']} does not exist.")
    return client
