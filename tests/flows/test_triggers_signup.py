"""The triggers around accounts and messages, run by a real server on Python handlers written
as AWS documents them (tests/trigger_handlers/signup_*.py) and on a webhook, driven by boto3:
PreSignUp (SignUp, AdminCreateUser, ``broker user create``), PostConfirmation (ConfirmSignUp,
AdminConfirmSignUp, ConfirmForgotPassword, an auto-confirmed sign-up), CustomMessage for every
trigger source (the text read back from a real SMTP server), and the custom senders (the
code handed to a Python target in the clear, to a webhook encrypted)."""
from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest

from broker.triggers.senders import decrypt_code
from tests.aws import admin_idp, cognito_idp, refused
from tests.conftest import Broker
from tests.flows.triggers_common import journal, mail, served_with_mail, server  # noqa: F401 (fixtures)
from tests.flows.triggers_common import (
    HANDLERS, PASSWORD, Receiver, attributes, claims, email, events, sign_in, site, users, wait_events,
)
from tests.smtp import MailServer, code_in

NEW_PASSWORD = "N3w-Batt3ry-Staple!"
FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
RECORD = f"{HANDLERS}.record:lambda_handler"


@pytest.fixture(scope="module")
def idp(server: Broker) -> Any:
    return cognito_idp(server.base_url)


@pytest.fixture(scope="module")
def admin(server: Broker) -> Any:
    return admin_idp(server.base_url, server.cli_json("admin-key", "create"))


# --- PreSignUp ----------------------------------------------------------------------------

