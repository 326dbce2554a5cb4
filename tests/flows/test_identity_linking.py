"""Identities linked and merged as Cognito links them, over boto3's cognito-identity
client against a real server: a guest signing in keeps its identity, a login already
owned elsewhere merges the identities (the survivor's id answered, the other disabled), a
second user of one provider is a ResourceConflictException, an identity with logins is
not reached without one ("Logins don't match"), developer users are linked, looked up,
merged and unlinked by the signed developer backend, the admin shapes of DescribeIdentity,
ListIdentities and DeleteIdentities, the rotation of the OpenID tokens' keys, and bad
input answered with AWS errors (the server logs no traceback)."""
from __future__ import annotations

import jwt
import pytest
import requests

from tests.aws import raw, refused
from tests.aws_identity import (DONT_MATCH, admin, claims_of, identity, identity_pool, public,  # noqa: F401
                                server, server_env, user_pool_site, verified)

DEV = "login.example.com"


@pytest.fixture(scope="module")
def site(server):
    found = user_pool_site(server)
    for name in ("alice", "bob", "carol", "dave"):
        found.user(name)
    return found


@pytest.fixture(scope="module")
def pool(admin, site):
    return identity_pool(admin, site, name="linking", guests=True, AllowClassicFlow=True, DeveloperProviderName=DEV)


def _login(site, name: str) -> dict[str, str]:
    return {site.provider: site.id_token(name)}


def _dev_token(admin, pool: str, user: str, identity_id: str | None = None, **extra) -> dict:
    given = {"IdentityId": identity_id} if identity_id else {}
    return admin.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: user}, **given, **extra)


def test_a_guest_who_signs_in_keeps_its_identity(public, admin, site, pool):
    guest = public.get_id(IdentityPoolId=pool)["IdentityId"]
    answer = public.get_open_id_token(IdentityId=guest, Logins=_login(site, "alice"))
    assert answer["IdentityId"] == guest and claims_of(answer["Token"])["amr"][0] == "authenticated"
    assert public.get_id(IdentityPoolId=pool, Logins=_login(site, "alice"))["IdentityId"] == guest
    assert refused(lambda: public.get_open_id_token(IdentityId=guest)) == DONT_MATCH
    # Another login cannot be slipped onto an identity it does not prove.
    assert refused(lambda: public.get_open_id_token(IdentityId=guest, Logins=_login(site, "dave"))) == DONT_MATCH


def test_a_login_owned_elsewhere_merges_the_identities_into_the_signed_in_one(public, admin, site, pool):
    bob = public.get_id(IdentityPoolId=pool, Logins=_login(site, "bob"))["IdentityId"]
    guest = public.get_id(IdentityPoolId=pool)["IdentityId"]
    answer = public.get_open_id_token(IdentityId=guest, Logins=_login(site, "bob"))
    assert answer["IdentityId"] == bob and claims_of(answer["Token"])["sub"] == bob
    assert refused(lambda: public.get_open_id_token(IdentityId=guest)) == (
        "NotAuthorizedException", f"Access to Identity '{guest}' is forbidden.")
    assert public.get_open_id_token(IdentityId=guest, Logins=_login(site, "bob"))["IdentityId"] == bob
    listed = admin.list_identities(IdentityPoolId=pool, MaxResults=60, HideDisabled=True)["Identities"]
    assert bob in [i["IdentityId"] for i in listed] and guest not in [i["IdentityId"] for i in listed]


def test_a_user_pool_login_and_a_developer_login_share_one_identity(public, admin, site, pool):
    carol = public.get_id(IdentityPoolId=pool, Logins=_login(site, "carol"))["IdentityId"]
    answer = _dev_token(admin, pool, "carol-7", carol)
    assert answer["IdentityId"] == carol
    assert claims_of(answer["Token"])["amr"] == ["authenticated", DEV, f"{DEV}:{pool}:carol-7"]
    assert sorted(admin.describe_identity(IdentityId=carol)["Logins"]) == sorted([DEV, site.provider])
    assert admin.lookup_developer_identity(IdentityPoolId=pool, IdentityId=carol, MaxResults=10)[
        "DeveloperUserIdentifierList"] == ["carol-7"]
    # The developer flow's token is itself a login: it reaches carol's identity (and no other).
    assert public.get_id(IdentityPoolId=pool, Logins={"cognito-identity.amazonaws.com": answer["Token"]})[
        "IdentityId"] == carol


def test_a_developer_login_merges_with_the_user_pool_identity_of_the_same_person(public, admin, site, pool):
    dave = public.get_id(IdentityPoolId=pool, Logins=_login(site, "dave"))["IdentityId"]
    dev = _dev_token(admin, pool, "dave-9")["IdentityId"]
    assert dev != dave
    merged = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={DEV: "dave-9", **_login(site, "dave")})["IdentityId"]
    assert merged == dave  # the older identity survives
    assert _dev_token(admin, pool, "dave-9")["IdentityId"] == dave
    assert refused(lambda: _dev_token(admin, pool, "dave-9", public.get_id(IdentityPoolId=pool)["IdentityId"]))[0] \
        == "DeveloperUserAlreadyRegisteredException"


