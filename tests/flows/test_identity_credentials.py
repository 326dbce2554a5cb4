"""Credentials for identities (GetCredentialsForIdentity, Cognito's enhanced flow) with boto3's
cognito-identity client against a real server whose STS is moto's server on loopback:
guests read a bucket and cannot write to it (moto's IAM enforcement on around the S3
calls), user-pool users (InitiateAuth and the hosted UI's code flow) get the authenticated
role, a group's role comes through a Token mapping, a claim picks its role through a Rules
mapping, ambiguity is resolved or denied as configured, the answered identity is the one
the login belongs to, and an STS that fails is Cognito's error, never a crash. The basic
flow's token (GetOpenIdToken) is taken by moto's STS directly."""
from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.aws import api_broker, refused
from tests.aws_identity import (CONFIGURATION, PASSWORD, admin, claims_of, identity, identity_pool,  # noqa: F401
                                public, server, user_pool_site, verified)
from tests.conftest import free_port
from tests.rp import RelyingParty, pkce
from tests.sts_peer import ACCOUNT, CONTENT, OBJECT, StsPeer, assumed_role, sts_peer  # noqa: F401 - the fixture
ROLES = {"guest": "reader", "auth": "writer", "admins": "reader", "auditors": "reader", "editors": "reader",
         "sales": "reader"}


def assumed(name: str) -> str:
    return assumed_role(f"cognate-{name}")


@pytest.fixture(scope="module")
def arns(sts_peer: StsPeer) -> dict[str, str]:
    """The roles at moto: guests and groups read the bucket, signed-in users also write."""
    return {name: sts_peer.reader(f"cognate-{name}") if kind == "reader" else
            sts_peer.role(f"cognate-{name}", ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:ListObjectsV2"])
            for name, kind in ROLES.items()}


@pytest.fixture(scope="module")
def server_env(sts_peer):
    return {"BROKER_STS_ENDPOINT": sts_peer.url}


@pytest.fixture(scope="module")
def site(server, arns):
    found = user_pool_site(server)
    for group, precedence in (("admins", "1"), ("editors", "5"), ("auditors", "5")):
        server.cli("group", "create", "--pool", found.pool_id, "--name", group, "--precedence", precedence,
                   "--role-arn", arns[group])
    for name, groups in (("alice", ()), ("bob", ()), ("carol", ()), ("dana", ("admins", "editors")),
                         ("erin", ("editors", "auditors")), ("sales-frank", ()), ("gina", ())):
        found.user(name, *[arg for g in groups for arg in ("--group", g)])
    return found


@pytest.fixture(scope="module")
def pool(admin, site, arns):
    return new_pool(admin, site, arns)


def new_pool(admin: Any, site: Any, arns: dict[str, str], roles: dict[str, str] | None = None,
             mapping: dict[str, Any] | None = None, classic: bool = False) -> str:
    pool_id = identity_pool(admin, site, name="credentials", guests=True, AllowClassicFlow=classic)
    set_roles(admin, site, pool_id, {"authenticated": arns["auth"], "unauthenticated": arns["guest"]}
              if roles is None else roles, mapping)
    return pool_id


def set_roles(admin: Any, site: Any, pool_id: str, roles: dict[str, str], mapping: dict[str, Any] | None) -> None:
    mappings = {f"{site.provider}:{site.client_id}": mapping} if mapping else {}
    admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=roles, RoleMappings=mappings)


def credentials(public: Any, pool_id: str, token: str | None = None, site: Any = None, **extra: str) -> dict:
    """GetId, then GetCredentialsForIdentity, with the login when given (as Amplify calls them)."""
    logins = {"Logins": {site.provider: token}} if token else {}
    identity_id = public.get_id(IdentityPoolId=pool_id, **logins)["IdentityId"]
    answer = public.get_credentials_for_identity(IdentityId=identity_id, **logins, **extra)
    assert answer["IdentityId"] == identity_id
    return answer["Credentials"]


def test_a_guest_reads_the_bucket_and_cannot_write_to_it(public, pool, sts_peer):
    found = credentials(public, pool)
    assert set(found) == {"AccessKeyId", "SecretKey", "SessionToken", "Expiration"}
    left = found["Expiration"] - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(minutes=55) < left <= dt.timedelta(hours=1, minutes=1)
    assert sts_peer.caller(found) == assumed("guest")
    s3 = sts_peer.client("s3", found)
    with sts_peer.enforcing():
        assert s3.get_object(Bucket=sts_peer.bucket, Key=OBJECT)["Body"].read() == CONTENT
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=sts_peer.bucket)["Contents"]] == [OBJECT]
        assert refused(lambda: s3.put_object(Bucket=sts_peer.bucket, Key="guest.txt", Body=b"x"))[0] == "AccessDenied"
        assert refused(lambda: sts_peer.client("s3").get_object(Bucket=sts_peer.bucket, Key=OBJECT))[0] \
            in ("InvalidAccessKeyId", "AccessDenied")  # enforcement is on: other keys get nothing


