"""A pool's triggers set over the API (UpdateUserPool's LambdaConfig, with boto3 signing
with an admin key) and by the CLI (``broker pool update --trigger``): Cognate's targets
taken, an AWS Lambda ARN or a name Cognito does not have refused by name with nothing
written, DescribeUserPool showing them, and an UpdateUserPool without LambdaConfig taking
them away, as Cognito's does."""
from __future__ import annotations

import pytest

from tests.aws import cognito_idp, refused
from tests.aws_admin import admin, snapshot
from tests.flows.triggers_common import HANDLERS, claims, sign_in, site, trigger_broker, with_ann

TARGET = f"{HANDLERS}.tokens_claims:lambda_handler"
V2_TARGET = f"{HANDLERS}.tokens_claims:version_two"
HOOK = "https://hooks.example.com/cognito/pre-signup"


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with trigger_broker(tmp_path_factory.mktemp("triggerconfig"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def admin_idp(server):
    return admin(server, server.cli_json("admin-key", "create", "--description", "triggers"))


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


def _lambda_config(admin_idp, pool: str) -> dict:
    return admin_idp.describe_user_pool(UserPoolId=pool)["UserPool"].get("LambdaConfig", {})


def test_update_user_pool_sets_the_triggers_and_describe_shows_them(server, admin_idp, idp):
    s = with_ann(site(server))
    admin_idp.update_user_pool(UserPoolId=s.pool, LambdaConfig={
        "PreSignUp": HOOK, "PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": V2_TARGET}})
    assert _lambda_config(admin_idp, s.pool) == {
        "PreSignUp": HOOK, "PreTokenGeneration": V2_TARGET,
        "PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": V2_TARGET}}
    assert claims(sign_in(idp, s.client_id)["AuthenticationResult"]["AccessToken"])["tenant"] == "acme"
    described = server.cli_json("pool", "describe", "--pool", s.pool)["UserPool"]["LambdaConfig"]
    assert described["PreTokenGenerationConfig"]["LambdaVersion"] == "V2_0"


def test_the_plain_pre_token_generation_member_is_a_v1_trigger(server, admin_idp, idp):
    s = with_ann(site(server))
    admin_idp.update_user_pool(UserPoolId=s.pool, LambdaConfig={"PreTokenGeneration": TARGET})
    assert _lambda_config(admin_idp, s.pool)["PreTokenGenerationConfig"] == {"LambdaVersion": "V1_0",
                                                                             "LambdaArn": TARGET}
    assert claims(sign_in(idp, s.client_id)["AuthenticationResult"]["IdToken"])["tier"] == "gold"


def test_update_user_pool_without_lambda_config_removes_the_triggers(server, admin_idp, idp):
    s = with_ann(site(server))
    admin_idp.update_user_pool(UserPoolId=s.pool, LambdaConfig={"PreTokenGeneration": TARGET})
    admin_idp.update_user_pool(UserPoolId=s.pool, MfaConfiguration="OFF")
    assert _lambda_config(admin_idp, s.pool) == {}
    assert "tier" not in claims(sign_in(idp, s.client_id)["AuthenticationResult"]["IdToken"])


def test_a_key_scoped_to_the_pool_may_not_change_its_triggers(server, admin_idp):
    s = with_ann(site(server))
    scoped = admin(server, server.cli_json("admin-key", "create", "--pool", s.pool))
    denied = ("AccessDeniedException", "is limited to some pools: setting triggers needs a key for every pool.")

    def refusal(**params) -> tuple[str, str]:
        code, message = refused(lambda: scoped.update_user_pool(UserPoolId=s.pool, **params))
        return code, message[message.index("is limited"):]

    assert refusal(LambdaConfig={"PreSignUp": HOOK}) == denied
    assert _lambda_config(admin_idp, s.pool) == {}
    scoped.update_user_pool(UserPoolId=s.pool, MfaConfiguration="OFF")  # no triggers before or after: fine
    admin_idp.update_user_pool(UserPoolId=s.pool, LambdaConfig={"PreTokenGeneration": TARGET})
    config = _lambda_config(admin_idp, s.pool)
    scoped.update_user_pool(UserPoolId=s.pool, MfaConfiguration="OFF", LambdaConfig=config)  # kept as it is
    assert refusal(MfaConfiguration="OFF") == denied  # (without LambdaConfig: the triggers would go)
    assert refusal(LambdaConfig={"PreTokenGeneration": V2_TARGET}) == denied
    assert refusal(LambdaConfig={"PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": TARGET}}) == \
        denied
    assert _lambda_config(admin_idp, s.pool) == config


