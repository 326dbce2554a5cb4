"""Choice-based sign-in (InitiateAuth ``USER_AUTH``) with boto3 against a real server: a code
by email as the first factor (read from the mail a real SMTP server received), the password,
the password by SRP (pycognito's SRP client), the SELECT_CHALLENGE round trip; and what an
attacker tries: wrong codes, a replayed Session, names the pool lacks, clients and pools
that do not allow the flow or the factor."""
from __future__ import annotations

import base64
import json

import pytest
from pycognito.aws_srp import AWSSRP

from tests.aws import api_broker, cognito_idp, refused
from tests.flows.test_api_enumeration_timing import call
from tests.flows.test_attribute_changes import SmsGateway
from tests.flows.test_enumeration_timing import TRIES, compare
from tests.rp import CALLBACK
from tests.smtp import MailServer, code_in

PASSWORD = "Corr3ct-Horse!"
USER_AUTH = ("--auth-flow", "ALLOW_USER_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")
CODES = ("--first-factor", "PASSWORD", "--first-factor", "EMAIL_OTP")


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def sms():
    gateway = SmsGateway()
    yield gateway
    gateway.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, mail, sms):
    with api_broker(tmp_path_factory.mktemp("userauth"), redis_url, BROKER_TRUSTED_PROXIES="1",
                    BROKER_SMS_WEBHOOK_URL=sms.url, **mail.broker_env()) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


def site(server, *factors: str, flows: tuple[str, ...] = USER_AUTH, users: tuple[str, ...] = ("ann",)) -> tuple[str, str]:
    """A pool (``factors``: its `pool update` options), an app client allowed ``flows``, and
    confirmed ``users`` with a password and an email address; the pool's and client's ids."""
    pool = server.pool()
    if factors:
        server.cli("pool", "update", "--pool", pool, *factors)
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK, *flows)
    for name in users:
        server.cli("user", "create", "--pool", pool, "--username", name, "--password", PASSWORD,
                   "--email", f"{name}@example.com", "--confirmed")
    return pool, client["ClientId"]


def _start(idp, client_id: str, username: str = "ann", **auth: str) -> dict:
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH", AuthParameters={"USERNAME": username, **auth})


