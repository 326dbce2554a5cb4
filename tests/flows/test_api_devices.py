"""Tracked devices at the JSON API, with boto3 and pycognito's device SRP: a new device's
metadata, ConfirmDevice with the device's own verifier, DEVICE_SRP_AUTH at the next
sign-in, a remembered device skipping the second factor only once it proves itself, and
the devices listed, marked and forgotten."""
from __future__ import annotations

import base64
import json
import time

import pyotp
import pytest
from pycognito.aws_srp import AWSSRP, generate_hash_device, long_to_hex

from tests.aws import api_broker, cognito_idp, refused
from tests.rp import CALLBACK

PASSWORD = "Corr3ct-Horse!"
FLOWS = ("--auth-flow", "ALLOW_USER_SRP_AUTH", "--auth-flow", "ALLOW_USER_PASSWORD_AUTH",
         "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with api_broker(tmp_path_factory.mktemp("apidevices"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


@pytest.fixture
def site(server):
    pool = server.pool("--mfa", "OPTIONAL")
    server.cli("pool", "update", "--pool", pool, "--remember-devices-days", "30")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK, *FLOWS)
    server.cli("user", "create", "--pool", pool, "--username", "dan", "--password", PASSWORD, "--confirmed")
    return pool, client["ClientId"]


def _error(call) -> str:
    return refused(call)[0]


def _password(idp, client_id: str, **auth: str) -> dict:
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "dan", "PASSWORD": PASSWORD, **auth})


def _confirmed_device(idp, client_id: str) -> tuple[dict, str, str]:
    """Sign in, confirm the new device as amazon-cognito-identity-js does: (tokens, key, password)."""
    result = _password(idp, client_id)["AuthenticationResult"]
    metadata = result["NewDeviceMetadata"]
    device_password, config = generate_hash_device(metadata["DeviceGroupKey"], metadata["DeviceKey"])
    confirmed = idp.confirm_device(AccessToken=result["AccessToken"], DeviceKey=metadata["DeviceKey"],
                                   DeviceSecretVerifierConfig=config, DeviceName="laptop")
    assert confirmed["UserConfirmationNecessary"] is False
    return {**result, "group": metadata["DeviceGroupKey"]}, metadata["DeviceKey"], device_password


def _device_srp(idp, pool: str, client_id: str, key: str, group: str, device_password: str) -> dict:
    srp = AWSSRP(username="dan", password=PASSWORD, pool_id=pool, client_id=client_id, client=idp,
                 device_key=key, device_group_key=group, device_password=device_password)
    return srp.authenticate_user()  # PASSWORD_VERIFIER, then DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER


def test_a_confirmed_device_signs_in_by_device_srp_and_is_listed(server, idp, site):
    pool, client_id = site
    tokens, key, device_password = _confirmed_device(idp, client_id)
    again = _device_srp(idp, pool, client_id, key, tokens["group"], device_password)["AuthenticationResult"]
    assert "NewDeviceMetadata" not in again  # the device proved itself: no new one
    listed = idp.list_devices(AccessToken=again["AccessToken"])["Devices"]
    assert [d["DeviceKey"] for d in listed] == [key]
    attributes = {a["Name"]: a["Value"] for a in listed[0]["DeviceAttributes"]}
    assert attributes["device_name"] == "laptop" and attributes["dev:device_remembered_status"] == "remembered"
    assert attributes["last_ip_used"] == "127.0.0.1"  # the proven sign-in was noted on the device


def test_a_wrong_device_password_is_refused(server, idp, site):
    pool, client_id = site
    tokens, key, _password_of_device = _confirmed_device(idp, client_id)
    assert _error(lambda: _device_srp(idp, pool, client_id, key, tokens["group"], "not-the-device-password")) == \
        "NotAuthorizedException"


def test_a_remembered_device_skips_totp_only_once_it_proves_itself(server, idp, site):
    pool, client_id = site
    tokens, key, device_password = _confirmed_device(idp, client_id)
    secret = idp.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    idp.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=pyotp.TOTP(secret).now())
    assert _password(idp, client_id)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"  # no device named
    named = _password(idp, client_id, DEVICE_KEY=key)
    assert named["ChallengeName"] == "DEVICE_SRP_AUTH"  # naming the device is not proving it
    result = _device_srp(idp, pool, client_id, key, tokens["group"], device_password)
    assert "AccessToken" in result["AuthenticationResult"]


