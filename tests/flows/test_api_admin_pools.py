"""User pools over the admin API against a real server, with boto3 signing with an admin
key: what CreateUserPool and UpdateUserPool set is what DescribeUserPool and ``broker pool
describe`` show, and what sign-ups and sign-ins then meet (the password policy, self
sign-up, the verification message, MFA); UpdateUserPool resets what it leaves out, as
Cognito's does; settings Cognate does not have are refused by name and nothing is written
(read back from the database); keys scoped to pools create none and list only theirs;
DeleteUserPool takes everything of the pool with it; the MFA configuration and the custom
domain of the server's configuration."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.aws import cognito_idp, refused
from tests.aws_admin import admin, rows, snapshot
from tests.conftest import Broker
from tests.smtp import MailServer, broker_with_mail

PASSWORD = "Corr3ct-Horse-Staple!"
SETTINGS: dict[str, Any] = {
    "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                    "RequireNumbers": True, "RequireSymbols": False, "PasswordHistorySize": 3,
                                    "TemporaryPasswordValidityDays": 3}},
    "MfaConfiguration": "OPTIONAL",
    "AutoVerifiedAttributes": ["email"],
    "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
    "DeviceConfiguration": {"ChallengeRequiredOnNewDevice": False, "DeviceOnlyRememberedOnUserPrompt": False},
    "UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"},
    "VerificationMessageTemplate": {"EmailSubject": "Welcome to the shop",
                                    "EmailMessage": "Your shop code: {####}", "DefaultEmailOption": "CONFIRM_WITH_CODE"},
}
SCHEMA = [{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
          {"Name": "tier", "AttributeDataType": "String", "Required": True, "Mutable": True}]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[Broker, MailServer]]:
    with broker_with_mail(tmp_path_factory.mktemp("admin-pools"), redis_url) as found:
        yield found


@pytest.fixture(scope="module")
def server(site: tuple[Broker, MailServer]) -> Broker:
    return site[0]


@pytest.fixture(scope="module")
def key(server: Broker) -> dict[str, str]:
    return server.cli_json("admin-key", "create", "--description", "pools")


@pytest.fixture(scope="module")
def idp(server: Broker, key: dict[str, str]) -> Any:
    return admin(server, key)


def _app(idp: Any, pool: str) -> str:
    """A public client of ``pool`` taking passwords at the JSON API, made over the API too."""
    return idp.create_user_pool_client(UserPoolId=pool, ClientName="app", ExplicitAuthFlows=[
        "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]


def _sign_up(server: Broker, client: str, username: str, password: str) -> Any:
    return cognito_idp(server.base_url).sign_up(ClientId=client, Username=username, Password=password, UserAttributes=[
        {"Name": "email", "Value": f"{username}@example.com"}, {"Name": "custom:tier", "Value": "gold"}])


def test_a_pool_created_with_cognito_settings_shows_and_applies_them(server, site, idp):
    created = idp.create_user_pool(PoolName="shop", Schema=SCHEMA, **SETTINGS)["UserPool"]
    pool = created["Id"]
    described = idp.describe_user_pool(UserPoolId=pool)["UserPool"]
    for shown in (created, described):
        assert shown["Name"] == "shop" and shown["Arn"].endswith(f":userpool/{pool}")
        assert shown["Policies"]["PasswordPolicy"] == SETTINGS["Policies"]["PasswordPolicy"]
        assert shown["MfaConfiguration"] == "OPTIONAL" and shown["AutoVerifiedAttributes"] == ["email"]
        assert shown["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
        assert shown["DeviceConfiguration"] == SETTINGS["DeviceConfiguration"]
        assert shown["UserPoolAddOns"] == {"AdvancedSecurityMode": "AUDIT"}
        assert shown["VerificationMessageTemplate"]["EmailSubject"] == "Welcome to the shop"
        required = {a["Name"] for a in shown["SchemaAttributes"] if a["Required"]}
        assert required == {"sub", "email", "custom:tier"}
        assert shown["EstimatedNumberOfUsers"] == 0 and shown["CreationDate"] <= shown["LastModifiedDate"]
    cli = server.cli_json("pool", "describe", "--pool", pool)["UserPool"]  # the CLI reads the same settings
    assert cli["SelfSignUp"] is False and cli["RequiredAttributes"] == ["email", "custom:tier"]
    assert cli["PasswordPolicy"]["min_length"] == 12 and cli["Security"]["PasswordHistorySize"] == 3
    assert cli["Security"]["RememberDevicesDays"] == 30 and cli["Security"]["AdaptivePolicy"]["HIGH"] == "ALLOW"
    client = _app(idp, pool)
    assert refused(lambda: _sign_up(server, client, "ann", PASSWORD)) == \
        ("NotAuthorizedException", "SignUp is not permitted for this user pool")

    idp.update_user_pool(UserPoolId=pool, **{**SETTINGS, "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False}})
    code, message = refused(lambda: _sign_up(server, client, "ann", "Sh0rt-Pass"))
    assert code == "InvalidPasswordException" and "12" in message
    _sign_up(server, client, "ann", PASSWORD)
    mail = site[1].wait_for_mail("ann@example.com")
    assert mail.subject == "Welcome to the shop" and mail.text.startswith("Your shop code: ")
    assert idp.describe_user_pool(UserPoolId=pool)["UserPool"]["EstimatedNumberOfUsers"] == 1


def test_update_user_pool_resets_what_it_leaves_out_and_keeps_what_only_cognate_has(server, idp):
    pool = idp.create_user_pool(PoolName="reset", **SETTINGS)["UserPool"]["Id"]
    server.cli("pool", "update", "--pool", pool, "--lockout-threshold", "9", "--adaptive", "MEDIUM=MFA")
    before = idp.describe_user_pool(UserPoolId=pool)["UserPool"]["LastModifiedDate"]
    idp.update_user_pool(UserPoolId=pool, MfaConfiguration="OFF", PoolName="renamed")
    shown = idp.describe_user_pool(UserPoolId=pool)["UserPool"]
    assert shown["Name"] == "renamed" and shown["MfaConfiguration"] == "OFF"
    assert shown["Policies"]["PasswordPolicy"] == {"MinimumLength": 8, "RequireUppercase": True,
                                                   "RequireLowercase": True, "RequireNumbers": True,
                                                   "RequireSymbols": True, "PasswordHistorySize": 0,
                                                   "TemporaryPasswordValidityDays": 7}
    assert "DeviceConfiguration" not in shown and shown["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert shown["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert "EmailSubject" not in shown["VerificationMessageTemplate"]
    assert shown["LastModifiedDate"] >= before
    kept = server.cli_json("pool", "describe", "--pool", pool)["UserPool"]["Security"]
    assert kept["LockoutThreshold"] == 9
    assert kept["AdaptivePolicy"]["MEDIUM"] == "MFA"  # UserPoolAddOns left out: the pool's own levels stay


@pytest.mark.parametrize("change, named", [
    ({"LambdaConfig": {"PreSignUp": "arn:aws:lambda:us-east-1:123456789012:function:f"}}, "LambdaConfig"),
    ({"SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms"}}, "SmsConfiguration"),
    ({"AutoVerifiedAttributes": ["phone_number"]}, "AutoVerifiedAttributes"),
    ({"DeviceConfiguration": {"DeviceOnlyRememberedOnUserPrompt": True}}, "DeviceOnlyRememberedOnUserPrompt"),
    ({"UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED", "AdvancedSecurityAdditionalFlows": {
        "CustomAuthMode": "ENFORCED"}}}, "AdvancedSecurityAdditionalFlows"),
    ({"VerificationMessageTemplate": {"EmailSubject": "Hi", "EmailMessage": "no code"}}, "emailMessage"),
    ({"AdminCreateUserConfig": {"InviteMessageTemplate": {"EmailSubject": "Hi", "EmailMessage": "Password {####}"}}},
     "{username}"),
    ({"VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_LINK"}}, "CONFIRM_WITH_CODE"),
    ({"EmailConfiguration": {"EmailSendingAccount": "DEVELOPER",
                             "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com"}},
     "EmailConfiguration"),
    ({"Policies": {"PasswordPolicy": {"TemporaryPasswordValidityDays": 0}}}, "TemporaryPasswordValidityDays"),
    ({"Policies": {"SignInPolicy": {"AllowedFirstAuthFactors": ["EMAIL_OTP"]}}}, "AllowedFirstAuthFactors"),
    ({"DeletionProtection": "ACTIVE"}, "DeletionProtection"),
    ({"MfaConfiguration": "SOMETIMES"}, "enum value set"),
])
def test_what_cognate_does_not_have_is_refused_by_name_and_nothing_is_written(server, idp, change, named):
    pool = idp.create_user_pool(PoolName="strict", **SETTINGS)["UserPool"]["Id"]
    before, pools = snapshot(server, pool), rows(server, "SELECT count(*) FROM user_pools")
    code, message = refused(lambda: idp.update_user_pool(UserPoolId=pool, **{**SETTINGS, **change}))
    assert code == "InvalidParameterException" and named in message, message
    code, message = refused(lambda: idp.create_user_pool(PoolName="never", **{**SETTINGS, **change}))
    assert code == "InvalidParameterException" and named in message, message
    assert snapshot(server, pool) == before and rows(server, "SELECT count(*) FROM user_pools") == pools


@pytest.mark.parametrize("attribute, named", [
    ({"Name": "tier", "AttributeDataType": "Number"}, "custom:tier"),
    ({"Name": "email", "AttributeDataType": "String", "Mutable": False}, "immutable"),
    ({"Name": "email", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "64"}},
     "constraints"),
    ({"Name": "email_verified", "AttributeDataType": "String"}, "Boolean"),
    ({"Name": "bad name!", "AttributeDataType": "String"}, "bad name!"),
])
def test_a_schema_cognate_cannot_keep_creates_no_pool(server, idp, attribute, named):
    count = rows(server, "SELECT count(*) FROM user_pools")
    code, message = refused(lambda: idp.create_user_pool(PoolName="schema", Schema=[attribute]))
    assert code == "InvalidParameterException" and named in message, message
    assert rows(server, "SELECT count(*) FROM user_pools") == count


def test_keys_scoped_to_pools_create_none_and_list_only_theirs(server, idp):
    mine = [idp.create_user_pool(PoolName=f"p{i}")["UserPool"]["Id"] for i in range(3)]
    other = idp.create_user_pool(PoolName="other")["UserPool"]["Id"]
    scoped = admin(server, server.cli_json("admin-key", "create", "--pool", mine[0], "--pool", mine[1]))
    count = rows(server, "SELECT count(*) FROM user_pools")
    assert refused(lambda: scoped.create_user_pool(PoolName="sneaky"))[0] == "AccessDeniedException"
    assert rows(server, "SELECT count(*) FROM user_pools") == count
    listed = scoped.list_user_pools(MaxResults=60)["UserPools"]
    assert sorted(p["Id"] for p in listed) == sorted(mine[:2]) and listed[0]["Status"] == "Enabled"
    assert refused(lambda: scoped.describe_user_pool(UserPoolId=other))[0] == "AccessDeniedException"
    assert refused(lambda: scoped.delete_user_pool(UserPoolId=other))[0] == "AccessDeniedException"
    seen, token = [], None  # an unscoped key pages through every pool, each once
    while True:
        page = idp.list_user_pools(MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [p["Id"] for p in page["UserPools"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == count[0][0] and set(mine) | {other} <= set(seen)
    paginated = [p["Id"] for page in idp.get_paginator("list_user_pools").paginate(MaxResults=1) for p in page["UserPools"]]
    assert paginated == seen
    assert refused(lambda: idp.list_user_pools(MaxResults=2, NextToken="not base64!"))[0] == \
        "InvalidParameterException"


def test_delete_user_pool_takes_everything_of_the_pool(server, idp):
    pool = idp.create_user_pool(PoolName="doomed")["UserPool"]["Id"]
    client = _app(idp, pool)
    server.cli("user", "create", "--pool", pool, "--username", "zed", "--password", PASSWORD, "--confirmed")
    cognito_idp(server.base_url).initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                               AuthParameters={"USERNAME": "zed", "PASSWORD": PASSWORD})
    jwks = server.url(pool, "/.well-known/jwks.json")
    assert requests.get(jwks, timeout=10).status_code == 200
    idp.delete_user_pool(UserPoolId=pool)
    assert refused(lambda: idp.describe_user_pool(UserPoolId=pool))[0] == "ResourceNotFoundException"
    for table in ("users", "app_clients", "signing_keys", "refresh_tokens", "audit_events"):
        assert rows(server, f"SELECT count(*) FROM {table} WHERE pool_id = :p", p=pool) == [(0,)], table
    assert requests.get(jwks, timeout=10).status_code == 404
    code, _ = refused(lambda: cognito_idp(server.base_url).initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "zed", "PASSWORD": PASSWORD}))
    assert code == "ResourceNotFoundException"
    assert refused(lambda: idp.delete_user_pool(UserPoolId=pool))[0] == "ResourceNotFoundException"


def test_mfa_required_by_the_pool_config_asks_a_sign_in_to_set_up_mfa(server, idp):
    pool = idp.create_user_pool(PoolName="mfa")["UserPool"]["Id"]
    client = _app(idp, pool)
    server.cli("user", "create", "--pool", pool, "--username", "mo", "--password", PASSWORD, "--confirmed")
    user_api = cognito_idp(server.base_url)

    def sign_in() -> dict[str, Any]:
        return user_api.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "mo", "PASSWORD": PASSWORD})

    assert "AuthenticationResult" in sign_in()
    config = idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON",
                                          SoftwareTokenMfaConfiguration={"Enabled": True})
    got = idp.get_user_pool_mfa_config(UserPoolId=pool)
    for shown in (config, got):
        assert shown["MfaConfiguration"] == "ON" and shown["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
        assert "EmailMfaConfiguration" not in shown and "SmsMfaConfiguration" not in shown
    assert sign_in()["ChallengeName"] == "MFA_SETUP"
    assert rows(server, "SELECT mfa, mfa_methods FROM user_pools WHERE id = :p", p=pool)[0][0] == "ON"

    before = snapshot(server, pool)
    code, message = refused(lambda: idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON"))
    assert code == "InvalidParameterException" and "without any MFA type" in message
    code, message = refused(lambda: idp.set_user_pool_mfa_config(
        UserPoolId=pool, MfaConfiguration="OPTIONAL", EmailMfaConfiguration={"Message": "Code {####}"}))
    assert code == "InvalidParameterException" and "EmailMfaConfiguration.Message" in message
    assert snapshot(server, pool) == before
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL", EmailMfaConfiguration={},
                                 SoftwareTokenMfaConfiguration={"Enabled": False})
    got = idp.get_user_pool_mfa_config(UserPoolId=pool)
    got.pop("ResponseMetadata")
    assert got == {"MfaConfiguration": "OPTIONAL", "SoftwareTokenMfaConfiguration": {"Enabled": False},
                   "EmailMfaConfiguration": {}}
    assert "AuthenticationResult" in sign_in()  # OPTIONAL: a user without a factor signs in with the password
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OFF")  # no factor offered any more
    code, message = refused(lambda: idp.update_user_pool(UserPoolId=pool, MfaConfiguration="ON"))
    assert code == "InvalidParameterException" and "no second factor" in message
    assert idp.get_user_pool_mfa_config(UserPoolId=pool)["MfaConfiguration"] == "OFF"


def test_the_custom_domain_of_the_configuration_is_described_and_not_changed_by_the_api(make_broker, tmp_path):
    database = f"sqlite:///{tmp_path}/domains.db"
    first = make_broker(database_url=database)
    pool = first.pool()
    key = first.cli_json("admin-key", "create")
    first.stop()
    domain = f"auth-{secrets.token_hex(3)}.example.test"
    server = make_broker(database_url=database, BROKER_DOMAINS=f"{domain}={pool}",
                         BROKER_SECRET_KEY=first.env["BROKER_SECRET_KEY"])  # the key's secret is sealed under it
    idp = admin(server, key)
    assert idp.describe_user_pool(UserPoolId=pool)["UserPool"]["CustomDomain"] == domain
    description = idp.describe_user_pool_domain(Domain=domain)["DomainDescription"]
    assert description["UserPoolId"] == pool and description["Status"] == "ACTIVE"
    assert idp.create_user_pool_domain(Domain=domain, UserPoolId=pool)["CloudFrontDomain"] == "127.0.0.1"
    code, message = refused(lambda: idp.create_user_pool_domain(Domain="login.example.test", UserPoolId=pool))
    assert code == "InvalidParameterException" and f"login.example.test={pool}" in message and "BROKER_DOMAINS" in message
    code, message = refused(lambda: idp.delete_user_pool_domain(Domain=domain, UserPoolId=pool))
    assert code == "InvalidParameterException" and "BROKER_DOMAINS" in message
    assert idp.describe_user_pool_domain(Domain="login.example.test")["DomainDescription"] == {}
    # what the description says is what the server does: the pool's endpoints at "/" of the domain
    r = requests.get(server.base_url + "/.well-known/openid-configuration", headers={"Host": domain}, timeout=10)
    assert r.status_code == 200 and r.json()["issuer"].endswith(f"/{pool}")


def test_update_user_pool_ignores_a_schema_as_aws_does(server, idp, key):
    from tests.flows.test_api_admin_keys import signed  # boto3 would not send a member the model lacks

    pool = idp.create_user_pool(PoolName="schema", **SETTINGS)["UserPool"]["Id"]
    for schema in ("x", 5, {}, [{"Name": "email", "Required": True}]):
        r = signed(server, key, "UpdateUserPool", {"UserPoolId": pool, "MfaConfiguration": "OFF", "Schema": schema})
        assert r.status_code == 200, r.text
