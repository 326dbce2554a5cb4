"""Cognito's account operations over the JSON API, called by boto3 (``cognito-idp``) against
the live server, with codes read from the mail Cognate actually sent to a real SMTP server:
sign-up and confirmation, resent codes, forgotten passwords (the new password then works
on the hosted login page), app clients with a secret, and the answers that must not tell
whether a user exists."""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from tests.aws import cognito_idp, error_code
from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty, pkce
from tests.smtp import MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "N3w-Batt3ry-Staple!"
STAND_IN = re.compile(r"^[a-z]\*\*\*@[a-z]\*\*\*$")


@dataclass
class Site:
    broker: Broker
    mail: MailServer
    db: str

    def pool(self, *args: str) -> str:
        """A pool of its own per test: the per-pool code and sign-up limits stay apart."""
        return self.broker.pool(*args)

    def client(self, pool: str, *args: str) -> dict[str, Any]:
        return self.broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url",
                                    CALLBACK, *args)

    def users(self, pool: str) -> dict[str, dict[str, Any]]:
        return {u["Username"]: u for u in self.broker.cli_json("user", "list", "--pool", pool)["Users"]}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("api-accounts")
    with broker_with_mail(tmp, redis_url) as (broker, mail):
        yield Site(broker, mail, str(tmp / "broker.db"))


@pytest.fixture
def idp(site: Site) -> Any:
    return cognito_idp(site.broker.base_url)


