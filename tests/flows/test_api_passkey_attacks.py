"""Hostile passkey input over the JSON API: pages of origins the pool does not list (a
subdomain of the relying-party id, another port), a pool that trusts only some
authenticator models (Chromium's virtual authenticator attests itself), browser JSON of odd
shapes (a number as the origin, a credential id too long to keep), and a USER_AUTH offer
that must not tell who exists or which passkeys they have."""
from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

import cbor2
import pytest

from tests.attestation_roots import write_root
from tests.aws import api_broker, cognito_idp, refused
from tests.browser import browser  # noqa: F401 (a fixture)
from tests.flows.test_api_passkeys import (APP_ORIGIN, PASSKEYS, PASSWORD, Authenticator, _access, _register,
                                           _site, device, idp, server)  # noqa: F401 (fixtures)

AAGUID = "08987058-cadc-4b81-b6e1-30de50dcbe96"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _made_here(options: dict[str, Any], origin: object = APP_ORIGIN, id_bytes: int = 16) -> dict[str, Any]:
    """A "none"-attested credential built by hand (no browser would make it): any origin,
    any length of credential id; its key is a valid P-256 point."""
    from cryptography.hazmat.primitives.asymmetric import ec

    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    credential_id = b"\x01" * id_bytes
    auth_data = hashlib.sha256(options["rp"]["id"].encode()).digest() + bytes([0x45]) + struct.pack(">I", 0) + \
        b"\x00" * 16 + struct.pack(">H", id_bytes) + credential_id + cose
    client_data = json.dumps({"type": "webauthn.create", "challenge": options["challenge"], "origin": origin})
    return {"id": _b64(credential_id), "rawId": _b64(credential_id), "type": "public-key",
            "response": {"clientDataJSON": _b64(client_data.encode()),
                         "attestationObject": _b64(cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})),
                         "transports": ["internal"]}, "clientExtensionResults": {}}


def _with_origin(credential: dict[str, Any], origin: object) -> dict[str, Any]:
    client_data = json.loads(_unb64(credential["response"]["clientDataJSON"]))
    changed = json.dumps({**client_data, "origin": origin}).encode()
    return {**credential, "response": {**credential["response"], "clientDataJSON": _b64(changed)}}


def _passkey_challenge(idp, client_id: str, username: str = "ann") -> dict[str, Any]:
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                             AuthParameters={"USERNAME": username, "PREFERRED_CHALLENGE": "WEB_AUTHN"})


def _answer(idp, client_id: str, challenge: dict[str, Any], assertion: dict[str, Any], username: str = "ann"):
    return idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="WEB_AUTHN", Session=challenge["Session"],
                                         ChallengeResponses={"USERNAME": username, "CREDENTIAL": json.dumps(assertion)})


