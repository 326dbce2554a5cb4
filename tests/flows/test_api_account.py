"""The operations Cognito authorizes with the user's own access token, called by boto3
(``cognito-idp``, unsigned) and pycognito against the live server, with codes read from
the mail Cognate sent to a real SMTP server: reading and changing attributes (a new email
waits for its code), changing the password (the old one stops working; wrong tries lock
like sign-ins), signing out everywhere and revoking a refresh token (at both doors),
deleting the account, enrolling an authenticator app (then asked for at sign-in), and the
tokens that may not do any of it."""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from botocore.exceptions import ClientError
from pycognito import Cognito

from tests.aws import cognito_idp, raw
from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty
from tests.smtp import MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "N3w-Batt3ry-Staple!"
FLOWS = ("--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")


@dataclass
class App:
    """A pool, one app client of it (password and refresh flows on) and its users."""

    broker: Broker
    pool: str
    client: dict[str, Any]

    @property
    def client_id(self) -> str:
        return self.client["ClientId"]

    def user(self, username: str = "ann", *extra: str) -> str:
        self.broker.cli("user", "create", "--pool", self.pool, "--username", username, "--password", PASSWORD,
                        "--email", f"{username}@example.com", "--confirmed", *extra)
        return username

    def rp(self) -> RelyingParty:
        return RelyingParty(self.broker.base_url, self.pool, self.client_id, self.client.get("ClientSecret"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[Broker, MailServer]]:
    with broker_with_mail(tmp_path_factory.mktemp("api-account"), redis_url) as found:
        yield found


@pytest.fixture
def idp(site: tuple[Broker, MailServer]) -> Any:
    return cognito_idp(site[0].base_url)


def _app(site: tuple[Broker, MailServer], *pool_args: str, client_args: tuple[str, ...] = (),
         flows: tuple[str, ...] = FLOWS) -> App:
    broker = site[0]
    pool = broker.pool(*pool_args)
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             *flows, *client_args)
    return App(broker, pool, client)


def _sign_in(idp: Any, app: App, username: str = "ann", password: str = PASSWORD) -> dict[str, Any]:
    answer = idp.initiate_auth(ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": username, "PASSWORD": password})
    return answer["AuthenticationResult"]


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def _attributes(idp: Any, token: str) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in idp.get_user(AccessToken=token)["UserAttributes"]}