def test_two_users_of_one_provider_cannot_share_an_identity(public, admin, site, pool):
    erin = site.user("erin")
    mine = _dev_token(admin, pool, "frank-1", public.get_id(IdentityPoolId=pool, Logins=_login(site, "alice"))[
        "IdentityId"])["IdentityId"]
    code, _ = refused(lambda: admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, IdentityId=mine, Logins={DEV: "frank-1", **_login(site, erin)}))
    assert code == "ResourceConflictException"
    assert public.get_id(IdentityPoolId=pool, Logins=_login(site, erin))["IdentityId"] != mine


def test_developer_users_are_looked_up_merged_and_unlinked(admin, pool):
    first = _dev_token(admin, pool, "u-1")
    second = _dev_token(admin, pool, "u-2", TokenDuration=3600, PrincipalTags={"team": "blue"})
    assert first["IdentityId"] != second["IdentityId"]
    claims = claims_of(second["Token"])
    assert claims["exp"] - claims["iat"] == 3600 and claims_of(first["Token"])["exp"] - claims_of(
        first["Token"])["iat"] == 900
    assert claims["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}
    assert admin.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="u-2")[
        "IdentityId"] == second["IdentityId"]
    merged = admin.merge_developer_identities(SourceUserIdentifier="u-2", DestinationUserIdentifier="u-1",
                                              DeveloperProviderName=DEV, IdentityPoolId=pool)
    assert merged["IdentityId"] == first["IdentityId"]
    assert admin.lookup_developer_identity(IdentityPoolId=pool, IdentityId=first["IdentityId"])[
        "DeveloperUserIdentifierList"] == ["u-1", "u-2"]
    admin.unlink_developer_identity(IdentityId=first["IdentityId"], IdentityPoolId=pool, DeveloperProviderName=DEV,
                                    DeveloperUserIdentifier="u-2")
    assert refused(lambda: admin.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="u-2"))[0] \
        == "ResourceNotFoundException"
    assert _dev_token(admin, pool, "u-2")["IdentityId"] not in (first["IdentityId"], second["IdentityId"])


def test_unlink_identity_takes_a_login_off_and_the_last_one_closes_it(public, admin, site, pool):
    gail = site.user("gail")
    login = _login(site, gail)
    gail_id = public.get_id(IdentityPoolId=pool, Logins=login)["IdentityId"]
    public.unlink_identity(IdentityId=gail_id, Logins=login, LoginsToRemove=[site.provider])
    assert admin.describe_identity(IdentityId=gail_id)["Logins"] == []
    assert public.get_id(IdentityPoolId=pool, Logins=_login(site, gail))["IdentityId"] != gail_id
    assert refused(lambda: public.get_open_id_token(IdentityId=gail_id))[0] == "NotAuthorizedException"