def _options(challenge: dict[str, Any]) -> dict[str, Any]:
    return json.loads(challenge["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])


def test_a_subdomain_or_a_port_the_pool_does_not_list_is_refused(server, idp, browser):  # noqa: F811
    """The relying party is rp.localhost and only http://rp.localhost:9000 is listed: a page
    below it, or on another port, is refused (the browser itself would allow both)."""
    listed = "http://rp.localhost:9000"
    pool, client_id = _site(server, *PASSKEYS, "--passkey-rp-id", "rp.localhost")
    token = _access(idp, client_id)
    for origin in ("http://app.rp.localhost:9000", "http://rp.localhost:9001", listed):
        stranger = Authenticator(browser, origin=origin)
        try:
            options = idp.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
            made = stranger.create(options)
            assert refused(lambda: idp.complete_web_authn_registration(AccessToken=token, Credential=made))[0] == \
                "WebAuthnOriginNotAllowedException"
        finally:
            stranger.context.close()
    assert idp.list_web_authn_credentials(AccessToken=token)["Credentials"] == []

    server.cli("pool", "update", "--pool", pool, "--passkey-origin", listed)
    page = Authenticator(browser, origin=listed)
    try:
        made = _register(idp, page, token)
        challenge = _passkey_challenge(idp, client_id)
        assertion = page.get({**_options(challenge), "allowCredentials": [{"id": made["id"], "type": "public-key"}]})
        assert "AuthenticationResult" in _answer(idp, client_id, challenge, assertion)
        server.cli("pool", "update", "--pool", pool, "--no-passkey-origins")
        challenge = _passkey_challenge(idp, client_id)
        assertion = page.get({**_options(challenge), "allowCredentials": [{"id": made["id"], "type": "public-key"}]})
        assert refused(lambda: _answer(idp, client_id, challenge, assertion))[0] == "NotAuthorizedException"
    finally:
        page.context.close()


def test_the_offer_does_not_tell_who_exists_or_has_a_passkey(server, idp, device):
    pool, client_id = _site(server, *PASSKEYS, "--first-factor", "EMAIL_OTP", users=("ann",))
    server.cli("user", "create", "--pool", pool, "--username", "nomail", "--password", PASSWORD, "--confirmed")
    made = _register(idp, device, _access(idp, client_id))
    offers = [idp.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH", AuthParameters={"USERNAME": name})
              for name in ("ann", "nomail", "ghost")]
    assert {o["ChallengeName"] for o in offers} == {"SELECT_CHALLENGE"}
    assert [o["AvailableChallenges"] for o in offers] == [["WEB_AUTHN", "PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"]] * 3
    challenges = [_passkey_challenge(idp, client_id, name) for name in ("ann", "nomail", "ghost")]
    shapes = [{k: v for k, v in _options(c).items() if k != "challenge"} for c in challenges]
    assert shapes[0] == shapes[1] == shapes[2] and shapes[0]["allowCredentials"] == []
    assertion = device.get({**_options(challenges[2]), "allowCredentials": [{"id": made["id"], "type": "public-key"}]})
    ghost = refused(lambda: _answer(idp, client_id, challenges[2], assertion, "ghost"))  # ann's passkey, no ghost
    assertion = device.get({**_options(challenges[1]), "allowCredentials": [{"id": made["id"], "type": "public-key"}]})
    nomail = refused(lambda: _answer(idp, client_id, challenges[1], assertion, "nomail"))
    assert ghost == nomail and ghost[0] == "NotAuthorizedException"


def test_odd_browser_json_is_refused_not_an_error(server, idp, device):
    _pool, client_id = _site(server, *PASSKEYS)
    token = _access(idp, client_id)
    options = idp.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
    numbered = _with_origin(device.create(options), 12345)
    assert refused(lambda: idp.complete_web_authn_registration(AccessToken=token, Credential=numbered))[0] == \
        "WebAuthnOriginNotAllowedException"
    options = idp.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
    long_id = _made_here(options, id_bytes=1100)
    assert refused(lambda: idp.complete_web_authn_registration(AccessToken=token, Credential=long_id))[0] == \
        "WebAuthnCredentialNotSupportedException"
    options = idp.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
    idp.complete_web_authn_registration(AccessToken=token, Credential=_made_here(options))  # (the builder is right)
    assert len(idp.list_web_authn_credentials(AccessToken=token)["Credentials"]) == 1

    made = _register(idp, device, token)
    for broken in (_with_origin, lambda c, o: {**c, "response": {**c["response"], "clientDataJSON": _b64(b"[1]")}}):
        challenge = _passkey_challenge(idp, client_id)
        assertion = device.get({**_options(challenge), "allowCredentials": [{"id": made["id"], "type": "public-key"}]})
        assert refused(lambda: _answer(idp, client_id, challenge, broken(assertion, 7)))[0] == \
            "NotAuthorizedException"


@pytest.fixture(scope="module")
def trusting(tmp_path_factory, redis_url):
    tmp = tmp_path_factory.mktemp("apipasskeyroots")
    roots = write_root(tmp / "roots.pem")
    with api_broker(tmp, redis_url, BROKER_PASSKEY_ATTESTATION_ROOTS=str(roots)) as broker:
        yield broker


def test_an_authenticator_whose_attestation_leads_to_no_root_is_refused(trusting, device):
    pool, client_id = _site(trusting, *PASSKEYS, "--passkey-aaguid", AAGUID)
    idp = cognito_idp(trusting.base_url)
    token = _access(idp, client_id)
    options = idp.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
    assert options["attestation"] == "direct"
    made = device.create(options)
    assert refused(lambda: idp.complete_web_authn_registration(AccessToken=token, Credential=made))[0] == \
        "WebAuthnCredentialNotSupportedException"
    options = idp.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
    assert refused(lambda: idp.complete_web_authn_registration(AccessToken=token, Credential=_made_here(options)))[0] \
        == "WebAuthnCredentialNotSupportedException"  # "none": the client's word only
    assert idp.list_web_authn_credentials(AccessToken=token)["Credentials"] == []