def _decoded(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _claims(token: str) -> dict[str, Any]:
    return _decoded(token.split(".")[1])


def _segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _refresh_refused_at_both_doors(idp: Any, app: App, refresh_token: str) -> None:
    code, message = _error(idp.initiate_auth, ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                           AuthParameters={"REFRESH_TOKEN": refresh_token})
    assert (code, message) == ("NotAuthorizedException", "Invalid Refresh Token")
    at_token_endpoint = app.rp().refresh(refresh_token)
    assert at_token_endpoint.status_code == 400 and at_token_endpoint.json()["error"] == "invalid_grant"


def test_get_user_is_sent_unsigned_and_answers_the_users_attributes(site, idp):
    app = _app(site)
    app.user("ann", "--attribute", "given_name=Ann")
    sent: list[dict[str, str]] = []
    idp.meta.events.register("before-send.cognito-idp.GetUser", lambda request, **_: sent.append(request.headers))
    token = _sign_in(idp, app)["AccessToken"]
    answer = idp.get_user(AccessToken=token)
    assert sent and "Authorization" not in sent[0] and "X-Amz-Security-Token" not in sent[0]
    assert answer["Username"] == "ann"
    assert answer["UserAttributes"][0] == {"Name": "sub", "Value": _claims(token)["sub"]}
    values = {a["Name"]: a["Value"] for a in answer["UserAttributes"]}
    assert values["email"] == "ann@example.com" and values["email_verified"] == "true"
    assert values["given_name"] == "Ann"
    assert "UserMFASettingList" not in answer and "PreferredMfaSetting" not in answer


def test_new_attributes_apply_at_once_and_a_new_email_only_once_its_code_is_typed(site, idp):
    broker, mail = site
    app = _app(site)
    app.user()
    token = _sign_in(idp, app)["AccessToken"]
    answer = idp.update_user_attributes(AccessToken=token, UserAttributes=[
        {"Name": "given_name", "Value": "Annie"}, {"Name": "email", "Value": "annie@example.org"}])
    assert answer["CodeDeliveryDetailsList"] == [
        {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}]
    values = _attributes(idp, token)
    assert values["given_name"] == "Annie"
    assert values["email"] == "ann@example.com" and values["email_verified"] == "true"  # the proven one stays
    code = code_in(mail.wait_for("annie@example.org"))
    wrong = "000000" if code != "000000" else "111111"
    assert _error(idp.verify_user_attribute, AccessToken=token, AttributeName="email", Code=wrong)[0] \
        == "CodeMismatchException"
    idp.verify_user_attribute(AccessToken=token, AttributeName="email", Code=code)
    values = _attributes(idp, token)
    assert values["email"] == "annie@example.org" and values["email_verified"] == "true"
    assert _error(idp.verify_user_attribute, AccessToken=token, AttributeName="email", Code=code)[0] \
        == "CodeMismatchException"  # used once
    tokens = _sign_in(idp, app)
    assert _claims(tokens["IdToken"])["email"] == "annie@example.org"


def test_the_tokens_client_reads_and_writes_only_its_attributes(site, idp):
    app = _app(site, client_args=("--read-attribute", "email", "--write-attribute", "given_name"))
    app.user("ann", "--attribute", "family_name=Smith")
    token = _sign_in(idp, app)["AccessToken"]
    assert set(_attributes(idp, token)) == {"sub", "email"}
    for name, value in (("email", "x@example.org"), ("family_name", "Jones"), ("email_verified", "true")):
        code, _message = _error(idp.update_user_attributes, AccessToken=token,
                                UserAttributes=[{"Name": name, "Value": value}])
        assert code == "NotAuthorizedException"
    assert _error(idp.delete_user_attributes, AccessToken=token, UserAttributeNames=["family_name"])[0] \
        == "NotAuthorizedException"
    idp.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "given_name", "Value": "Ann"}])
    user = app.broker.cli_json("user", "list", "--pool", app.pool)["Users"][0]
    stored = {a["Name"]: a["Value"] for a in user["Attributes"]}
    assert stored["given_name"] == "Ann" and stored["family_name"] == "Smith" and stored["email"] == "ann@example.com"


def test_deleted_attributes_are_gone_and_required_ones_stay(site, idp):
    app = _app(site)
    app.user("ann", "--attribute", "given_name=Ann", "--attribute", "phone_number=+15555550123")
    token = _sign_in(idp, app)["AccessToken"]
    idp.delete_user_attributes(AccessToken=token, UserAttributeNames=["given_name", "phone_number"])
    values = _attributes(idp, token)
    assert "given_name" not in values and "phone_number" not in values and values["email"] == "ann@example.com"
    assert _error(idp.delete_user_attributes, AccessToken=token, UserAttributeNames=["email"])[0] \
        == "InvalidParameterException"  # the pool requires it
    assert _attributes(idp, token)["email"] == "ann@example.com"


def test_an_unverified_email_is_verified_by_a_code_asked_for(site, idp):
    broker, mail = site
    app = _app(site)
    app.user("una", "--attribute", "email_verified=false")
    token = _sign_in(idp, app, "una")["AccessToken"]
    assert _attributes(idp, token)["email_verified"] == "false"
    answer = idp.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    assert answer["CodeDeliveryDetails"] == {"Destination": "u***@e***", "DeliveryMedium": "EMAIL",
                                             "AttributeName": "email"}
    code = code_in(mail.wait_for("una@example.com"))
    idp.verify_user_attribute(AccessToken=token, AttributeName="email", Code=code)
    assert _attributes(idp, token)["email_verified"] == "true"
    code, _message = _error(idp.get_user_attribute_verification_code, AccessToken=token, AttributeName="email")
    assert code == "InvalidParameterException"  # nothing left to verify
    assert not mail.pending("una@example.com")