def test_admin_shapes_of_identities(server, admin, public, site, pool):
    made = [public.get_id(IdentityPoolId=pool)["IdentityId"] for _ in range(3)]
    described = admin.describe_identity(IdentityId=made[0])
    assert set(described) - {"ResponseMetadata"} == {"IdentityId", "Logins", "CreationDate", "LastModifiedDate"}
    pages, token = [], None
    while True:
        page = admin.list_identities(IdentityPoolId=pool, MaxResults=2, **({"NextToken": token} if token else {}))
        assert page["IdentityPoolId"] == pool and len(page["Identities"]) <= 2
        pages += [i["IdentityId"] for i in page["Identities"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == sorted(pages) and set(made) <= set(pages) and len(pages) == len(set(pages))
    gone = admin.delete_identities(IdentityIdsToDelete=[made[0], "local:00000000-0000-0000-0000-000000000000"])
    assert gone["UnprocessedIdentityIds"] == []
    assert refused(lambda: admin.describe_identity(IdentityId=made[0])) == (
        "ResourceNotFoundException", f"Identity '{made[0]}' not found.")
    scoped = identity(server.base_url, server.cli_json("admin-key", "create", "--pool", site.pool_id))
    assert scoped.delete_identities(IdentityIdsToDelete=[made[1]])["UnprocessedIdentityIds"] == [
        {"IdentityId": made[1], "ErrorCode": "AccessDenied"}]
    assert refused(lambda: scoped.describe_identity(IdentityId=made[1]))[0] == "ResourceNotFoundException"
    assert refused(lambda: scoped.list_identities(IdentityPoolId=pool, MaxResults=5))[0] == "NotAuthorizedException"
    own = identity(server.base_url, server.cli_json("admin-key", "create", "--pool", pool))
    assert own.describe_identity(IdentityId=made[1])["IdentityId"] == made[1]


def test_a_new_key_is_published_before_it_signs_and_old_ones_stay_published(server, public, pool):
    guest = public.get_id(IdentityPoolId=pool)["IdentityId"]
    before = public.get_open_id_token(IdentityId=guest)["Token"]
    rotated = server.cli_json("identity-pool", "rotate-keys")
    jwks = requests.get(f"{server.base_url}/identity/.well-known/jwks_uri", timeout=10)
    assert jwks.headers["Cache-Control"] == "public, max-age=300"
    assert len(jwks.json()["keys"]) >= 2 and rotated["Kid"] in [k["kid"] for k in jwks.json()["keys"]]
    after = public.get_open_id_token(IdentityId=guest)["Token"]
    assert verified(server.base_url, before, pool)["sub"] == verified(server.base_url, after, pool)["sub"] == guest
    # a JWKS cached just before the rotation lacks the new key for up to 300 s: it does not sign yet
    assert jwt.get_unverified_header(after)["kid"] == jwt.get_unverified_header(before)["kid"] != rotated["Kid"]


def test_bad_input_is_answered_with_aws_errors(server, admin, public, site, pool):
    missing_pool = "local:00000000-0000-0000-0000-000000000000"
    assert refused(lambda: public.get_id(IdentityPoolId=missing_pool)) == (
        "ResourceNotFoundException", f"IdentityPool '{missing_pool}' not found.")
    assert refused(lambda: public.get_open_id_token(IdentityId=missing_pool))[0] == "ResourceNotFoundException"
    assert refused(lambda: public.get_id(IdentityPoolId="not a pool id"))[0] == "InvalidParameterException"
    assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={DEV: "alice"})) == (
        "NotAuthorizedException", "Token is not from a supported provider of this identity pool.")
    closed = admin.create_identity_pool(IdentityPoolName="enhanced-only", AllowUnauthenticatedIdentities=True)
    guest = public.get_id(IdentityPoolId=closed["IdentityPoolId"])["IdentityId"]
    assert refused(lambda: public.get_open_id_token(IdentityId=guest)) == (
        "InvalidParameterException", "Basic (classic) flow is not enabled, please use enhanced flow.")
    unsigned = raw(server.base_url, "ListIdentities", {"IdentityPoolId": pool, "MaxResults": 5},
                   headers={"X-Amz-Target": "AWSCognitoIdentityService.ListIdentities"})
    assert unsigned.status_code == 403 and unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    for body in ({"IdentityPoolId": pool, "Logins": {site.provider: 7}}, {"IdentityPoolId": pool, "Logins": []},
                 {"IdentityPoolId": pool, "Logins": {site.provider: "x" * 60000}}):
        answer = raw(server.base_url, "GetId", body, headers={"X-Amz-Target": "AWSCognitoIdentityService.GetId"})
        assert answer.status_code == 400 and answer.json()["__type"] in (
            "SerializationException", "InvalidParameterException"), answer.text
    assert refused(lambda: admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={DEV: "x"}, TokenDuration=86401))[0] == "InvalidParameterException"


def test_role_mappings_name_providers_of_the_pool_and_token_ones_name_user_pools(admin, site):
    pool = identity_pool(admin, site, name="mappings", DeveloperProviderName=DEV,
                         SupportedLoginProviders={"accounts.google.com": "123.apps.googleusercontent.com"})
    roles = {"authenticated": "arn:aws:iam::123456789012:role/Members"}
    token = {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}
    rules = {"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {"Rules": [
        {"Claim": "sub", "MatchType": "Equals", "Value": "x", "RoleARN": roles["authenticated"]}]}}
    user_pool_key = f"{site.provider}:{site.client_id}"
    for mappings in ({"accounts.example.com": rules}, {site.provider: rules}, {f"{site.provider}:other": token},
                     {"accounts.google.com": token}, {DEV: token}):
        code, _ = refused(lambda mappings=mappings: admin.set_identity_pool_roles(
            IdentityPoolId=pool, Roles=roles, RoleMappings=mappings))
        assert code == "InvalidParameterException", mappings
    assert "RoleMappings" not in admin.get_identity_pool_roles(IdentityPoolId=pool)
    taken = {user_pool_key: token, "accounts.google.com": rules, DEV: rules}
    admin.set_identity_pool_roles(IdentityPoolId=pool, Roles=roles, RoleMappings=taken)
    assert admin.get_identity_pool_roles(IdentityPoolId=pool)["RoleMappings"] == taken
    admin.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="mappings", AllowUnauthenticatedIdentities=False,
                               DeveloperProviderName=DEV, CognitoIdentityProviders=[site.entry()])
    assert admin.get_identity_pool_roles(IdentityPoolId=pool)["RoleMappings"] == {user_pool_key: token, DEV: rules}


def test_a_developer_provider_is_named_for_the_developer_alone(admin):
    def create(name: str, **given: object) -> tuple[str, str]:
        return refused(lambda: admin.create_identity_pool(IdentityPoolName="dev-names", DeveloperProviderName=name,
                                                          AllowUnauthenticatedIdentities=False, **given))

    for name in ("cognito-identity.amazonaws.com", "accounts.google.com", "Graph.Facebook.com", "login/example"):
        assert create(name)[0] == "InvalidParameterException", name
    assert create("idp.example.com", SupportedLoginProviders={"idp.example.com": "app"})[0] == \
        "InvalidParameterException"