def _respond(idp, client_id: str, name: str, session: str, **responses: str) -> dict:
    return idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName=name, Session=session,
                                         ChallengeResponses=responses)


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_an_emailed_code_signs_in_without_a_password(server, idp, mail):
    _pool, client_id = site(server, *CODES)
    challenge = _start(idp, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    assert challenge["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    assert challenge["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "a***@e***"
    code = code_in(mail.wait_for("ann@example.com"))
    done = _respond(idp, client_id, "EMAIL_OTP", challenge["Session"], USERNAME="ann", EMAIL_OTP_CODE=code)
    tokens = done["AuthenticationResult"]
    assert _claims(tokens["AccessToken"])["username"] == "ann" and tokens["RefreshToken"]
    assert _claims(tokens["IdToken"])["amr"] == ["otp"]
    again = refused(lambda: _respond(idp, client_id, "EMAIL_OTP", challenge["Session"], EMAIL_OTP_CODE=code))
    assert again[0] == "NotAuthorizedException"  # a Session answers once


def test_a_texted_code_signs_in_a_user_with_a_verified_number(server, idp, sms):
    pool, client_id = site(server, "--first-factor", "PASSWORD", "--first-factor", "SMS_OTP")
    server.cli("user", "create", "--pool", pool, "--username", "pat", "--password", PASSWORD, "--confirmed",
               "--attribute", "phone_number=+14325551212", "--attribute", "phone_number_verified=true")
    assert _start(idp, client_id)["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "SMS_OTP"]  # (the pool's)
    challenge = _start(idp, client_id, "pat", PREFERRED_CHALLENGE="SMS_OTP")
    assert challenge["ChallengeName"] == "SMS_OTP"
    assert challenge["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "SMS"
    assert challenge["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******1212"
    code = code_in(sms.wait_for("+14325551212"))
    done = _respond(idp, client_id, "SMS_OTP", challenge["Session"], USERNAME="pat", SMS_OTP_CODE=code)
    assert _claims(done["AuthenticationResult"]["AccessToken"])["username"] == "pat"


def test_the_password_and_its_srp_proof_sign_in_through_user_auth(server, idp):
    pool, client_id = site(server)
    tokens = _start(idp, client_id, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["AuthenticationResult"]
    assert _claims(tokens["IdToken"])["amr"] == ["pwd"]
    assert refused(lambda: _start(idp, client_id, PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Wrong-Horse-1!")) == \
        ("NotAuthorizedException", "Incorrect username or password.")
    missing = refused(lambda: _start(idp, client_id, PREFERRED_CHALLENGE="PASSWORD"))
    assert missing == ("InvalidParameterException", "Missing required parameter PASSWORD")

    srp = AWSSRP(username="ann", password=PASSWORD, pool_id=pool, client_id=client_id, client=idp)
    auth = srp.get_auth_params()
    verifier = _start(idp, client_id, SRP_A=auth["SRP_A"], PREFERRED_CHALLENGE="PASSWORD_SRP")
    assert verifier["ChallengeName"] == "PASSWORD_VERIFIER"
    responses = srp.process_challenge(verifier["ChallengeParameters"], auth)
    done = _respond(idp, client_id, "PASSWORD_VERIFIER", verifier["Session"], **responses)
    assert _claims(done["AuthenticationResult"]["AccessToken"])["username"] == "ann"


def test_without_a_preference_the_user_chooses_among_the_available_challenges(server, idp, mail):
    _pool, client_id = site(server, *CODES)
    choice = _start(idp, client_id)
    assert choice["ChallengeName"] == "SELECT_CHALLENGE"
    assert choice["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"]
    not_offered = refused(lambda: _respond(idp, client_id, "SELECT_CHALLENGE", choice["Session"], USERNAME="ann",
                                           ANSWER="WEB_AUTHN"))
    assert not_offered[0] == "InvalidParameterException"
    emailed = _respond(idp, client_id, "SELECT_CHALLENGE", choice["Session"], USERNAME="ann", ANSWER="EMAIL_OTP")
    assert emailed["ChallengeName"] == "EMAIL_OTP"  # the same Session chose again
    code = code_in(mail.wait_for("ann@example.com"))
    done = _respond(idp, client_id, "EMAIL_OTP", emailed["Session"], USERNAME="ann", EMAIL_OTP_CODE=code)
    assert "AccessToken" in done["AuthenticationResult"]

    choice = _start(idp, client_id)
    done = _respond(idp, client_id, "SELECT_CHALLENGE", choice["Session"], USERNAME="ann", ANSWER="PASSWORD",
                    PASSWORD=PASSWORD)
    assert _claims(done["AuthenticationResult"]["IdToken"])["amr"] == ["pwd"]


def test_wrong_codes_end_the_sign_in_and_the_sent_code_with_it(server, idp, mail):
    _pool, client_id = site(server, *CODES)
    challenge = _start(idp, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
    code = code_in(mail.wait_for("ann@example.com"))
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert refused(lambda: _respond(idp, client_id, "EMAIL_OTP", challenge["Session"],
                                        EMAIL_OTP_CODE=wrong))[0] == "CodeMismatchException"
    fifth = refused(lambda: _respond(idp, client_id, "EMAIL_OTP", challenge["Session"], EMAIL_OTP_CODE=wrong))
    assert fifth == ("NotAuthorizedException", "Invalid session for the user, too many failed attempts.")
    late = refused(lambda: _respond(idp, client_id, "EMAIL_OTP", challenge["Session"], EMAIL_OTP_CODE=code))
    assert late[0] == "NotAuthorizedException"  # the right code comes too late: the sign-in is over


def test_a_name_the_pool_lacks_is_answered_as_a_user_is(server, idp, mail):
    _pool, client_id = site(server, *CODES)
    known, unknown = _start(idp, client_id), _start(idp, client_id, "nobody")
    assert unknown["ChallengeName"] == known["ChallengeName"] == "SELECT_CHALLENGE"
    assert unknown["AvailableChallenges"] == known["AvailableChallenges"]
    assert set(unknown["ChallengeParameters"]) == set(known["ChallengeParameters"])
    sent = _start(idp, client_id, "nobody", PREFERRED_CHALLENGE="EMAIL_OTP")
    assert sent["ChallengeName"] == "EMAIL_OTP"
    params = sent["ChallengeParameters"]
    assert params["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL" and params["CODE_DELIVERY_DESTINATION"].endswith("***")
    again = _start(idp, client_id, "nobody", PREFERRED_CHALLENGE="EMAIL_OTP")
    assert again["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == params["CODE_DELIVERY_DESTINATION"]
    for _ in range(4):
        assert refused(lambda: _respond(idp, client_id, "EMAIL_OTP", sent["Session"], USERNAME="nobody",
                                        EMAIL_OTP_CODE="123456"))[0] == "CodeMismatchException"
    assert refused(lambda: _respond(idp, client_id, "EMAIL_OTP", sent["Session"], EMAIL_OTP_CODE="123456")) == \
        ("NotAuthorizedException", "Invalid session for the user, too many failed attempts.")
    wrong = refused(lambda: _respond(idp, client_id, "SELECT_CHALLENGE", unknown["Session"], USERNAME="nobody",
                                     ANSWER="PASSWORD", PASSWORD=PASSWORD))
    assert wrong == ("NotAuthorizedException", "Incorrect username or password.")
    assert mail.pending("nobody") == []


def test_the_time_of_a_code_sent_does_not_tell_whether_the_name_exists(server, mail):
    known, unknown = [f"known{i}" for i in range(TRIES)], [f"ghost{i}" for i in range(TRIES)]
    _pool, client_id = site(server, *CODES, users=tuple(known))

    def sent(ip: str, username: str) -> tuple[float, tuple]:
        return call(server, ip, "InitiateAuth", {"ClientId": client_id, "AuthFlow": "USER_AUTH", "AuthParameters": {
            "USERNAME": username, "PREFERRED_CHALLENGE": "EMAIL_OTP"}})

    compare("USER_AUTH EMAIL_OTP", str, known, unknown, sent)
    for name in known:  # each known name was sent its code (by the outbox, a moment after the answer)
        assert code_in(mail.wait_for(f"{name}@example.com"))


def test_the_client_must_allow_user_auth_and_the_pool_the_factor(server, idp, mail):
    _pool, client_id = site(server, *CODES, flows=("--auth-flow", "ALLOW_USER_PASSWORD_AUTH"))
    assert refused(lambda: _start(idp, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")) == \
        ("InvalidParameterException", "USER_AUTH flow not enabled for this client")
    assert mail.pending("ann@example.com") == []

    _pool, client_id = site(server)  # the password only, as every pool without a sign-in policy
    choice = _start(idp, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
    assert choice["ChallengeName"] == "SELECT_CHALLENGE" and choice["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]
    code, _message = refused(lambda: _respond(idp, client_id, "SELECT_CHALLENGE", choice["Session"], USERNAME="ann",
                                              ANSWER="EMAIL_OTP"))
    assert code == "InvalidParameterException" and mail.pending("ann@example.com") == []
    assert refused(lambda: _start(idp, client_id, PREFERRED_CHALLENGE="CARRIER_PIGEON"))[0] == \
        "InvalidParameterException"


def test_a_user_with_a_second_factor_gets_no_passwordless_code(server, idp, mail):
    pool, client_id = site(server, *CODES)
    server.cli("pool", "set-mfa", "--pool", pool, "--mfa", "OPTIONAL", "--method", "EMAIL_OTP")
    server.cli("user", "mfa", "set", "--pool", pool, "--username", "ann", "--email-otp", "--preferred", "EMAIL_OTP")
    stand_in = _start(idp, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")  # (as for a name the pool lacks)
    assert stand_in["ChallengeName"] == "EMAIL_OTP" and stand_in["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"]
    assert mail.pending("ann@example.com") == []
    wrong = refused(lambda: _respond(idp, client_id, "EMAIL_OTP", stand_in["Session"], USERNAME="ann",
                                     EMAIL_OTP_CODE="123456"))
    assert wrong[0] == "CodeMismatchException"
    choice = _start(idp, client_id)
    assert choice["ChallengeName"] == "SELECT_CHALLENGE"
    second = _respond(idp, client_id, "SELECT_CHALLENGE", choice["Session"], USERNAME="ann", ANSWER="PASSWORD",
                      PASSWORD=PASSWORD)
    assert second["ChallengeName"] == "EMAIL_OTP"  # now as the second factor, after the password
    code = code_in(mail.wait_for("ann@example.com"))
    done = _respond(idp, client_id, "EMAIL_OTP", second["Session"], USERNAME="ann", EMAIL_OTP_CODE=code)
    assert _claims(done["AuthenticationResult"]["IdToken"])["amr"] == ["pwd", "otp", "mfa"]
