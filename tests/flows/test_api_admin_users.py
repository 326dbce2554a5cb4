"""The admin operations on users, called by boto3 with an admin key against a live server
that mails through a real SMTP server, each checked by what it does: the invitation's
temporary password leads to NEW_PASSWORD_REQUIRED, a disabled user neither signs in nor
uses its tokens, a permanent password signs in, a global sign-out ends refreshing, an
admin reset asks for the mailed code, and refusals are AWS's error types."""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.aws import admin_idp, cognito_idp, refused
from tests.conftest import Broker
from tests.rp import CALLBACK
from tests.smtp import MailServer, broker_with_mail, code_in

PASSWORD = "Corr3ct-Horse!"
NEW_PASSWORD = "N3w-Batt3ry-Staple!"
FLOWS = ("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
         "ALLOW_REFRESH_TOKEN_AUTH")


@dataclass
class Site:
    broker: Broker
    mail: MailServer
    admin: Any  # boto3 signing with an admin key of every pool
    public: Any  # boto3 as an app calls the unsigned operations

    def pool(self, *args: str) -> str:
        return self.broker.pool(*args)

    def client(self, pool: str, flows: tuple[str, ...] = FLOWS) -> str:
        args = [a for flow in flows for a in ("--auth-flow", flow)]
        return self.broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                                    *args)["ClientId"]

    def user(self, pool: str, name: str, *args: str) -> None:
        self.broker.cli("user", "create", "--pool", pool, "--username", name, "--password", PASSWORD,
                        "--email", f"{name}@example.com", "--confirmed", *args)

    def sign_in(self, pool: str, client: str, name: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        return self.admin.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                              AuthParameters={"USERNAME": name, "PASSWORD": password}, **extra)

    def refresh(self, client: str, token: str) -> dict[str, Any]:
        return self.public.initiate_auth(ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH",
                                         AuthParameters={"REFRESH_TOKEN": token})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    with broker_with_mail(tmp_path_factory.mktemp("api-admin-users"), redis_url) as (broker, mail):
        key = broker.cli_json("admin-key", "create")
        yield Site(broker, mail, admin_idp(broker.base_url, key), cognito_idp(broker.base_url))


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def temporary_password(text: str) -> str:
    found = re.search(r"temporary password is (\S+?)\. It works", text)
    assert found, text
    return found.group(1)


def attributes(user: dict[str, Any]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user.get("UserAttributes") or user.get("Attributes")}


