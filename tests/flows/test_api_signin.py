"""Sign-in through the cognito-idp JSON API with boto3, against a real server: password
sign-in, the challenges of the sign-in engine (new password, TOTP enrolment and codes,
emailed codes), refresh at both doors, and Sessions that are replayed, foreign or
answered out of order."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pyotp
import pytest
import requests

from tests.aws import api_broker, cognito_idp, refused
from tests.rp import CALLBACK
from tests.smtp import MailServer, code_in

PASSWORD = "Corr3ct-Horse!"
FLOWS = ("--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, mail):
    with api_broker(tmp_path_factory.mktemp("apisignin"), redis_url, **mail.broker_env()) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


def _site(server, *pool_args: str, secret: bool = False, flows: tuple[str, ...] = FLOWS) -> tuple[str, dict]:
    pool = server.pool(*pool_args)
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             *flows, *(("--secret",) if secret else ()))
    return pool, client


def _user(server, pool: str, username: str = "ann", *extra: str) -> None:
    server.cli("user", "create", "--pool", pool, "--username", username, "--password", PASSWORD,
               "--email", f"{username}@example.com", *extra)


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _sign_in(idp, client_id: str, username: str = "ann", password: str = PASSWORD, **auth: str) -> dict:
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password, **auth})


_error = refused


def test_password_sign_in_answers_cognito_tokens_that_userinfo_refuses(server, idp):
    pool, client = _site(server)
    _user(server, pool, "ann", "--confirmed")
    result = _sign_in(idp, client["ClientId"])["AuthenticationResult"]
    access, id_token = _claims(result["AccessToken"]), _claims(result["IdToken"])
    assert access["scope"] == "aws.cognito.signin.user.admin" and access["token_use"] == "access"
    assert access["username"] == "ann" and access["client_id"] == client["ClientId"]
    assert id_token["aud"] == client["ClientId"] and id_token["email"] == "ann@example.com"
    assert id_token["cognito:username"] == "ann" and result["TokenType"] == "Bearer" and result["RefreshToken"]
    userinfo = requests.get(server.url(pool, "/oauth2/userInfo"), timeout=10,
                            headers={"Authorization": f"Bearer {result['AccessToken']}"})
    assert userinfo.status_code in (401, 403)


def test_unknown_user_and_wrong_password_answer_the_same(server, idp):
    pool, client = _site(server)
    _user(server, pool, "ann", "--confirmed")
    wrong = _error(lambda: _sign_in(idp, client["ClientId"], password="Wrong-Horse-1!"))
    unknown = _error(lambda: _sign_in(idp, client["ClientId"], username="nobody"))
    assert wrong == unknown == ("NotAuthorizedException", "Incorrect username or password.")


def test_a_flow_the_client_does_not_allow_is_refused(server, idp):
    pool, client = _site(server, flows=())
    _user(server, pool, "ann", "--confirmed")
    code, message = _error(lambda: _sign_in(idp, client["ClientId"]))
    assert code == "InvalidParameterException" and "USER_PASSWORD_AUTH flow not enabled" in message


def test_a_client_with_a_secret_needs_the_secret_hash(server, idp):
    pool, client = _site(server, secret=True)
    _user(server, pool, "ann", "--confirmed")
    assert _error(lambda: _sign_in(idp, client["ClientId"]))[0] == "NotAuthorizedException"
    wrong = base64.b64encode(b"x" * 32).decode()
    assert _error(lambda: _sign_in(idp, client["ClientId"], SECRET_HASH=wrong))[0] == "NotAuthorizedException"
    digest = hmac.new(client["ClientSecret"].encode(), ("ann" + client["ClientId"]).encode(), hashlib.sha256)
    result = _sign_in(idp, client["ClientId"], SECRET_HASH=base64.b64encode(digest.digest()).decode())
    assert "AccessToken" in result["AuthenticationResult"]


def test_a_temporary_password_is_replaced_at_the_new_password_challenge(server, idp):
    pool, client = _site(server)
    _user(server, pool, "ann", "--suppress-invitation")  # FORCE_CHANGE_PASSWORD
    challenge = _sign_in(idp, client["ClientId"])
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert challenge["ChallengeParameters"]["USER_ID_FOR_SRP"] == "ann"

    def answer(password: str) -> dict:
        return idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                             Session=challenge["Session"],
                                             ChallengeResponses={"USERNAME": "ann", "NEW_PASSWORD": password})

    assert _error(lambda: answer("short"))[0] == "InvalidPasswordException"
    tokens = answer("Brand-N3w-Horse!")["AuthenticationResult"]  # the same Session answers again
    assert _claims(tokens["AccessToken"])["username"] == "ann"
    assert _error(lambda: answer("Other-N3w-Horse!"))[0] == "NotAuthorizedException"  # used up
    assert _error(lambda: _sign_in(idp, client["ClientId"]))[0] == "NotAuthorizedException"
    assert "AuthenticationResult" in _sign_in(idp, client["ClientId"], password="Brand-N3w-Horse!")


def test_totp_is_enrolled_at_mfa_setup_then_asked_for(server, idp):
    pool, client = _site(server, "--mfa", "ON")
    _user(server, pool, "ann", "--confirmed")
    setup = _sign_in(idp, client["ClientId"])
    assert setup["ChallengeName"] == "MFA_SETUP"
    skipped = _error(lambda: idp.respond_to_auth_challenge(  # no TOTP enrolled yet: no tokens
        ClientId=client["ClientId"], ChallengeName="MFA_SETUP", Session=setup["Session"],
        ChallengeResponses={"USERNAME": "ann"}))
    assert skipped[0] == "InvalidParameterException"
    associated = idp.associate_software_token(Session=setup["Session"])
    totp = pyotp.TOTP(associated["SecretCode"])
    wrong = _error(lambda: idp.verify_software_token(Session=associated["Session"], UserCode="000000"))
    assert wrong[0] == "EnableSoftwareTokenMFAException"
    verified = idp.verify_software_token(Session=associated["Session"], UserCode=totp.now())
    assert verified["Status"] == "SUCCESS"
    done = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="MFA_SETUP",
                                         Session=verified["Session"], ChallengeResponses={"USERNAME": "ann"})
    assert _claims(done["AuthenticationResult"]["IdToken"])["amr"] == ["pwd", "otp", "mfa"]

    challenge = _sign_in(idp, client["ClientId"])
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"

    def answer(code: str) -> dict:
        return idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="SOFTWARE_TOKEN_MFA",
                                             Session=challenge["Session"],
                                             ChallengeResponses={"USERNAME": "ann", "SOFTWARE_TOKEN_MFA_CODE": code})

    assert _error(lambda: answer("123456" if totp.now() != "123456" else "654321"))[0] == "CodeMismatchException"
    later = totp.at(int(__import__("time").time()) + 30)  # the enrolment used this step's code
    assert "AccessToken" in answer(later)["AuthenticationResult"]


def test_an_emailed_code_is_the_second_factor_when_preferred(server, idp, mail):
    pool, client = _site(server, "--mfa", "OPTIONAL")
    _user(server, pool, "eve", "--confirmed", "--attribute", "email_verified=true")
    server.cli("user", "mfa", "set", "--pool", pool, "--username", "eve", "--email-otp", "--preferred", "EMAIL_OTP")
    challenge = _sign_in(idp, client["ClientId"], username="eve")
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    assert challenge["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "e***@e***"
    code = code_in(mail.wait_for("eve@example.com"))
    done = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="EMAIL_OTP",
                                         Session=challenge["Session"],
                                         ChallengeResponses={"USERNAME": "eve", "EMAIL_OTP_CODE": code})
    assert _claims(done["AuthenticationResult"]["AccessToken"])["username"] == "eve"


def test_sessions_that_are_foreign_unknown_or_answered_out_of_order(server, idp):
    pool, client = _site(server)
    _other_pool, other = _site(server)
    _user(server, pool, "ann", "--suppress-invitation")
    challenge = _sign_in(idp, client["ClientId"])

    def respond(client_id: str, name: str, session: str, **responses: str) -> dict:
        return idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName=name, Session=session,
                                             ChallengeResponses={"USERNAME": "ann", **responses})

    assert _error(lambda: respond(other["ClientId"], "NEW_PASSWORD_REQUIRED", challenge["Session"],
                                  NEW_PASSWORD="Brand-N3w-Horse!"))[0] == "NotAuthorizedException"
    # another client's answer left the Session as it was: the owner goes on with it below
    out_of_order = _error(lambda: respond(client["ClientId"], "SOFTWARE_TOKEN_MFA", challenge["Session"],
                                          SOFTWARE_TOKEN_MFA_CODE="123456"))
    assert out_of_order[0] == "InvalidParameterException"
    assert _error(lambda: respond(client["ClientId"], "NEW_PASSWORD_REQUIRED", "x" * 40,
                                  NEW_PASSWORD="Brand-N3w-Horse!"))[0] == "NotAuthorizedException"
    done = respond(client["ClientId"], "NEW_PASSWORD_REQUIRED", challenge["Session"], NEW_PASSWORD="Brand-N3w-Horse!")
    assert "AccessToken" in done["AuthenticationResult"]  # the refused answers changed nothing


def test_refresh_tokens_work_at_both_doors_and_rotate_where_the_client_rotates(server, idp):
    pool, client = _site(server)  # a public client: its refresh tokens rotate
    _user(server, pool, "ann", "--confirmed")
    first = _sign_in(idp, client["ClientId"])["AuthenticationResult"]

    def refresh_auth(token: str) -> dict:
        return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": token})["AuthenticationResult"]

    refreshed = refresh_auth(first["RefreshToken"])
    assert refreshed["RefreshToken"] != first["RefreshToken"]  # rotated here too
    assert _claims(refreshed["IdToken"])["cognito:username"] == "ann"
    assert _claims(refreshed["AccessToken"])["scope"] == "aws.cognito.signin.user.admin"
    rotated = idp.get_tokens_from_refresh_token(ClientId=client["ClientId"],
                                                RefreshToken=refreshed["RefreshToken"])["AuthenticationResult"]
    assert rotated["RefreshToken"] not in (first["RefreshToken"], refreshed["RefreshToken"])
    at_token_endpoint = requests.post(server.url(pool, "/oauth2/token"), timeout=10, data={
        "grant_type": "refresh_token", "client_id": client["ClientId"], "refresh_token": rotated["RefreshToken"]})
    assert at_token_endpoint.status_code == 200, at_token_endpoint.text
    # a rotated-away token, presented again, is refused and revokes its family at every door
    assert _error(lambda: refresh_auth(first["RefreshToken"]))[0] == "NotAuthorizedException"
    newest = at_token_endpoint.json()["refresh_token"]
    assert _error(lambda: idp.get_tokens_from_refresh_token(
        ClientId=client["ClientId"], RefreshToken=newest))[0] == "NotAuthorizedException"


def test_refresh_token_auth_keeps_the_token_where_the_client_does_not_rotate(server, idp):
    pool, client = _site(server)
    server.cli("client", "update", "--pool", pool, "--client", client["ClientId"], "--no-rotate-refresh-tokens")
    _user(server, pool, "ann", "--confirmed")
    first = _sign_in(idp, client["ClientId"])["AuthenticationResult"]
    for _ in range(2):
        again = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]})["AuthenticationResult"]
        assert "RefreshToken" not in again and _claims(again["AccessToken"])["username"] == "ann"


def test_a_user_with_two_factors_and_no_preference_chooses_one(server, idp, mail):
    pool, client = _site(server, "--mfa", "OPTIONAL")
    _user(server, pool, "tia", "--confirmed", "--attribute", "email_verified=true")
    access = _sign_in(idp, client["ClientId"], username="tia")["AuthenticationResult"]["AccessToken"]
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    idp.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).now())
    idp.set_user_mfa_preference(AccessToken=access,
                                SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
                                EmailMfaSettings={"Enabled": True, "PreferredMfa": False})
    choice = _sign_in(idp, client["ClientId"], username="tia")
    assert choice["ChallengeName"] == "SELECT_MFA_TYPE"
    assert sorted(json.loads(choice["ChallengeParameters"]["MFAS_CAN_CHOOSE"])) == ["EMAIL_OTP", "SOFTWARE_TOKEN_MFA"]

    def respond(name: str, session: str, **responses: str) -> dict:
        return idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName=name, Session=session,
                                             ChallengeResponses={"USERNAME": "tia", **responses})

    assert _error(lambda: respond("SELECT_MFA_TYPE", choice["Session"], ANSWER="SMS_MFA"))[0] == \
        "InvalidParameterException"  # not offered; the Session still answers
    emailed = respond("SELECT_MFA_TYPE", choice["Session"], ANSWER="EMAIL_OTP")
    assert emailed["ChallengeName"] == "EMAIL_OTP"
    code = code_in(mail.wait_for("tia@example.com"))
    done = respond("EMAIL_OTP", emailed["Session"], EMAIL_OTP_CODE=code)
    assert _claims(done["AuthenticationResult"]["IdToken"])["amr"] == ["pwd", "otp", "mfa"]


def test_unconfirmed_and_reset_accounts_are_told_only_to_the_right_password(server, idp):
    pool, client = _site(server)
    idp.sign_up(ClientId=client["ClientId"], Username="uma", Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": "uma@example.com"}])
    assert _error(lambda: _sign_in(idp, client["ClientId"], username="uma"))[0] == "UserNotConfirmedException"
    assert _error(lambda: _sign_in(idp, client["ClientId"], username="uma", password="Wrong-Horse-1!")) == \
        ("NotAuthorizedException", "Incorrect username or password.")
    _user(server, pool, "rex", "--confirmed")
    server.cli("user", "reset-password", "--pool", pool, "--username", "rex")
    assert _error(lambda: _sign_in(idp, client["ClientId"], username="rex"))[0] == "PasswordResetRequiredException"
    assert _error(lambda: _sign_in(idp, client["ClientId"], username="rex", password="Wrong-Horse-1!"))[0] == \
        "NotAuthorizedException"
