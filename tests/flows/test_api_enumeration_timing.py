"""The JSON API does not tell whether a username exists (Cognito's PreventUserExistenceErrors)
by its answer or by its time: password and SRP sign-ins, forgot password, resend and the
two code confirmations, timed over real HTTP for 20 names that exist and 20 that do not,
tried in turns, their medians compared (tests/flows/test_enumeration_timing.py's method)."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests
from pycognito.aws_srp import AWSSRP

from tests.flows.test_code_guessing import PASSWORD
from tests.flows.test_enumeration_timing import TRIES, compare
from tests.rp import CALLBACK
from tests.smtp import broker_with_mail

pytestmark = pytest.mark.timing  # medians of response times: run alone (scripts/test)

FLOWS = ("--auth-flow", "ALLOW_USER_SRP_AUTH", "--auth-flow", "ALLOW_USER_PASSWORD_AUTH")
WRONG = "Wr0ng-Passw0rd!"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple]:
    with broker_with_mail(tmp_path_factory.mktemp("apitiming"), redis_url, BROKER_TRUSTED_PROXIES="1") as (broker,
                                                                                                             _mail):
        pool = broker.pool()
        client = broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                                 *FLOWS)
        yield broker, pool, client["ClientId"]


def send(broker, ip: str, operation: str, params: dict) -> tuple[float, int, dict]:
    """One call from ``ip`` (through the trusted proxy): its time, status and answer."""
    started = time.perf_counter()
    r = requests.post(broker.base_url + "/", data=json.dumps(params), timeout=30, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Forwarded-For": ip,
        "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}"})
    return time.perf_counter() - started, r.status_code, r.json()


def call(broker, ip: str, operation: str, params: dict) -> tuple[float, tuple]:
    """A call's time and what its answer says, without the values that differ every time."""
    elapsed, status, body = send(broker, ip, operation, params)
    return elapsed, (status, body.get("__type"), body.get("message"), tuple(sorted(body)))


def srp_sign_in(broker, pool: str, client_id: str, ip: str, username: str) -> tuple[float, tuple]:
    """Both calls of an SRP sign-in with a wrong password; the client's own work is not timed."""
    srp = AWSSRP(username=username, password=WRONG, pool_id=pool, client_id=client_id, client=object())
    auth = srp.get_auth_params()
    first, status, challenge = send(broker, ip, "InitiateAuth", {"ClientId": client_id, "AuthFlow": "USER_SRP_AUTH",
                                                                 "AuthParameters": auth})
    assert status == 200 and sorted(challenge["ChallengeParameters"]) == [
        "SALT", "SECRET_BLOCK", "SRP_B", "USERNAME", "USER_ID_FOR_SRP"]
    answer = srp.process_challenge(challenge["ChallengeParameters"], auth)
    second, shape = call(broker, ip, "RespondToAuthChallenge", {
        "ClientId": client_id, "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": answer})
    return first + second, shape


def test_no_api_answer_tells_whether_a_username_exists(site) -> None:
    broker, pool, client_id = site
    confirmed = [f"known{i}" for i in range(TRIES)]
    for username in confirmed:
        broker.cli("user", "create", "--pool", pool, "--username", username, "--email", f"{username}@example.com",
                   "--password", PASSWORD, "--confirmed")
    unconfirmed = [f"new{i}" for i in range(TRIES)]
    for i, username in enumerate(unconfirmed):
        call(broker, f"192.0.2.{i + 1}", "SignUp", {"ClientId": client_id, "Username": username, "Password": PASSWORD,
                                             "UserAttributes": [{"Name": "email", "Value": f"{username}@e.org"}]})
    unknown = [f"ghost{i}" for i in range(TRIES)]

    def api(operation: str, **params: object):
        return lambda ip, username: call(broker, ip, operation, {"ClientId": client_id, **{
            k: (username if v is None else v) for k, v in params.items()}})

    compare("InitiateAuth USER_PASSWORD_AUTH", str, confirmed, unknown, lambda ip, u: call(
        broker, ip, "InitiateAuth", {"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                                     "AuthParameters": {"USERNAME": u, "PASSWORD": WRONG}}))
    compare("USER_SRP_AUTH", str, confirmed, unknown, lambda ip, u: srp_sign_in(broker, pool, client_id, ip, u))
    compare("ForgotPassword", str, confirmed, unknown, api("ForgotPassword", Username=None))
    compare("ConfirmForgotPassword", str, confirmed, unknown, api(
        "ConfirmForgotPassword", Username=None, ConfirmationCode="000000", Password=PASSWORD))
    compare("ResendConfirmationCode", str, unconfirmed, unknown, api("ResendConfirmationCode", Username=None))
    compare("ConfirmSignUp", str, unconfirmed, unknown, api("ConfirmSignUp", Username=None,
                                                            ConfirmationCode="000000"))
