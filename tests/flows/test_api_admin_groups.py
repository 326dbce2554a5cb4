"""Groups through boto3 with an admin key against a live server: created, read, changed,
listed in pages and deleted; users added and removed, which the next tokens'
``cognito:groups`` show; AWS's error types for names that exist or do not."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.aws import admin_idp, api_broker, refused
from tests.rp import CALLBACK

PASSWORD = "Corr3ct-Horse!"
ROLE = "arn:aws:iam::123456789012:role/readers"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Any]:
    with api_broker(tmp_path_factory.mktemp("api-groups"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def api(server: Any) -> Any:
    return admin_idp(server.base_url, server.cli_json("admin-key", "create"))


@pytest.fixture
def pool(server: Any) -> str:
    pool = server.pool()
    for name in ("ann", "bob", "cy"):
        server.cli("user", "create", "--pool", pool, "--username", name, "--password", PASSWORD, "--confirmed")
    return pool


def groups_in_token(server: Any, api: Any, pool: str, username: str) -> list[str]:
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             "--auth-flow", "ALLOW_ADMIN_USER_PASSWORD_AUTH")["ClientId"]
    result = api.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
    payload = result["AuthenticationResult"]["AccessToken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims.get("cognito:groups", [])


def test_a_group_is_created_read_changed_and_deleted(api: Any, pool: str) -> None:
    created = api.create_group(UserPoolId=pool, GroupName="readers", Description="Read only", Precedence=5,
                               RoleArn=ROLE)["Group"]
    assert created == {"GroupName": "readers", "UserPoolId": pool, "Description": "Read only", "Precedence": 5,
                       "RoleArn": ROLE}
    assert refused(lambda: api.create_group(UserPoolId=pool, GroupName="readers"))[0] == "GroupExistsException"
    updated = api.update_group(UserPoolId=pool, GroupName="readers", Precedence=1)["Group"]
    assert (updated["Precedence"], updated["Description"]) == (1, "Read only")  # what is left out stays
    assert api.get_group(UserPoolId=pool, GroupName="readers")["Group"]["Precedence"] == 1
    api.delete_group(UserPoolId=pool, GroupName="readers")
    for call in (lambda: api.get_group(UserPoolId=pool, GroupName="readers"),
                 lambda: api.update_group(UserPoolId=pool, GroupName="readers", Precedence=2),
                 lambda: api.delete_group(UserPoolId=pool, GroupName="readers")):
        assert refused(call)[0] == "ResourceNotFoundException"
    assert refused(lambda: api.create_group(UserPoolId=pool, GroupName="bad", RoleArn="arn:aws:sns:us-east-1:123456789012:topic"))[0] \
        == "InvalidParameterException"


def test_groups_are_listed_in_pages(api: Any, pool: str) -> None:
    for i in range(5):
        api.create_group(UserPoolId=pool, GroupName=f"g{i}")
    first = api.list_groups(UserPoolId=pool, Limit=2)
    second = api.list_groups(UserPoolId=pool, Limit=2, NextToken=first["NextToken"])
    third = api.list_groups(UserPoolId=pool, Limit=2, NextToken=second["NextToken"])
    listed = [g["GroupName"] for page in (first, second, third) for g in page["Groups"]]
    assert listed == [f"g{i}" for i in range(5)] and "NextToken" not in third
    assert [g["GroupName"] for g in api.list_groups(UserPoolId=pool)["Groups"]] == listed


def test_members_are_added_listed_removed_and_carried_in_tokens(server: Any, api: Any, pool: str) -> None:
    api.create_group(UserPoolId=pool, GroupName="admins")
    api.create_group(UserPoolId=pool, GroupName="staff")
    for name in ("ann", "bob"):
        api.admin_add_user_to_group(UserPoolId=pool, Username=name, GroupName="staff")
    api.admin_add_user_to_group(UserPoolId=pool, Username="ann", GroupName="admins")
    api.admin_add_user_to_group(UserPoolId=pool, Username="ann", GroupName="admins")  # already in: no change
    mine = api.admin_list_groups_for_user(UserPoolId=pool, Username="ann")["Groups"]
    assert sorted(g["GroupName"] for g in mine) == ["admins", "staff"]
    first = api.list_users_in_group(UserPoolId=pool, GroupName="staff", Limit=1)
    rest = api.list_users_in_group(UserPoolId=pool, GroupName="staff", NextToken=first["NextToken"])
    assert [u["Username"] for u in first["Users"] + rest["Users"]] == ["ann", "bob"]
    assert sorted(groups_in_token(server, api, pool, "ann")) == ["admins", "staff"]
    api.admin_remove_user_from_group(UserPoolId=pool, Username="ann", GroupName="admins")
    assert groups_in_token(server, api, pool, "ann") == ["staff"]
    api.delete_group(UserPoolId=pool, GroupName="staff")
    assert api.admin_list_groups_for_user(UserPoolId=pool, Username="ann")["Groups"] == []
    assert api.admin_get_user(UserPoolId=pool, Username="bob")["Enabled"] is True  # members stay


def test_unknown_users_and_groups_are_aws_errors(api: Any, pool: str) -> None:
    api.create_group(UserPoolId=pool, GroupName="staff")
    cases = [
        (lambda: api.admin_add_user_to_group(UserPoolId=pool, Username="nobody", GroupName="staff"),
         "UserNotFoundException"),
        (lambda: api.admin_add_user_to_group(UserPoolId=pool, Username="ann", GroupName="nothing"),
         "ResourceNotFoundException"),
        (lambda: api.admin_remove_user_from_group(UserPoolId=pool, Username="ann", GroupName="nothing"),
         "ResourceNotFoundException"),
        (lambda: api.admin_list_groups_for_user(UserPoolId=pool, Username="nobody"), "UserNotFoundException"),
        (lambda: api.list_users_in_group(UserPoolId=pool, GroupName="nothing"), "ResourceNotFoundException"),
        (lambda: api.list_groups(UserPoolId=pool, NextToken="Zm9v"), "InvalidParameterException"),
    ]
    for call, expected in cases:
        assert refused(call)[0] == expected
