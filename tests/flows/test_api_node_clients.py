"""The JavaScript client libraries that browser and Node apps use, against a live server
through the cognito-idp JSON API: amazon-cognito-identity-js and Amplify v6, installed from
the npm registry at the versions of tests/node/package-lock.json and run by Node
(tests/node_peers.py). Codes come from the mail Cognate sent to a real SMTP server and from
pyotp; tokens are decoded and checked here, and what the libraries' sign-outs did is checked
with boto3.

Each library signs in with its default flow, USER_SRP_AUTH, and with USER_PASSWORD_AUTH.
amazon-cognito-identity-js refreshes with InitiateAuth REFRESH_TOKEN_AUTH; Amplify (6.x, its
Auth 6.21) with GetTokensFromRefreshToken. Amplify's ``signOut()`` calls RevokeToken (when the
access token has an ``origin_jti``) and ``signOut({global: true})`` GlobalSignOut; both swallow
the service's errors, so only the refused refresh token afterwards shows that they worked.
"""
from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from botocore.exceptions import ClientError

from tests.aws import cognito_idp, error_code
from tests.conftest import Broker
from tests.node_peers import NodePeers, node_peers  # noqa: F401 (node_peers is a fixture)
from tests.rp import CALLBACK
from tests.smtp import MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
FLOWS = ("--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_USER_SRP_AUTH",
         "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")
SRP, PASSWORD_AUTH = "USER_SRP_AUTH", "USER_PASSWORD_AUTH"
SCOPE = "aws.cognito.signin.user.admin"
#: Long enough that a refreshed token's ``iat`` is a later second than the first one's.
PAUSE_MS = 1100


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[Broker, MailServer]]:
    with broker_with_mail(tmp_path_factory.mktemp("api-node"), redis_url) as found:
        yield found


@pytest.fixture
def broker(site: tuple[Broker, MailServer]) -> Broker:
    return site[0]


@pytest.fixture
def mail(site: tuple[Broker, MailServer]) -> MailServer:
    return site[1]


def app(broker: Broker, *pool_args: str, user: str | None = None) -> dict[str, Any]:
    """A pool of its own with a public client allowing SRP, password and refresh sign-ins
    (and ``user``, confirmed, when given): the inputs every scenario takes."""
    pool = broker.pool(*pool_args)
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK, *FLOWS)
    username = user or f"u{secrets.token_hex(3)}"
    if user:
        broker.cli("user", "create", "--pool", pool, "--username", user, "--password", PASSWORD,
                   "--email", f"{user}@example.com", "--confirmed")
    return {"endpoint": broker.base_url, "poolId": pool, "clientId": client["ClientId"], "username": username,
            "password": PASSWORD}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def user_status(broker: Broker, pool: str, username: str) -> dict[str, Any]:
    return {u["Username"]: u for u in broker.cli_json("user", "list", "--pool", pool)["Users"]}[username]


def assert_api_tokens(tokens: dict[str, str], inputs: dict[str, Any]) -> tuple[dict, dict]:
    """The JSON API's tokens for the scenario's user and client; their claims."""
    access, id_token = claims(tokens["access"]), claims(tokens["id"])
    assert access["token_use"] == "access" and access["scope"] == SCOPE
    assert access["username"] == inputs["username"] and access["client_id"] == inputs["clientId"]
    assert id_token["token_use"] == "id" and id_token["aud"] == inputs["clientId"]
    assert id_token["cognito:username"] == inputs["username"] and id_token["sub"] == access["sub"]
    return access, id_token


def assert_refreshed(first: dict[str, str], refreshed: dict[str, str], inputs: dict[str, Any]) -> None:
    """New tokens for the same user and sign-in: later, not the same."""
    access, id_token = assert_api_tokens(refreshed, inputs)
    before = claims(first["access"])
    assert refreshed["access"] != first["access"] and access["jti"] != before["jti"]
    assert access["iat"] > before["iat"] and access["exp"] > before["exp"]
    assert access["sub"] == before["sub"] and id_token["auth_time"] == claims(first["id"])["auth_time"]


def mailed_codes(mail: MailServer) -> Any:
    """Answers ``{"mailed_code": address}`` with the code in the next mail to that address."""
    return lambda ask: {"code": code_in(mail.wait_for(ask["mailed_code"]))}


