"""The ID token's ``cognito:preferred_role`` (broker/oauth/issue.py), which an identity pool's
Token mapping reads: the role of the group with the best precedence, unset when roles tie
(https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from broker.oauth.issue import preferred_role

ADMINS = "arn:aws:iam::123456789012:role/Admins"
EDITORS = "arn:aws:iam::123456789012:role/Editors"


def group(name: str, role: str | None, precedence: int | None) -> Any:
    return SimpleNamespace(name=name, role_arn=role, precedence=precedence)


def test_the_id_tokens_preferred_role_is_the_best_groups_role_unless_roles_tie() -> None:
    assert preferred_role([]) is None
    assert preferred_role([group("a", ADMINS, None), group("b", None, 0)]) == ADMINS
    assert preferred_role([group("a", ADMINS, 1), group("b", ADMINS, 1)]) == ADMINS
    assert preferred_role([group("a", ADMINS, 1), group("e", EDITORS, 5)]) == ADMINS
    assert preferred_role([group("a", ADMINS, 3), group("e", EDITORS, 3)]) is None
    assert preferred_role([group("a", ADMINS, None), group("e", EDITORS, None)]) is None
    assert preferred_role([group("a", ADMINS, None), group("e", EDITORS, 9)]) == EDITORS