@pytest.mark.parametrize("session_of", ["DEVICE_SRP_AUTH", "SOFTWARE_TOKEN_MFA"])
def test_a_device_not_remembered_proves_itself_after_totp(server, idp, site, session_of):
    """Only a remembered device is asked DEVICE_SRP_AUTH in place of the second factor; one
    that is not proves itself after the code, and DEVICE_PASSWORD_VERIFIER is answered with
    the tokens, which is all that amazon-cognito-identity-js and pycognito read from it.
    DEVICE_SRP_AUTH may come with the MFA challenge's Session, as amazon-cognito-identity-js
    sends it after an MFA code."""
    pool, client_id = site
    tokens, key, device_password = _confirmed_device(idp, client_id)
    totp = pyotp.TOTP(idp.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"])
    idp.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=totp.now())
    idp.update_device_status(AccessToken=tokens["AccessToken"], DeviceKey=key, DeviceRememberedStatus="not_remembered")
    challenged = _password(idp, client_id, DEVICE_KEY=key)
    assert challenged["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    coded = idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA",
                                          Session=challenged["Session"],
                                          ChallengeResponses={"USERNAME": "dan",
                                                              "SOFTWARE_TOKEN_MFA_CODE": totp.at(time.time() + 30)})
    assert coded["ChallengeName"] == "DEVICE_SRP_AUTH"
    srp = AWSSRP(username="dan", password=PASSWORD, pool_id=pool, client_id=client_id, client=idp, device_key=key,
                 device_group_key=tokens["group"], device_password=device_password)
    session = {"DEVICE_SRP_AUTH": coded, "SOFTWARE_TOKEN_MFA": challenged}[session_of]["Session"]
    verifier = idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="DEVICE_SRP_AUTH", Session=session,
                                             ChallengeResponses={"USERNAME": "dan", "DEVICE_KEY": key,
                                                                 "SRP_A": long_to_hex(srp.large_a_value)})
    assert verifier["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
    proof = srp.process_device_challenge(verifier["ChallengeParameters"])
    done = idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="DEVICE_PASSWORD_VERIFIER",
                                         Session=verifier["Session"], ChallengeResponses=proof)
    result = done["AuthenticationResult"]
    assert "NewDeviceMetadata" not in result  # the device it named, proven: no new one
    payload = result["IdToken"].split(".")[1]
    assert "mfa" in json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["amr"]


def test_devices_are_marked_and_forgotten(server, idp, site):
    pool, client_id = site
    tokens, key, _device_password = _confirmed_device(idp, client_id)
    access = tokens["AccessToken"]
    idp.update_device_status(AccessToken=access, DeviceKey=key, DeviceRememberedStatus="not_remembered")
    device = idp.get_device(AccessToken=access, DeviceKey=key)["Device"]
    status = {a["Name"]: a["Value"] for a in device["DeviceAttributes"]}["dev:device_remembered_status"]
    assert status == "not_remembered"
    idp.forget_device(AccessToken=access, DeviceKey=key)
    assert idp.list_devices(AccessToken=access)["Devices"] == []
    assert _error(lambda: idp.get_device(AccessToken=access, DeviceKey=key)) == "ResourceNotFoundException"
    fresh = _password(idp, client_id, DEVICE_KEY=key)["AuthenticationResult"]  # a forgotten key proves nothing
    assert fresh["NewDeviceMetadata"]["DeviceKey"] != key


def test_another_users_device_and_bad_verifiers_are_refused(server, idp, site):
    pool, client_id = site
    _tokens, key, _device_password = _confirmed_device(idp, client_id)
    server.cli("user", "create", "--pool", pool, "--username", "eve", "--password", PASSWORD, "--confirmed")
    eve = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "eve", "PASSWORD": PASSWORD})["AuthenticationResult"]
    assert _error(lambda: idp.get_device(AccessToken=eve["AccessToken"], DeviceKey=key)) == "ResourceNotFoundException"
    assert _error(lambda: idp.forget_device(AccessToken=eve["AccessToken"], DeviceKey=key)) == \
        "ResourceNotFoundException"
    new_key = eve["NewDeviceMetadata"]["DeviceKey"]
    good_verifier = generate_hash_device(eve["NewDeviceMetadata"]["DeviceGroupKey"], new_key)[1]["PasswordVerifier"]
    unpadded_salt = base64.b64encode(b"\xff" * 16).decode()  # the clients pad it: 00ff...; it could never load back
    for bad in ({"PasswordVerifier": "AAAA", "Salt": "AAAA"}, {"PasswordVerifier": good_verifier, "Salt": unpadded_salt}):
        assert _error(lambda: idp.confirm_device(AccessToken=eve["AccessToken"], DeviceKey=new_key,
                                                 DeviceSecretVerifierConfig=bad)) == "InvalidParameterException"


def test_a_pending_device_step_is_not_found_by_username_and_device_key_alone(server, idp, site):
    pool, client_id = site
    tokens, key, device_password = _confirmed_device(idp, client_id)
    pending = _password(idp, client_id, DEVICE_KEY=key)  # the owner's sign-in, at DEVICE_SRP_AUTH
    assert pending["ChallengeName"] == "DEVICE_SRP_AUTH"
    stranger = AWSSRP(username="dan", password="unknown", pool_id=pool, client_id=client_id, client=idp,
                      device_key=key, device_group_key=tokens["group"], device_password=device_password)
    taken = _error(lambda: idp.respond_to_auth_challenge(  # no Session: only the owner's SRP_A would name it
        ClientId=client_id, ChallengeName="DEVICE_SRP_AUTH",
        ChallengeResponses={"USERNAME": "dan", "DEVICE_KEY": key, "SRP_A": long_to_hex(stranger.large_a_value)}))
    assert taken == "NotAuthorizedException"
    owner = AWSSRP(username="dan", password=PASSWORD, pool_id=pool, client_id=client_id, client=idp,
                   device_key=key, device_group_key=tokens["group"], device_password=device_password)
    verifier = idp.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="DEVICE_SRP_AUTH", Session=pending["Session"],
        ChallengeResponses={"USERNAME": "dan", "DEVICE_KEY": key, "SRP_A": long_to_hex(owner.large_a_value)})
    answer = owner.process_device_challenge(verifier["ChallengeParameters"])
    done = idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="DEVICE_PASSWORD_VERIFIER",
                                         ChallengeResponses=answer)
    assert "AccessToken" in done["AuthenticationResult"]
