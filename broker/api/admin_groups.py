"""A pool's groups over the admin API: CreateGroup, GetGroup, UpdateGroup, DeleteGroup,
ListGroups, AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser and
ListUsersInGroup, thin over :mod:`broker.userpool.groups` (``broker group ...`` calls the
same functions). Lists come in pages of ``Limit`` (at most 60) with a ``NextToken``.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateGroup.html
and siblings.
"""
from __future__ import annotations

from typing import Any

from ..store.models import Group
from ..userpool import groups
from . import pages
from .admin_users import pool_user, user_type
from .call import Call
from .registry import operation


@operation("CreateGroup")
def create_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    group = groups.create_group(call.session, pool.id, params["GroupName"], params.get("Precedence"),
                                params.get("RoleArn"), params.get("Description"))
    return {"Group": group_type(group)}


@operation("GetGroup")
def get_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    return {"Group": group_type(groups.require_group(call.session, pool.id, params["GroupName"]))}


@operation("UpdateGroup")
def update_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The members given change; those left out keep their value."""
    pool = call.admin_pool(params["UserPoolId"])
    group = groups.update_group(call.session, pool.id, params["GroupName"], params.get("Precedence"),
                                params.get("RoleArn"), params.get("Description"))
    return {"Group": group_type(group)}


@operation("DeleteGroup")
def delete_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    groups.delete_group(call.session, pool.id, params["GroupName"])
    return {}


@operation("ListGroups")
def list_groups(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    rows, token = pages.fetch(lambda after, n: groups.list_groups(call.session, pool.id, after, n),
                              params.get("NextToken"), params.get("Limit"))
    return _with_token({"Groups": [group_type(g) for g in rows]}, token)


@operation("AdminAddUserToGroup")
def admin_add_user_to_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool, user = pool_user(call, params)
    groups.add_member(call.session, pool.id, user, params["GroupName"])
    return {}


@operation("AdminRemoveUserFromGroup")
def admin_remove_user_from_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool, user = pool_user(call, params)
    groups.remove_member(call.session, pool.id, user, params["GroupName"])
    return {}


@operation("AdminListGroupsForUser")
def admin_list_groups_for_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _pool, user = pool_user(call, params)
    rows, token = pages.fetch(lambda after, n: groups.groups_of(call.session, user, after, n),
                              params.get("NextToken"), params.get("Limit"))
    return _with_token({"Groups": [group_type(g) for g in rows]}, token)


@operation("ListUsersInGroup")
def list_users_in_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    group = groups.require_group(call.session, pool.id, params["GroupName"])
    rows, token = pages.fetch(lambda after, n: groups.members(call.session, group, after, n),
                              params.get("NextToken"), params.get("Limit"))
    return _with_token({"Users": [user_type(u) for u in rows]}, token)


def group_type(group: Group) -> dict[str, Any]:
    """Cognito's ``GroupType`` (members without a value left out)."""
    out = {"GroupName": group.name, "UserPoolId": group.pool_id, "Description": group.description,
           "RoleArn": group.role_arn, "Precedence": group.precedence}
    return {k: v for k, v in out.items() if v is not None}


def _with_token(out: dict[str, Any], token: str | None) -> dict[str, Any]:
    return {**out, "NextToken": token} if token else out
