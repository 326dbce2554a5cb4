"""Admin keys and AWS Signature Version 4 against a real server: boto3 signs with a key from
``broker admin-key create``; unsigned, wrongly signed, stale, wrong-service, tampered and
out-of-scope calls are refused with AWS's error types and change nothing; the secret is
not in the database in the clear."""
from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
import requests
import sqlalchemy as sa
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.aws import api_broker, refused
from tests.rp import CALLBACK

TARGET = "AWSCognitoIdentityProviderService."


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with api_broker(tmp_path_factory.mktemp("adminkeys"), redis_url) as broker:
        yield broker


def admin(server, key: dict, region: str = "eu-west-3"):
    return boto3.client("cognito-idp", endpoint_url=server.base_url, region_name=region,
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def signed(server, key: dict, operation: str, body: dict, service: str = "cognito-idp",
           when: dt.datetime | None = None, sent_body: dict | None = None,
           sent_operation: str | None = None) -> requests.Response:
    """A call signed by botocore's own signer at ``when``, its body replaced by ``sent_body``
    after signing (a tampered replay); with ``sent_operation``, the signature leaves out
    ``X-Amz-Target``, which then names another operation."""
    data = json.dumps(body).encode()
    request = AWSRequest(method="POST", url=server.base_url + "/", data=data, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + operation})
    signer = SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), service, "us-east-1")
    stamp = (when or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = stamp
    request.context["timestamp"] = stamp
    if sent_operation:
        del request.headers["X-Amz-Target"]
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    signer._inject_signature_to_request(request, signature)
    sent = json.dumps(sent_body).encode() if sent_body is not None else data
    headers = dict(request.headers.items())
    if sent_operation:
        headers["X-Amz-Target"] = TARGET + sent_operation
    return requests.post(server.base_url + "/", data=sent, headers=headers, timeout=10)


@pytest.fixture
def site(server):
    pool = server.pool()
    server.cli("user", "create", "--pool", pool, "--username", "ada", "--password", "Corr3ct-Horse!",
               "--email", "ada@example.com", "--confirmed")
    return pool


def test_boto3_signs_with_an_admin_key_from_any_region(server, site):
    key = server.cli_json("admin-key", "create", "--description", "backend")
    user = admin(server, key).admin_get_user(UserPoolId=site, Username="ada")
    assert user["Username"] == "ada" and user["UserStatus"] == "CONFIRMED" and user["Enabled"] is True
    assert {"Name": "email", "Value": "ada@example.com"} in user["UserAttributes"]
    listed = server.cli_json("admin-key", "list")["AdminKeys"]
    mine = [k for k in listed if k["AccessKeyId"] == key["AccessKeyId"]]
    assert mine[0]["Description"] == "backend" and mine[0]["LastUsedDate"] is not None
    assert all("SecretAccessKey" not in k for k in listed)


def test_the_secret_is_sealed_in_the_database(server):
    key = server.cli_json("admin-key", "create")
    engine = sa.create_engine(server.env["DATABASE_URL"])
    with engine.connect() as db:
        stored = db.execute(sa.text("SELECT secret_sealed FROM admin_keys WHERE id = :id"),
                            {"id": key["AccessKeyId"]}).scalar_one()
    engine.dispose()
    assert key["SecretAccessKey"] not in stored and stored.startswith("v1.")


@pytest.mark.parametrize("tamper", ["unsigned", "wrong secret", "unknown key", "wrong service", "stale", "future",
                                    "tampered body", "unsigned target"])
def test_bad_signatures_are_refused_and_change_nothing(server, site, tamper):
    key = server.cli_json("admin-key", "create")
    body = {"UserPoolId": site, "Username": "ada"}
    target = {"X-Amz-Target": TARGET + "AdminDeleteUser", "Content-Type": "application/x-amz-json-1.1"}
    now = dt.datetime.now(dt.timezone.utc)
    if tamper == "unsigned":
        r = requests.post(server.base_url + "/", data=json.dumps(body), headers=target, timeout=10)
    elif tamper == "wrong secret":
        r = signed(server, {**key, "SecretAccessKey": key["SecretAccessKey"][::-1]}, "AdminDeleteUser", body)
    elif tamper == "unknown key":
        r = signed(server, {**key, "AccessKeyId": "CGNTAAAAAAAAAAAAAAAA"}, "AdminDeleteUser", body)
    elif tamper == "wrong service":
        r = signed(server, key, "AdminDeleteUser", body, service="s3")
    elif tamper in ("stale", "future"):
        r = signed(server, key, "AdminDeleteUser", body, when=now + dt.timedelta(minutes=-6 if tamper == "stale" else 6))
    elif tamper == "unsigned target":  # a captured AdminGetUser resent as AdminDeleteUser
        r = signed(server, key, "AdminGetUser", body, sent_operation="AdminDeleteUser")
    else:
        r = signed(server, key, "AdminGetUser", {"UserPoolId": site, "Username": "nobody"},
                   sent_body=body)  # a harmless call, its body swapped
    expected = {"unsigned": "MissingAuthenticationTokenException",
                "unknown key": "UnrecognizedClientException"}.get(tamper, "InvalidSignatureException")
    assert r.status_code in (400, 403) and r.json()["__type"] == expected, r.text
    engine = sa.create_engine(server.env["DATABASE_URL"])
    with engine.connect() as db:  # the user the refused calls named is still there
        left = db.execute(sa.text("SELECT count(*) FROM users WHERE pool_id = :p AND username = 'ada'"),
                          {"p": site}).scalar_one()
    engine.dispose()
    assert left == 1
    assert signed(server, key, "AdminGetUser", body).json()["Username"] == "ada"  # a good signature still works


def test_a_key_scoped_to_a_pool_acts_on_it_only(server, site):
    other = server.pool()
    key = server.cli_json("admin-key", "create", "--pool", site)
    client = admin(server, key)
    assert client.admin_get_user(UserPoolId=site, Username="ada")["Username"] == "ada"
    assert refused(lambda: client.admin_get_user(UserPoolId=other, Username="ada"))[0] == "AccessDeniedException"
    assert refused(lambda: client.admin_get_user(UserPoolId="local_NoSuchPool", Username="ada"))[0] == \
        "AccessDeniedException"  # a scoped key learns nothing of other pools


def test_a_deleted_key_signs_nothing(server, site):
    key = server.cli_json("admin-key", "create")
    server.cli("admin-key", "delete", "--key", key["AccessKeyId"])
    code, _message = refused(lambda: admin(server, key).admin_get_user(UserPoolId=site, Username="ada"))
    assert code == "UnrecognizedClientException"


def test_user_operations_need_no_signature_and_admin_ones_refuse_a_user_token(server, site):
    client = server.cli_json("client", "create", "--pool", site, "--name", "app", "--callback-url", CALLBACK,
                             "--auth-flow", "ALLOW_USER_PASSWORD_AUTH")
    r = requests.post(server.base_url + "/", timeout=10, data=json.dumps(
        {"ClientId": client["ClientId"], "AuthFlow": "USER_PASSWORD_AUTH",
         "AuthParameters": {"USERNAME": "ada", "PASSWORD": "Corr3ct-Horse!"}}),
        headers={"X-Amz-Target": TARGET + "InitiateAuth", "Content-Type": "application/x-amz-json-1.1"})
    access = r.json()["AuthenticationResult"]["AccessToken"]
    r = requests.post(server.base_url + "/", data=json.dumps({"UserPoolId": site, "Username": "ada"}), timeout=10,
                      headers={"X-Amz-Target": TARGET + "AdminGetUser", "Content-Type": "application/x-amz-json-1.1",
                               "Authorization": f"Bearer {access}"})
    assert r.json()["__type"] == "InvalidSignatureException"


def test_nul_characters_are_refused_before_postgresql_sees_them(make_broker, postgres_url):
    server = make_broker(database_url=postgres_url)
    pool = server.pool()
    key = server.cli_json("admin-key", "create")
    client = admin(server, key)
    for call in (lambda: client.list_users(UserPoolId=pool, Filter='email ^= "a\x00b"'),
                 lambda: client.create_group(UserPoolId=pool, GroupName="g", Description="a\x00b"),
                 lambda: client.admin_disable_provider_for_user(UserPoolId=pool, User={
                     "ProviderName": "Google", "ProviderAttributeName": "Cognito_Subject",
                     "ProviderAttributeValue": "a\x00b"})):
        assert refused(call)[0] == "InvalidParameterException"
    assert client.list_groups(UserPoolId=pool)["Groups"] == []