def test_an_auto_confirmed_sign_up_signs_in_at_once_with_its_email_verified(server, mail, journal, idp) -> None:
    s = site(server, f"PreSignUp={HANDLERS}.signup_domain:auto_confirm_company", f"PostConfirmation={RECORD}",
             flows=FLOWS)
    pool, client_id = s.ids
    out = idp.sign_up(ClientId=client_id, Username="Alice", Password=PASSWORD,
                      UserAttributes=email("alice@corp.example"),
                      ValidationData=[{"Name": "invite", "Value": "X-1"}],
                      ClientMetadata={"campaign": "spring"})
    assert out["UserConfirmed"] is True and "CodeDeliveryDetails" not in out

    [event] = events(journal, pool, "PreSignUp_SignUp")
    assert {k: event[k] for k in ("version", "region", "userPoolId", "userName")} == {
        "version": "1", "region": "local", "userPoolId": pool, "userName": "alice"}
    assert event["callerContext"]["clientId"] == client_id and event["callerContext"]["awsSdkVersion"]
    assert event["request"] == {"userAttributes": {"email": "alice@corp.example"},
                                "validationData": {"invite": "X-1"}, "clientMetadata": {"campaign": "spring"}}
    assert event["response"] == {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}
    # PostConfirmation ran before SignUp answered, with the confirmed user
    [confirmed] = events(journal, pool, "PostConfirmation_ConfirmSignUp")
    assert confirmed["userName"] == "alice" and confirmed["request"]["clientMetadata"] == {"campaign": "spring"}
    assert confirmed["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    assert confirmed["request"]["userAttributes"]["sub"] == out["UserSub"]

    tokens = sign_in(idp, client_id, "alice")["AuthenticationResult"]
    id_token = claims(tokens["IdToken"])
    assert id_token["email"] == "alice@corp.example" and id_token["email_verified"] is True
    assert users(server, pool)["alice"]["UserStatus"] == "CONFIRMED"
    time.sleep(0.5)
    assert mail.pending("alice@corp.example") == []  # no confirmation code

    # outside the company's domain: confirmed by code, as without the trigger
    other = idp.sign_up(ClientId=client_id, Username="bob", Password=PASSWORD,
                        UserAttributes=email("bob@elsewhere.example"))
    assert other["UserConfirmed"] is False and other["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    code = code_in(mail.wait_for("bob@elsewhere.example"))
    idp.confirm_sign_up(ClientId=client_id, Username="bob", ConfirmationCode=code)
    assert [e["userName"] for e in events(journal, pool, "PostConfirmation_ConfirmSignUp")] == ["alice", "bob"]


def test_a_refused_sign_up_answers_cognitos_error_and_creates_nobody(server, mail, idp) -> None:
    s = site(server, flows=FLOWS)
    pool, client_id = s.ids
    server.cli("user", "create", "--pool", pool, "--username", "taken", "--password", PASSWORD,
               "--email", "taken@elsewhere.example", "--confirmed", "--suppress-invitation")
    s.triggers(f"PreSignUp={HANDLERS}.signup_domain:company_only")
    message = "PreSignUp failed with error Sign-ups from freemail.example are not allowed."
    for name in ("newcomer", "taken"):  # a taken name is refused alike: the trigger tells nothing about it
        code, text = refused(lambda: idp.sign_up(ClientId=client_id, Username=name, Password=PASSWORD,
                                                 UserAttributes=email(f"{name}@freemail.example")))
        assert (code, text) == ("UserLambdaValidationException", message)
    assert sorted(users(server, pool)) == ["taken"]
    time.sleep(0.5)
    assert mail.pending("newcomer@freemail.example") == [] and mail.pending("taken@elsewhere.example") == []
    assert idp.sign_up(ClientId=client_id, Username="carol", Password=PASSWORD,
                       UserAttributes=email("carol@corp.example"))["UserConfirmed"] is False


def test_answers_cognito_refuses_fail_the_sign_up(server, idp) -> None:
    s = site(server, f"PreSignUp={HANDLERS}.signup_domain:verify_without_confirm", flows=FLOWS)
    pool, client_id = s.ids

    def sign_up() -> Any:
        return idp.sign_up(ClientId=client_id, Username="dan", Password=PASSWORD,
                           UserAttributes=email("dan@corp.example"))

    assert refused(sign_up) == ("InvalidParameterException",
                                "Phone or email cannot be auto verified, when user is not being auto confirmed.")
    s.triggers(f"PreSignUp={HANDLERS}.signup_domain:confirm_as_text")
    assert refused(sign_up) == ("InvalidLambdaResponseException", "Unrecognizable lambda output")
    assert users(server, pool) == {}


def test_admin_create_user_fires_pre_sign_up_whose_answer_it_ignores(server, journal, admin) -> None:
    s = site(server, f"PreSignUp={HANDLERS}.signup_domain:auto_confirm_company", flows=FLOWS)
    pool, _client = s.ids
    admin.admin_create_user(UserPoolId=pool, Username="erin", MessageAction="SUPPRESS",
                            UserAttributes=email("erin@corp.example"),
                            ValidationData=[{"Name": "ticket", "Value": "T-9"}],
                            ClientMetadata={"by": "helpdesk"})
    [event] = events(journal, pool, "PreSignUp_AdminCreateUser")
    assert event["userName"] == "erin" and event["callerContext"]["clientId"] == "CLIENT_ID_NOT_APPLICABLE"
    assert event["request"] == {"userAttributes": {"email": "erin@corp.example"},
                                "validationData": {"ticket": "T-9"}, "clientMetadata": {"by": "helpdesk"}}
    assert users(server, pool)["erin"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"  # autoConfirmUser ignored, as Cognito

    server.cli("user", "create", "--pool", pool, "--username", "fay", "--password", PASSWORD,
               "--email", "fay@corp.example", "--suppress-invitation",
               process=True)  # its own process: in this one it would start the handlers' forkserver
    assert [e["userName"] for e in events(journal, pool, "PreSignUp_AdminCreateUser")] == ["erin", "fay"]

    s.triggers(f"PreSignUp={HANDLERS}.signup_domain:company_only")
    assert refused(lambda: admin.admin_create_user(UserPoolId=pool, Username="gus", MessageAction="SUPPRESS",
                                                   UserAttributes=email("gus@freemail.example"))) == (
   "UserLambdaValidationException", "PreSignUp failed with error Sign-ups from freemail.example are not allowed.")
    assert "gus" not in users(server, pool)


# --- PostConfirmation ---------------------------------------------------------------------

def test_post_confirmation_follows_every_confirmation_and_a_failing_one_leaves_it_done(server, mail, journal, idp,
                                                                                         admin) -> None:
    s = site(server, f"PostConfirmation={RECORD}", flows=FLOWS)
    pool, client_id = s.ids
    idp.sign_up(ClientId=client_id, Username="hal", Password=PASSWORD, UserAttributes=email("hal@example.com"))
    code = code_in(mail.wait_for("hal@example.com"))
    idp.confirm_sign_up(ClientId=client_id, Username="hal", ConfirmationCode=code,
                        ClientMetadata={"step": "confirm"})
    [event] = events(journal, pool, "PostConfirmation_ConfirmSignUp")
    assert event["callerContext"]["clientId"] == client_id and event["response"] == {}
    request = event["request"]
    assert request["clientMetadata"] == {"step": "confirm"}
    assert {k: request["userAttributes"][k] for k in ("email", "email_verified", "cognito:user_status")} == {
        "email": "hal@example.com", "email_verified": "true", "cognito:user_status": "CONFIRMED"}

    idp.forgot_password(ClientId=client_id, Username="hal")
    reset = code_in(mail.wait_for("hal@example.com"))
    idp.confirm_forgot_password(ClientId=client_id, Username="hal", ConfirmationCode=reset,
                                Password=NEW_PASSWORD)
    [after_reset] = events(journal, pool, "PostConfirmation_ConfirmForgotPassword")
    assert after_reset["userName"] == "hal"

    idp.sign_up(ClientId=client_id, Username="ivy", Password=PASSWORD, UserAttributes=email("ivy@example.com"))
    mail.wait_for("ivy@example.com")
    admin.admin_confirm_sign_up(UserPoolId=pool, Username="ivy")
    assert [e["userName"] for e in events(journal, pool, "PostConfirmation_ConfirmSignUp")] == ["hal", "ivy"]

    s.triggers(f"PostConfirmation={HANDLERS}.misbehaving:welcome_service_down")
    idp.sign_up(ClientId=client_id, Username="jo", Password=PASSWORD, UserAttributes=email("jo@example.com"))
    code = code_in(mail.wait_for("jo@example.com"))
    assert refused(lambda: idp.confirm_sign_up(ClientId=client_id, Username="jo", ConfirmationCode=code)) == (
        "UserLambdaValidationException", "PostConfirmation failed with error The welcome service is down.")
    assert users(server, pool)["jo"]["UserStatus"] == "CONFIRMED"  # as in Cognito: the confirmation stands
    assert "AccessToken" in sign_in(idp, client_id, "jo")["AuthenticationResult"]
    assert "PostConfirmation (PostConfirmation_ConfirmSignUp) of jo" in server.log.read_text()


# --- CustomMessage ------------------------------------------------------------------------

def custom_mail(mail: MailServer, to: str, source: str) -> str:
    """The text of the next mail to ``to``, which the CustomMessage handler wrote for ``source``."""
    letter = mail.wait_for_mail(to)
    assert letter.subject == f"[{source}] from the app", letter
    return letter.text.strip()


def test_custom_message_writes_the_account_mails_of_each_trigger_source(server, mail, journal, idp) -> None:
    s = site(server, f"CustomMessage={HANDLERS}.signup_messages:lambda_handler", flows=FLOWS)
    pool, client_id = s.ids
    idp.sign_up(ClientId=client_id, Username="kim", Password=PASSWORD, UserAttributes=email("kim@example.com"),
                ClientMetadata={"lang": "en"})
    first = custom_mail(mail, "kim@example.com", "CustomMessage_SignUp")
    assert re.fullmatch(r"Hello kim, the code for CustomMessage_SignUp is \d{6}\.", first)
    [event] = events(journal, pool, "CustomMessage_SignUp")
    assert event["request"]["codeParameter"] == "{####}" and event["request"]["linkParameter"] == "{##Click Here##}"
    assert event["request"]["usernameParameter"] is None and event["request"]["clientMetadata"] == {"lang": "en"}
    assert event["request"]["userAttributes"]["email"] == "kim@example.com"
    assert event["request"]["userAttributes"]["cognito:user_status"] == "UNCONFIRMED"
    assert event["response"] == {"smsMessage": None, "emailMessage": None, "emailSubject": None}

    idp.resend_confirmation_code(ClientId=client_id, Username="kim")
    code = code_in(custom_mail(mail, "kim@example.com", "CustomMessage_ResendCode"))
    idp.confirm_sign_up(ClientId=client_id, Username="kim", ConfirmationCode=code)

    idp.forgot_password(ClientId=client_id, Username="kim")
    reset = code_in(custom_mail(mail, "kim@example.com", "CustomMessage_ForgotPassword"))
    idp.confirm_forgot_password(ClientId=client_id, Username="kim", ConfirmationCode=reset, Password=NEW_PASSWORD)

    assert "AccessToken" in sign_in(idp, client_id, "kim", NEW_PASSWORD)["AuthenticationResult"]

    server.cli("user", "create", "--pool", pool, "--username", "kit", "--password", PASSWORD,
               "--email", "kit@example.com", "--confirmed", "--suppress-invitation")
    access = sign_in(idp, client_id, "kit")["AuthenticationResult"]["AccessToken"]
    idp.update_user_attributes(AccessToken=access, UserAttributes=email("kit@new.example"))
    custom_mail(mail, "kit@new.example", "CustomMessage_UpdateUserAttribute")
    idp.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
    verify = code_in(custom_mail(mail, "kit@new.example", "CustomMessage_VerifyUserAttribute"))
    idp.verify_user_attribute(AccessToken=access, AttributeName="email", Code=verify)
    assert attributes(users(server, pool)["kit"])["email"] == "kit@new.example"


def test_custom_message_writes_invitations_with_the_username_and_temporary_password(server, mail, journal, idp,
                                                                                    admin) -> None:
    s = site(server, f"CustomMessage={HANDLERS}.signup_messages:lambda_handler", flows=FLOWS)
    pool, client_id = s.ids
    admin.admin_create_user(UserPoolId=pool, Username="lou", UserAttributes=email("lou@example.com"),
                            DesiredDeliveryMediums=["EMAIL"])
    text = custom_mail(mail, "lou@example.com", "CustomMessage_AdminCreateUser")
    found = re.fullmatch(r"Welcome aboard! Sign in as lou with the password (\S+)\.", text)
    assert found, text
    [event] = events(journal, pool, "CustomMessage_AdminCreateUser")
    assert event["request"]["usernameParameter"] == "{username}" and event["request"]["codeParameter"] == "{####}"
    challenge = sign_in(idp, client_id, "lou", found.group(1))
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_custom_message_writes_the_sign_in_code_by_email(server, mail, idp) -> None:
    s = site(server, f"CustomMessage={HANDLERS}.signup_messages:lambda_handler", flows=FLOWS,
             pool_args=("--mfa", "OPTIONAL"))
    pool, client_id = s.ids
    server.cli("user", "create", "--pool", pool, "--username", "max", "--password", PASSWORD, "--email",
               "max@example.com", "--confirmed", "--attribute", "email_verified=true")
    server.cli("user", "mfa", "set", "--pool", pool, "--username", "max", "--email-otp",
               "--preferred", "EMAIL_OTP")
    challenge = sign_in(idp, client_id, "max")
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    code = code_in(custom_mail(mail, "max@example.com", "CustomMessage_Authentication"))
    done = idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="EMAIL_OTP",
                                         Session=challenge["Session"],
                                         ChallengeResponses={"USERNAME": "max", "EMAIL_OTP_CODE": code})
    assert "AccessToken" in done["AuthenticationResult"]


def test_what_custom_message_leaves_null_comes_from_the_template_and_a_message_needs_its_code(server, mail,
                                                                                              idp) -> None:
    s = site(server, f"CustomMessage={HANDLERS}.signup_messages:subject_only", flows=FLOWS)
    pool, client_id = s.ids
    idp.sign_up(ClientId=client_id, Username="ned", Password=PASSWORD, UserAttributes=email("ned@example.com"))
    letter = mail.wait_for_mail("ned@example.com")
    assert letter.subject == "Only the subject is ours"
    assert letter.text.strip() == f"Your confirmation code is {code_in(letter.text)}."  # the pool's template

    s.triggers(f"CustomMessage={HANDLERS}.signup_messages:html")
    idp.resend_confirmation_code(ClientId=client_id, Username="ned")
    letter = mail.wait_for_mail("ned@example.com")
    code = code_in(letter.text)
    assert letter.text.replace("\r\n", "\n").strip() == f"Hello & welcome,\nyour code is {code}"
    assert f"<b>{code}</b>" in (letter.html or "")

    s.triggers(f"CustomMessage={HANDLERS}.signup_messages:without_code")
    assert refused(lambda: idp.sign_up(ClientId=client_id, Username="olga", Password=PASSWORD,
                                       UserAttributes=email("olga@example.com"))) == (
   "InvalidParameterException", "CustomMessage: the emailMessage must contain the placeholder {####}.")
    assert "olga" not in users(server, pool)


def test_a_failing_custom_message_leaves_nothing_written(server, mail, idp, admin) -> None:
    s = site(server, flows=FLOWS)
    pool, client_id = s.ids
    server.cli("user", "create", "--pool", pool, "--username", "uma", "--password", PASSWORD,
               "--email", "uma@example.com", "--attribute", "given_name=Uma", "--confirmed",
               "--suppress-invitation")
    admin.admin_create_user(UserPoolId=pool, Username="vic", TemporaryPassword=PASSWORD,
                            MessageAction="SUPPRESS", UserAttributes=email("vic@example.com"))
    access = sign_in(idp, client_id, "uma")["AuthenticationResult"]["AccessToken"]
    s.triggers(f"CustomMessage={HANDLERS}.misbehaving:refuse")
    failed = ("UserLambdaValidationException", "CustomMessage failed with error Sign-ups are closed today.")

    def invite() -> Any:
        return admin.admin_create_user(UserPoolId=pool, Username="wes", UserAttributes=email("wes@example.com"),
                                       DesiredDeliveryMediums=["EMAIL"])

    assert refused(invite) == failed
    assert "wes" not in users(server, pool)  # no user left without the temporary password it was never sent
    assert refused(lambda: admin.admin_create_user(UserPoolId=pool, Username="vic", MessageAction="RESEND",
                                                   DesiredDeliveryMediums=["EMAIL"])) == failed
    assert sign_in(idp, client_id, "vic")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"  # the old one still works
    changes = [*email("uma@new.example"), {"Name": "given_name", "Value": "Ulla"}]
    assert refused(lambda: idp.update_user_attributes(AccessToken=access, UserAttributes=changes)) == failed
    assert refused(lambda: admin.admin_update_user_attributes(UserPoolId=pool, Username="uma",
                                                              UserAttributes=changes)) == failed
    uma = users(server, pool)["uma"]
    assert attributes(uma)["given_name"] == "Uma" and attributes(uma)["email"] == "uma@example.com"
    assert "PendingVerification" not in uma
    time.sleep(0.5)
    assert mail.pending("wes@example.com") == [] and mail.pending("uma@new.example") == []

    s.triggers(f"CustomMessage={HANDLERS}.signup_messages:lambda_handler")
    assert invite()["User"]["Username"] == "wes"  # the name was never taken
    custom_mail(mail, "wes@example.com", "CustomMessage_AdminCreateUser")


# --- CustomEmailSender --------------------------------------------------------------------

def test_a_python_custom_email_sender_gets_the_code_in_the_clear_and_cognate_sends_nothing(server, mail, journal,
                                                                                           idp, admin) -> None:
    s = site(server, f"CustomEmailSender={HANDLERS}.signup_senders:lambda_handler", flows=FLOWS)
    pool, client_id = s.ids
    out = idp.sign_up(ClientId=client_id, Username="pia", Password=PASSWORD,
                      UserAttributes=email("pia@example.com"), ClientMetadata={"brand": "blue"})
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    [event] = wait_events(journal, pool, "CustomEmailSender_SignUp")
    request = event["request"]
    assert request["type"] == "customEmailSenderRequestV1" and re.fullmatch(r"\d{6}", request["code"])
    assert request["clientMetadata"] == {"brand": "blue"} and event["callerContext"]["clientId"] == client_id
    assert request["userAttributes"]["email"] == "pia@example.com" and event["userName"] == "pia"
    idp.confirm_sign_up(ClientId=client_id, Username="pia", ConfirmationCode=request["code"])

    admin.admin_create_user(UserPoolId=pool, Username="quin", UserAttributes=email("quin@example.com"),
                            DesiredDeliveryMediums=["EMAIL"])
    [invited] = wait_events(journal, pool, "CustomEmailSender_AdminCreateUser")
    challenge = sign_in(idp, client_id, "quin", invited["request"]["code"])
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    time.sleep(0.5)
    assert mail.pending("pia@example.com") == [] and mail.pending("quin@example.com") == []


def test_a_webhook_custom_email_sender_gets_the_code_encrypted_under_the_trigger_secret(server, mail, idp) -> None:
    s = site(server, flows=FLOWS)
    pool, client_id = s.ids
    server.cli("user", "create", "--pool", pool, "--username", "rex", "--password", PASSWORD,
               "--email", "rex@example.com", "--confirmed", "--suppress-invitation")
    with Receiver() as hook:
        s.triggers(f"CustomEmailSender={hook.url}")
        secret = server.cli_json("pool", "trigger-secret", "--pool", pool)["TriggerSecret"]
        idp.forgot_password(ClientId=client_id, Username="rex")
        [got] = hook.wait()
    assert got.signed_by(secret)
    event = got.event
    assert event["triggerSource"] == "CustomEmailSender_ForgotPassword"
    assert event["request"]["type"] == "customEmailSenderRequestV1"
    encrypted = event["request"]["code"]
    assert not re.fullmatch(r"\d{6}", encrypted) and len(base64.b64decode(encrypted)) == 12 + 6 + 16
    code = decrypt_code(secret, encrypted)
    idp.confirm_forgot_password(ClientId=client_id, Username="rex", ConfirmationCode=code, Password=NEW_PASSWORD)
    assert "AccessToken" in sign_in(idp, client_id, "rex", NEW_PASSWORD)["AuthenticationResult"]
    assert mail.pending("rex@example.com") == []


def test_a_custom_sms_sender_gets_the_invitation_sent_by_text_message(server, journal, idp, admin) -> None:
    s = site(server, f"CustomSMSSender={HANDLERS}.signup_senders:lambda_handler", flows=FLOWS)
    pool, client_id = s.ids
    admin.admin_create_user(UserPoolId=pool, Username="sam", DesiredDeliveryMediums=["SMS"],
                            UserAttributes=[{"Name": "phone_number", "Value": "+15555550123"}])
    [event] = wait_events(journal, pool, "CustomSMSSender_AdminCreateUser")
    assert event["request"]["type"] == "customSMSSenderRequestV1"
    assert event["request"]["userAttributes"]["phone_number"] == "+15555550123"
    assert sign_in(idp, client_id, "sam", event["request"]["code"])["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
