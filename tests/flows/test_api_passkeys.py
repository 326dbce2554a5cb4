"""Passkeys over the cognito-idp JSON API with boto3, made and used by a real browser:
Chromium's virtual authenticator (CDP ``WebAuthn.addVirtualAuthenticator``, resident keys and
user verification) on an app's page at ``http://localhost:<port>`` turns the server's options
into a credential (``PublicKeyCredential.parseCreationOptionsFromJSON`` /
``parseRequestOptionsFromJSON`` and ``toJSON()``), and boto3 sends it: the four WebAuthn
operations, USER_AUTH's WEB_AUTHN challenge, the pool's settings over the admin API; and a
passkey of another user, a completion nobody started, a pool that allows no passkeys."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Route

from tests.aws import api_broker, cognito_idp, refused
from tests.flows.test_api_user_auth import site
from tests.aws_admin import admin
from tests.browser import browser  # noqa: F401 (a fixture)
from tests.conftest import free_port
from tests.rp import CALLBACK

PASSWORD = "Corr3ct-Horse!"
APP_ORIGIN = CALLBACK.rsplit("/", 1)[0]
FLOWS = ("--auth-flow", "ALLOW_USER_AUTH", "--auth-flow", "ALLOW_USER_PASSWORD_AUTH")
PASSKEYS = ("--first-factor", "PASSWORD", "--first-factor", "WEB_AUTHN", "--passkey-rp-id", "localhost")
CREATE = """async (options) => {
  const credential = await navigator.credentials.create(
    {publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)});
  return credential.toJSON();
}"""
GET = """async (options) => {
  const credential = await navigator.credentials.get(
    {publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
  return credential.toJSON();
}"""


class Authenticator:
    """A platform authenticator with resident keys and user verification, in a tab on an
    app's own origin (answered by the browser itself: the app needs no server); by default
    the origin of the app client's callback URL, which the pool's passkeys allow."""

    def __init__(self, chromium: Browser, verifies: bool = True, origin: str = APP_ORIGIN) -> None:
        self.origin = origin
        self.context = chromium.new_context()
        self.page = self.context.new_page()
        self.page.route(f"{self.origin}/**", self._app)
        self.page.goto(f"{self.origin}/")
        cdp = self.context.new_cdp_session(self.page)
        cdp.send("WebAuthn.enable")
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": verifies,
            "isUserVerified": verifies, "automaticPresenceSimulation": True}})

    @staticmethod
    def _app(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>App</title><p>App</p>")

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        return self.page.evaluate(CREATE, options)

    def get(self, options: dict[str, Any]) -> dict[str, Any]:
        return self.page.evaluate(GET, options)


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with api_broker(tmp_path_factory.mktemp("apipasskeys"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


@pytest.fixture
def device(browser: Browser) -> Iterator[Authenticator]:  # noqa: F811 (the fixture imported above)
    found = Authenticator(browser)
    yield found
    found.context.close()


def _site(server, *pool_args: str, users: tuple[str, ...] = ("ann",)) -> tuple[str, str]:
    return site(server, *pool_args, flows=FLOWS, users=users)


def _access(idp, client_id: str, username: str = "ann") -> str:
    result = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
    return result["AuthenticationResult"]["AccessToken"]


def _register(idp, device: Authenticator, token: str) -> dict[str, Any]:
    options = idp.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
    credential = device.create(options)
    idp.complete_web_authn_registration(AccessToken=token, Credential=credential)
    return credential


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_passkey_is_registered_listed_signs_in_and_is_deleted(server, idp, device):
    pool, client_id = _site(server, *PASSKEYS)
    token = _access(idp, client_id)
    options = idp.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
    assert options["rp"]["id"] == "localhost" and options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    credential = device.create(options)
    idp.complete_web_authn_registration(AccessToken=token, Credential=credential)

    listed = idp.list_web_authn_credentials(AccessToken=token)["Credentials"]
    assert [c["CredentialId"] for c in listed] == [credential["id"]]
    assert listed[0]["RelyingPartyId"] == "localhost" and listed[0]["AuthenticatorAttachment"] == "platform"
    admin_view = server.cli_json("user", "passkeys", "list", "--pool", pool, "--username", "ann")["Credentials"]
    assert admin_view[0]["CredentialId"] == credential["id"] and admin_view[0]["LastUsedAt"] is None

    challenge = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                                  AuthParameters={"USERNAME": "ann", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
    assert challenge["ChallengeName"] == "WEB_AUTHN"
    request = json.loads(challenge["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
    assert not request.get("allowCredentials")  # (discoverable: the browser finds it)
    assertion = device.get(request)
    done = idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="WEB_AUTHN", Session=challenge["Session"],
                                         ChallengeResponses={"USERNAME": "ann", "CREDENTIAL": json.dumps(assertion)})
    claims = _claims(done["AuthenticationResult"]["IdToken"])
    assert claims["cognito:username"] == "ann" and claims["amr"] == ["hwk", "user", "mfa"]
    used = server.cli_json("user", "passkeys", "list", "--pool", pool, "--username", "ann")["Credentials"]
    assert used[0]["LastUsedAt"] is not None and used[0]["SignCount"] >= 0

    idp.delete_web_authn_credential(AccessToken=token, CredentialId=credential["id"])
    assert idp.list_web_authn_credentials(AccessToken=token)["Credentials"] == []
    choice = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                               AuthParameters={"USERNAME": "ann", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
    assert choice["ChallengeName"] == "WEB_AUTHN"  # (offered whoever asks: the deleted passkey is refused)
    stale = device.get(json.loads(choice["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"]))
    assert refused(lambda: idp.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="WEB_AUTHN", Session=choice["Session"],
        ChallengeResponses={"USERNAME": "ann", "CREDENTIAL": json.dumps(stale)}))[0] == "NotAuthorizedException"
    gone = refused(lambda: idp.delete_web_authn_credential(AccessToken=token, CredentialId=credential["id"]))
    assert gone[0] == "ResourceNotFoundException"


def test_a_passkey_that_did_not_verify_the_user_is_one_factor(server, idp, browser):  # noqa: F811
    """In a pool that only prefers user verification, a passkey used without it proves
    possession alone: the pool's MFA still asks for the second factor."""
    pool, client_id = _site(server, *PASSKEYS, "--passkey-user-verification", "preferred")
    unverified = Authenticator(browser, verifies=False)
    try:
        made = _register(idp, unverified, _access(idp, client_id))
        server.cli("pool", "update", "--pool", pool, "--mfa", "ON")
        challenge = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                                      AuthParameters={"USERNAME": "ann", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
        request = json.loads(challenge["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
        assert request["userVerification"] == "preferred"
        # (Chromium finds discoverable credentials without an id only on authenticators that
        # verify users: the app names the passkey it made, as a client may)
        request["allowCredentials"] = [{"id": made["id"], "type": "public-key"}]
        answer = idp.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="WEB_AUTHN", Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "ann", "CREDENTIAL": json.dumps(unverified.get(request))})
        assert "AuthenticationResult" not in answer
        assert answer["ChallengeName"] == "MFA_SETUP"  # (MFA ON, no factor enrolled: TOTP setup)
    finally:
        unverified.context.close()


def test_another_users_passkey_does_not_answer_a_users_challenge(server, idp, device):
    _pool, client_id = _site(server, *PASSKEYS, users=("ann", "bob"))
    _register(idp, device, _access(idp, client_id, "ann"))
    bobs = _register(idp, device, _access(idp, client_id, "bob"))
    challenge = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                                  AuthParameters={"USERNAME": "ann", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
    request = json.loads(challenge["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
    request["allowCredentials"] = [{"id": bobs["id"], "type": "public-key"}]  # ann's challenge, bob's key
    assertion = device.get(request)
    assert assertion["id"] == bobs["id"]
    answer = refused(lambda: idp.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="WEB_AUTHN", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ann", "CREDENTIAL": json.dumps(assertion)}))
    assert answer[0] == "NotAuthorizedException"
    replay = refused(lambda: idp.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="WEB_AUTHN", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ann", "CREDENTIAL": json.dumps(assertion)}))
    assert replay[0] == "NotAuthorizedException"  # the refused answer used the Session up


def test_a_registration_is_completed_once_by_the_user_who_started_it(server, idp, device):
    _pool, client_id = _site(server, *PASSKEYS, users=("ann", "bob"))
    ann, bob = _access(idp, client_id, "ann"), _access(idp, client_id, "bob")
    credential = device.create(idp.start_web_authn_registration(AccessToken=ann)["CredentialCreationOptions"])
    assert refused(lambda: idp.complete_web_authn_registration(AccessToken=bob, Credential=credential))[0] == \
        "WebAuthnChallengeNotFoundException"
    idp.complete_web_authn_registration(AccessToken=ann, Credential=credential)
    assert refused(lambda: idp.complete_web_authn_registration(AccessToken=ann, Credential=credential))[0] == \
        "WebAuthnChallengeNotFoundException"
    assert idp.list_web_authn_credentials(AccessToken=bob)["Credentials"] == []
    idp.start_web_authn_registration(AccessToken=ann)
    garbled = refused(lambda: idp.complete_web_authn_registration(AccessToken=ann, Credential={"id": "x"}))
    assert garbled[0] == "WebAuthnCredentialNotSupportedException"
    assert len(idp.list_web_authn_credentials(AccessToken=ann)["Credentials"]) == 1


def test_the_list_comes_in_pages(server, idp, browser):  # noqa: F811
    _pool, client_id = _site(server, *PASSKEYS)
    token = _access(idp, client_id)
    devices = [Authenticator(browser) for _ in range(3)]  # (one authenticator holds one passkey of a user)
    made = [_register(idp, device, token)["id"] for device in devices]
    for device in devices:
        device.context.close()
    first = idp.list_web_authn_credentials(AccessToken=token, MaxResults=2)
    rest = idp.list_web_authn_credentials(AccessToken=token, MaxResults=2, NextToken=first["NextToken"])
    assert [c["CredentialId"] for c in first["Credentials"] + rest["Credentials"]] == made
    assert "NextToken" not in rest
    assert refused(lambda: idp.list_web_authn_credentials(AccessToken=token, MaxResults=21))[0] == \
        "InvalidParameterException"


def test_a_pool_that_allows_no_passkeys_registers_none(server, idp):
    _pool, client_id = _site(server)
    token = _access(idp, client_id)
    code, _message = refused(lambda: idp.start_web_authn_registration(AccessToken=token))
    assert code == "WebAuthnNotEnabledException"
    assert refused(lambda: idp.start_web_authn_registration(AccessToken="not-a-token"))[0] == "NotAuthorizedException"


def test_the_sign_in_policy_and_passkey_settings_over_the_admin_api(server):
    pool = server.pool()
    idp = admin(server, server.cli_json("admin-key", "create"))
    described = idp.describe_user_pool(UserPoolId=pool)["UserPool"]["Policies"]["SignInPolicy"]
    assert described == {"AllowedFirstAuthFactors": ["PASSWORD"]}
    no_password = refused(lambda: idp.update_user_pool(
        UserPoolId=pool, Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["EMAIL_OTP"]}}))
    assert no_password[0] == "InvalidParameterException"
    idp.update_user_pool(UserPoolId=pool, Policies={"SignInPolicy": {
        "AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN", "EMAIL_OTP"]}})
    assert idp.describe_user_pool(UserPoolId=pool)["UserPool"]["Policies"]["SignInPolicy"] == {
        "AllowedFirstAuthFactors": ["WEB_AUTHN", "PASSWORD", "EMAIL_OTP"]}

    set_ = idp.set_user_pool_mfa_config(UserPoolId=pool, WebAuthnConfiguration={
        "RelyingPartyId": "auth.example.com", "UserVerification": "preferred"})
    assert set_["WebAuthnConfiguration"] == {"RelyingPartyId": "auth.example.com", "UserVerification": "preferred"}
    assert set_["MfaConfiguration"] == "OFF"
    bad = refused(lambda: idp.set_user_pool_mfa_config(UserPoolId=pool, WebAuthnConfiguration={
        "RelyingPartyId": "not a domain", "UserVerification": "required"}))
    assert bad[0] == "InvalidParameterException"
    got = idp.get_user_pool_mfa_config(UserPoolId=pool)
    assert got["WebAuthnConfiguration"] == {"RelyingPartyId": "auth.example.com", "UserVerification": "preferred"}
    shown = server.cli_json("pool", "describe", "--pool", pool)["UserPool"]
    assert shown["SignInPolicy"]["AllowedFirstAuthFactors"] == ["WEB_AUTHN", "PASSWORD", "EMAIL_OTP"]
    assert shown["WebAuthnConfiguration"]["RelyingPartyId"] == "auth.example.com"


def test_an_admin_deletes_a_real_passkey_with_the_cli(server, idp, device):
    pool, client_id = _site(server, *PASSKEYS)
    token = _access(idp, client_id)
    made = _register(idp, device, token)
    deleted = server.cli_json("user", "passkeys", "delete", "--pool", pool, "--username", "ann",
                              "--credential-id", made["id"])
    assert deleted["Deleted"] is True and deleted["CredentialId"] == made["id"]
    assert idp.list_web_authn_credentials(AccessToken=token)["Credentials"] == []
    assert server.cli_json("user", "passkeys", "list", "--pool", pool, "--username", "ann") == {"Credentials": []}