class Authenticator:
    """Answers ``{"totp": secret}`` as an authenticator app would, never giving the same code
    twice (the server takes a code once): the current step's, else the next one's."""

    def __init__(self) -> None:
        self.given: set[str] = set()

    def __call__(self, ask: dict[str, Any]) -> dict[str, str]:
        totp = pyotp.TOTP(ask["totp"])
        code = totp.now()
        if code in self.given:
            code = totp.at(int(time.time()) + 30)
        self.given.add(code)
        return {"code": code}


def refused(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return error_code(caught.value)


def test_identity_js_signs_up_and_confirms_with_the_mailed_code(node_peers: NodePeers, broker: Broker,
                                                                mail: MailServer) -> None:
    inputs = {**app(broker), "username": "alice", "email": "alice@example.com"}
    out = node_peers.run("identity-js", "sign_up", inputs, answer=mailed_codes(mail))
    assert out["userConfirmed"] is False
    assert out["codeDeliveryDetails"] == {"Destination": "a***@e***", "DeliveryMedium": "EMAIL",
                                          "AttributeName": "email"}
    assert out["wrongCode"]["code"] == "CodeMismatchException"
    assert out["confirmed"] == "SUCCESS"
    alice = user_status(broker, inputs["poolId"], "alice")
    assert alice["UserStatus"] == "CONFIRMED" and alice["Sub"] == out["userSub"]
    assert {"Name": "email_verified", "Value": "true"} in alice["Attributes"]


def test_amplify_signs_up_and_confirms_with_the_mailed_code(node_peers: NodePeers, broker: Broker,
                                                            mail: MailServer) -> None:
    inputs = {**app(broker), "username": "bob", "email": "bob@example.com"}
    out = node_peers.run("amplify", "sign_up", inputs, answer=mailed_codes(mail))
    signed_up = out["signedUp"]
    assert signed_up["isSignUpComplete"] is False and signed_up["nextStep"]["signUpStep"] == "CONFIRM_SIGN_UP"
    assert signed_up["nextStep"]["codeDeliveryDetails"] == {"destination": "b***@e***", "deliveryMedium": "EMAIL",
                                                            "attributeName": "email"}
    assert out["wrongCode"]["name"] == "CodeMismatchException"
    assert out["confirmed"]["isSignUpComplete"] is True and out["confirmed"]["nextStep"]["signUpStep"] == "DONE"
    bob = user_status(broker, inputs["poolId"], "bob")
    assert bob["UserStatus"] == "CONFIRMED" and bob["Sub"] == signed_up["userId"]


@pytest.mark.parametrize("flow", [SRP, PASSWORD_AUTH])
def test_identity_js_signs_in_and_refreshes(node_peers: NodePeers, broker: Broker, flow: str) -> None:
    inputs = app(broker, user="carol")
    out = node_peers.run("identity-js", "sign_in", {**inputs, "flow": None if flow == SRP else flow,
                                                    "pauseMs": PAUSE_MS})
    assert out["flow"] == flow  # SRP is the library's own default
    access, id_token = assert_api_tokens(out["first"], inputs)
    assert id_token["email"] == "carol@example.com" and access["auth_time"] == id_token["auth_time"]
    assert out["cachedIsFirst"] is True
    assert_refreshed(out["first"], out["refreshed"], inputs)
    assert out["sessionAfterRefresh"] == out["refreshed"]
    assert out["refreshed"]["refresh"] != out["first"]["refresh"]  # a public client rotates: the library keeps the new one


@pytest.mark.parametrize("flow", [SRP, PASSWORD_AUTH])
def test_identity_js_wrong_password_is_refused(node_peers: NodePeers, broker: Broker, flow: str) -> None:
    inputs = {**app(broker, user="dave"), "password": "Wrong-Horse-1!", "flow": flow}
    out = node_peers.run("identity-js", "refused_sign_in", inputs)
    assert out == {"name": "NotAuthorizedException", "code": "NotAuthorizedException",
                   "message": "Incorrect username or password."}


@pytest.mark.parametrize("flow", [SRP, PASSWORD_AUTH])
def test_identity_js_enrols_totp_at_mfa_setup_then_answers_it(node_peers: NodePeers, broker: Broker,
                                                              flow: str) -> None:
    inputs = {**app(broker, "--mfa", "ON", user="erin"), "flow": flow}
    out = node_peers.run("identity-js", "totp_setup_then_sign_in", inputs, answer=Authenticator())
    assert len(base64.b32decode(out["secret"])) >= 20
    _access, enrolled = assert_api_tokens(out["enrolled"], inputs)
    assert "mfa" in enrolled["amr"]
    assert out["wrongCode"]["code"] == "CodeMismatchException"
    _access, signed_in = assert_api_tokens(out["signedIn"], inputs)
    assert "mfa" in signed_in["amr"] and signed_in["auth_time"] >= enrolled["auth_time"]


def test_identity_js_adds_totp_with_the_access_token(node_peers: NodePeers, broker: Broker) -> None:
    inputs = {**app(broker, "--mfa", "OPTIONAL", user="fay"), "flow": PASSWORD_AUTH}
    out = node_peers.run("identity-js", "totp_added_when_signed_in", inputs, answer=Authenticator())
    assert out["verified"]["Status"] == "SUCCESS" and out["preference"] == "SUCCESS"
    assert out["wrongCode"]["code"] == "CodeMismatchException"
    _access, id_token = assert_api_tokens(out["signedIn"], inputs)
    assert "mfa" in id_token["amr"]


@pytest.mark.parametrize("flow", [SRP, PASSWORD_AUTH])
@pytest.mark.parametrize("everywhere", [False, True], ids=["signOut", "signOut-global"])
def test_amplify_signs_in_refreshes_and_signs_out(node_peers: NodePeers, broker: Broker, flow: str,
                                                  everywhere: bool) -> None:
    inputs = app(broker, user="gus")
    out = node_peers.run("amplify", "session", {**inputs, "flow": None if flow == SRP else flow,
                                                "pauseMs": PAUSE_MS, "global": everywhere})
    assert out["signedIn"] == {"isSignedIn": True, "nextStep": {"signInStep": "DONE"}}
    _access, id_token = assert_api_tokens(out["first"], inputs)
    assert out["currentUser"] == {"username": "gus", "userId": id_token["sub"],
                                  "signInDetails": {"loginId": "gus", "authFlowType": flow}}
    assert_refreshed(out["first"], out["refreshed"], inputs)
    latest = out["refreshTokens"]["latest"]  # GetTokensFromRefreshToken rotates a public client's token
    assert out["refreshTokens"]["first"] and latest and latest != out["refreshTokens"]["first"]

    after = out["afterSignOut"]  # Amplify forgot the user and every token it kept
    assert after["currentUser"]["name"] == "UserUnAuthenticatedException"
    assert after["tokens"] is None and after["stored"] == 0
    idp = cognito_idp(broker.base_url)
    assert refused(idp.initiate_auth, ClientId=inputs["clientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                   AuthParameters={"REFRESH_TOKEN": latest}) == "NotAuthorizedException"
    assert refused(idp.get_user, AccessToken=out["refreshed"]["access"]) == "NotAuthorizedException"


@pytest.mark.parametrize("flow", [SRP, PASSWORD_AUTH])
def test_amplify_sets_up_totp_then_answers_it(node_peers: NodePeers, broker: Broker, flow: str) -> None:
    inputs = app(broker, "--mfa", "ON", user="hana")
    out = node_peers.run("amplify", "totp_setup_then_sign_in", {**inputs, "flow": None if flow == SRP else flow},
                         answer=Authenticator())
    assert out["setupStep"] == "CONTINUE_SIGN_IN_WITH_TOTP_SETUP" and out["secret"]
    assert out["enrolled"] == {"isSignedIn": True, "nextStep": {"signInStep": "DONE"}}
    _access, enrolled = assert_api_tokens(out["enrolledTokens"], inputs)
    assert "mfa" in enrolled["amr"]
    assert out["challengeStep"] == "CONFIRM_SIGN_IN_WITH_TOTP_CODE"
    assert out["wrongCode"]["name"] == "CodeMismatchException"
    assert out["done"] == {"isSignedIn": True, "nextStep": {"signInStep": "DONE"}}
    _access, signed_in = assert_api_tokens(out["tokens"], inputs)
    assert "mfa" in signed_in["amr"]