def refused(call: Any, **params: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value


def signs_in(site: Site, pool: str, client_id: str, username: str, password: str) -> bool:
    """Whether the hosted login page (authorization code flow with PKCE) lets the user in."""
    _verifier, challenge = pkce()
    rp = RelyingParty(site.broker.base_url, pool, client_id)
    return rp.sign_in(username, password, code_challenge=challenge, code_challenge_method="S256")[1] is not None


def email(address: str) -> list[dict[str, str]]:
    return [{"Name": "email", "Value": address}]


def test_sign_up_then_confirm_by_the_emailed_code(site: Site, idp: Any) -> None:
    pool = site.pool()
    client_id = site.client(pool)["ClientId"]
    out = idp.sign_up(ClientId=client_id, Username="Alice", Password=PASSWORD, UserAttributes=email("alice@example.com"))
    assert out["UserConfirmed"] is False
    assert out["CodeDeliveryDetails"] == {"Destination": "a***@e***", "DeliveryMedium": "EMAIL",
                                          "AttributeName": "email"}
    alice = site.users(pool)["alice"]
    assert alice["UserStatus"] == "UNCONFIRMED" and alice["Sub"] == out["UserSub"]
    assert re.fullmatch(r"[0-9a-f-]{36}", out["ResponseMetadata"]["RequestId"])

    code = code_in(site.mail.wait_for("alice@example.com"))
    wrong = "000000" if code != "000000" else "111111"
    exc = refused(idp.confirm_sign_up, ClientId=client_id, Username="alice", ConfirmationCode=wrong)
    assert error_code(exc) == "CodeMismatchException"
    assert exc.response["Error"]["Message"] == "Invalid verification code provided, please try again."
    assert site.users(pool)["alice"]["UserStatus"] == "UNCONFIRMED"

    assert idp.confirm_sign_up(ClientId=client_id, Username="alice", ConfirmationCode=code)["ResponseMetadata"]
    confirmed = site.users(pool)["alice"]
    assert confirmed["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in confirmed["Attributes"]
    again = refused(idp.confirm_sign_up, ClientId=client_id, Username="alice", ConfirmationCode=code)
    assert error_code(again) == "CodeMismatchException"  # a code works once

    assert signs_in(site, pool, client_id, "alice", PASSWORD)


def test_sign_up_refusals_change_nothing(site: Site, idp: Any) -> None:
    pool = site.pool()
    client_id = site.client(pool)["ClientId"]
    weak = refused(idp.sign_up, ClientId=client_id, Username="bob", Password="short", UserAttributes=email("b@example.com"))
    assert error_code(weak) == "InvalidPasswordException"
    assert weak.response["Error"]["Message"].startswith("Password did not conform with policy: ")
    missing = refused(idp.sign_up, ClientId=client_id, Username="bob", Password=PASSWORD)
    assert error_code(missing) == "InvalidParameterException" and "Email" in missing.response["Error"]["Message"]
    custom = refused(idp.sign_up, ClientId=client_id, Username="bob", Password=PASSWORD,
                     UserAttributes=email("b@example.com") + [{"Name": "custom:tier", "Value": "gold"}])
    assert error_code(custom) == "NotAuthorizedException"
    unknown = refused(idp.sign_up, ClientId="nosuchclient", Username="bob", Password=PASSWORD)
    assert error_code(unknown) == "ResourceNotFoundException"
    assert unknown.response["Error"]["Message"] == "User pool client nosuchclient does not exist."
    assert site.users(pool) == {}
    assert site.mail.pending("b@example.com") == []

    closed = site.pool("--no-self-signup")
    closed_client = site.client(closed)["ClientId"]
    exc = refused(idp.sign_up, ClientId=closed_client, Username="bob", Password=PASSWORD,
                  UserAttributes=email("b@example.com"))
    assert error_code(exc) == "NotAuthorizedException"
    assert exc.response["Error"]["Message"] == "SignUp is not permitted for this user pool"
    assert site.users(closed) == {}


def test_taken_username_answers_username_exists_and_keeps_the_owner(site: Site, idp: Any) -> None:
    pool = site.pool()
    client_id = site.client(pool)["ClientId"]
    site.broker.cli("user", "create", "--pool", pool, "--username", "carol", "--password", PASSWORD,
                    "--email", "carol@example.com", "--confirmed")
    exc = refused(idp.sign_up, ClientId=client_id, Username="CAROL", Password=NEW_PASSWORD,
                  UserAttributes=email("mallory@example.com"))
    assert error_code(exc) == "UsernameExistsException"
    carol = site.users(pool)["carol"]
    assert carol["UserStatus"] == "CONFIRMED" and {"Name": "email", "Value": "carol@example.com"} in carol["Attributes"]
    assert site.mail.pending("mallory@example.com") == []
    assert signs_in(site, pool, client_id, "carol", PASSWORD), "the owner's password no longer works"


def test_resend_sends_a_new_code_and_unknown_names_get_the_same_answer(site: Site, idp: Any) -> None:
    pool = site.pool()
    client_id = site.client(pool)["ClientId"]
    idp.sign_up(ClientId=client_id, Username="dan", Password=PASSWORD, UserAttributes=email("dan@example.com"))
    code_in(site.mail.wait_for("dan@example.com"))
    out = idp.resend_confirmation_code(ClientId=client_id, Username="dan")
    assert out["CodeDeliveryDetails"]["Destination"] == "d***@e***"
    second = code_in(site.mail.wait_for("dan@example.com"))  # a new code, mailed again
    idp.confirm_sign_up(ClientId=client_id, Username="dan", ConfirmationCode=second)
    assert site.users(pool)["dan"]["UserStatus"] == "CONFIRMED"

    received = len(site.mail.messages)
    for name in ("nobody", "dan"):  # unknown, and no longer unconfirmed: nothing to send
        answers = [idp.resend_confirmation_code(ClientId=client_id, Username=name)["CodeDeliveryDetails"]
                   for _ in range(2)]
        assert answers[0] == answers[1], "a stand-in answer must not change between asks"
        assert STAND_IN.match(answers[0]["Destination"]) and answers[0]["DeliveryMedium"] == "EMAIL"
    assert len(site.mail.messages) == received


def test_forgot_password_then_the_new_password_signs_in_on_the_hosted_page(site: Site, idp: Any) -> None:
    pool = site.pool()
    client_id = site.client(pool)["ClientId"]
    site.broker.cli("user", "create", "--pool", pool, "--username", "erin", "--password", PASSWORD,
                    "--email", "erin@example.com", "--confirmed")
    out = idp.forgot_password(ClientId=client_id, Username="Erin")
    assert out["CodeDeliveryDetails"] == {"Destination": "e***@e***", "DeliveryMedium": "EMAIL",
                                          "AttributeName": "email"}
    code = code_in(site.mail.wait_for("erin@example.com"))

    weak = refused(idp.confirm_forgot_password, ClientId=client_id, Username="erin", ConfirmationCode=code,
                   Password="short")
    assert error_code(weak) == "InvalidPasswordException"
    wrong = refused(idp.confirm_forgot_password, ClientId=client_id, Username="erin",
                    ConfirmationCode="000000" if code != "000000" else "111111", Password=NEW_PASSWORD)
    assert error_code(wrong) == "CodeMismatchException"
    assert wrong.response["Error"]["Message"] == "Invalid code provided, please request a code again."
    idp.confirm_forgot_password(ClientId=client_id, Username="erin", ConfirmationCode=code, Password=NEW_PASSWORD)

    assert not signs_in(site, pool, client_id, "erin", PASSWORD)
    assert signs_in(site, pool, client_id, "erin", NEW_PASSWORD)
    used = refused(idp.confirm_forgot_password, ClientId=client_id, Username="erin", ConfirmationCode=code,
                   Password="An0ther-Pass!")
    assert error_code(used) == "CodeMismatchException"


def test_forgot_password_hides_unknown_users_and_limits_codes(site: Site, idp: Any) -> None:
    pool = site.pool()
    client_id = site.client(pool)["ClientId"]
    received = len(site.mail.messages)
    answers = [idp.forgot_password(ClientId=client_id, Username="ghost")["CodeDeliveryDetails"] for _ in range(2)]
    assert answers[0] == answers[1] and STAND_IN.match(answers[0]["Destination"])
    exc = refused(idp.confirm_forgot_password, ClientId=client_id, Username="ghost", ConfirmationCode="123456",
                  Password=NEW_PASSWORD)
    assert error_code(exc) == "CodeMismatchException"  # never UserNotFoundException
    assert len(site.mail.messages) == received

    idp.forgot_password(ClientId=client_id, Username="ghost")  # the third of the burst
    limited = refused(idp.forgot_password, ClientId=client_id, Username="ghost")
    assert error_code(limited) == "LimitExceededException"
    assert limited.response["Error"]["Message"] == "Attempt limit exceeded, please try after some time."


def test_client_with_a_secret_needs_its_secret_hash(site: Site, idp: Any) -> None:
    pool = site.pool()
    made = site.client(pool, "--secret")
    client_id, secret = made["ClientId"], made["ClientSecret"]
    params = {"ClientId": client_id, "Username": "frank", "Password": PASSWORD,
              "UserAttributes": email("frank@example.com")}

    missing = refused(idp.sign_up, **params)
    assert error_code(missing) == "NotAuthorizedException"
    assert missing.response["Error"]["Message"] == \
        f"Client {client_id} is configured for secret but secret was not received"
    wrong = refused(idp.sign_up, **params, SecretHash=AWSSRP.get_secret_hash("frank", client_id, secret + "x"))
    assert wrong.response["Error"]["Message"] == f"Unable to verify secret hash for client {client_id}"
    other_user = refused(idp.sign_up, **params, SecretHash=AWSSRP.get_secret_hash("mallory", client_id, secret))
    assert error_code(other_user) == "NotAuthorizedException"
    assert site.users(pool) == {}

    idp.sign_up(**params, SecretHash=AWSSRP.get_secret_hash("frank", client_id, secret))
    code = code_in(site.mail.wait_for("frank@example.com"))
    no_hash = refused(idp.confirm_sign_up, ClientId=client_id, Username="frank", ConfirmationCode=code)
    assert error_code(no_hash) == "NotAuthorizedException"
    idp.confirm_sign_up(ClientId=client_id, Username="frank", ConfirmationCode=code,
                        SecretHash=AWSSRP.get_secret_hash("frank", client_id, secret))
    assert site.users(pool)["frank"]["UserStatus"] == "CONFIRMED"


def test_client_secret_not_kept_sealed_works_again_once_rotated(site: Site, idp: Any) -> None:
    pool = site.pool()
    made = site.client(pool, "--secret")
    client_id, old = made["ClientId"], made["ClientSecret"]
    with sqlite3.connect(site.db) as db:  # as a client made before secrets were kept sealed
        db.execute("UPDATE app_clients SET secret_sealed = NULL WHERE id = ?", (client_id,))
    exc = refused(idp.forgot_password, ClientId=client_id, Username="gina",
                  SecretHash=AWSSRP.get_secret_hash("gina", client_id, old))
    assert error_code(exc) == "NotAuthorizedException" and "rotate" in exc.response["Error"]["Message"]

    rotated = site.broker.cli_json("client", "rotate-secret", "--pool", pool, "--client", client_id)
    new = rotated["ClientSecret"]
    assert new and new != old
    stale = refused(idp.forgot_password, ClientId=client_id, Username="gina",
                    SecretHash=AWSSRP.get_secret_hash("gina", client_id, old))
    assert stale.response["Error"]["Message"] == f"Unable to verify secret hash for client {client_id}"
    out = idp.forgot_password(ClientId=client_id, Username="gina", SecretHash=AWSSRP.get_secret_hash("gina", client_id, new))
    assert STAND_IN.match(out["CodeDeliveryDetails"]["Destination"])
