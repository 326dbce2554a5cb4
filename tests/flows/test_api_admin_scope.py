"""A key scoped to one pool acting on another: every write operation is refused with
``AccessDeniedException`` and nothing changes, as read from the database itself (users,
groups, memberships, links, token families and the audit log of the pool), while the same
call signed by a key of that pool goes through."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.aws import admin_idp, api_broker, refused
from tests.rp import CALLBACK

PASSWORD = "Corr3ct-Horse!"
TABLES = {
    "users": "SELECT username, status, enabled, attributes, password_hash FROM users WHERE pool_id = :pool",
    "groups": "SELECT name, description, precedence FROM groups WHERE pool_id = :pool",
    "members": "SELECT g.name, u.username FROM user_groups ug JOIN groups g ON g.id = ug.group_id "
               "JOIN users u ON u.id = ug.user_id WHERE g.pool_id = :pool",
    "links": "SELECT provider_name, subject FROM user_identities WHERE pool_id = :pool",
    "revoked": "SELECT COUNT(*) FROM refresh_tokens WHERE pool_id = :pool AND revoked_at IS NOT NULL",
    "audit": "SELECT COUNT(*) FROM audit_events WHERE pool_id = :pool",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Any]:
    with api_broker(tmp_path_factory.mktemp("api-scope"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def target(server: Any) -> str:
    """A pool with a user (signed in once, so it has a token family), a group and an IdP."""
    pool = server.pool()
    server.cli("user", "create", "--pool", pool, "--username", "ann", "--password", PASSWORD, "--confirmed",
               "--email", "ann@example.com")
    server.cli("group", "create", "--pool", pool, "--name", "staff")
    server.cli("idp", "create", "--pool", pool, "--type", "OIDC", "--name", "Corp", "--issuer",
               "https://id.example.com", "--client-id", "app", "--client-secret", "s3cret")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             "--auth-flow", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "--auth-flow",
                             "ALLOW_REFRESH_TOKEN_AUTH")["ClientId"]
    own = admin_idp(server.base_url, server.cli_json("admin-key", "create", "--pool", pool))
    own.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD})
    return pool


def snapshot(server: Any, pool: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(server.env["DATABASE_URL"])
    try:
        with engine.connect() as db:
            return {name: sorted(tuple(row) for row in db.execute(sa.text(sql), {"pool": pool}))
                    for name, sql in TABLES.items()}
    finally:
        engine.dispose()


ANN = {"Username": "ann"}
WRITES: dict[str, Callable[[Any, str], Any]] = {
    "AdminCreateUser": lambda api, pool: api.admin_create_user(UserPoolId=pool, Username="eve"),
    "AdminDeleteUser": lambda api, pool: api.admin_delete_user(UserPoolId=pool, **ANN),
    "AdminDisableUser": lambda api, pool: api.admin_disable_user(UserPoolId=pool, **ANN),
    "AdminSetUserPassword": lambda api, pool: api.admin_set_user_password(UserPoolId=pool, Password="Ev1l-Password!",
                                                                          Permanent=True, **ANN),
    "AdminResetUserPassword": lambda api, pool: api.admin_reset_user_password(UserPoolId=pool, **ANN),
    "AdminUpdateUserAttributes": lambda api, pool: api.admin_update_user_attributes(
        UserPoolId=pool, UserAttributes=[{"Name": "email", "Value": "eve@example.com"},
                                         {"Name": "email_verified", "Value": "true"}], **ANN),
    "AdminDeleteUserAttributes": lambda api, pool: api.admin_delete_user_attributes(
        UserPoolId=pool, UserAttributeNames=["email"], **ANN),
    "AdminUserGlobalSignOut": lambda api, pool: api.admin_user_global_sign_out(UserPoolId=pool, **ANN),
    "AdminAddUserToGroup": lambda api, pool: api.admin_add_user_to_group(UserPoolId=pool, GroupName="staff", **ANN),
    "CreateGroup": lambda api, pool: api.create_group(UserPoolId=pool, GroupName="evil"),
    "DeleteGroup": lambda api, pool: api.delete_group(UserPoolId=pool, GroupName="staff"),
    "AdminLinkProviderForUser": lambda api, pool: api.admin_link_provider_for_user(
        UserPoolId=pool, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "ann"},
        SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject",
                    "ProviderAttributeValue": "evil"}),
}


@pytest.mark.parametrize("operation", sorted(WRITES))
def test_a_key_of_another_pool_changes_nothing(server: Any, target: str, operation: str) -> None:
    elsewhere = admin_idp(server.base_url, server.cli_json("admin-key", "create", "--pool", server.pool()))
    before = snapshot(server, target)
    code, message = refused(lambda: WRITES[operation](elsewhere, target))
    assert code == "AccessDeniedException" and target in message
    assert snapshot(server, target) == before


def test_the_same_write_signed_by_the_pools_own_key_changes_it(server: Any, target: str) -> None:
    own = admin_idp(server.base_url, server.cli_json("admin-key", "create", "--pool", target))
    before = snapshot(server, target)
    WRITES["CreateGroup"](own, target)
    after = snapshot(server, target)
    assert ("evil", None, None) in after["groups"] and after["audit"][0][0] == before["audit"][0][0] + 1
    own.delete_group(UserPoolId=target, GroupName="evil")
