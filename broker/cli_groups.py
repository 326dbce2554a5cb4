"""``broker group``: a pool's groups and their members (Cognito's CreateGroup, GetGroup,
UpdateGroup, DeleteGroup, ListGroups, AdminAddUserToGroup, AdminRemoveUserFromGroup,
ListUsersInGroup), over the functions of :mod:`broker.userpool.groups` the admin API calls
too. Registered on :mod:`broker.cli`'s groups when it is imported; same rules (``--json``;
bad input: one line, exit 2, nothing written).
"""
from __future__ import annotations

from typing import Any

import click

from .cli import _emit, _store, group, json_option
from .store.models import Group
from .userpool import admin, groups


def describe_group(row: Group) -> dict[str, Any]:
    return {"GroupName": row.name, "UserPoolId": row.pool_id, "Description": row.description,
            "Precedence": row.precedence, "RoleArn": row.role_arn}


def _settings(command: Any) -> Any:
    for option in reversed([click.option("--precedence", type=int), click.option("--role-arn"),
                            click.option("--description")]):
        command = option(command)
    return command


@group.command("create")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True)
@_settings
@json_option
def group_create(pool_id: str, name: str, precedence: int | None, role_arn: str | None, description: str | None,
                 as_json: bool) -> None:
    with _store() as (_s, session):
        out = describe_group(groups.create_group(session, pool_id, name, precedence, role_arn, description))
    _emit(out, as_json)


@group.command("update")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True)
@_settings
@json_option
def group_update(pool_id: str, name: str, precedence: int | None, role_arn: str | None, description: str | None,
                 as_json: bool) -> None:
    """Change the settings given; the others stay as they are."""
    with _store() as (_s, session):
        out = describe_group(groups.update_group(session, pool_id, name, precedence, role_arn, description))
    _emit(out, as_json)


@group.command("delete")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True)
def group_delete(pool_id: str, name: str) -> None:
    """Delete the group; its members stay in the pool."""
    with _store() as (_s, session):
        groups.delete_group(session, pool_id, name)


@group.command("list")
@click.option("--pool", "pool_id", required=True)
@json_option
def group_list(pool_id: str, as_json: bool) -> None:
    with _store() as (_s, session):
        out = {"Groups": [describe_group(g) for g in groups.list_groups(session, pool_id)]}
    _emit(out, as_json)


@group.command("add-user")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True, help="The group.")
@click.option("--username", required=True)
def group_add_user(pool_id: str, name: str, username: str) -> None:
    with _store() as (_s, session):
        groups.add_member(session, pool_id, admin.require_user(session, pool_id, username), name)


@group.command("remove-user")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True, help="The group.")
@click.option("--username", required=True)
def group_remove_user(pool_id: str, name: str, username: str) -> None:
    with _store() as (_s, session):
        groups.remove_member(session, pool_id, admin.require_user(session, pool_id, username), name)


@group.command("list-users")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True, help="The group.")
@json_option
def group_list_users(pool_id: str, name: str, as_json: bool) -> None:
    with _store() as (_s, session):
        found = groups.members(session, groups.require_group(session, pool_id, name))
        out = {"Users": [admin.describe_user(u) for u in found]}
    _emit(out, as_json)
