"""Lists about a pool's users over the admin API: ListUsers, with Cognito's ``Filter``
grammar (:mod:`broker.userpool.user_search`, which ``broker user list --filter`` uses too),
``AttributesToGet`` and pages of ``Limit`` (at most 60) with a ``PaginationToken``; and
AdminListUserAuthEvents, a user's sign-ins and account events with their risk, from the
audit log (:mod:`broker.userpool.auth_events`).
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ListUsers.html
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminListUserAuthEvents.html
"""
from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..userpool import auth_events, user_search
from ..userpool.attributes import check_name
from . import pages
from .admin_users import pool_user, user_type
from .call import Call
from .errors import AwsError
from .registry import operation


@operation("ListUsers")
def list_users(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    names = _attributes_to_get(params.get("AttributesToGet"))
    found = params.get("Filter")
    user_search.condition(found)  # a bad filter is refused before the token is read
    rows, token = pages.fetch(lambda after, n: user_search.search(call.session, pool.id, found, after, n),
                              params.get("PaginationToken"), params.get("Limit"))
    out: dict[str, Any] = {"Users": [user_type(u, names) for u in rows]}
    return {**out, "PaginationToken": token} if token else out


def _attributes_to_get(given: list[str] | None) -> frozenset[str] | None:
    """The attribute names asked for; None (all) when none are."""
    if not given:
        return None
    for name in given:
        if name != "sub":
            try:
                check_name(name)
            except InvalidInput:
                raise AwsError("InvalidParameterException", f"One or more requested attributes do not exist: {name}") \
                    from None
    return frozenset(given)


@operation("AdminListUserAuthEvents")
def admin_list_user_auth_events(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool, user = pool_user(call, params)
    rows, token = pages.fetch(lambda after, n: auth_events.list_events(call.session, pool.id, user, after, n),
                              params.get("NextToken"), params.get("MaxResults"))
    out: dict[str, Any] = {"AuthEvents": [auth_events.describe(e) for e in rows]}
    return {**out, "NextToken": token} if token else out