def test_codes_asked_for_are_limited(site, idp):
    broker, mail = site
    app = _app(site)
    app.user("lia", "--attribute", "email_verified=false")
    token = _sign_in(idp, app, "lia")["AccessToken"]
    for _ in range(3):
        idp.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
        code_in(mail.wait_for("lia@example.com"))
    code, _message = _error(idp.get_user_attribute_verification_code, AccessToken=token, AttributeName="email")
    assert code == "LimitExceededException" and not mail.pending("lia@example.com")


def test_a_changed_password_signs_in_and_the_old_one_does_not(site, idp):
    app = _app(site)
    app.user()
    token = _sign_in(idp, app)["AccessToken"]
    assert _error(idp.change_password, AccessToken=token, PreviousPassword="Wrong-Horse-1!",
                  ProposedPassword=NEW_PASSWORD) == ("NotAuthorizedException", "Incorrect username or password.")
    code, message = _error(idp.change_password, AccessToken=token, PreviousPassword=PASSWORD,
                           ProposedPassword="short")
    assert code == "InvalidPasswordException" and message.startswith("Password did not conform with policy")
    idp.change_password(AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD)
    assert _error(lambda: _sign_in(idp, app)) == ("NotAuthorizedException", "Incorrect username or password.")
    assert "AccessToken" in _sign_in(idp, app, password=NEW_PASSWORD)
    assert idp.get_user(AccessToken=token)["Username"] == "ann"  # as on Cognito: other sessions go on


def test_a_password_in_the_history_is_refused(site, idp):
    app = _app(site)
    app.broker.cli("pool", "update", "--pool", app.pool, "--password-history", "2")
    app.user()
    token = _sign_in(idp, app)["AccessToken"]
    idp.change_password(AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD)
    code, _message = _error(idp.change_password, AccessToken=token, PreviousPassword=NEW_PASSWORD,
                            ProposedPassword=PASSWORD)
    assert code == "PasswordHistoryPolicyViolationException"


def test_wrong_previous_passwords_lock_the_user_as_wrong_sign_ins_do(site, idp):
    app = _app(site)
    app.broker.cli("pool", "update", "--pool", app.pool, "--lockout-threshold", "2")
    app.user()
    token = _sign_in(idp, app)["AccessToken"]
    for _ in range(2):
        assert _error(idp.change_password, AccessToken=token, PreviousPassword="Wrong-Horse-1!",
                      ProposedPassword=NEW_PASSWORD)[0] == "NotAuthorizedException"
    assert _error(idp.change_password, AccessToken=token, PreviousPassword=PASSWORD,
                  ProposedPassword=NEW_PASSWORD)[0] == "NotAuthorizedException"  # locked: the right one too
    assert _error(lambda: _sign_in(idp, app))[0] == "NotAuthorizedException"
    app.broker.cli("user", "unlock", "--pool", app.pool, "--username", "ann")
    assert "AccessToken" in _sign_in(idp, app)  # the password never changed


def test_global_sign_out_ends_every_token_at_both_doors(site, idp):
    app = _app(site)
    app.user()
    first, second = _sign_in(idp, app), _sign_in(idp, app)
    idp.global_sign_out(AccessToken=first["AccessToken"])
    for tokens in (first, second):
        assert _error(idp.get_user, AccessToken=tokens["AccessToken"]) \
            == ("NotAuthorizedException", "Access Token has been revoked")
        _refresh_refused_at_both_doors(idp, app, tokens["RefreshToken"])
    assert "AccessToken" in _sign_in(idp, app)  # signing in again works


def test_global_sign_out_ends_a_token_issued_without_a_refresh_token(site, idp):
    app = _app(site, flows=("--auth-flow", "ALLOW_USER_PASSWORD_AUTH"))
    app.user()
    tokens = _sign_in(idp, app)
    assert "RefreshToken" not in tokens
    idp.global_sign_out(AccessToken=tokens["AccessToken"])
    assert _error(idp.get_user, AccessToken=tokens["AccessToken"])[1] == "Access Token has been revoked"