def test_created_user_is_mailed_a_temporary_password_that_asks_for_a_new_one(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    created = site.admin.admin_create_user(UserPoolId=pool, Username="Ivy", DesiredDeliveryMediums=["EMAIL"],
                                           UserAttributes=[{"Name": "email", "Value": "ivy@example.com"},
                                                           {"Name": "given_name", "Value": "Ivy"}],
                                           ValidationData=[{"Name": "ignored", "Value": "x"}], ForceAliasCreation=True)
    user = created["User"]
    assert (user["Username"], user["UserStatus"], user["Enabled"]) == ("ivy", "FORCE_CHANGE_PASSWORD", True)
    assert attributes(user)["email"] == "ivy@example.com" and attributes(user)["given_name"] == "Ivy"
    mail = site.mail.wait_for_mail("ivy@example.com")
    assert "ivy" in mail.text
    temporary = temporary_password(mail.text)
    challenge = site.sign_in(pool, client, "ivy", temporary)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    done = site.admin.admin_respond_to_auth_challenge(
        UserPoolId=pool, ClientId=client, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ivy", "NEW_PASSWORD": NEW_PASSWORD})
    assert claims(done["AuthenticationResult"]["IdToken"])["cognito:username"] == "ivy"
    assert site.admin.admin_get_user(UserPoolId=pool, Username="ivy")["UserStatus"] == "CONFIRMED"
    assert refused(lambda: site.sign_in(pool, client, "ivy", temporary))[0] == "NotAuthorizedException"


def test_a_suppressed_invitation_is_sent_only_when_resent_with_a_new_password(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    site.admin.admin_create_user(UserPoolId=pool, Username="jude", TemporaryPassword=PASSWORD, MessageAction="SUPPRESS",
                                 UserAttributes=[{"Name": "email", "Value": "jude@example.com"}])
    resent = site.admin.admin_create_user(UserPoolId=pool, Username="jude", MessageAction="RESEND",
                                          DesiredDeliveryMediums=["EMAIL"])
    assert resent["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    temporary = temporary_password(site.mail.wait_for("jude@example.com"))  # the first mail is the resent one
    assert temporary != PASSWORD and site.mail.pending("jude@example.com") == []
    assert refused(lambda: site.sign_in(pool, client, "jude", PASSWORD))[0] == "NotAuthorizedException"
    assert site.sign_in(pool, client, "jude", temporary)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_create_user_refusals_are_aws_errors_and_write_nothing(site: Site) -> None:
    pool = site.pool()
    site.user(pool, "kim")
    email = [{"Name": "email", "Value": "new@example.com"}]
    cases = [
        (dict(Username="KIM", UserAttributes=email), "UsernameExistsException"),
        (dict(Username="lee", UserAttributes=email, TemporaryPassword="short"), "InvalidPasswordException"),
        (dict(Username="lee", DesiredDeliveryMediums=["EMAIL"]), "InvalidParameterException"),
        (dict(Username="lee", UserAttributes=[{"Name": "email", "Value": "not an address"}]),
         "InvalidParameterException"),
        (dict(Username="lee", UserAttributes=[{"Name": "shoe_size", "Value": "9"}]), "InvalidParameterException"),
        (dict(Username="nobody", MessageAction="RESEND"), "UserNotFoundException"),
        (dict(Username="kim", MessageAction="RESEND"), "UnsupportedUserStateException"),
    ]
    for params, expected in cases:
        assert refused(lambda: site.admin.admin_create_user(UserPoolId=pool, **params))[0] == expected, params
    users = site.admin.list_users(UserPoolId=pool)["Users"]
    assert [u["Username"] for u in users] == ["kim"]
    assert refused(lambda: site.admin.admin_create_user(UserPoolId="local_NoSuchPool", Username="x"))[0] == \
        "ResourceNotFoundException"


def test_a_disabled_user_neither_signs_in_nor_uses_its_tokens(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    site.user(pool, "max")
    tokens = site.sign_in(pool, client, "max")["AuthenticationResult"]
    site.admin.admin_disable_user(UserPoolId=pool, Username="max")
    assert site.admin.admin_get_user(UserPoolId=pool, Username="max")["Enabled"] is False
    assert refused(lambda: site.sign_in(pool, client, "max"))[0] == "NotAuthorizedException"
    assert refused(lambda: site.public.get_user(AccessToken=tokens["AccessToken"]))[0] == "NotAuthorizedException"
    assert refused(lambda: site.refresh(client, tokens["RefreshToken"]))[0] == "NotAuthorizedException"
    site.admin.admin_enable_user(UserPoolId=pool, Username="max")
    assert "AccessToken" in site.sign_in(pool, client, "max")["AuthenticationResult"]
    assert refused(lambda: site.refresh(client, tokens["RefreshToken"]))[0] == "NotAuthorizedException"  # stays ended


def test_set_user_password_permanent_signs_in_and_temporary_asks_for_another(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    site.user(pool, "nia")
    site.admin.admin_set_user_password(UserPoolId=pool, Username="nia", Password=NEW_PASSWORD, Permanent=True)
    assert "AccessToken" in site.sign_in(pool, client, "nia", NEW_PASSWORD)["AuthenticationResult"]
    assert refused(lambda: site.sign_in(pool, client, "nia", PASSWORD))[0] == "NotAuthorizedException"
    site.admin.admin_set_user_password(UserPoolId=pool, Username="nia", Password="Temp-0rary-Pass!", Permanent=False)
    assert site.admin.admin_get_user(UserPoolId=pool, Username="nia")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert site.sign_in(pool, client, "nia", "Temp-0rary-Pass!")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    bad = refused(lambda: site.admin.admin_set_user_password(UserPoolId=pool, Username="nia", Password="short1",
                                                             Permanent=True))
    assert bad[0] == "InvalidPasswordException"
    assert refused(lambda: site.admin.admin_set_user_password(UserPoolId=pool, Username="nobody",
                                                              Password=NEW_PASSWORD))[0] == "UserNotFoundException"


def test_global_sign_out_ends_refreshing(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    site.user(pool, "oli")
    tokens = site.sign_in(pool, client, "oli")["AuthenticationResult"]
    assert "AccessToken" in site.refresh(client, tokens["RefreshToken"])["AuthenticationResult"]
    site.admin.admin_user_global_sign_out(UserPoolId=pool, Username="oli")
    assert refused(lambda: site.refresh(client, tokens["RefreshToken"]))[0] == "NotAuthorizedException"
    assert refused(lambda: site.public.get_user(AccessToken=tokens["AccessToken"]))[0] == "NotAuthorizedException"
    again = site.sign_in(pool, client, "oli")["AuthenticationResult"]  # a new sign-in is not ended
    assert site.public.get_user(AccessToken=again["AccessToken"])["Username"] == "oli"


def test_an_admin_reset_asks_for_the_mailed_code(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    site.user(pool, "pia")
    site.admin.admin_reset_user_password(UserPoolId=pool, Username="pia")
    assert site.admin.admin_get_user(UserPoolId=pool, Username="pia")["UserStatus"] == "RESET_REQUIRED"
    code = code_in(site.mail.wait_for("pia@example.com"))
    assert refused(lambda: site.sign_in(pool, client, "pia"))[0] == "PasswordResetRequiredException"
    site.public.confirm_forgot_password(ClientId=client, Username="pia", ConfirmationCode=code, Password=NEW_PASSWORD)
    assert "AccessToken" in site.sign_in(pool, client, "pia", NEW_PASSWORD)["AuthenticationResult"]


def test_attributes_are_updated_and_deleted_a_vouched_email_at_once(site: Site) -> None:
    pool = site.pool()
    site.user(pool, "quin")
    site.admin.admin_update_user_attributes(UserPoolId=pool, Username="quin", UserAttributes=[
        {"Name": "given_name", "Value": "Quinn"}, {"Name": "email", "Value": "quinn@example.com"}])
    code = code_in(site.mail.wait_for("quinn@example.com"))  # the new address waits for its code
    assert len(code) == 6
    now = attributes(site.admin.admin_get_user(UserPoolId=pool, Username="quin"))
    assert now["given_name"] == "Quinn" and now["email"] == "quin@example.com" and now["email_verified"] == "true"
    site.admin.admin_update_user_attributes(UserPoolId=pool, Username="quin", UserAttributes=[
        {"Name": "email", "Value": "q@example.org"}, {"Name": "email_verified", "Value": "true"}])
    now = attributes(site.admin.admin_get_user(UserPoolId=pool, Username="quin"))
    assert (now["email"], now["email_verified"]) == ("q@example.org", "true")
    assert site.mail.pending("q@example.org") == []
    site.admin.admin_delete_user_attributes(UserPoolId=pool, Username="quin", UserAttributeNames=["given_name"])
    assert "given_name" not in attributes(site.admin.admin_get_user(UserPoolId=pool, Username="quin"))
    required = refused(lambda: site.admin.admin_delete_user_attributes(UserPoolId=pool, Username="quin",
                                                                        UserAttributeNames=["email"]))
    assert required[0] == "InvalidParameterException"
    assert refused(lambda: site.admin.admin_update_user_attributes(
        UserPoolId=pool, Username="quin", UserAttributes=[{"Name": "nope", "Value": "1"}]))[0] == \
        "InvalidParameterException"


def test_confirm_sign_up_confirms_once(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    site.public.sign_up(ClientId=client, Username="rae", Password=PASSWORD,
                        UserAttributes=[{"Name": "email", "Value": "rae@example.com"}])
    site.mail.wait_for("rae@example.com")
    assert refused(lambda: site.sign_in(pool, client, "rae"))[0] == "UserNotConfirmedException"
    site.admin.admin_confirm_sign_up(UserPoolId=pool, Username="rae")
    assert "AccessToken" in site.sign_in(pool, client, "rae")["AuthenticationResult"]
    again = refused(lambda: site.admin.admin_confirm_sign_up(UserPoolId=pool, Username="rae"))
    assert again == ("NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")


def test_delete_user_ends_it_and_its_tokens(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    site.user(pool, "sol")
    tokens = site.sign_in(pool, client, "sol")["AuthenticationResult"]
    sub = claims(tokens["AccessToken"])["sub"]
    assert site.admin.admin_get_user(UserPoolId=pool, Username=sub)["Username"] == "sol"  # by sub too
    site.admin.admin_delete_user(UserPoolId=pool, Username="sol")
    assert refused(lambda: site.admin.admin_get_user(UserPoolId=pool, Username="sol"))[0] == "UserNotFoundException"
    assert refused(lambda: site.refresh(client, tokens["RefreshToken"]))[0] == "NotAuthorizedException"
    assert refused(lambda: site.admin.admin_delete_user(UserPoolId=pool, Username="sol"))[0] == \
        "UserNotFoundException"


def test_mfa_preference_set_by_the_admin_is_asked_at_sign_in(site: Site) -> None:
    pool = site.pool("--mfa", "OPTIONAL")
    client = site.client(pool)
    site.user(pool, "tam")
    site.admin.admin_set_user_mfa_preference(UserPoolId=pool, Username="tam",
                                             EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
    user = site.admin.admin_get_user(UserPoolId=pool, Username="tam")
    assert user["UserMFASettingList"] == ["EMAIL_OTP"] and user["PreferredMfaSetting"] == "EMAIL_OTP"
    challenge = site.sign_in(pool, client, "tam")
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    done = site.admin.admin_respond_to_auth_challenge(
        UserPoolId=pool, ClientId=client, ChallengeName="EMAIL_OTP", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "tam", "EMAIL_OTP_CODE": code_in(site.mail.wait_for("tam@example.com"))})
    assert claims(done["AuthenticationResult"]["IdToken"])["amr"] == ["pwd", "otp", "mfa"]
    no_phone = refused(lambda: site.admin.admin_set_user_mfa_preference(
        UserPoolId=pool, Username="tam", SMSMfaSettings={"Enabled": True}))
    assert no_phone[0] == "InvalidParameterException"
    site.admin.admin_set_user_mfa_preference(UserPoolId=pool, Username="tam", EmailMfaSettings={"Enabled": False})
    assert "AuthenticationResult" in site.sign_in(pool, client, "tam")


def test_links_to_a_provider_identity_are_made_and_undone(site: Site) -> None:
    pool = site.pool()
    site.broker.cli("idp", "create", "--pool", pool, "--type", "OIDC", "--name", "Corp", "--issuer",
                    "https://id.example.com", "--client-id", "app", "--client-secret", "s3cret")
    site.user(pool, "uma")
    source = {"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "u-42"}
    site.admin.admin_link_provider_for_user(UserPoolId=pool, SourceUser=source, DestinationUser={
        "ProviderName": "Cognito", "ProviderAttributeValue": "uma"})
    identities = json.loads(attributes(site.admin.admin_get_user(UserPoolId=pool, Username="uma"))["identities"])
    assert [(i["providerName"], i["userId"]) for i in identities] == [("Corp", "u-42")]
    again = refused(lambda: site.admin.admin_link_provider_for_user(UserPoolId=pool, SourceUser=source, DestinationUser={
        "ProviderName": "Cognito", "ProviderAttributeValue": "uma"}))
    assert again[0] == "InvalidParameterException"
    site.admin.admin_disable_provider_for_user(UserPoolId=pool, User=source)
    assert "identities" not in attributes(site.admin.admin_get_user(UserPoolId=pool, Username="uma"))
    gone = refused(lambda: site.admin.admin_disable_provider_for_user(UserPoolId=pool, User=source))
    assert gone[0] == "UserNotFoundException"
    missing = refused(lambda: site.admin.admin_link_provider_for_user(UserPoolId=pool, SourceUser=source,
                                                                        DestinationUser={"ProviderName": "Cognito",
                                                                                         "ProviderAttributeValue": "x"}))
    assert missing[0] == "UserNotFoundException"


def test_auth_events_list_a_failed_and_a_passed_sign_in_with_their_risk(site: Site) -> None:
    pool = site.pool()
    client = site.client(pool)
    site.user(pool, "vic")
    refused(lambda: site.sign_in(pool, client, "vic", "Wrong-Horse-1!"))
    context = {"IpAddress": "198.51.100.7", "ServerName": "app.example.com", "ServerPath": "/login",
               "HttpHeaders": [{"headerName": "User-Agent", "headerValue": "test"}]}
    site.sign_in(pool, client, "vic", ContextData=context)
    events = site.admin.admin_list_user_auth_events(UserPoolId=pool, Username="vic")["AuthEvents"]
    sign_ins = [e for e in events if e["EventType"] == "SignIn"]
    assert [e["EventResponse"] for e in sign_ins] == ["Pass", "Fail"]  # newest first
    passed, failed = sign_ins
    assert passed["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    assert failed["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Failure"}]
    assert passed["EventContextData"]["IpAddress"] == "198.51.100.7"  # the user's address, given by the backend
    assert failed["EventContextData"]["IpAddress"] == "127.0.0.1"
    for event in sign_ins:
        assert event["EventRisk"]["RiskDecision"] == "NoRisk" and event["EventRisk"]["RiskLevel"] in {
            "Low", "Medium", "High"}
    first = site.admin.admin_list_user_auth_events(UserPoolId=pool, Username="vic", MaxResults=1)
    second = site.admin.admin_list_user_auth_events(UserPoolId=pool, Username="vic", MaxResults=1,
                                                     NextToken=first["NextToken"])
    assert [first["AuthEvents"][0]["EventId"], second["AuthEvents"][0]["EventId"]] == [e["EventId"] for e in events[:2]]
    assert refused(lambda: site.admin.admin_list_user_auth_events(UserPoolId=pool, Username="vic",
                                                                   NextToken="garbage"))[0] == \
        "InvalidParameterException"
