"""The triggers around accounts and messages, run by a real server on Python handlers written
as AWS documents them (tests/trigger_handlers/signup_*.py) and on a webhook, driven by boto3:
PreSignUp (SignUp, AdminCreateUser, ``broker user create``), PostConfirmation (ConfirmSignUp,
AdminConfirmSignUp, ConfirmForgotPassword, an auto-confirmed sign-up), CustomMessage for every
trigger source (the text read back from a real SMTP server), and the custom senders (the
code handed to a Python target in the clear, to a webhook encrypted)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from broker.triggers.senders import decrypt_code
from tests.aws import admin_idp, cognito_idp, refused
from tests.conftest import ROOT, Broker
from tests.rp import CALLBACK
from tests.smtp import MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "N3w-Batt3ry-Staple!"
HANDLERS = "python:tests.trigger_handlers"
FLOWS = ("--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")


@dataclass
class Site:
    broker: Broker
    mail: MailServer
    log: Path
    idp: Any
    admin: Any

    def pool(self, *args: str, **triggers: str) -> tuple[str, str]:
        """A pool of its own (the trigger log is told apart by pool) and an app client."""
        pool = self.broker.pool(*args)
        if triggers:
            self.triggers(pool, **triggers)
        client = self.broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url",
                                      CALLBACK, *FLOWS)
        return pool, client["ClientId"]

    def triggers(self, pool: str, **targets: str) -> None:
        pairs = [a for name, target in targets.items() for a in ("--trigger", f"{name}={target}")]
        self.broker.cli("pool", "update", "--pool", pool, *pairs)

    def events(self, pool: str, source: str | None = None) -> list[dict[str, Any]]:
        """The events the handlers noted for ``pool`` (of ``source``), oldest first."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        found = [json.loads(line) for line in lines]
        return [e for e in found if e["userPoolId"] == pool and source in (None, e["triggerSource"])]

    def wait_events(self, pool: str, source: str, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        """The events of ``source``, once ``count`` of them arrived (custom senders run after the answer)."""
        deadline = time.monotonic() + timeout
        while len(found := self.events(pool, source)) < count:
            assert time.monotonic() < deadline, f"no {source} event within {timeout} s"
            time.sleep(0.05)
        return found

    def users(self, pool: str) -> dict[str, dict[str, Any]]:
        return {u["Username"]: u for u in self.broker.cli_json("user", "list", "--pool", pool)["Users"]}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("triggers-signup")
    log = tmp / "events.jsonl"
    with broker_with_mail(tmp, redis_url, PYTHONPATH=str(ROOT), COGNATE_TRIGGER_LOG=str(log),
                          BROKER_DELIVERY_RETRY_SECONDS="1") as (broker, mail):
        key = broker.cli_json("admin-key", "create")
        yield Site(broker, mail, log, cognito_idp(broker.base_url), admin_idp(broker.base_url, key))


def email(address: str) -> list[dict[str, str]]:
    return [{"Name": "email", "Value": address}]


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sign_in(site: Site, client_id: str, username: str, password: str = PASSWORD) -> dict[str, Any]:
    return site.idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": username, "PASSWORD": password})


def attributes(user: dict[str, Any]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user["Attributes"]}


# --- PreSignUp ----------------------------------------------------------------------------

def test_an_auto_confirmed_sign_up_signs_in_at_once_with_its_email_verified(site: Site) -> None:
    pool, client_id = site.pool(PreSignUp=f"{HANDLERS}.signup_domain:auto_confirm_company",
                                PostConfirmation=f"{HANDLERS}.signup_record:lambda_handler")
    out = site.idp.sign_up(ClientId=client_id, Username="Alice", Password=PASSWORD,
                           UserAttributes=email("alice@corp.example"),
                           ValidationData=[{"Name": "invite", "Value": "X-1"}],
                           ClientMetadata={"campaign": "spring"})
    assert out["UserConfirmed"] is True and "CodeDeliveryDetails" not in out

    [event] = site.events(pool, "PreSignUp_SignUp")
    assert {k: event[k] for k in ("version", "region", "userPoolId", "userName")} == {
        "version": "1", "region": "local", "userPoolId": pool, "userName": "alice"}
    assert event["callerContext"]["clientId"] == client_id and event["callerContext"]["awsSdkVersion"]
    assert event["request"] == {"userAttributes": {"email": "alice@corp.example"},
                                "validationData": {"invite": "X-1"}, "clientMetadata": {"campaign": "spring"}}
    assert event["response"] == {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}
    # PostConfirmation ran before SignUp answered, with the confirmed user
    [confirmed] = site.events(pool, "PostConfirmation_ConfirmSignUp")
    assert confirmed["userName"] == "alice" and confirmed["request"]["clientMetadata"] == {"campaign": "spring"}
    assert confirmed["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    assert confirmed["request"]["userAttributes"]["sub"] == out["UserSub"]

    tokens = sign_in(site, client_id, "alice")["AuthenticationResult"]
    id_token = claims(tokens["IdToken"])
    assert id_token["email"] == "alice@corp.example" and id_token["email_verified"] is True
    assert site.users(pool)["alice"]["UserStatus"] == "CONFIRMED"
    time.sleep(0.5)
    assert site.mail.pending("alice@corp.example") == []  # no confirmation code

    # outside the company's domain: confirmed by code, as without the trigger
    other = site.idp.sign_up(ClientId=client_id, Username="bob", Password=PASSWORD,
                             UserAttributes=email("bob@elsewhere.example"))
    assert other["UserConfirmed"] is False and other["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    code = code_in(site.mail.wait_for("bob@elsewhere.example"))
    site.idp.confirm_sign_up(ClientId=client_id, Username="bob", ConfirmationCode=code)
    assert [e["userName"] for e in site.events(pool, "PostConfirmation_ConfirmSignUp")] == ["alice", "bob"]


def test_a_refused_sign_up_answers_cognitos_error_and_creates_nobody(site: Site) -> None:
    pool, client_id = site.pool()
    site.broker.cli("user", "create", "--pool", pool, "--username", "taken", "--password", PASSWORD,
                    "--email", "taken@elsewhere.example", "--confirmed", "--suppress-invitation")
    site.triggers(pool, PreSignUp=f"{HANDLERS}.signup_domain:company_only")
    message = "PreSignUp failed with error Sign-ups from freemail.example are not allowed."
    for name in ("newcomer", "taken"):  # a taken name is refused alike: the trigger tells nothing about it
        code, text = refused(lambda: site.idp.sign_up(ClientId=client_id, Username=name, Password=PASSWORD,
                                                      UserAttributes=email(f"{name}@freemail.example")))
        assert (code, text) == ("UserLambdaValidationException", message)
    assert sorted(site.users(pool)) == ["taken"]
    time.sleep(0.5)
    assert site.mail.pending("newcomer@freemail.example") == [] and site.mail.pending("taken@elsewhere.example") == []
    assert site.idp.sign_up(ClientId=client_id, Username="carol", Password=PASSWORD,
                            UserAttributes=email("carol@corp.example"))["UserConfirmed"] is False


def test_answers_cognito_refuses_fail_the_sign_up(site: Site) -> None:
    pool, client_id = site.pool(PreSignUp=f"{HANDLERS}.signup_domain:verify_without_confirm")

    def sign_up() -> Any:
        return site.idp.sign_up(ClientId=client_id, Username="dan", Password=PASSWORD,
                                UserAttributes=email("dan@corp.example"))

    assert refused(sign_up) == ("InvalidParameterException",
                                "Phone or email cannot be auto verified, when user is not being auto confirmed.")
    site.triggers(pool, PreSignUp=f"{HANDLERS}.signup_domain:confirm_as_text")
    assert refused(sign_up) == ("InvalidLambdaResponseException", "Unrecognizable lambda output")
    assert site.users(pool) == {}


def test_admin_create_user_fires_pre_sign_up_whose_answer_it_ignores(site: Site) -> None:
    pool, _client = site.pool(PreSignUp=f"{HANDLERS}.signup_domain:auto_confirm_company")
    site.admin.admin_create_user(UserPoolId=pool, Username="erin", MessageAction="SUPPRESS",
                                 UserAttributes=email("erin@corp.example"),
                                 ValidationData=[{"Name": "ticket", "Value": "T-9"}],
                                 ClientMetadata={"by": "helpdesk"})
    [event] = site.events(pool, "PreSignUp_AdminCreateUser")
    assert event["userName"] == "erin" and event["callerContext"]["clientId"] == "CLIENT_ID_NOT_APPLICABLE"
    assert event["request"] == {"userAttributes": {"email": "erin@corp.example"},
                                "validationData": {"ticket": "T-9"}, "clientMetadata": {"by": "helpdesk"}}
    assert site.users(pool)["erin"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"  # autoConfirmUser ignored, as Cognito

    site.broker.cli("user", "create", "--pool", pool, "--username", "fay", "--password", PASSWORD,
                    "--email", "fay@corp.example", "--suppress-invitation",
                    process=True)  # its own process: in this one it would start the handlers' forkserver
    assert [e["userName"] for e in site.events(pool, "PreSignUp_AdminCreateUser")] == ["erin", "fay"]

    site.triggers(pool, PreSignUp=f"{HANDLERS}.signup_domain:company_only")
    assert refused(lambda: site.admin.admin_create_user(UserPoolId=pool, Username="gus", MessageAction="SUPPRESS",
                                                        UserAttributes=email("gus@freemail.example"))) == (
        "UserLambdaValidationException", "PreSignUp failed with error Sign-ups from freemail.example are not allowed.")
    assert "gus" not in site.users(pool)


# --- PostConfirmation ---------------------------------------------------------------------

def test_post_confirmation_follows_every_confirmation_and_a_failing_one_leaves_it_done(site: Site) -> None:
    pool, client_id = site.pool(PostConfirmation=f"{HANDLERS}.signup_record:lambda_handler")
    site.idp.sign_up(ClientId=client_id, Username="hal", Password=PASSWORD, UserAttributes=email("hal@example.com"))
    code = code_in(site.mail.wait_for("hal@example.com"))
    site.idp.confirm_sign_up(ClientId=client_id, Username="hal", ConfirmationCode=code,
                             ClientMetadata={"step": "confirm"})
    [event] = site.events(pool, "PostConfirmation_ConfirmSignUp")
    assert event["callerContext"]["clientId"] == client_id and event["response"] == {}
    request = event["request"]
    assert request["clientMetadata"] == {"step": "confirm"}
    assert {k: request["userAttributes"][k] for k in ("email", "email_verified", "cognito:user_status")} == {
        "email": "hal@example.com", "email_verified": "true", "cognito:user_status": "CONFIRMED"}

    site.idp.forgot_password(ClientId=client_id, Username="hal")
    reset = code_in(site.mail.wait_for("hal@example.com"))
    site.idp.confirm_forgot_password(ClientId=client_id, Username="hal", ConfirmationCode=reset,
                                     Password=NEW_PASSWORD)
    [after_reset] = site.events(pool, "PostConfirmation_ConfirmForgotPassword")
    assert after_reset["userName"] == "hal"

    site.idp.sign_up(ClientId=client_id, Username="ivy", Password=PASSWORD, UserAttributes=email("ivy@example.com"))
    site.mail.wait_for("ivy@example.com")
    site.admin.admin_confirm_sign_up(UserPoolId=pool, Username="ivy")
    assert [e["userName"] for e in site.events(pool, "PostConfirmation_ConfirmSignUp")] == ["hal", "ivy"]

    site.triggers(pool, PostConfirmation=f"{HANDLERS}.signup_record:fail")
    site.idp.sign_up(ClientId=client_id, Username="jo", Password=PASSWORD, UserAttributes=email("jo@example.com"))
    code = code_in(site.mail.wait_for("jo@example.com"))
    assert refused(lambda: site.idp.confirm_sign_up(ClientId=client_id, Username="jo", ConfirmationCode=code)) == (
        "UserLambdaValidationException", "PostConfirmation failed with error The welcome service is down.")
    assert site.users(pool)["jo"]["UserStatus"] == "CONFIRMED"  # as in Cognito: the confirmation stands
    assert "AccessToken" in sign_in(site, client_id, "jo")["AuthenticationResult"]
    assert "PostConfirmation (PostConfirmation_ConfirmSignUp) of jo" in site.broker.log.read_text()


# --- CustomMessage ------------------------------------------------------------------------

def custom_mail(site: Site, to: str, source: str) -> str:
    """The text of the next mail to ``to``, which the CustomMessage handler wrote for ``source``."""
    mail = site.mail.wait_for_mail(to)
    assert mail.subject == f"[{source}] from the app", mail
    return mail.text.strip()


def test_custom_message_writes_the_account_mails_of_each_trigger_source(site: Site) -> None:
    pool, client_id = site.pool(CustomMessage=f"{HANDLERS}.signup_messages:lambda_handler")
    site.idp.sign_up(ClientId=client_id, Username="kim", Password=PASSWORD, UserAttributes=email("kim@example.com"),
                     ClientMetadata={"lang": "en"})
    first = custom_mail(site, "kim@example.com", "CustomMessage_SignUp")
    assert re.fullmatch(r"Hello kim, the code for CustomMessage_SignUp is \d{6}\.", first)
    [event] = site.events(pool, "CustomMessage_SignUp")
    assert event["request"]["codeParameter"] == "{####}" and event["request"]["linkParameter"] == "{##Click Here##}"
    assert event["request"]["usernameParameter"] is None and event["request"]["clientMetadata"] == {"lang": "en"}
    assert event["request"]["userAttributes"]["email"] == "kim@example.com"
    assert event["request"]["userAttributes"]["cognito:user_status"] == "UNCONFIRMED"
    assert event["response"] == {"smsMessage": None, "emailMessage": None, "emailSubject": None}

    site.idp.resend_confirmation_code(ClientId=client_id, Username="kim")
    code = code_in(custom_mail(site, "kim@example.com", "CustomMessage_ResendCode"))
    site.idp.confirm_sign_up(ClientId=client_id, Username="kim", ConfirmationCode=code)

    site.idp.forgot_password(ClientId=client_id, Username="kim")
    reset = code_in(custom_mail(site, "kim@example.com", "CustomMessage_ForgotPassword"))
    site.idp.confirm_forgot_password(ClientId=client_id, Username="kim", ConfirmationCode=reset, Password=NEW_PASSWORD)

    assert "AccessToken" in sign_in(site, client_id, "kim", NEW_PASSWORD)["AuthenticationResult"]

    site.broker.cli("user", "create", "--pool", pool, "--username", "kit", "--password", PASSWORD,
                    "--email", "kit@example.com", "--confirmed", "--suppress-invitation")
    access = sign_in(site, client_id, "kit")["AuthenticationResult"]["AccessToken"]
    site.idp.update_user_attributes(AccessToken=access, UserAttributes=email("kit@new.example"))
    custom_mail(site, "kit@new.example", "CustomMessage_UpdateUserAttribute")
    site.idp.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
    verify = code_in(custom_mail(site, "kit@new.example", "CustomMessage_VerifyUserAttribute"))
    site.idp.verify_user_attribute(AccessToken=access, AttributeName="email", Code=verify)
    assert attributes(site.users(pool)["kit"])["email"] == "kit@new.example"


def test_custom_message_writes_invitations_with_the_username_and_temporary_password(site: Site) -> None:
    pool, client_id = site.pool(CustomMessage=f"{HANDLERS}.signup_messages:lambda_handler")
    site.admin.admin_create_user(UserPoolId=pool, Username="lou", UserAttributes=email("lou@example.com"),
                                 DesiredDeliveryMediums=["EMAIL"])
    text = custom_mail(site, "lou@example.com", "CustomMessage_AdminCreateUser")
    found = re.fullmatch(r"Welcome aboard! Sign in as lou with the password (\S+)\.", text)
    assert found, text
    [event] = site.events(pool, "CustomMessage_AdminCreateUser")
    assert event["request"]["usernameParameter"] == "{username}" and event["request"]["codeParameter"] == "{####}"
    challenge = sign_in(site, client_id, "lou", found.group(1))
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_custom_message_writes_the_sign_in_code_by_email(site: Site) -> None:
    pool, client_id = site.pool("--mfa", "OPTIONAL", CustomMessage=f"{HANDLERS}.signup_messages:lambda_handler")
    site.broker.cli("user", "create", "--pool", pool, "--username", "max", "--password", PASSWORD, "--email",
                    "max@example.com", "--confirmed", "--attribute", "email_verified=true")
    site.broker.cli("user", "mfa", "set", "--pool", pool, "--username", "max", "--email-otp",
                    "--preferred", "EMAIL_OTP")
    challenge = sign_in(site, client_id, "max")
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    code = code_in(custom_mail(site, "max@example.com", "CustomMessage_Authentication"))
    done = site.idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="EMAIL_OTP",
                                              Session=challenge["Session"],
                                              ChallengeResponses={"USERNAME": "max", "EMAIL_OTP_CODE": code})
    assert "AccessToken" in done["AuthenticationResult"]


def test_what_custom_message_leaves_null_comes_from_the_template_and_a_message_needs_its_code(site: Site) -> None:
    pool, client_id = site.pool(CustomMessage=f"{HANDLERS}.signup_messages:subject_only")
    site.idp.sign_up(ClientId=client_id, Username="ned", Password=PASSWORD, UserAttributes=email("ned@example.com"))
    mail = site.mail.wait_for_mail("ned@example.com")
    assert mail.subject == "Only the subject is ours"
    assert mail.text.strip() == f"Your confirmation code is {code_in(mail.text)}."  # the pool's template

    site.triggers(pool, CustomMessage=f"{HANDLERS}.signup_messages:html")
    site.idp.resend_confirmation_code(ClientId=client_id, Username="ned")
    mail = site.mail.wait_for_mail("ned@example.com")
    code = code_in(mail.text)
    assert mail.text.replace("\r\n", "\n").strip() == f"Hello & welcome,\nyour code is {code}"
    assert f"<b>{code}</b>" in (mail.html or "")

    site.triggers(pool, CustomMessage=f"{HANDLERS}.signup_messages:without_code")
    assert refused(lambda: site.idp.sign_up(ClientId=client_id, Username="olga", Password=PASSWORD,
                                            UserAttributes=email("olga@example.com"))) == (
        "InvalidParameterException", "CustomMessage: the emailMessage must contain the placeholder {####}.")
    assert "olga" not in site.users(pool)


def test_a_failing_custom_message_leaves_nothing_written(site: Site) -> None:
    pool, client_id = site.pool()
    site.broker.cli("user", "create", "--pool", pool, "--username", "uma", "--password", PASSWORD,
                    "--email", "uma@example.com", "--attribute", "given_name=Uma", "--confirmed",
                    "--suppress-invitation")
    site.admin.admin_create_user(UserPoolId=pool, Username="vic", TemporaryPassword=PASSWORD,
                                 MessageAction="SUPPRESS", UserAttributes=email("vic@example.com"))
    access = sign_in(site, client_id, "uma")["AuthenticationResult"]["AccessToken"]
    site.triggers(pool, CustomMessage=f"{HANDLERS}.misbehaving:refuse")
    failed = ("UserLambdaValidationException", "CustomMessage failed with error Sign-ups are closed today.")

    def invite() -> Any:
        return site.admin.admin_create_user(UserPoolId=pool, Username="wes", UserAttributes=email("wes@example.com"),
                                            DesiredDeliveryMediums=["EMAIL"])

    assert refused(invite) == failed
    assert "wes" not in site.users(pool)  # no user left without the temporary password it was never sent
    assert refused(lambda: site.admin.admin_create_user(UserPoolId=pool, Username="vic", MessageAction="RESEND",
                                                        DesiredDeliveryMediums=["EMAIL"])) == failed
    assert sign_in(site, client_id, "vic")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"  # the old one still works
    changes = [*email("uma@new.example"), {"Name": "given_name", "Value": "Ulla"}]
    assert refused(lambda: site.idp.update_user_attributes(AccessToken=access, UserAttributes=changes)) == failed
    assert refused(lambda: site.admin.admin_update_user_attributes(UserPoolId=pool, Username="uma",
                                                                   UserAttributes=changes)) == failed
    uma = site.users(pool)["uma"]
    assert attributes(uma)["given_name"] == "Uma" and attributes(uma)["email"] == "uma@example.com"
    assert "PendingVerification" not in uma
    time.sleep(0.5)
    assert site.mail.pending("wes@example.com") == [] and site.mail.pending("uma@new.example") == []

    site.triggers(pool, CustomMessage=f"{HANDLERS}.signup_messages:lambda_handler")
    assert invite()["User"]["Username"] == "wes"  # the name was never taken
    custom_mail(site, "wes@example.com", "CustomMessage_AdminCreateUser")


# --- CustomEmailSender --------------------------------------------------------------------

def test_a_python_custom_email_sender_gets_the_code_in_the_clear_and_cognate_sends_nothing(site: Site) -> None:
    pool, client_id = site.pool(CustomEmailSender=f"{HANDLERS}.signup_senders:lambda_handler")
    out = site.idp.sign_up(ClientId=client_id, Username="pia", Password=PASSWORD,
                           UserAttributes=email("pia@example.com"), ClientMetadata={"brand": "blue"})
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    [event] = site.wait_events(pool, "CustomEmailSender_SignUp")
    request = event["request"]
    assert request["type"] == "customEmailSenderRequestV1" and re.fullmatch(r"\d{6}", request["code"])
    assert request["clientMetadata"] == {"brand": "blue"} and event["callerContext"]["clientId"] == client_id
    assert request["userAttributes"]["email"] == "pia@example.com" and event["userName"] == "pia"
    site.idp.confirm_sign_up(ClientId=client_id, Username="pia", ConfirmationCode=request["code"])

    site.admin.admin_create_user(UserPoolId=pool, Username="quin", UserAttributes=email("quin@example.com"),
                                 DesiredDeliveryMediums=["EMAIL"])
    [invited] = site.wait_events(pool, "CustomEmailSender_AdminCreateUser")
    challenge = sign_in(site, client_id, "quin", invited["request"]["code"])
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    time.sleep(0.5)
    assert site.mail.pending("pia@example.com") == [] and site.mail.pending("quin@example.com") == []


@dataclass
class Hook:
    """A webhook receiver on loopback: the events it got, with their headers."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((dict(self.headers), body))
                hook.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        return Handler


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    receiver = Hook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver, f"http://127.0.0.1:{server.server_port}/cognito/sender"
    server.shutdown()
    server.server_close()


def test_a_webhook_custom_email_sender_gets_the_code_encrypted_under_the_trigger_secret(site: Site, hook) -> None:
    receiver, url = hook
    pool, client_id = site.pool()
    site.broker.cli("user", "create", "--pool", pool, "--username", "rex", "--password", PASSWORD,
                    "--email", "rex@example.com", "--confirmed", "--suppress-invitation")
    site.triggers(pool, CustomEmailSender=url)
    secret = site.broker.cli_json("pool", "trigger-secret", "--pool", pool)["TriggerSecret"]
    site.idp.forgot_password(ClientId=client_id, Username="rex")
    assert receiver.arrived.wait(10)
    [(headers, body)] = receiver.received
    mac = hmac.new(secret.encode(), headers["X-Cognate-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(headers["X-Cognate-Signature"], f"sha256={mac.hexdigest()}")
    event = json.loads(body)
    assert event["triggerSource"] == "CustomEmailSender_ForgotPassword"
    assert event["request"]["type"] == "customEmailSenderRequestV1"
    encrypted = event["request"]["code"]
    assert not re.fullmatch(r"\d{6}", encrypted) and len(base64.b64decode(encrypted)) == 12 + 6 + 16
    code = decrypt_code(secret, encrypted)
    site.idp.confirm_forgot_password(ClientId=client_id, Username="rex", ConfirmationCode=code, Password=NEW_PASSWORD)
    assert "AccessToken" in sign_in(site, client_id, "rex", NEW_PASSWORD)["AuthenticationResult"]
    assert site.mail.pending("rex@example.com") == []


def test_a_custom_sms_sender_gets_the_invitation_sent_by_text_message(site: Site) -> None:
    pool, client_id = site.pool(CustomSMSSender=f"{HANDLERS}.signup_senders:lambda_handler")
    site.admin.admin_create_user(UserPoolId=pool, Username="sam", DesiredDeliveryMediums=["SMS"],
                                 UserAttributes=[{"Name": "phone_number", "Value": "+15555550123"}])
    [event] = site.wait_events(pool, "CustomSMSSender_AdminCreateUser")
    assert event["request"]["type"] == "customSMSSenderRequestV1"
    assert event["request"]["userAttributes"]["phone_number"] == "+15555550123"
    assert sign_in(site, client_id, "sam", event["request"]["code"])["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
