"""The AWS CLI (``aws cognito-idp ...``, signing with an admin key from the environment)
runs every admin operation on users and groups against a live server: one row per
operation, each in a pool of its own, with the outcome checked through boto3 or the
CLI's own output."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from broker.api import OPERATION_MODULES, load_operations, registry
from tests.aws import admin_idp, api_broker, aws_cli, cognito_idp, refused
from tests.rp import CALLBACK

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "Brand-N3w-Horse!"
CORP = "ProviderName=Corp,ProviderAttributeName=Cognito_Subject,ProviderAttributeValue=s-1"
MODULES = ("broker.api.admin_users", "broker.api.admin_auth", "broker.api.admin_groups",
           "broker.api.admin_list_users", "broker.api.admin_providers")


@dataclass
class Pool:
    """A pool of its own for one row: user ann (confirmed), group staff, IdP Corp, a client."""

    server: Any
    api: Any
    id: str
    client: str
    values: dict[str, str] = field(default_factory=dict)

    def sign_in(self, password: str = PASSWORD) -> dict[str, Any]:
        return self.api.admin_initiate_auth(UserPoolId=self.id, ClientId=self.client,
                                            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": "ann", "PASSWORD": password})

    def user(self, name: str = "ann") -> dict[str, Any]:
        return self.api.admin_get_user(UserPoolId=self.id, Username=name)

    def attributes(self) -> dict[str, str]:
        return {a["Name"]: a["Value"] for a in self.user()["UserAttributes"]}

    def groups_of_ann(self) -> list[str]:
        found = self.api.admin_list_groups_for_user(UserPoolId=self.id, Username="ann")["Groups"]
        return [g["GroupName"] for g in found]


@dataclass(frozen=True)
class Row:
    args: Callable[[Pool], list[str]]
    check: Callable[[Pool, dict[str, Any]], None]
    prepare: Callable[[Pool], None] = lambda pool: None


def _temporary_challenge(pool: Pool) -> None:
    pool.api.admin_set_user_password(UserPoolId=pool.id, Username="ann", Password="Temp-0rary-Pass!", Permanent=False)
    pool.values["session"] = pool.sign_in("Temp-0rary-Pass!")["Session"]


def _signed_in(pool: Pool) -> None:
    pool.values["refresh"] = pool.sign_in()["AuthenticationResult"]["RefreshToken"]


def _refresh_refused(pool: Pool) -> bool:
    return refused(lambda: cognito_idp(pool.server.base_url).initiate_auth(
        ClientId=pool.client, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": pool.values["refresh"]}))[0] == "NotAuthorizedException"


def _in_staff(pool: Pool) -> None:
    pool.api.admin_add_user_to_group(UserPoolId=pool.id, Username="ann", GroupName="staff")


def _linked(pool: Pool) -> None:
    pool.api.admin_link_provider_for_user(
        UserPoolId=pool.id, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "ann"},
        SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject",
                    "ProviderAttributeValue": "s-1"})


def _failed_sign_in(pool: Pool) -> None:
    refused(lambda: pool.sign_in("Wrong-Horse-1!"))


def _signed_up(pool: Pool) -> None:
    cognito_idp(pool.server.base_url).sign_up(ClientId=pool.client, Username="una", Password=PASSWORD,
                                              UserAttributes=[{"Name": "email", "Value": "una@example.com"}])


ANN = ["--username", "ann"]
ROWS: dict[str, Row] = {
    "AdminCreateUser": Row(
        lambda p: ["admin-create-user", "--username", "zed", "--temporary-password", "Temp-0rary-Pass!",
                   "--user-attributes", "Name=email,Value=zed@example.com", "--message-action", "SUPPRESS"],
        lambda p, out: (out["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD" and p.api.admin_initiate_auth(
            UserPoolId=p.id, ClientId=p.client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "zed", "PASSWORD": "Temp-0rary-Pass!"})["ChallengeName"] ==
            "NEW_PASSWORD_REQUIRED") or _fail(out)),
    "AdminGetUser": Row(lambda p: ["admin-get-user", *ANN],
                        lambda p, out: (out["Username"], out["UserStatus"]) == ("ann", "CONFIRMED") or _fail(out)),
    "AdminDeleteUser": Row(lambda p: ["admin-delete-user", *ANN],
                           lambda p, out: refused(p.user)[0] == "UserNotFoundException" or _fail(out)),
    "AdminDisableUser": Row(lambda p: ["admin-disable-user", *ANN],
                            lambda p, out: (p.user()["Enabled"] is False and refused(p.sign_in)[0] ==
                                            "NotAuthorizedException") or _fail(out)),
    "AdminEnableUser": Row(lambda p: ["admin-enable-user", *ANN],
                           lambda p, out: "AuthenticationResult" in p.sign_in() or _fail(out),
                           lambda p: p.api.admin_disable_user(UserPoolId=p.id, Username="ann")),
    "AdminSetUserPassword": Row(lambda p: ["admin-set-user-password", *ANN, "--password", NEW_PASSWORD, "--permanent"],
                                lambda p, out: "AuthenticationResult" in p.sign_in(NEW_PASSWORD) or _fail(out)),
    "AdminResetUserPassword": Row(lambda p: ["admin-reset-user-password", *ANN],
                                  lambda p, out: (p.user()["UserStatus"] == "RESET_REQUIRED" and refused(p.sign_in)[0]
                                                  == "PasswordResetRequiredException") or _fail(out)),
    "AdminUpdateUserAttributes": Row(
        lambda p: ["admin-update-user-attributes", *ANN, "--user-attributes", "Name=given_name,Value=Annie"],
        lambda p, out: p.attributes()["given_name"] == "Annie" or _fail(out)),
    "AdminDeleteUserAttributes": Row(
        lambda p: ["admin-delete-user-attributes", *ANN, "--user-attribute-names", "given_name"],
        lambda p, out: "given_name" not in p.attributes() or _fail(out),
        lambda p: p.api.admin_update_user_attributes(UserPoolId=p.id, Username="ann",
                                                     UserAttributes=[{"Name": "given_name", "Value": "Annie"}])),
    "AdminConfirmSignUp": Row(lambda p: ["admin-confirm-sign-up", "--username", "una"],
                              lambda p, out: p.user("una")["UserStatus"] == "CONFIRMED" or _fail(out), _signed_up),
    "AdminInitiateAuth": Row(
        lambda p: ["admin-initiate-auth", "--client-id", p.client, "--auth-flow", "ADMIN_USER_PASSWORD_AUTH",
                   "--auth-parameters", f"USERNAME=ann,PASSWORD={PASSWORD}"],
        lambda p, out: cognito_idp(p.server.base_url).get_user(
            AccessToken=out["AuthenticationResult"]["AccessToken"])["Username"] == "ann" or _fail(out)),
    "AdminRespondToAuthChallenge": Row(
        lambda p: ["admin-respond-to-auth-challenge", "--client-id", p.client, "--challenge-name",
                   "NEW_PASSWORD_REQUIRED", "--session", p.values["session"], "--challenge-responses",
                   f"USERNAME=ann,NEW_PASSWORD={NEW_PASSWORD}"],
        lambda p, out: ("AccessToken" in out["AuthenticationResult"] and "AuthenticationResult" in
                        p.sign_in(NEW_PASSWORD)) or _fail(out), _temporary_challenge),
    "AdminUserGlobalSignOut": Row(lambda p: ["admin-user-global-sign-out", *ANN],
                                  lambda p, out: _refresh_refused(p) or _fail(out), _signed_in),
    "AdminAddUserToGroup": Row(lambda p: ["admin-add-user-to-group", *ANN, "--group-name", "staff"],
                               lambda p, out: p.groups_of_ann() == ["staff"] or _fail(out)),
    "AdminRemoveUserFromGroup": Row(lambda p: ["admin-remove-user-from-group", *ANN, "--group-name", "staff"],
                                    lambda p, out: p.groups_of_ann() == [] or _fail(out), _in_staff),
    "AdminListGroupsForUser": Row(lambda p: ["admin-list-groups-for-user", *ANN],
                                  lambda p, out: [g["GroupName"] for g in out["Groups"]] == ["staff"] or _fail(out),
                                  _in_staff),
    "AdminSetUserMFAPreference": Row(
        lambda p: ["admin-set-user-mfa-preference", *ANN, "--email-mfa-settings", "Enabled=true,PreferredMfa=true"],
        lambda p, out: p.user().get("PreferredMfaSetting") == "EMAIL_OTP" or _fail(out)),
    "AdminLinkProviderForUser": Row(
        lambda p: ["admin-link-provider-for-user", "--destination-user",
                   "ProviderName=Cognito,ProviderAttributeValue=ann", "--source-user", CORP],
        lambda p, out: json.loads(p.attributes()["identities"])[0]["userId"] == "s-1" or _fail(out)),
    "AdminDisableProviderForUser": Row(lambda p: ["admin-disable-provider-for-user", "--user", CORP],
                                       lambda p, out: "identities" not in p.attributes() or _fail(out), _linked),
    "AdminListUserAuthEvents": Row(
        lambda p: ["admin-list-user-auth-events", *ANN],
        lambda p, out: [(e["EventType"], e["EventResponse"], e["EventRisk"]["RiskDecision"]) for e in
                        out["AuthEvents"]] == [("SignIn", "Fail", "NoRisk")] or _fail(out), _failed_sign_in),
    "ListUsers": Row(lambda p: ["list-users", "--filter", 'username = "ann"', "--attributes-to-get", "email"],
                     lambda p, out: [(u["Username"], u["Attributes"]) for u in out["Users"]] ==
                     [("ann", [{"Name": "email", "Value": "ann@example.com"}])] or _fail(out)),
    "ListUsersInGroup": Row(lambda p: ["list-users-in-group", "--group-name", "staff"],
                            lambda p, out: [u["Username"] for u in out["Users"]] == ["ann"] or _fail(out), _in_staff),
    "CreateGroup": Row(lambda p: ["create-group", "--group-name", "readers", "--precedence", "3"],
                       lambda p, out: (out["Group"]["GroupName"] == "readers" and p.api.get_group(
                           UserPoolId=p.id, GroupName="readers")["Group"]["Precedence"] == 3) or _fail(out)),
    "GetGroup": Row(lambda p: ["get-group", "--group-name", "staff"],
                    lambda p, out: out["Group"] == {"GroupName": "staff", "UserPoolId": p.id} or _fail(out)),
    "UpdateGroup": Row(lambda p: ["update-group", "--group-name", "staff", "--description", "The staff"],
                       lambda p, out: p.api.get_group(UserPoolId=p.id, GroupName="staff")["Group"]["Description"] ==
                       "The staff" or _fail(out)),
    "DeleteGroup": Row(lambda p: ["delete-group", "--group-name", "staff"],
                       lambda p, out: refused(lambda: p.api.get_group(UserPoolId=p.id, GroupName="staff"))[0] ==
                       "ResourceNotFoundException" or _fail(out)),
    "ListGroups": Row(lambda p: ["list-groups"],
                      lambda p, out: [g["GroupName"] for g in out["Groups"]] == ["staff"] or _fail(out)),
}


def _fail(out: dict[str, Any]) -> bool:
    raise AssertionError(f"unexpected outcome; the CLI printed {out!r}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Any]:
    with api_broker(tmp_path_factory.mktemp("api-aws-cli"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def key(server: Any) -> dict[str, str]:
    return server.cli_json("admin-key", "create")


@pytest.fixture
def pool(server: Any, key: dict[str, str]) -> Pool:
    pool_id = server.pool("--mfa", "OPTIONAL")
    server.cli("user", "create", "--pool", pool_id, "--username", "ann", "--password", PASSWORD, "--confirmed",
               "--email", "ann@example.com")
    server.cli("group", "create", "--pool", pool_id, "--name", "staff")
    server.cli("idp", "create", "--pool", pool_id, "--type", "OIDC", "--name", "Corp", "--issuer",
               "https://id.example.com", "--client-id", "app", "--client-secret", "s3cret")
    client = server.cli_json("client", "create", "--pool", pool_id, "--name", "app", "--callback-url", CALLBACK,
                             "--auth-flow", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "--auth-flow",
                             "ALLOW_REFRESH_TOKEN_AUTH")["ClientId"]
    return Pool(server, admin_idp(server.base_url, key), pool_id, client)


def test_the_table_covers_every_admin_operation_on_users_and_groups() -> None:
    load_operations()
    assert set(MODULES) <= set(OPERATION_MODULES)
    found = {name: registry.find(f"AWSCognitoIdentityProviderService.{name}") for name in registry.registered()}
    mine = {name for name, op in found.items() if op is not None and op.handler.__module__ in MODULES}
    assert mine == set(ROWS)


@pytest.mark.parametrize("operation", sorted(ROWS))
def test_the_aws_cli_runs_it(server: Any, key: dict[str, str], pool: Pool, operation: str) -> None:
    row = ROWS[operation]
    row.prepare(pool)
    done = aws_cli(server.base_url, key, *row.args(pool), "--user-pool-id", pool.id)
    assert done.returncode == 0, done.stderr
    row.check(pool, json.loads(done.stdout) if done.stdout.strip() else {})


def test_the_aws_cli_shows_aws_error_types(server: Any, key: dict[str, str], pool: Pool) -> None:
    missing = aws_cli(server.base_url, key, "admin-get-user", "--user-pool-id", pool.id, "--username", "nobody")
    assert missing.returncode != 0 and "(UserNotFoundException)" in missing.stderr
    bad = aws_cli(server.base_url, key, "list-users", "--user-pool-id", pool.id, "--filter", 'email == "x"')
    assert bad.returncode != 0 and "(InvalidParameterException)" in bad.stderr
    other = server.cli_json("admin-key", "create", "--pool", server.pool())
    denied = aws_cli(server.base_url, other, "admin-delete-user", "--user-pool-id", pool.id, "--username", "ann")
    assert denied.returncode != 0 and "(AccessDeniedException)" in denied.stderr
    assert pool.user()["Username"] == "ann"
