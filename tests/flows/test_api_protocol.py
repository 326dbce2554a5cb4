"""The JSON 1.1 protocol at ``POST /`` against bad input, sent raw (boto3 refuses to send
most of it): each answer is AWS's error type with status 400 (413 for an oversized body,
500 only for a store outage), in AWS's error shape and headers, never a trace, and nothing
is written. Also the CORS preflight as Amplify v6 sends it from a browser."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from botocore.exceptions import ClientError

from tests.aws import CONTENT_TYPE, TARGET, cognito_idp, error_code, raw
from tests.conftest import Broker
from tests.rp import CALLBACK
from tests.test_state_urls import RedisServer

PASSWORD = "Corr3ct-Horse!"
AMPLIFY_HEADERS = "amz-sdk-invocation-id,amz-sdk-request,cache-control,content-type,x-amz-target,x-amz-user-agent"


@pytest.fixture(scope="module")
def site(shared_broker: Broker) -> tuple[Broker, str, str]:
    pool = shared_broker.pool()
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK)
    return shared_broker, pool, client["ClientId"]


def aws_error(r: requests.Response, kind: str, status: int = 400) -> str:
    """Asserts AWS's error answer of type ``kind``; returns its message."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"] == CONTENT_TYPE
    assert r.headers["x-amzn-ErrorType"] == f"{kind}:"
    assert len(r.headers["x-amzn-RequestId"]) == 36
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Traceback" not in r.text and 'File "' not in r.text
    body = r.json()
    assert body["__type"] == kind
    if body.get("message"):
        assert r.headers["x-amzn-ErrorMessage"] == body["message"][:len(r.headers["x-amzn-ErrorMessage"])]
    return body.get("message", "")


def no_users(broker: Broker, pool: str) -> None:
    assert broker.cli_json("user", "list", "--pool", pool)["Users"] == []


@pytest.mark.parametrize("data", [
    b'{"ClientId": ', b"not json", b"[]", b'"ClientId"', b"42", b'{"ClientId": NaN}',
    b'{"a": ' + b"[" * 30000 + b"]" * 30000 + b"}", b"\xff\xfe{}",
], ids=["truncated", "text", "array", "string", "number", "nan", "deep", "not-utf8"])
def test_bodies_that_are_not_a_json_object(site: tuple[Broker, str, str], data: bytes) -> None:
    broker, pool, _client = site
    aws_error(raw(broker.base_url, "SignUp", data=data), "SerializationException")
    no_users(broker, pool)


@pytest.mark.parametrize("headers", [
    {"X-Amz-Target": f"{TARGET}.NoSuchOperation"},
    {"X-Amz-Target": "NoSuchService.SignUp"},
    {"X-Amz-Target": "SignUp"},
    {"X-Amz-Target": ""},
    {"X-Amz-Target": f"{TARGET}.TagResource"},  # AWS has it; Cognate does not answer it
    {"X-Amz-Target": "AWSCognitoIdentityService.TagResource"},  # identity pools: not answered either
    {"Content-Type": "application/json"},  # Cognito too answers it with UnknownOperationException
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/x-www-form-urlencoded"},
], ids=["unknown-op", "unknown-service", "no-prefix", "empty", "unregistered", "identity", "json", "text", "form"])
def test_unknown_operations_and_content_types(site: tuple[Broker, str, str], headers: dict[str, str]) -> None:
    broker, pool, client_id = site
    body = {"ClientId": client_id, "Username": "x", "Password": PASSWORD,
            "UserAttributes": [{"Name": "email", "Value": "x@example.com"}], "UserPoolId": pool}
    aws_error(raw(broker.base_url, "SignUp", body, headers=headers), "UnknownOperationException")
    no_users(broker, pool)


def test_missing_target_header(site: tuple[Broker, str, str]) -> None:
    broker, _pool, _client = site
    r = requests.post(broker.base_url + "/", data="{}", headers={"Content-Type": CONTENT_TYPE}, timeout=10)
    aws_error(r, "UnknownOperationException")


@pytest.mark.parametrize("change, message", [
    ({"ClientId": None}, "1 validation error detected: Value null at 'clientId' failed to satisfy constraint: "
                         "Member must not be null"),
    ({"Username": "u" * 129}, "1 validation error detected: Value at 'username' failed to satisfy constraint: "
                              "Member must have length less than or equal to 128"),
    ({"ClientId": "abc!"}, "1 validation error detected: Value at 'clientId' failed to satisfy constraint: "
                           "Member must satisfy regular expression pattern: [\\w+]+"),  # sensitive in the model
    ({"ClientId": "abcé"}, "Member must satisfy regular expression pattern"),  # Java's \w is ASCII
    ({"Password": "p" * 257}, "Value at 'password' failed to satisfy constraint: Member must have length less "
                              "than or equal to 256"),
    ({"SecretHash": "no spaces allowed"}, "Value at 'secretHash' failed to satisfy constraint: Member must satisfy"),
    ({"UserAttributes": [{"Name": "", "Value": "x"}]},
     "Value '' at 'userAttributes.1.member.name' failed to satisfy constraint: Member must have length greater "
     "than or equal to 1"),
    ({"ClientId": None, "Username": None}, "2 validation errors detected: Value null at 'clientId' failed to "
                                           "satisfy constraint: Member must not be null; Value null at 'username'"),
], ids=["missing", "too-long", "pattern", "non-ascii-word", "password-length", "secret-hash", "nested", "two"])
def test_input_breaking_the_model(site: tuple[Broker, str, str], change: dict[str, Any], message: str) -> None:
    broker, pool, client_id = site
    body = {"ClientId": client_id, "Username": "bob", "Password": PASSWORD,
            "UserAttributes": [{"Name": "email", "Value": "bob@example.com"}], **change}
    got = aws_error(raw(broker.base_url, "SignUp", body), "InvalidParameterException")
    assert message in got
    assert PASSWORD not in got and "p" * 257 not in got  # sensitive values are never repeated
    no_users(broker, pool)


