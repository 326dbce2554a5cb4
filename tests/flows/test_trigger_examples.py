"""The three trigger handlers the README shows (examples/triggers/), run by a real server as
they would run on Lambda, and driven by boto3: a domain's users confirmed at sign-up and the
others refused, a claim and a scope added to tokens (PreTokenGeneration V2_0), and users of a
legacy directory moved over at their first sign-in or password reset."""
from __future__ import annotations

import sqlite3

import bcrypt
import pytest

from tests.aws import api_broker, cognito_idp, refused
from tests.flows.triggers_common import PASSWORD, ROOT, add_user, claims, sign_in, site, users
from tests.smtp import MailServer, code_in

EXAMPLES = ROOT / "examples" / "triggers"
#: The app client of each pool, whose PreTokenGeneration events are V2_0's.
APP = {"flows": ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"), "version": "V2_0"}


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def legacy_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("legacy") / "directory.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (username TEXT PRIMARY KEY, email TEXT, password_hash TEXT)")
        for name, password in (("olga", "old-Passw0rd!"), ("piet", "forgotten-Passw0rd!")):
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            db.execute("INSERT INTO users VALUES (?, ?, ?)", (name, f"{name}@example.com", hashed))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, mail, legacy_db):
    with api_broker(tmp_path_factory.mktemp("examples"), redis_url, PYTHONPATH=str(EXAMPLES),
                    SIGNUP_DOMAIN="example.com", LEGACY_DB=str(legacy_db), **mail.broker_env()) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


def test_a_company_address_is_confirmed_at_sign_up_and_signs_in_at_once(server, idp):
    pool, client_id = site(server, "PreSignUp=python:auto_confirm:lambda_handler", **APP).ids
    answer = idp.sign_up(ClientId=client_id, Username="bea", Password=PASSWORD,
                         UserAttributes=[{"Name": "email", "Value": "bea@example.com"}])
    assert answer["UserConfirmed"] is True
    assert claims(sign_in(idp, client_id, "bea")["AuthenticationResult"]["IdToken"])["email_verified"] is True

    code, message = refused(lambda: idp.sign_up(ClientId=client_id, Username="eve", Password=PASSWORD,
                                                UserAttributes=[{"Name": "email", "Value": "eve@evil.example.org"}]))
    assert (code, message) == ("UserLambdaValidationException",
                               "PreSignUp failed with error Sign-up is for example.com addresses only.")
    assert list(users(server, pool)) == ["bea"]


def test_a_claim_and_a_scope_are_added_to_both_tokens(server, idp):
    pool, client_id = site(server, "PreTokenGeneration=python:add_claims:lambda_handler", **APP).ids
    add_user(server, pool, "cleo", "--attribute", "custom:tier=gold")
    tokens = sign_in(idp, client_id, "cleo")["AuthenticationResult"]
    assert claims(tokens["IdToken"])["tier"] == "gold"
    access = claims(tokens["AccessToken"])
    assert access["tier"] == "gold"
    assert set(access["scope"].split()) == {"aws.cognito.signin.user.admin", "reports/gold"}
    refreshed = idp.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})["AuthenticationResult"]
    assert claims(refreshed["AccessToken"])["tier"] == "gold"


def test_legacy_users_move_over_with_their_password_then_need_no_trigger(server, idp):
    pool, client_id = site(server, "UserMigration=python:migrate_users:lambda_handler", **APP).ids
    assert refused(lambda: sign_in(idp, client_id, "olga", "wrong-Passw0rd!"))[0] == "NotAuthorizedException"
    moved = sign_in(idp, client_id, "olga", "old-Passw0rd!")["AuthenticationResult"]
    assert claims(moved["IdToken"])["email"] == "olga@example.com"
    server.cli("pool", "update", "--pool", pool, "--trigger", "UserMigration=")
    again = sign_in(idp, client_id, "olga", "old-Passw0rd!")["AuthenticationResult"]
    assert claims(again["AccessToken"])["username"] == "olga"


def test_a_legacy_user_who_forgot_the_password_moves_over_by_reset(server, idp, mail):
    pool, client_id = site(server, "UserMigration=python:migrate_users:lambda_handler", **APP).ids
    idp.forgot_password(ClientId=client_id, Username="piet")
    code = code_in(mail.wait_for("piet@example.com"))
    idp.confirm_forgot_password(ClientId=client_id, Username="piet", ConfirmationCode=code,
                                Password="New-Passw0rd!")
    server.cli("pool", "update", "--pool", pool, "--trigger", "UserMigration=")
    moved = sign_in(idp, client_id, "piet", "New-Passw0rd!")["AuthenticationResult"]
    assert claims(moved["AccessToken"])["username"] == "piet"