def test_global_sign_out_by_the_api_ends_hosted_sessions_and_their_tokens(site, idp):
    app = _app(site, client_args=("--secret",))
    app.user()
    rp = app.rp()
    _params, code = rp.sign_in("ann", PASSWORD, scope="openid aws.cognito.signin.user.admin")
    hosted = rp.exchange(code).json()
    assert rp.authorize().headers["Location"].startswith(CALLBACK)  # the hosted session signs in at once
    idp.global_sign_out(AccessToken=hosted["access_token"])
    assert "/login?" in rp.authorize().headers["Location"]  # asks for the password again
    assert rp.refresh(hosted["refresh_token"]).json()["error"] == "invalid_grant"
    assert rp.userinfo(hosted["access_token"]).status_code == 401


def test_revoke_token_ends_its_family_only(site, idp):
    app = _app(site)
    app.user()
    revoked, kept = _sign_in(idp, app), _sign_in(idp, app)
    assert idp.revoke_token(Token=revoked["RefreshToken"], ClientId=app.client_id)["ResponseMetadata"][
        "HTTPStatusCode"] == 200
    assert _error(idp.get_user, AccessToken=revoked["AccessToken"])[1] == "Access Token has been revoked"
    _refresh_refused_at_both_doors(idp, app, revoked["RefreshToken"])
    assert idp.get_user(AccessToken=kept["AccessToken"])["Username"] == "ann"
    refreshed = idp.initiate_auth(ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": kept["RefreshToken"]})
    assert "AccessToken" in refreshed["AuthenticationResult"]
    idp.revoke_token(Token=revoked["RefreshToken"], ClientId=app.client_id)  # again: revoked already, success


def test_revoke_token_refuses_other_clients_wrong_secrets_and_access_tokens(site, idp):
    app = _app(site)
    app.user()
    other = app.broker.cli_json("client", "create", "--pool", app.pool, "--name", "other", "--callback-url",
                                CALLBACK, *FLOWS, "--secret")
    tokens = _sign_in(idp, app)
    assert _error(idp.revoke_token, Token=tokens["RefreshToken"], ClientId=other["ClientId"],
                  ClientSecret=other["ClientSecret"])[0] == "UnauthorizedException"
    assert _error(idp.revoke_token, Token=tokens["RefreshToken"], ClientId=other["ClientId"])[0] \
        == "UnauthorizedException"  # no secret from a client that has one
    assert _error(idp.revoke_token, Token=tokens["AccessToken"], ClientId=app.client_id)[0] \
        == "UnsupportedTokenTypeException"
    assert _error(idp.revoke_token, Token=tokens["RefreshToken"], ClientId="nosuchclient")[0] \
        == "ResourceNotFoundException"
    idp.revoke_token(Token="not-a-token-of-anyone", ClientId=app.client_id)  # nothing to revoke: success
    assert idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == "ann"  # nothing was revoked
    assert "AccessToken" in idp.initiate_auth(ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={
        "REFRESH_TOKEN": tokens["RefreshToken"]})["AuthenticationResult"]


def test_a_deleted_user_is_gone_with_its_tokens(site, idp):
    app = _app(site)
    app.user()
    tokens = _sign_in(idp, app)
    idp.delete_user(AccessToken=tokens["AccessToken"])
    assert app.broker.cli_json("user", "list", "--pool", app.pool)["Users"] == []
    assert _error(idp.get_user, AccessToken=tokens["AccessToken"])[0] == "NotAuthorizedException"
    _refresh_refused_at_both_doors(idp, app, tokens["RefreshToken"])
    assert _error(lambda: _sign_in(idp, app))[0] == "NotAuthorizedException"


def test_a_disabled_users_token_is_refused(site, idp):
    app = _app(site)
    app.user()
    token = _sign_in(idp, app)["AccessToken"]
    app.broker.cli("user", "disable", "--pool", app.pool, "--username", "ann")
    assert _error(idp.get_user, AccessToken=token) == ("NotAuthorizedException", "Access Token has been revoked")


def test_an_authenticator_enrolled_by_the_api_is_asked_for_at_sign_in(site, idp):
    app = _app(site, "--mfa", "OPTIONAL")
    app.user()
    token = _sign_in(idp, app)["AccessToken"]
    assert _error(idp.verify_software_token, AccessToken=token, UserCode="123456")[0] \
        == "SoftwareTokenMFANotFoundException"
    secret = idp.associate_software_token(AccessToken=token)["SecretCode"]
    totp = pyotp.TOTP(secret)
    wrong = "000000" if totp.now() != "000000" else "111111"
    assert _error(idp.verify_software_token, AccessToken=token, UserCode=wrong)[0] \
        == "EnableSoftwareTokenMFAException"
    assert "AccessToken" in _sign_in(idp, app)  # not enrolled yet: no second factor
    assert idp.verify_software_token(AccessToken=token, UserCode=totp.now())["Status"] == "SUCCESS"
    answer = idp.get_user(AccessToken=token)
    assert answer["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert answer["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    challenge = idp.initiate_auth(ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD})
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    done = idp.respond_to_auth_challenge(ClientId=app.client_id, ChallengeName="SOFTWARE_TOKEN_MFA",
                                         Session=challenge["Session"], ChallengeResponses={
                                             "USERNAME": "ann", "SOFTWARE_TOKEN_MFA_CODE": totp.at(time.time() + 30)})
    assert _claims(done["AuthenticationResult"]["AccessToken"])["username"] == "ann"


def test_mfa_preferences_set_through_pycognito(site, idp):
    app = _app(site, "--mfa", "OPTIONAL")
    app.user()
    token = _sign_in(idp, app)["AccessToken"]
    user = Cognito(app.pool, app.client_id, access_token=token, user_pool_region="us-east-1",
                   boto3_client_kwargs={"endpoint_url": app.broker.base_url, "aws_access_key_id": "x",
                                        "aws_secret_access_key": "x"})
    with pytest.raises(ClientError) as caught:
        user.set_user_mfa_preference(False, True, "SOFTWARE_TOKEN")  # no authenticator app yet
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    totp = pyotp.TOTP(user.associate_software_token())
    assert user.verify_software_token(totp.now())
    user.set_user_mfa_preference(False, False)  # SMS off (never on) and the app off
    assert "UserMFASettingList" not in idp.get_user(AccessToken=user.access_token)
    assert "AccessToken" in _sign_in(idp, app)  # no second factor any more
    user.set_user_mfa_preference(False, True, "SOFTWARE_TOKEN")  # the app is still associated: on again
    assert idp.get_user(AccessToken=user.access_token)["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    challenge = idp.initiate_auth(ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD})
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert user.get_user().email == "ann@example.com"
    user.logout()  # GlobalSignOut
    assert _error(idp.get_user, AccessToken=token)[1] == "Access Token has been revoked"


def test_email_codes_turned_on_and_preferred(site, idp):
    broker, mail = site
    app = _app(site, "--mfa", "OPTIONAL")
    app.user("emma")
    token = _sign_in(idp, app, "emma")["AccessToken"]
    idp.set_user_mfa_preference(AccessToken=token, EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
    answer = idp.get_user(AccessToken=token)
    assert answer["UserMFASettingList"] == ["EMAIL_OTP"] and answer["PreferredMfaSetting"] == "EMAIL_OTP"
    code, _message = _error(idp.set_user_mfa_preference, AccessToken=token,
                            SMSMfaSettings={"Enabled": True})  # no phone number
    assert code == "InvalidParameterException"
    challenge = idp.initiate_auth(ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "emma", "PASSWORD": PASSWORD})
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    code = code_in(mail.wait_for("emma@example.com"))
    done = idp.respond_to_auth_challenge(ClientId=app.client_id, ChallengeName="EMAIL_OTP",
                                         Session=challenge["Session"],
                                         ChallengeResponses={"USERNAME": "emma", "EMAIL_OTP_CODE": code})
    assert "AccessToken" in done["AuthenticationResult"]


def test_a_pool_that_requires_mfa_keeps_the_users_last_factor(site, idp):
    app = _app(site, "--mfa", "ON")
    app.user()
    challenge = idp.initiate_auth(ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD})
    assert challenge["ChallengeName"] == "MFA_SETUP"
    associated = idp.associate_software_token(Session=challenge["Session"])
    totp = pyotp.TOTP(associated["SecretCode"])
    verified = idp.verify_software_token(Session=associated["Session"], UserCode=totp.now())
    done = idp.respond_to_auth_challenge(ClientId=app.client_id, ChallengeName="MFA_SETUP",
                                         Session=verified["Session"], ChallengeResponses={"USERNAME": "ann"})
    token = done["AuthenticationResult"]["AccessToken"]
    code, _message = _error(idp.set_user_mfa_preference, AccessToken=token,
                            SoftwareTokenMfaSettings={"Enabled": False})
    assert code == "InvalidParameterException"
    assert idp.get_user(AccessToken=token)["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]


def test_tokens_that_may_not_manage_the_account_are_refused(site, idp):
    app = _app(site, client_args=("--secret",))
    app.user()
    rp = app.rp()
    _params, code = rp.sign_in("ann", PASSWORD, scope="openid email")
    hosted = rp.exchange(code).json()
    assert _error(idp.get_user, AccessToken=hosted["access_token"]) \
        == ("NotAuthorizedException", "Access Token does not have required scopes")
    assert _error(idp.get_user, AccessToken=hosted["id_token"]) == ("NotAuthorizedException", "Invalid Access Token")
    rp = app.rp()
    _params, code = rp.sign_in("ann", PASSWORD, scope="openid aws.cognito.signin.user.admin")
    admin_scoped = rp.exchange(code).json()
    assert idp.get_user(AccessToken=admin_scoped["access_token"])["Username"] == "ann"  # either door's token


def test_forged_and_foreign_tokens_are_invalid(site, idp):
    app, other = _app(site), _app(site)
    app.user("ann")
    other.user("bob")
    token, foreign = _sign_in(idp, app)["AccessToken"], _sign_in(idp, other, "bob")["AccessToken"]
    header, payload, signature = token.split(".")
    claims = _claims(token)
    forged = [
        ".".join([header, _segment({**claims, "username": "bob"}), signature]),  # claims changed
        ".".join([_segment({"alg": "none", "kid": _decoded(header)["kid"]}), payload, ""]),  # unsigned
        ".".join(foreign.split(".")[:1] + [_segment({**_claims(foreign), "iss": claims["iss"]})]
                 + foreign.split(".")[2:]),  # another pool's token claiming this pool
        ".".join([header, _segment({**claims, "iss": "http://elsewhere.example/" + app.pool}), signature]),
    ]
    for value in forged:
        assert _error(idp.get_user, AccessToken=value) == ("NotAuthorizedException", "Invalid Access Token")
    assert idp.get_user(AccessToken=foreign)["Username"] == "bob"  # its own pool's token is fine


@pytest.mark.parametrize("body", [
    {},
    {"AccessToken": ""},
    {"AccessToken": "garbage"},
    {"AccessToken": "a.b.c"},
    {"AccessToken": "W1tbW1tbW1s." + "W1tb" * 3000 + ".sig"},
    {"AccessToken": "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiAxfQ.c2ln"},
    {"AccessToken": "not base64 at all!"},
    {"AccessToken": 7},
])
def test_bad_access_tokens_get_aws_errors_and_no_500(site, body):
    broker = site[0]
    for operation in ("GetUser", "GlobalSignOut", "DeleteUser", "AssociateSoftwareToken", "SetUserMFAPreference"):
        r = raw(broker.base_url, operation, body)
        assert r.status_code == 400, (operation, r.status_code, r.text)
        kind = r.json()["__type"]
        assert kind in ("NotAuthorizedException", "InvalidParameterException", "SerializationException"), \
            (operation, r.text)
        if operation == "GetUser" and isinstance(body.get("AccessToken"), str) and body["AccessToken"] \
                and " " not in body["AccessToken"]:
            assert r.json() == {"__type": "NotAuthorizedException", "message": "Invalid Access Token"}
