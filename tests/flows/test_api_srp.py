"""USER_SRP_AUTH against a real server with pycognito, a client nobody here wrote: its SRP
sign-in, refresh and token checks; SRP answers counted like passwords; hostile SRP values,
stale timestamps and replayed secret blocks refused without changing anything."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP

from broker.engine.srp import N, format_timestamp
from tests.aws import api_broker, cognito_idp, refused
from tests.rp import CALLBACK

PASSWORD = "Corr3ct-Horse!"
FLOWS = ("--auth-flow", "ALLOW_USER_SRP_AUTH", "--auth-flow", "ALLOW_USER_PASSWORD_AUTH",
         "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with api_broker(tmp_path_factory.mktemp("apisrp"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


@pytest.fixture
def site(server):
    pool = server.pool()
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK, *FLOWS)
    server.cli("user", "create", "--pool", pool, "--username", "sam", "--password", PASSWORD, "--confirmed")
    return pool, client["ClientId"]


def _cognito(server, pool: str, client_id: str, username: str = "sam") -> Cognito:
    return Cognito(pool, client_id, username=username,
                   boto3_client_kwargs={"endpoint_url": server.base_url, "aws_access_key_id": "unused",
                                        "aws_secret_access_key": "unused"})


_error = refused


def _challenge(idp, pool: str, client_id: str, password: str = PASSWORD, username: str = "sam"):
    srp = AWSSRP(username=username, password=password, pool_id=pool, client_id=client_id, client=idp)
    auth = srp.get_auth_params()
    challenge = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=auth)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    return challenge, srp.process_challenge(challenge["ChallengeParameters"], auth)


def _answer(idp, client_id: str, responses: dict) -> dict:
    return idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
                                         ChallengeResponses=responses)


def test_pycognito_signs_in_by_srp_verifies_the_tokens_refreshes_and_changes_the_password(server, site):
    pool, client_id = site
    user = _cognito(server, pool, client_id)
    user.authenticate(PASSWORD)  # pycognito verifies signature, issuer and audience itself
    assert user.id_claims["cognito:username"] == "sam" and user.access_claims["client_id"] == client_id
    first = user.access_token
    user.renew_access_token()
    assert user.access_token != first and user.access_claims["scope"] == "aws.cognito.signin.user.admin"
    user.change_password(PASSWORD, "Brand-N3w-Horse!")
    again = _cognito(server, pool, client_id)
    again.authenticate("Brand-N3w-Horse!")  # by SRP: the change made the new password's verifier
    assert again.id_claims["cognito:username"] == "sam"
    with pytest.raises(ClientError):
        _cognito(server, pool, client_id).authenticate(PASSWORD)


def test_a_wrong_password_and_an_unknown_name_fail_alike_and_count_toward_the_lock(server, idp, site):
    pool, client_id = site
    server.cli("pool", "update", "--pool", pool, "--lockout-threshold", "2")
    for _ in range(2):
        _c, wrong = _challenge(idp, pool, client_id, password="Wrong-Horse-1!")
        assert _error(lambda: _answer(idp, client_id, wrong)) == \
            ("NotAuthorizedException", "Incorrect username or password.")
    _c, unknown = _challenge(idp, pool, client_id, username="nobody")
    assert _error(lambda: _answer(idp, client_id, unknown)) == \
        ("NotAuthorizedException", "Incorrect username or password.")
    _c, right = _challenge(idp, pool, client_id)
    assert _error(lambda: _answer(idp, client_id, right))[0] == "NotAuthorizedException"  # locked now


def test_hostile_srp_values_are_refused(server, idp, site):
    pool, client_id = site
    for srp_a in (format(N, "x"), format(2 * N, "x"), "0", "zz"):
        code, _m = _error(lambda: idp.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                                                    AuthParameters={"USERNAME": "sam", "SRP_A": srp_a}))
        assert code == "InvalidParameterException", srp_a


def test_a_stale_timestamp_changes_nothing_and_a_secret_block_serves_one_answer(server, idp, site):
    pool, client_id = site
    _c, responses = _challenge(idp, pool, client_id)
    import datetime as dt
    stale = format_timestamp(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20))
    assert _error(lambda: _answer(idp, client_id, {**responses, "TIMESTAMP": stale}))[0] == \
        "InvalidParameterException"
    assert "AccessToken" in _answer(idp, client_id, responses)["AuthenticationResult"]
    assert _error(lambda: _answer(idp, client_id, responses))[0] == "NotAuthorizedException"


def test_an_imported_hash_gets_a_verifier_at_its_first_password_sign_in(server, idp, site):
    pool, client_id = site
    from argon2 import PasswordHasher
    server.cli("user", "create", "--pool", pool, "--username", "imp", "--password-hash",
               PasswordHasher().hash(PASSWORD), "--confirmed")
    _c, before = _challenge(idp, pool, client_id, username="imp")
    assert _error(lambda: _answer(idp, client_id, before))[0] == "NotAuthorizedException"
    idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": "imp", "PASSWORD": PASSWORD})
    _c, after = _challenge(idp, pool, client_id, username="imp")
    assert "AccessToken" in _answer(idp, client_id, after)["AuthenticationResult"]


def test_a_pool_can_turn_srp_off(server, idp, site):
    pool, client_id = site
    server.cli("pool", "update", "--pool", pool, "--no-srp")
    srp = AWSSRP(username="sam", password=PASSWORD, pool_id=pool, client_id=client_id, client=idp)
    code, _m = _error(lambda: idp.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH",
                                                AuthParameters=srp.get_auth_params()))
    assert code == "InvalidParameterException"
