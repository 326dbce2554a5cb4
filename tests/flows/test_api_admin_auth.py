"""AdminInitiateAuth and AdminRespondToAuthChallenge, called by boto3 with an admin key and
by pycognito's SRP, against a live server: the flows Cognito allows there (the admin
password flow only for clients allowing it, SRP, refresh), the pool and client they must
name, and one lockout, one token system for both doors."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP

from tests.aws import admin_idp, api_broker, cognito_idp, refused
from tests.rp import CALLBACK

PASSWORD = "Corr3ct-Horse!"
ALL_FLOWS = ("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
             "ALLOW_REFRESH_TOKEN_AUTH")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Any]:
    with api_broker(tmp_path_factory.mktemp("api-admin-auth"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def key(server: Any) -> dict[str, str]:
    return server.cli_json("admin-key", "create")


@pytest.fixture(scope="module")
def admin(server: Any, key: dict[str, str]) -> Any:
    return admin_idp(server.base_url, key)


def site(server: Any, flows: tuple[str, ...] = ALL_FLOWS, *pool_args: str) -> tuple[str, str]:
    pool = server.pool(*pool_args)
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             *[a for f in flows for a in ("--auth-flow", f)])["ClientId"]
    server.cli("user", "create", "--pool", pool, "--username", "ann", "--password", PASSWORD, "--confirmed")
    return pool, client


def admin_sign_in(admin: Any, pool: str, client: str, password: str = PASSWORD, flow: str = "ADMIN_USER_PASSWORD_AUTH",
                  username: str = "ann") -> dict[str, Any]:
    return admin.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow=flow,
                                     AuthParameters={"USERNAME": username, "PASSWORD": password})


def test_the_admin_password_flow_needs_the_clients_permission(server: Any, admin: Any) -> None:
    pool, client = site(server, ("ALLOW_USER_PASSWORD_AUTH",))
    code, message = refused(lambda: admin_sign_in(admin, pool, client))
    assert code == "InvalidParameterException" and "ADMIN_USER_PASSWORD_AUTH flow not enabled" in message
    pool, client = site(server)
    assert "AccessToken" in admin_sign_in(admin, pool, client)["AuthenticationResult"]
    assert "AccessToken" in admin_sign_in(admin, pool, client, flow="ADMIN_NO_SRP_AUTH")["AuthenticationResult"]
    code, message = refused(lambda: admin_sign_in(admin, pool, client, flow="USER_PASSWORD_AUTH"))
    assert code == "InvalidParameterException" and "Unsupported AuthFlow USER_PASSWORD_AUTH" in message
    wrong = refused(lambda: admin_sign_in(admin, pool, client, password="Wrong-Horse-1!"))
    unknown = refused(lambda: admin_sign_in(admin, pool, client, username="nobody"))
    assert wrong == unknown == ("NotAuthorizedException", "Incorrect username or password.")


def test_the_client_must_be_of_the_pool_named(server: Any, admin: Any) -> None:
    pool, _client = site(server)
    _other, foreign = site(server)
    assert refused(lambda: admin_sign_in(admin, pool, foreign))[0] == "ResourceNotFoundException"
    assert refused(lambda: admin_sign_in(admin, pool, "nosuchclient"))[0] == "ResourceNotFoundException"


def test_admin_initiate_auth_is_signed_only(server: Any) -> None:
    pool, client = site(server)
    assert refused(lambda: admin_sign_in(cognito_idp(server.base_url), pool, client))[0] == \
        "UnrecognizedClientException"  # boto3 signs with a key nobody made


def test_srp_through_the_admin_door(server: Any, admin: Any) -> None:
    pool, client = site(server)
    srp = AWSSRP(username="ann", password=PASSWORD, pool_id=pool, client_id=client, client=admin)
    auth = srp.get_auth_params()
    challenge = admin.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="USER_SRP_AUTH",
                                          AuthParameters=auth)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    responses = srp.process_challenge(challenge["ChallengeParameters"], auth)
    done = admin.admin_respond_to_auth_challenge(UserPoolId=pool, ClientId=client, ChallengeName="PASSWORD_VERIFIER",
                                                 Session=challenge["Session"], ChallengeResponses=responses)
    assert "AccessToken" in done["AuthenticationResult"]


def test_pycognito_admin_authenticate_and_refresh_at_either_door(server: Any, admin: Any, key: dict[str, str]) -> None:
    pool, client = site(server)
    user = Cognito(pool, client, username="ann", boto3_client_kwargs={
        "endpoint_url": server.base_url, "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"]})
    user.admin_authenticate(PASSWORD)  # ADMIN_NO_SRP_AUTH, as pycognito sends it
    refreshed = admin.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH",
                                          AuthParameters={"REFRESH_TOKEN": user.refresh_token})
    assert refreshed["AuthenticationResult"]["AccessToken"] != user.access_token
    successor = refreshed["AuthenticationResult"]["RefreshToken"]  # a public client's token rotates
    public = cognito_idp(server.base_url).initiate_auth(ClientId=client, AuthFlow="REFRESH_TOKEN",
                                                        AuthParameters={"REFRESH_TOKEN": successor})
    assert "AccessToken" in public["AuthenticationResult"]


def test_one_lockout_whichever_door_the_tries_come_through(server: Any, admin: Any) -> None:
    pool, client = site(server)
    server.cli("pool", "update", "--pool", pool, "--lockout-threshold", "3", "--lockout-seconds", "600")
    public = cognito_idp(server.base_url)

    def public_sign_in(password: str) -> dict[str, Any]:
        return public.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "ann", "PASSWORD": password})

    for _ in range(2):
        refused(lambda: public_sign_in("Wrong-Horse-1!"))
    refused(lambda: admin_sign_in(admin, pool, client, password="Wrong-Horse-1!"))
    assert refused(lambda: admin_sign_in(admin, pool, client))[0] == "NotAuthorizedException"  # locked
    assert refused(lambda: public_sign_in(PASSWORD))[0] == "NotAuthorizedException"
    server.cli("user", "unlock", "--pool", pool, "--username", "ann")
    assert "AccessToken" in admin_sign_in(admin, pool, client)["AuthenticationResult"]


def test_strangers_failures_through_a_backend_do_not_slow_other_users_down(server: Any, admin: Any) -> None:
    """Without ContextData every sign-in a backend makes comes from its one address: the
    per-address throttle must not let one attacker's failures hold up everyone."""
    pool, client = site(server)
    for i in range(35):  # past the per-address allowance (10 × the free tries)
        refused(lambda: admin_sign_in(admin, pool, client, password="Wrong-Horse-1!", username=f"ghost{i}"))
    assert "AccessToken" in admin_sign_in(admin, pool, client)["AuthenticationResult"]
