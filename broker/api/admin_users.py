"""The admin operations on one user, signed with an admin key (AWS Signature Version 4,
:mod:`.sigv4`): thin calls into :mod:`broker.userpool`, as the CLI makes them.
Unlike the user-facing operations, these tell whether a user exists
(``UserNotFoundException``), as Cognito's admin API does.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminGetUser.html
"""
from __future__ import annotations

from typing import Any

from ..store import repo
from ..store.models import User, UserPool, canonical_username
from ..userpool import attribute_changes
from ..userpool.attributes import attribute_types
from .account_mfa import mfa_fields
from .call import Call
from .errors import AwsError
from .registry import operation


@operation("AdminGetUser")
def admin_get_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    user = find_user(call, pool, params["Username"])
    return {"Username": user.username, "UserAttributes": attribute_types(user.sub, attribute_changes.current(user)),
            "UserCreateDate": user.created_at, "UserLastModifiedDate": user.updated_at, "Enabled": user.enabled,
            "UserStatus": user.status, **mfa_fields(call.session, pool, user)}


def find_user(call: Call, pool: UserPool, username: str) -> User:
    """The pool's user ``username`` (or ``sub``, which Cognito accepts in its place)."""
    user = repo.get_user(call.session, pool.id, canonical_username(username))
    if user is None:
        user = call.session.query(User).filter(User.pool_id == pool.id, User.sub == username).first()
    if user is None:
        raise AwsError("UserNotFoundException", "User does not exist.")
    return user
