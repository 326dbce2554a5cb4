"""ListUsers through boto3 with an admin key over a pool of 250 users (written in one
transaction by the functions the CLI uses, not signed up one by one): pages of at most 60
that together hold every user once, Cognito's filter grammar (``=``, ``^=``, ``status``,
``cognito:user_status``, escaped quotes; a bad filter refused) and ``AttributesToGet``."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from broker.sealing import Sealer
from broker.store.db import Database
from broker.userpool import admin
from broker.userpool.passwords import hash_password
from tests.aws import admin_idp, api_broker, refused

COUNT = 250


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Any]:
    with api_broker(tmp_path_factory.mktemp("api-list-users"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def admin_api(server: Any) -> Any:
    return admin_idp(server.base_url, server.cli_json("admin-key", "create"))


def add_users(server: Any, pool: str) -> dict[str, str]:
    """COUNT users u000..u249 in one transaction (a stored hash, so no password is hashed
    250 times): every tenth disabled, every fourth waiting for a new password, names to
    search by. Returns each user's sub."""
    db = Database(server.env["DATABASE_URL"], Sealer(server.env["BROKER_SECRET_KEY"]))
    stored = hash_password("Corr3ct-Horse!")
    subs = {}
    try:
        with db.session() as session:
            for i in range(COUNT):
                attributes = {"email": f"u{i:03d}@example.com", "given_name": "Alma" if i % 2 else "Bert"}
                if i == 7:
                    attributes["family_name"] = 'O"Brien'
                user, _ = admin.create_user(session, pool, f"u{i:03d}", attributes=attributes,
                                            confirmed=i % 4 != 0, password_hash=stored)
                user.enabled = i % 10 != 0
                subs[user.username] = user.sub
    finally:
        db.dispose()
    return subs


@pytest.fixture(scope="module")
def crowd(server: Any) -> tuple[str, dict[str, str]]:
    pool = server.pool()
    return pool, add_users(server, pool)


def names(page: dict[str, Any]) -> list[str]:
    return [u["Username"] for u in page["Users"]]


def every_page(admin_api: Any, pool: str, **params: Any) -> list[list[str]]:
    pages, token = [], None
    while True:
        page = admin_api.list_users(UserPoolId=pool, **params, **({"PaginationToken": token} if token else {}))
        pages.append(names(page))
        token = page.get("PaginationToken")
        if not token:
            return pages


def test_pages_of_sixty_hold_every_user_once(admin_api: Any, crowd: tuple[str, dict[str, str]]) -> None:
    pool, subs = crowd
    pages = every_page(admin_api, pool, Limit=60)
    assert [len(p) for p in pages] == [60, 60, 60, 60, 10]
    listed = [name for page in pages for name in page]
    assert sorted(listed) == sorted(subs) and len(set(listed)) == COUNT
    assert len(names(admin_api.list_users(UserPoolId=pool))) == 60  # the default page
    assert [len(p) for p in every_page(admin_api, pool, Limit=100 // 2)] == [50] * 5
    assert refused(lambda: admin_api.list_users(UserPoolId=pool, Limit=61))[0] == "InvalidParameterException"
    assert refused(lambda: admin_api.list_users(UserPoolId=pool, PaginationToken="not-a-token"))[0] == \
        "InvalidParameterException"


@pytest.mark.parametrize("search, expected", [
    ('username = "u007"', ["u007"]),
    ('username = "U007"', ["u007"]),  # names are compared as stored: case-folded
    ('username ^= "u01"', [f"u{i:03d}" for i in range(10, 20)]),
    ('email = "u123@example.com"', ["u123"]),
    ('email^="u00"', [f"u{i:03d}" for i in range(10)]),
    ('family_name = "O\\"Brien"', ["u007"]),
    ('given_name ^= "Al"', [f"u{i:03d}" for i in range(1, COUNT, 2)]),
    ('status = "Disabled"', [f"u{i:03d}" for i in range(0, COUNT, 10)]),
    ('status = "Enabled"', [f"u{i:03d}" for i in range(COUNT) if i % 10]),
    ('cognito:user_status = "FORCE_CHANGE_PASSWORD"', [f"u{i:03d}" for i in range(0, COUNT, 4)]),
    ('cognito:user_status = "confirmed"', [f"u{i:03d}" for i in range(COUNT) if i % 4]),
    ('email ^= "u1%"', []),  # a LIKE wildcard is a character like any other
    ('preferred_username = "u001"', []),
    ("", [f"u{i:03d}" for i in range(COUNT)]),
])
def test_filters_find_the_users_they_describe(admin_api: Any, crowd: tuple[str, dict[str, str]], search: str,
                                              expected: list[str]) -> None:
    pool, _subs = crowd
    found = [name for page in every_page(admin_api, pool, Filter=search) for name in page]
    assert found == expected


def test_a_user_is_found_by_sub(admin_api: Any, crowd: tuple[str, dict[str, str]]) -> None:
    pool, subs = crowd
    found = admin_api.list_users(UserPoolId=pool, Filter=f'sub = "{subs["u042"]}"')
    assert names(found) == ["u042"]
    user = found["Users"][0]
    assert user["Enabled"] is True and user["UserStatus"] == "CONFIRMED" and "UserCreateDate" in user


@pytest.mark.parametrize("search", ['email == "x"', 'email = x', 'shoe_size = "9"', 'email = "a" and name = "b"',
                                    'email ^ "u"', 'custom:x = "1"'])
def test_a_bad_filter_is_refused(admin_api: Any, crowd: tuple[str, dict[str, str]], search: str) -> None:
    pool, _subs = crowd
    assert refused(lambda: admin_api.list_users(UserPoolId=pool, Filter=search))[0] == "InvalidParameterException"


def test_attributes_to_get_keeps_only_those(admin_api: Any, crowd: tuple[str, dict[str, str]]) -> None:
    pool, subs = crowd
    page = admin_api.list_users(UserPoolId=pool, Filter='username = "u003"', AttributesToGet=["email"])
    assert page["Users"][0]["Attributes"] == [{"Name": "email", "Value": "u003@example.com"}]
    page = admin_api.list_users(UserPoolId=pool, Filter='username = "u003"', AttributesToGet=["sub", "given_name"])
    assert page["Users"][0]["Attributes"] == [{"Name": "sub", "Value": subs["u003"]},
                                              {"Name": "given_name", "Value": "Alma"}]
    everything = admin_api.list_users(UserPoolId=pool, Filter='username = "u003"')["Users"][0]["Attributes"]
    assert {a["Name"] for a in everything} == {"sub", "email", "email_verified", "given_name"}
    assert refused(lambda: admin_api.list_users(UserPoolId=pool, AttributesToGet=["shoe_size"]))[0] == \
        "InvalidParameterException"
