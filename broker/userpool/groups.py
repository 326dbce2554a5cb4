"""A pool's groups and their members (Cognito's CreateGroup, GetGroup, UpdateGroup,
DeleteGroup, ListGroups, AdminAddUserToGroup, AdminRemoveUserFromGroup,
AdminListGroupsForUser, ListUsersInGroup), for the CLI and the admin API alike. Tokens
carry a user's groups (``cognito:groups``) as they are when the tokens are issued.
https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-user-groups.html

Lists are pages in a stable order (by row id): ``after`` is the id of the last row of the
previous page, so a page never repeats or skips a row when rows are added meanwhile.

    group = create_group(session, pool_id, "admins", precedence=1)
    add_member(session, pool_id, user, "admins")
    page = list_groups(session, pool_id, after=None, limit=60)
"""
from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import GroupExists, InvalidInput, ResourceMissing
from ..store import repo
from ..store.models import Group, User, UserGroup
from . import audit
from .admin import require_pool

NAME = re.compile(r"[\w\s+=,.@-]{1,128}")
ROLE_ARN = re.compile(r"arn:[\w-]+:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
MAX_DESCRIPTION = 2048


def create_group(session: Session, pool_id: str, name: str, precedence: int | None = None,
                 role_arn: str | None = None, description: str | None = None) -> Group:
    """A new group; :class:`GroupExists` when the pool has one of that name."""
    pool = require_pool(session, pool_id)
    if not NAME.fullmatch(name):
        raise InvalidInput(f"invalid group name {name!r}")
    if repo.get_group(session, pool.id, name):
        raise GroupExists(f"group {name!r} already exists")
    _check(precedence, role_arn, description)
    group = Group(pool_id=pool.id, name=name, precedence=precedence, role_arn=role_arn, description=description)
    session.add(group)
    session.flush()
    audit.record(session, pool.id, "CreateGroup", audit.PASS, group=name, precedence=precedence, role_arn=role_arn)
    return group


def _check(precedence: int | None, role_arn: str | None, description: str | None) -> None:
    if precedence is not None and precedence < 0:
        raise InvalidInput("--precedence must be zero or more")
    if role_arn is not None and not ROLE_ARN.fullmatch(role_arn):
        raise InvalidInput(f"--role-arn must be an IAM role ARN, got {role_arn!r}")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"the description must have at most {MAX_DESCRIPTION} characters")


def require_group(session: Session, pool_id: str, name: str) -> Group:
    """The pool's group ``name``; :class:`ResourceMissing` when there is none."""
    require_pool(session, pool_id)
    group = repo.get_group(session, pool_id, name)
    if group is None:
        raise ResourceMissing("Group not found.")
    return group


def update_group(session: Session, pool_id: str, name: str, precedence: int | None = None,
                 role_arn: str | None = None, description: str | None = None) -> Group:
    """Change the settings given (None: unchanged); everything is checked first."""
    group = require_group(session, pool_id, name)
    _check(precedence, role_arn, description)
    changed = {k: v for k, v in {"precedence": precedence, "role_arn": role_arn, "description": description}.items()
               if v is not None and getattr(group, k) != v}
    for key, value in changed.items():
        setattr(group, key, value)
    session.flush()
    audit.record(session, pool_id, "UpdateGroup", audit.PASS, group=name, changed=sorted(changed))
    return group


def delete_group(session: Session, pool_id: str, name: str) -> None:
    """The group goes, and with it every membership; the users stay. Tokens issued before
    keep naming it until they expire, as on Cognito."""
    group = require_group(session, pool_id, name)
    session.execute(delete(UserGroup).where(UserGroup.group_id == group.id))
    session.delete(group)
    session.flush()
    audit.record(session, pool_id, "DeleteGroup", audit.PASS, group=name)


def list_groups(session: Session, pool_id: str, after: int | None = None, limit: int | None = None) -> list[Group]:
    require_pool(session, pool_id)
    return repo.page(session, select(Group).where(Group.pool_id == pool_id), Group.id, after, limit)


def add_member(session: Session, pool_id: str, user: User, name: str) -> Group:
    """Put ``user`` in group ``name`` (already in it: nothing changes)."""
    group = require_group(session, pool_id, name)
    repo.add_user_to_group(session, user, group)
    audit.record(session, pool_id, "AdminAddUserToGroup", audit.PASS, user=user, group=group.name)
    return group


def remove_member(session: Session, pool_id: str, user: User, name: str) -> Group:
    """Take ``user`` out of group ``name`` (not in it: nothing changes)."""
    group = require_group(session, pool_id, name)
    session.execute(delete(UserGroup).where(UserGroup.user_id == user.id, UserGroup.group_id == group.id))
    session.flush()
    session.expire(user, ["groups"])
    audit.record(session, pool_id, "AdminRemoveUserFromGroup", audit.PASS, user=user, group=group.name)
    return group


def groups_of(session: Session, user: User, after: int | None = None, limit: int | None = None) -> list[Group]:
    stmt = select(Group).join(UserGroup, UserGroup.group_id == Group.id).where(UserGroup.user_id == user.id)
    return repo.page(session, stmt, Group.id, after, limit)


def members(session: Session, group: Group, after: int | None = None, limit: int | None = None) -> list[User]:
    stmt = select(User).join(UserGroup, UserGroup.user_id == User.id).where(UserGroup.group_id == group.id)
    return repo.page(session, stmt, User.id, after, limit)

