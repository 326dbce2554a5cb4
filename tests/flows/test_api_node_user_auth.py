"""Amplify v6 (from the npm registry, run by Node) signing in without a password through
Cognate's USER_AUTH: ``signIn`` with ``authFlowType: 'USER_AUTH'`` and ``preferredChallenge:
'EMAIL_OTP'``, the code read from the mail a real SMTP server received; then the choice of
first factors (``CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION``) answered with the password."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Broker
from tests.flows.test_api_node_clients import assert_api_tokens, claims, mailed_codes
from tests.node_peers import NodePeers, node_peers  # noqa: F401 (node_peers is a fixture)
from tests.rp import CALLBACK
from tests.smtp import MailServer, broker_with_mail

PASSWORD = "Corr3ct-Horse!"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[Broker, MailServer]]:
    with broker_with_mail(tmp_path_factory.mktemp("api-node-userauth"), redis_url) as found:
        yield found


def test_amplify_signs_in_with_an_emailed_code_and_then_chooses_the_password(node_peers: NodePeers,  # noqa: F811
                                                                            site: tuple[Broker, MailServer]) -> None:
    broker, mail = site
    pool = broker.pool()
    broker.cli("pool", "update", "--pool", pool, "--first-factor", "PASSWORD", "--first-factor", "EMAIL_OTP")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             "--auth-flow", "ALLOW_USER_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")
    broker.cli("user", "create", "--pool", pool, "--username", "amy", "--password", PASSWORD,
               "--email", "amy@example.com", "--confirmed")
    inputs = {"endpoint": broker.base_url, "poolId": pool, "clientId": client["ClientId"], "username": "amy",
              "password": PASSWORD, "email": "amy@example.com"}
    out = node_peers.run("amplify", "user_auth_email_otp", inputs, answer=mailed_codes(mail))
    assert out["sent"]["signInStep"] == "CONFIRM_SIGN_IN_WITH_EMAIL_CODE"
    assert out["sent"]["codeDeliveryDetails"] == {"deliveryMedium": "EMAIL", "destination": "a***@e***"}
    assert out["wrongCode"]["name"] == "CodeMismatchException"
    assert out["done"]["isSignedIn"] is True
    _access, id_token = assert_api_tokens(out["first"], inputs)
    assert id_token["amr"] == ["otp"]
    assert out["choice"]["signInStep"] == "CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION"
    assert out["choice"]["availableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"]
    assert out["chosen"]["signInStep"] == "CONFIRM_SIGN_IN_WITH_PASSWORD"
    assert out["passworded"]["isSignedIn"] is True
    assert claims(out["second"]["id"])["amr"] == ["pwd"]
    sent = [(c["op"], c["sent"], c["got"]) for c in out["calls"]]
    assert sent[:3] == [("InitiateAuth", "USER_AUTH", "EMAIL_OTP"),
                        ("RespondToAuthChallenge", "EMAIL_OTP", "CodeMismatchException"),
                        ("RespondToAuthChallenge", "EMAIL_OTP", "tokens")]
    assert ("RespondToAuthChallenge", "SELECT_CHALLENGE", "tokens") in sent