def test_a_user_signed_in_with_initiate_auth_gets_the_authenticated_role(public, pool, site, sts_peer):
    found = credentials(public, pool, site.id_token("alice"), site)
    assert sts_peer.caller(found) == assumed("auth")
    with sts_peer.enforcing():
        sts_peer.client("s3", found).put_object(Bucket=sts_peer.bucket, Key="private/alice.txt", Body=b"mine")


def test_the_hosted_uis_id_token_is_a_login_for_the_same_identity(server, public, pool, site, sts_peer):
    rp = RelyingParty(server.base_url, site.pool_id, site.client_id)
    verifier, challenge = pkce()
    _, code = rp.sign_in("carol", PASSWORD, code_challenge=challenge, code_challenge_method="S256")
    tokens = rp.exchange(code, verifier).json()
    hosted = public.get_id(IdentityPoolId=pool, Logins={site.provider: tokens["id_token"]})["IdentityId"]
    found = credentials(public, pool, tokens["id_token"], site)
    assert sts_peer.caller(found) == assumed("auth")
    assert public.get_id(IdentityPoolId=pool, Logins={site.provider: site.id_token("carol")})["IdentityId"] == hosted


def test_a_token_mapping_gives_the_groups_role_and_resolves_ties_as_configured(admin, public, site, arns, sts_peer):
    pool_id = new_pool(admin, site, arns, mapping={"Type": "Token", "AmbiguousRoleResolution": "Deny"})
    assert sts_peer.caller(credentials(public, pool_id, site.id_token("dana"), site)) == assumed("admins")
    erin = site.id_token("erin")  # editors and auditors tie: the token has no preferred role
    assert refused(lambda: credentials(public, pool_id, erin, site)) == (
        "NotAuthorizedException", f"The ambiguous role mapping rules for: {site.provider}:{site.client_id} "
        "denied this request.")
    chosen = credentials(public, pool_id, erin, site, CustomRoleArn=arns["auditors"])
    assert sts_peer.caller(chosen) == assumed("auditors")
    assert refused(lambda: credentials(public, pool_id, erin, site, CustomRoleArn=arns["admins"]))[0] == \
        "NotAuthorizedException"
    set_roles(admin, site, pool_id, {"authenticated": arns["auth"]},
              {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"})
    assert sts_peer.caller(credentials(public, pool_id, erin, site)) == assumed("auth")


def test_a_rules_mapping_picks_the_first_matching_claim_and_denies_or_falls_back(admin, public, site, arns, sts_peer):
    rules = [{"Claim": "email", "MatchType": "StartsWith", "Value": "sales-", "RoleARN": arns["sales"]},
             {"Claim": "cognito:groups", "MatchType": "Contains", "Value": "admins", "RoleARN": arns["admins"]}]
    mapping = {"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {"Rules": rules}}
    pool_id = new_pool(admin, site, arns, mapping=mapping)
    assert sts_peer.caller(credentials(public, pool_id, site.id_token("sales-frank"), site)) == assumed("sales")
    assert sts_peer.caller(credentials(public, pool_id, site.id_token("dana"), site)) == assumed("admins")
    bob = site.id_token("bob")
    assert refused(lambda: credentials(public, pool_id, bob, site))[1] == \
        f"The ambiguous role mapping rules for: {site.provider}:{site.client_id} denied this request."
    set_roles(admin, site, pool_id, {"authenticated": arns["auth"]}, {**mapping, "AmbiguousRoleResolution": "AuthenticatedRole"})
    assert sts_peer.caller(credentials(public, pool_id, bob, site)) == assumed("auth")


def test_the_answered_identity_is_the_one_the_login_belongs_to(public, pool, site, sts_peer):
    token = site.id_token("bob")
    owner = public.get_id(IdentityPoolId=pool, Logins={site.provider: token})["IdentityId"]
    guest = public.get_id(IdentityPoolId=pool)["IdentityId"]  # as Amplify keeps a guest's id, then signs in
    answer = public.get_credentials_for_identity(IdentityId=guest, Logins={site.provider: token})
    assert answer["IdentityId"] == owner != guest
    assert sts_peer.caller(answer["Credentials"]) == assumed("auth")
    newcomer = public.get_id(IdentityPoolId=pool)["IdentityId"]
    linked = public.get_credentials_for_identity(IdentityId=newcomer, Logins={site.provider: site.id_token("gina")})
    assert linked["IdentityId"] == newcomer  # gina had no identity: her login is linked to the guest's
    assert refused(lambda: public.get_credentials_for_identity(IdentityId=owner))[0] == "NotAuthorizedException"
    assert refused(lambda: public.get_credentials_for_identity(IdentityId="local:00000000-0000-0000-0000-000000000000")) \
        == ("ResourceNotFoundException", "Identity 'local:00000000-0000-0000-0000-000000000000' not found.")


def test_a_pool_without_the_needed_role_is_cognitos_configuration_error(admin, public, site, arns):
    pool_id = new_pool(admin, site, arns, roles={"authenticated": arns["auth"]})
    guest = public.get_id(IdentityPoolId=pool_id)["IdentityId"]
    assert refused(lambda: public.get_credentials_for_identity(IdentityId=guest)) == CONFIGURATION


def test_an_sts_that_fails_is_an_internal_error_and_no_crash(public, pool, site, sts_peer):
    token = site.id_token("alice")
    with sts_peer.enforcing():  # moto answers the unsigned AssumeRoleWithWebIdentity with a 500
        code, message = refused(lambda: credentials(public, pool, token, site))
    assert (code, message) == ("InternalErrorException", "Credentials could not be obtained from STS. Try again.")


def test_an_unreachable_sts_is_an_internal_error(tmp_path, redis_url):
    with api_broker(tmp_path, redis_url, BROKER_STS_ENDPOINT=f"http://127.0.0.1:{free_port()}") as server:
        admin = identity(server.base_url, server.cli_json("admin-key", "create", "--description", "sts"))
        pool_id = admin.create_identity_pool(IdentityPoolName="nowhere", AllowUnauthenticatedIdentities=True)[
            "IdentityPoolId"]
        admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={
            "unauthenticated": f"arn:aws:iam::{ACCOUNT}:role/cognate-guest"})
        public = identity(server.base_url)
        guest = public.get_id(IdentityPoolId=pool_id)["IdentityId"]
        assert refused(lambda: public.get_credentials_for_identity(IdentityId=guest))[0] == "InternalErrorException"
        assert "STS" in server.log.read_text()  # the operator is told which STS and why


def test_the_basic_flows_token_is_taken_by_the_sts_directly(server, admin, public, site, arns, sts_peer):
    pool_id = new_pool(admin, site, arns, classic=True)
    guest = public.get_id(IdentityPoolId=pool_id)["IdentityId"]
    token = public.get_open_id_token(IdentityId=guest)["Token"]
    assert verified(server.base_url, token, pool_id)["sub"] == guest
    sts = boto3.client("sts", endpoint_url=sts_peer.url, region_name="us-east-1",
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1, "mode": "standard"}))
    answer = sts.assume_role_with_web_identity(RoleArn=arns["guest"], RoleSessionName="app-session",
                                               WebIdentityToken=token, DurationSeconds=900)
    found = {"AccessKeyId": answer["Credentials"]["AccessKeyId"], "SessionToken": answer["Credentials"]["SessionToken"],
             "SecretKey": answer["Credentials"]["SecretAccessKey"]}
    assert sts_peer.caller(found) == f"arn:aws:sts::{ACCOUNT}:assumed-role/cognate-guest/app-session"
    with sts_peer.enforcing():
        assert sts_peer.client("s3", found).get_object(Bucket=sts_peer.bucket, Key=OBJECT)["Body"].read() == CONTENT


def test_a_developers_token_is_a_login_for_credentials_and_keeps_its_tags(admin, public, arns, sts_peer):
    """The developer's enhanced flow: its backend gets a token (signed call), the app trades
    it for credentials under the login ``cognito-identity.amazonaws.com``."""
    pool_id = admin.create_identity_pool(IdentityPoolName="developer", AllowUnauthenticatedIdentities=False,
                                         AllowClassicFlow=True, DeveloperProviderName="login.example.com")[
        "IdentityPoolId"]
    admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": arns["auth"]})
    given = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={"login.example.com": "user-42"}, PrincipalTags={"team": "blue"})
    login = {"cognito-identity.amazonaws.com": given["Token"]}
    answer = public.get_credentials_for_identity(IdentityId=given["IdentityId"], Logins=login)
    assert answer["IdentityId"] == given["IdentityId"]
    assert sts_peer.caller(answer["Credentials"]) == assumed("auth")
    again = public.get_open_id_token(IdentityId=given["IdentityId"], Logins=login)["Token"]
    assert claims_of(again)["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}
    assert refused(lambda: public.get_credentials_for_identity(IdentityId=given["IdentityId"]))[0] == \
        "NotAuthorizedException"