@pytest.mark.parametrize("change", [
    {"Username": 5}, {"Username": True}, {"ClientId": {"a": 1}}, {"ClientId": ["x"]},
    {"UserAttributes": "email"}, {"UserAttributes": [{"Name": 1, "Value": "x"}]}, {"UserAttributes": [5]},
    {"ClientMetadata": ["a"]}, {"ClientMetadata": {"a": 1}},
], ids=["number", "boolean", "object", "array", "list-as-string", "member-type", "item-type", "map-as-list",
        "map-value"])
def test_members_of_the_wrong_type(site: tuple[Broker, str, str], change: dict[str, Any]) -> None:
    broker, pool, client_id = site
    body = {"ClientId": client_id, "Username": "bob", "Password": PASSWORD,
            "UserAttributes": [{"Name": "email", "Value": "bob@example.com"}], **change}
    aws_error(raw(broker.base_url, "SignUp", body), "SerializationException")
    no_users(broker, pool)


def test_oversized_body_is_refused_whole(site: tuple[Broker, str, str]) -> None:
    broker, pool, client_id = site
    body = {"ClientId": client_id, "Username": "bob", "Password": PASSWORD,
            "UserAttributes": [{"Name": "email", "Value": "bob@example.com"}],
            "ClientMetadata": {f"k{i}": "v" * 100 for i in range(1000)}}
    aws_error(raw(broker.base_url, "SignUp", body), "SerializationException", 413)
    no_users(broker, pool)


def test_unknown_members_are_ignored_as_aws_ignores_them(site: tuple[Broker, str, str]) -> None:
    broker, pool, client_id = site
    r = raw(broker.base_url, "ForgotPassword", {"ClientId": client_id, "Username": "nobody", "Surprise": [1, {}]})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == CONTENT_TYPE and len(r.headers["x-amzn-RequestId"]) == 36
    assert r.json()["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"


def test_preflight_and_answers_as_a_browser_sees_them(site: tuple[Broker, str, str]) -> None:
    broker, _pool, client_id = site
    origin = "http://localhost:3000"
    pre = requests.options(broker.base_url + "/", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": AMPLIFY_HEADERS})
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] in ("*", origin)
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in pre.headers["Access-Control-Allow-Headers"].split(",")}
    assert set(AMPLIFY_HEADERS.split(",")) <= allowed
    assert {"authorization", "x-amz-date", "x-amz-security-token"} <= allowed
    assert int(pre.headers["Access-Control-Max-Age"]) > 0

    r = raw(broker.base_url, "ConfirmSignUp", {"ClientId": client_id, "Username": "nobody", "ConfirmationCode": "1"},
            headers={"Origin": origin, "x-amz-user-agent": "aws-amplify/6.0", "cache-control": "no-store"})
    aws_error(r, "CodeMismatchException")
    exposed = {h.strip().lower() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-amzn-requestid", "x-amzn-errortype", "x-amzn-errormessage"} <= exposed


def test_boto3_reads_the_errors_as_aws_errors(site: tuple[Broker, str, str]) -> None:
    broker, _pool, client_id = site
    with pytest.raises(ClientError) as caught:
        cognito_idp(broker.base_url).confirm_sign_up(ClientId=client_id, Username="nobody", ConfirmationCode="123456")
    assert error_code(caught.value) == "CodeMismatchException"
    assert len(caught.value.response["ResponseMetadata"]["RequestId"]) == 36


def test_store_outage_answers_internal_error_without_a_trace(make_broker: Any, tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        broker = make_broker(redis_url=redis.url)
        pool = broker.pool()
        client_id = broker.cli_json("client", "create", "--pool", pool, "--name", "app",
                                    "--callback-url", CALLBACK)["ClientId"]
        body = {"ClientId": client_id, "Username": "nobody"}
        assert raw(broker.base_url, "ForgotPassword", body).status_code == 200
        redis.stop()
        message = aws_error(raw(broker.base_url, "ForgotPassword", body), "InternalErrorException", 500)
        assert "redis" not in message.lower() and "connection" not in message.lower()
        redis.start()
        assert raw(broker.base_url, "ForgotPassword", body).status_code == 200
    finally:
        redis.stop()


def test_json_answer_is_compact_json_1_1(site: tuple[Broker, str, str]) -> None:
    broker, _pool, client_id = site
    r = raw(broker.base_url, "ResendConfirmationCode", {"ClientId": client_id, "Username": "nobody"})
    assert r.status_code == 200 and json.loads(r.content) == r.json()
    assert set(r.json()) == {"CodeDeliveryDetails"}
