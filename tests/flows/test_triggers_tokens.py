"""PreTokenGeneration through a running server: handlers written as AWS documents them
change the tokens of API sign-ins (boto3), of the hosted authorization-code flow and of
refreshes at both doors, with Cognito's event, trigger sources, V1_0 and V2_0 shapes,
claims that cannot change, and answers of the wrong kind refused."""
from __future__ import annotations

import json

import pytest

from tests.aws import cognito_idp, refused
from tests.flows.triggers_common import (
    HANDLERS, PASSWORD, STAFF_ROLE, claims, hosted_tokens, sign_in, site, trigger_broker, with_ann,
)

CLAIMS = f"{HANDLERS}.tokens_claims"
TRIGGER_ROLE = "arn:aws:iam::123456789012:role/trigger"


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with trigger_broker(tmp_path_factory.mktemp("tokentriggers"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


def _refresh_both_api_doors(idp, client_id: str, refresh_token: str) -> list[dict]:
    """REFRESH_TOKEN_AUTH, then GetTokensFromRefreshToken with the token it rotated to."""
    first = idp.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                              AuthParameters={"REFRESH_TOKEN": refresh_token})["AuthenticationResult"]
    second = idp.get_tokens_from_refresh_token(ClientId=client_id, RefreshToken=first.get("RefreshToken")
                                               or refresh_token)["AuthenticationResult"]
    return [first, second]


def test_v1_changes_the_id_token_and_the_groups_of_both_tokens_of_an_api_sign_in(server, idp):
    s = with_ann(site(server))
    s.trigger(f"{CLAIMS}:lambda_handler")
    result = sign_in(idp, s.client_id, ClientMetadata={"plan": "pro"})["AuthenticationResult"]
    id_token, access = claims(result["IdToken"]), claims(result["AccessToken"])
    assert id_token["tier"] == "gold" and id_token["plan"] == "pro"
    assert id_token["source"] == "TokenGeneration_Authentication"
    assert id_token["visits"] == "3"  # V1's claims are strings
    assert "email" not in id_token and id_token["given_name"] == "Ann"
    # claims Cognito does not let a trigger change stay as they were
    assert id_token["token_use"] == "id" and id_token["iss"] == f"{server.base_url}/{s.pool}"
    assert id_token["sub"] == access["sub"] != "not-the-user"
    assert id_token["event_id"] == access["event_id"] != "not-the-event"
    assert id_token["cognito:groups"] == ["staff", "readers", "from-trigger"]
    assert id_token["cognito:roles"] == [TRIGGER_ROLE] and id_token["cognito:preferred_role"] == TRIGGER_ROLE
    # V1 leaves the access token alone but for its groups (cognito:groups is in both)
    assert access["cognito:groups"] == ["staff", "readers", "from-trigger"]
    assert "tier" not in access and access["scope"] == "aws.cognito.signin.user.admin"
    assert idp.get_user(AccessToken=result["AccessToken"])["Username"] == "ann"


def test_refreshes_at_both_api_doors_and_the_token_endpoint_run_the_trigger_again(server, idp):
    s = with_ann(site(server))
    s.trigger(f"{CLAIMS}:lambda_handler")
    result = sign_in(idp, s.client_id)["AuthenticationResult"]
    for refreshed in _refresh_both_api_doors(idp, s.client_id, result["RefreshToken"]):
        id_token = claims(refreshed["IdToken"])
        assert id_token["source"] == "TokenGeneration_RefreshTokens" and id_token["tier"] == "gold"
        assert id_token["cognito:groups"] == ["staff", "readers", "from-trigger"]  # not twice
    hosted = hosted_tokens(s)
    assert claims(hosted["id_token"])["source"] == "TokenGeneration_HostedAuth"
    r = s.rp().refresh(hosted["refresh_token"])
    assert r.status_code == 200, r.text
    assert claims(r.json()["id_token"])["source"] == "TokenGeneration_RefreshTokens"


def test_the_event_has_cognitos_shape(server, idp):
    s = with_ann(site(server))
    s.trigger(f"{CLAIMS}:echo")
    result = sign_in(idp, s.client_id, ClientMetadata={"plan": "pro"})["AuthenticationResult"]
    event = json.loads(claims(result["IdToken"])["event"])
    assert event["version"] == "1" and event["triggerSource"] == "TokenGeneration_Authentication"
    assert event["userPoolId"] == s.pool and event["region"] == s.pool.split("_")[0]
    assert event["userName"] == "ann" and event["callerContext"]["clientId"] == s.client_id
    attributes = event["request"]["userAttributes"]
    assert attributes["sub"] == claims(result["AccessToken"])["sub"]
    assert attributes["email"] == "ann@example.com" and attributes["given_name"] == "Ann"
    assert attributes["cognito:user_status"] == "CONFIRMED"
    assert all(isinstance(v, str) for v in attributes.values())
    assert event["request"]["groupConfiguration"] == {
        "groupsToOverride": ["staff", "readers"], "iamRolesToOverride": [STAFF_ROLE], "preferredRole": STAFF_ROLE}
    assert event["request"]["clientMetadata"] == {"plan": "pro"}
    assert "scopes" not in event["request"]  # V2_0 only
    assert event["response"] == {"claimsOverrideDetails": None}


def test_the_first_documented_example_keeps_the_groups_and_an_empty_override_removes_them(server, idp):
    s = with_ann(site(server))
    s.trigger(f"{CLAIMS}:claims_only")
    id_token = claims(sign_in(idp, s.client_id)["AuthenticationResult"]["IdToken"])
    assert id_token["attribute_key"] == "attribute_value" and "email" not in id_token
    assert id_token["cognito:groups"] == ["staff", "readers"] and id_token["cognito:preferred_role"] == STAFF_ROLE
    s.trigger(f"{CLAIMS}:null_groups")
    result = sign_in(idp, s.client_id)["AuthenticationResult"]
    id_token, access = claims(result["IdToken"]), claims(result["AccessToken"])
    assert id_token["tier"] == "gold" and id_token["cognito:roles"] == [STAFF_ROLE]
    assert id_token["cognito:groups"] == access["cognito:groups"] == ["staff", "readers"]
    s.trigger(f"{CLAIMS}:no_groups")
    result = sign_in(idp, s.client_id)["AuthenticationResult"]
    for token in (result["IdToken"], result["AccessToken"]):
        found = claims(token)
        assert not {"cognito:groups", "cognito:roles", "cognito:preferred_role"} & found.keys()


def test_v2_changes_both_tokens_and_the_access_tokens_scopes_of_an_api_sign_in(server, idp):
    s = with_ann(site(server))
    s.trigger(f"{CLAIMS}:version_two", "V2_0")
    result = sign_in(idp, s.client_id)["AuthenticationResult"]
    id_token, access = claims(result["IdToken"]), claims(result["AccessToken"])
    assert id_token["tier"] == "gold" and id_token["features"] == ["beta", 2, True]
    assert id_token["limits"] == {"daily": 5} and "email" not in id_token
    assert access["tenant"] == "acme" and access["source"] == "TokenGeneration_Authentication"
    assert access["seen_scopes"] == "aws.cognito.signin.user.admin"  # request.scopes
    assert access["client_id"] == s.client_id and access["username"] == "ann"  # cannot change
    assert access["scope"] == "photos/read openid"  # the admin scope suppressed
    assert id_token["cognito:groups"] == access["cognito:groups"] == ["v2-group"]
    assert "cognito:roles" not in id_token
    # without aws.cognito.signin.user.admin the token no longer speaks for the user at the API
    assert refused(lambda: idp.get_user(AccessToken=result["AccessToken"]))[0] == "NotAuthorizedException"
    refreshed = _refresh_both_api_doors(idp, s.client_id, result["RefreshToken"])
    for again in refreshed:  # the refresh token keeps the scope granted; the trigger decides again
        assert claims(again["AccessToken"])["seen_scopes"] == "aws.cognito.signin.user.admin"
        assert claims(again["AccessToken"])["source"] == "TokenGeneration_RefreshTokens"


def test_v2_scopes_of_the_hosted_flow_decide_what_userinfo_answers(server):
    s = with_ann(site(server))
    s.trigger(f"{CLAIMS}:version_two", "V2_0")
    tokens = hosted_tokens(s, "openid email profile")
    access, id_token = claims(tokens["access_token"]), claims(tokens["id_token"])
    assert access["scope"] == "openid email photos/read" and access["seen_scopes"] == "openid email profile"
    assert access["source"] == "TokenGeneration_HostedAuth" and id_token["tier"] == "gold"
    assert id_token["given_name"] == "Ann"  # the ID token's attributes follow the scopes granted
    rp = s.rp()
    info = rp.userinfo(tokens["access_token"])
    assert info.status_code == 200, info.text
    assert info.json()["email"] == "ann@example.com" and "given_name" not in info.json()  # profile suppressed
    r = rp.refresh(tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["scope"] == "openid email photos/read"


def test_a_temporary_password_replaced_at_the_challenge_is_the_new_password_source(server, idp):
    s = with_ann(site(server), "--suppress-invitation")  # FORCE_CHANGE_PASSWORD
    s.trigger(f"{CLAIMS}:lambda_handler")
    challenge = sign_in(idp, s.client_id)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    result = idp.respond_to_auth_challenge(
        ClientId=s.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ann", "NEW_PASSWORD": "Brand-N3w-Horse!"})["AuthenticationResult"]
    assert claims(result["IdToken"])["source"] == "TokenGeneration_NewPasswordChallenge"
    assert claims(sign_in(idp, s.client_id, password="Brand-N3w-Horse!")["AuthenticationResult"]["IdToken"])[
        "source"] == "TokenGeneration_Authentication"


@pytest.mark.parametrize("handler, version", [
    ("wrong_types", None), ("object_in_v1", "V1_0"), ("object_as_email_verified", "V2_0"),
    ("scope_with_space", "V2_0"), ("no_response", None),
])
def test_an_answer_of_the_wrong_kind_fails_the_sign_in_as_cognito_does(server, idp, handler, version):
    s = with_ann(site(server))
    module = "misbehaving" if handler == "no_response" else "tokens_claims"
    s.trigger(f"{HANDLERS}.{module}:{handler}", version)
    assert refused(lambda: sign_in(idp, s.client_id)) == ("InvalidLambdaResponseException",
                                                          "Unrecognizable lambda output")


def test_without_the_trigger_the_tokens_are_as_before(server, idp):
    s = with_ann(site(server))
    s.trigger(f"{CLAIMS}:lambda_handler")
    s.trigger(None)
    id_token = claims(sign_in(idp, s.client_id)["AuthenticationResult"]["IdToken"])
    assert "tier" not in id_token and id_token["email"] == "ann@example.com"
    assert id_token["cognito:groups"] == ["staff", "readers"]
    assert server.cli_json("pool", "describe", "--pool", s.pool)["UserPool"].get("LambdaConfig", {}) == {}
    assert PASSWORD
