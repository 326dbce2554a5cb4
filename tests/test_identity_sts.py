"""Credentials from an STS (broker/identity/sts.py): AssumeRoleWithWebIdentity at moto's STS
with Cognito's session name, the answer in Cognito's shape, one client per process, and
every STS failure answered as Cognito's error, never a crash.

STS's refusals that moto never sends (it accepts any token and any role) are played by
botocore's own Stubber on the same client: botocore parses them as from AWS."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from broker.config import Settings, load_settings, validate
from broker.identity import sts
from tests.aws_identity import CONFIGURATION, refusal
from tests.conftest import free_port
from tests.sts_peer import ACCOUNT, StsPeer, assumed_role, sts_peer  # noqa: F401 - the fixture

TOKEN = "eyJ0eXAiOiJKV1MiLCJhbGciOiJSUzUxMiJ9.e30.c2ln"


def settings_for(url: str) -> Settings:
    return dataclasses.replace(Settings(), sts_endpoint=url)


def test_credentials_come_from_the_sts_for_the_role_with_cognitos_session_name(sts_peer: StsPeer) -> None:
    role = sts_peer.reader("sts-unit-reader")
    credentials = sts.assume_role(settings_for(sts_peer.url), role, TOKEN, 3600)
    assert set(credentials) == {"AccessKeyId", "SecretKey", "SessionToken", "Expiration"}
    assert isinstance(credentials["Expiration"], int)
    assert abs(credentials["Expiration"] - (time.time() + 3600)) < 120
    assert sts_peer.caller(credentials) == assumed_role("sts-unit-reader")


def test_one_client_per_process_and_endpoint_keeps_its_connections(sts_peer: StsPeer) -> None:
    settings = settings_for(sts_peer.url)
    assert sts.client(settings) is sts.client(settings)
    assert sts.client(settings) is not sts.client(settings_for(sts_peer.url + "/"))


def test_an_unreachable_sts_is_an_internal_error_answered_quickly() -> None:
    started = time.monotonic()
    code, message = refusal(lambda: sts.assume_role(settings_for(f"http://127.0.0.1:{free_port()}"),
                                                    f"arn:aws:iam::{ACCOUNT}:role/x", TOKEN, 3600))
    assert code == "InternalErrorException"
    assert "127.0.0.1" not in message  # the caller is not told where the STS is
    assert time.monotonic() - started < 2 * sts.CONNECT_TIMEOUT + 2


def test_an_sts_failing_with_500_is_an_internal_error(sts_peer: StsPeer) -> None:
    with sts_peer.enforcing():  # moto answers an unsigned call with a 500 then
        code, _ = refusal(lambda: sts.assume_role(settings_for(sts_peer.url), f"arn:aws:iam::{ACCOUNT}:role/x",
                                                  TOKEN, 3600))
    assert code == "InternalErrorException"


@pytest.fixture
def stubbed() -> Iterator[tuple[Settings, Stubber]]:
    settings = settings_for(f"http://stub-{time.monotonic_ns()}.invalid")
    with Stubber(sts.client(settings)) as stubber:
        yield settings, stubber
        stubber.assert_no_pending_responses()


def expect(stubber: Stubber, code: str, message: str, status: int = 403, duration: bool = True) -> None:
    params = {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "RoleSessionName": "CognitoIdentityCredentials",
              "WebIdentityToken": TOKEN, **({"DurationSeconds": 3600} if duration else {})}
    stubber.add_client_error("assume_role_with_web_identity", service_error_code=code, service_message=message,
                             http_status_code=status, expected_params=params)


@pytest.mark.parametrize("code, expected", [
    ("AccessDenied", "InvalidIdentityPoolConfigurationException"),
    ("MalformedPolicyDocument", "InvalidIdentityPoolConfigurationException"),
    ("InvalidIdentityToken", "NotAuthorizedException"),
    ("IDPRejectedClaim", "NotAuthorizedException"),
    ("ExpiredTokenException", "NotAuthorizedException"),
    ("Throttling", "TooManyRequestsException"),
    ("IDPCommunicationError", "InternalErrorException"),
])
def test_sts_refusals_become_cognitos_errors(stubbed: tuple[Settings, Stubber], code: str, expected: str) -> None:
    settings, stubber = stubbed
    expect(stubber, code, "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    code, message = refusal(lambda: sts.assume_role(settings, f"arn:aws:iam::{ACCOUNT}:role/r", TOKEN, 3600))
    assert code == expected
    if expected == CONFIGURATION[0]:
        assert message == CONFIGURATION[1]
    assert "sts:AssumeRoleWithWebIdentity" not in message  # STS's words stay in the log


def test_a_duration_beyond_the_sts_bounds_is_asked_again_without_one(stubbed: tuple[Settings, Stubber]) -> None:
    settings, stubber = stubbed
    expect(stubber, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
           status=400)
    stubber.add_response("assume_role_with_web_identity", {"Credentials": {
        "AccessKeyId": "ASIAEXAMPLEEXAMPLE12", "SecretAccessKey": "s" * 40, "SessionToken": "t" * 40,
        "Expiration": dt.datetime.fromtimestamp(1_900_000_000, dt.timezone.utc)}}, expected_params={
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "RoleSessionName": "CognitoIdentityCredentials",
        "WebIdentityToken": TOKEN})
    credentials = sts.assume_role(settings, f"arn:aws:iam::{ACCOUNT}:role/r", TOKEN, 3600)
    assert credentials == {"AccessKeyId": "ASIAEXAMPLEEXAMPLE12", "SecretKey": "s" * 40, "SessionToken": "t" * 40,
                           "Expiration": 1_900_000_000}


def test_the_sts_settings_are_read_and_checked() -> None:
    settings = load_settings({"BROKER_STS_ENDPOINT": "http://127.0.0.1:9000", "BROKER_STS_REGION": "eu-west-3"})
    assert (settings.sts_endpoint, settings.sts_region) == ("http://127.0.0.1:9000", "eu-west-3")
    assert not [e for e in validate(settings) if "STS" in e]
    assert (Settings().sts_endpoint, Settings().sts_region) == ("", "us-east-1")
    bad = load_settings({"BROKER_STS_ENDPOINT": "ftp://sts", "BROKER_STS_REGION": "Europe"})
    assert [e.split(" ")[0] for e in validate(bad) if "STS" in e] == ["BROKER_STS_ENDPOINT", "BROKER_STS_REGION"]
