"""User pools over the admin API (CreateUserPool, DescribeUserPool, UpdateUserPool,
DeleteUserPool, ListUserPools), signed with an admin key: thin calls into
:mod:`broker.userpool.pool_settings`, which says what each of Cognito's settings is here
and refuses those Cognate does not have.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPool.html

A key scoped to pools lists only those and cannot create one: a new pool would be outside
its scope from its first moment. Nor can it change a pool's triggers (``LambdaConfig``): a
trigger's target is code the deployment runs, or a URL it calls, from inside.
"""
from __future__ import annotations

from typing import Any

from ..store import repo
from ..store.models import UserPool
from ..triggers import settings as trigger_settings
from ..userpool import admin, audit, pool_settings
from .call import Call
from .listing import paged
from .registry import operation

#: The audit events that change a pool's own settings (its LastModifiedDate).
SETTINGS_EVENTS = ("UpdateUserPool", "SetUserPoolMfaConfig")


@operation("CreateUserPool")
def create_user_pool(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    call.require_every_pool("AccessDeniedException", "creating a user pool")
    pool = pool_settings.create(call.session, pool_settings.from_cognito(params, None))
    return {"UserPool": describe(call, pool)}


@operation("DescribeUserPool")
def describe_user_pool(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"UserPool": describe(call, call.admin_pool(params["UserPoolId"]))}


@operation("UpdateUserPool")
def update_user_pool(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Every setting left out takes its default, as on Cognito (read the pool, change what
    you want, send it all back)."""
    pool = call.admin_pool(params["UserPoolId"])
    settings = pool_settings.from_cognito(params, pool)
    if not trigger_settings.unchanged(pool, *settings.triggers):  # (left out, they are removed)
        call.require_every_pool("AccessDeniedException", "setting triggers")
    pool_settings.update(call.session, pool.id, settings)
    return {}


@operation("DeleteUserPool")
def delete_user_pool(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    admin.delete_pool(call.session, call.admin_pool(params["UserPoolId"]).id)
    return {}


@operation("ListUserPools")
def list_user_pools(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    mine = [p for p in repo.list_pools(call.session) if call.may_act_on(p.id)]
    page, token = paged(mine, params["MaxResults"], params.get("NextToken"), key=lambda p: p.id)
    changed = audit.last_changes(call.session, [p.id for p in page], SETTINGS_EVENTS)
    pools = [{"Id": p.id, "Name": p.name, "LambdaConfig": trigger_settings.describe(p), "Status": "Enabled", "CreationDate": p.created_at,
              "LastModifiedDate": changed.get(p.id, p.created_at)} for p in page]
    return {"UserPools": pools, **({"NextToken": token} if token else {})}


def describe(call: Call, pool: UserPool) -> dict[str, Any]:
    changed = audit.last_changes(call.session, [pool.id], SETTINGS_EVENTS).get(pool.id)
    return pool_settings.describe(pool, repo.count_users(call.session, pool.id), custom_domain(call, pool.id), changed)


def custom_domain(call: Call, pool_id: str) -> str | None:
    """The first custom domain the server's configuration maps to the pool."""
    return next((host for host, target in sorted(call.runtime.settings.domains.items()) if target == pool_id), None)