@pytest.mark.parametrize("config", [
    {"PreTokenGeneration": "arn:aws:lambda:us-east-1:123456789012:function:tokens"},
    {"PreTokenGenerationConfig": {"LambdaVersion": "V1_0",
                                  "LambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:tokens"}},
    {"PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": TARGET}},
    {"PreTokenGeneration": TARGET, "PreTokenGenerationConfig": {"LambdaVersion": "V1_0", "LambdaArn": V2_TARGET}},
    {"PreSignUp": "ftp://hooks.example.com/x"},
])
def test_what_cognate_cannot_run_is_refused_by_name_and_nothing_is_written(server, admin_idp, config):
    s = with_ann(site(server))
    admin_idp.update_user_pool(UserPoolId=s.pool, LambdaConfig={"PreTokenGeneration": TARGET})
    before = snapshot(server, s.pool)
    code, message = refused(lambda: admin_idp.update_user_pool(UserPoolId=s.pool, LambdaConfig=config))
    assert code == "InvalidParameterException" and "LambdaConfig" in message, message
    assert snapshot(server, s.pool) == before
    assert _lambda_config(admin_idp, s.pool)["PreTokenGeneration"] == TARGET


def test_the_cli_sets_and_removes_triggers(server, idp):
    s = with_ann(site(server))
    server.cli("pool", "update", "--pool", s.pool, "--trigger", f"PreTokenGeneration={V2_TARGET}",
               "--trigger", f"PreSignUp={HOOK}", "--pre-token-generation-version", "V2_0")
    config = server.cli_json("pool", "describe", "--pool", s.pool)["UserPool"]["LambdaConfig"]
    assert config["PreSignUp"] == HOOK and config["PreTokenGenerationConfig"]["LambdaVersion"] == "V2_0"
    assert claims(sign_in(idp, s.client_id)["AuthenticationResult"]["AccessToken"])["tenant"] == "acme"
    server.cli("pool", "update", "--pool", s.pool, "--trigger", "PreTokenGeneration=")
    config = server.cli_json("pool", "describe", "--pool", s.pool)["UserPool"]["LambdaConfig"]
    assert config == {"PreSignUp": HOOK}
    assert "tenant" not in claims(sign_in(idp, s.client_id)["AuthenticationResult"]["AccessToken"])


@pytest.mark.parametrize("args", [
    ("--trigger", "PreTokenGen=python:tests.trigger_handlers.tokens_claims:noop"),
    ("--trigger", "PreTokenGeneration=arn:aws:lambda:us-east-1:123456789012:function:tokens"),
    ("--trigger", "PreTokenGeneration=python:not a module:handler"),
    ("--trigger", "PreTokenGeneration=ftp://hooks.example.com/x"),
    ("--trigger", "PreTokenGeneration"),
    ("--pre-token-generation-version", "V3_0"),
])
def test_the_cli_refuses_bad_names_and_targets_in_one_line_and_writes_nothing(server, args):
    s = with_ann(site(server))
    server.cli("pool", "update", "--pool", s.pool, "--trigger", f"PreTokenGeneration={TARGET}")
    before = snapshot(server, s.pool)
    result = server.cli("pool", "update", "--pool", s.pool, *args, check=False)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    assert snapshot(server, s.pool) == before
