"""Sign-in through a SAML 2.0 IdP, over real HTTP: a real IdP (pysaml2, :mod:`tests.peers.saml_idp`)
on loopback, Cognate as a subprocess, the app as a relying party.

The IdP is set up as an admin would: ``broker idp create --type SAML --metadata-file`` with
the IdP's metadata, and the IdP imports Cognate's ``/saml2/metadata``. The IdP checks the
signature of every AuthnRequest and LogoutRequest it receives, so each SP-initiated test
also proves Cognate signs them. Tokens at the app carry the mapped attributes and Cognito's
``identities`` claim; a second sign-in refreshes the same user.
"""
from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urljoin

import pytest
import requests
from cryptography import x509
from lxml import etree

from tests.peers.logout_receiver import LogoutReceiver, verified_logout_token
from tests.peers.saml_idp import SamlIdp, running_idp, through_acs
from tests.peers.social import Federation, assert_identities, attributes
from tests.rp import CALLBACK, RelyingParty, query_of

ALICE = "alice@corp.example"
MAPPING = ("--attribute-mapping", "email=email", "--attribute-mapping", "given_name=firstName",
           "--attribute-mapping", "custom:team=team")
MD = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
FAILED = "The sign-in with your identity provider did not succeed. Go back to the application and try again."
NOT_ENABLED = "This identity provider is not enabled for this application."
EXPIRED = "Your sign-in session has expired. Go back to the application and sign in again."


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[SamlIdp]:
    with running_idp(tmp_path / "idp", auto_login="alice") as server:
        server.add_user("alice", ALICE, {"email": ALICE, "firstName": "Alice", "team": "blue"})
        yield server


def corp(broker, idp: SamlIdp, tmp_path: Path, *options: str) -> Federation:
    """A new pool with ``idp`` as SAML IdP ``Corp`` and a confidential app allowing it; the
    IdP trusts the SP metadata Cognate publishes for it."""
    pool = broker.pool()
    metadata = idp.write_metadata(tmp_path / f"{pool}-idp.xml")
    broker.cli("idp", "create", "--pool", pool, "--type", "SAML", "--name", "Corp", "--metadata-file", str(metadata),
               *MAPPING, *options)
    idp.add_sp_from_url(broker.url(pool, "/saml2/metadata") + "?idp=Corp")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                             "--logout-url", "http://localhost:9000/bye", "--secret", "--idp", "Corp")
    return Federation(broker, pool, "Corp", RelyingParty(broker.base_url, pool, client["ClientId"],
                                                         client["ClientSecret"]))


def hidden_fields(page: str) -> dict[str, str]:
    return {html.unescape(n): html.unescape(v)
            for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}


def submit_to_acs(browser: requests.Session, page: requests.Response) -> requests.Response:
    """The IdP's auto-submitting HTTP-POST form, sent as the browser would."""
    assert page.status_code == 200, page.text
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    return through_acs(browser, browser.post(action, data=hidden_fields(page.text), allow_redirects=False, timeout=10))


def sign_in(fed: Federation, idp: SamlIdp) -> tuple[dict[str, str], requests.Response]:
    """identity_provider=Corp → the IdP's SSO (HTTP-Redirect) → its POST form → the ACS."""
    params, r = fed.authorize(identity_provider="Corp")
    assert r.status_code == 302, r.text
    assert r.headers["Location"].startswith(idp.base_url + "/sso/redirect?SAMLRequest="), r.headers["Location"]
    return params, submit_to_acs(fed.rp.browser, fed.rp.browser.get(r.headers["Location"], timeout=10))


def assert_refused(r: requests.Response, message: str = FAILED) -> None:
    assert r.status_code == 400, r.text
    assert "Location" not in r.headers and r.headers["Content-Type"].startswith("text/html")
    assert message in html.unescape(r.text)


def test_saml_sign_in_with_signed_assertions_lands_in_the_pool_with_mapped_attributes(shared_broker, idp, tmp_path):
    fed = corp(shared_broker, idp, tmp_path)
    params, answer = sign_in(fed, idp)
    id_claims, access = fed.tokens(params, answer)
    assert id_claims["cognito:username"] == "corp_alice@corp.example"
    assert id_claims["email"] == ALICE and id_claims["email_verified"] is False  # SAML vouches for no verification
    assert id_claims["given_name"] == "Alice" and id_claims["custom:team"] == "blue"
    assert id_claims["nonce"] == params["nonce"]
    assert_identities(id_claims, ALICE, "Corp", "SAML")
    assert access["username"] == "corp_alice@corp.example" and access["sub"] == id_claims["sub"]
    [user] = fed.users()
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    # the IdP answered our (signed, verified) AuthnRequest with a signed assertion, unencrypted
    [issued] = idp.issued
    assert issued["sp"] == f"urn:cognate:sp:{fed.pool}" and issued["in_response_to"]
    assert "<ns2:SignatureValue>" in issued["xml"] and "EncryptedAssertion" not in issued["xml"]


def test_second_saml_sign_in_updates_the_user_instead_of_adding_one(shared_broker, idp, tmp_path):
    fed = corp(shared_broker, idp, tmp_path)
    first, _ = fed.tokens(*sign_in(fed, idp))
    idp.users["alice"].attributes.update(firstName=["Alicia"], team=["red"])
    fed.rp.browser = requests.Session()  # another device: no hosted session
    again, _ = fed.tokens(*sign_in(fed, idp))
    assert again["sub"] == first["sub"]
    assert again["given_name"] == "Alicia" and again["custom:team"] == "red"
    assert_identities(again, ALICE, "Corp", "SAML")
    [user] = fed.users()
    assert attributes(user)["given_name"] == "Alicia" and attributes(user)["custom:team"] == "red"


def test_encrypted_assertions_are_decrypted_and_then_required(shared_broker, tmp_path):
    with running_idp(tmp_path / "idp", auto_login="alice", encrypt_assertion=True) as idp:
        idp.add_user("alice", ALICE, {"email": ALICE, "firstName": "Alice", "team": "blue"})
        fed = corp(shared_broker, idp, tmp_path, "--want-assertions-encrypted")
        id_claims, _ = fed.tokens(*sign_in(fed, idp))
        assert id_claims["email"] == ALICE and id_claims["given_name"] == "Alice"
        assert_identities(id_claims, ALICE, "Corp", "SAML")
        xml = idp.issued[0]["xml"]
        assert "EncryptedAssertion" in xml and ALICE not in xml  # nothing readable on the wire
        # the same IdP, now sending its assertions in clear: refused, nobody new
        idp.encrypt_assertion = False
        fed.rp.browser = requests.Session()
        _params, answer = sign_in(fed, idp)
        assert_refused(answer)
        assert len(fed.users()) == 1


def test_large_encrypted_response_with_many_groups_is_accepted(shared_broker, tmp_path):
    """An enterprise user in hundreds of groups: the encrypted, base64-encoded response is far
    beyond the limit for hosted forms, and the ACS still takes it."""
    groups = [f"cn=group-{n:04d},ou=groups,dc=corp,dc=example" for n in range(600)]
    with running_idp(tmp_path / "idp", auto_login="alice", encrypt_assertion=True) as idp:
        idp.add_user("alice", ALICE, {"email": ALICE, "firstName": "Alice", "team": "blue", "memberOf": groups})
        fed = corp(shared_broker, idp, tmp_path, "--want-assertions-encrypted")
        params, answer = sign_in(fed, idp)
        assert len(base64.b64encode(idp.issued[0]["xml"].encode())) > 96 * 1024  # beyond the 64 KiB form limit
        id_claims, _ = fed.tokens(params, answer)
        assert id_claims["email"] == ALICE and id_claims["custom:team"] == "blue"


def test_saml_answer_posted_from_another_browser_signs_nobody_in(shared_broker, idp, tmp_path):
    """Login CSRF: an attacker starts a sign-in, gets the IdP's genuine answer for their own
    account and makes the victim's browser post it to the ACS. The sign-in finishes only in
    the browser that started it: the victim is not signed in as the attacker."""
    fed = corp(shared_broker, idp, tmp_path)
    _params, r = fed.authorize(identity_provider="Corp")  # the attacker's browser
    page = fed.rp.browser.get(r.headers["Location"], timeout=10)
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    victim = requests.Session()
    answer = through_acs(victim, victim.post(action, data=hidden_fields(page.text), allow_redirects=False, timeout=10))
    assert_refused(answer, EXPIRED)
    assert fed.users() == []
    params = fed.rp.authorize_params(prompt="none")
    silent = victim.get(fed.rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    assert query_of(silent.headers["Location"])["error"] == "login_required"


def _idp_initiated(fed: Federation, idp: SamlIdp, **overrides: str) -> requests.Response:
    """The user picks the app at the IdP's portal; RelayState is the app's request (Cognito's shape)."""
    relay = {"client_id": fed.rp.client_id, "redirect_uri": CALLBACK, "response_type": "code",
             "scope": "openid email profile", "state": "from-the-portal", **overrides}
    page = fed.rp.browser.get(f"{idp.base_url}/idp-init", params={"sp": f"urn:cognate:sp:{fed.pool}",
                                                                  "relay_state": urlencode(relay)}, timeout=10)
    return submit_to_acs(fed.rp.browser, page)


def test_idp_initiated_sign_in_reaches_the_app_when_enabled_and_only_once(shared_broker, idp, tmp_path):
    fed = corp(shared_broker, idp, tmp_path, "--idp-initiated")
    answer = _idp_initiated(fed, idp)
    assert answer.status_code == 302, answer.text
    back = query_of(answer.headers["Location"])
    assert answer.headers["Location"].startswith(CALLBACK) and back["state"] == "from-the-portal"
    r = fed.rp.exchange(back["code"])
    assert r.status_code == 200, r.text
    id_claims = fed.rp.verify(r.json()["id_token"], audience=fed.rp.client_id)
    assert id_claims["email"] == ALICE and id_claims["custom:team"] == "blue"
    assert_identities(id_claims, ALICE, "Corp", "SAML")
    assert idp.issued[0]["in_response_to"] is None  # unsolicited
    # the same unsolicited response again: its assertion was used
    replay = fed.rp.browser.post(fed.broker.url(fed.pool, "/saml2/idpresponse"),
                                 data={"SAMLResponse": base64.b64encode(idp.issued[0]["xml"].encode()).decode(),
                                       "RelayState": urlencode({"client_id": fed.rp.client_id,
                                                                "redirect_uri": CALLBACK, "response_type": "code",
                                                                "scope": "openid email"})},
                                 allow_redirects=False, timeout=10)
    assert_refused(replay)
    assert len(fed.users()) == 1


def test_idp_initiated_sign_in_is_refused_when_not_enabled(shared_broker, idp, tmp_path):
    fed = corp(shared_broker, idp, tmp_path)
    assert_refused(_idp_initiated(fed, idp), NOT_ENABLED)
    assert fed.users() == []


def test_idp_initiated_sign_in_for_an_unregistered_redirect_uri_never_redirects(shared_broker, idp, tmp_path):
    fed = corp(shared_broker, idp, tmp_path, "--idp-initiated")
    r = _idp_initiated(fed, idp, redirect_uri="https://evil.example/cb")
    assert r.status_code == 400 and "Location" not in r.headers
    assert fed.users() == []


def test_sp_metadata_names_the_entity_the_acs_and_the_certificate(shared_broker, idp, tmp_path):
    fed = corp(shared_broker, idp, tmp_path, "--want-assertions-encrypted")
    r = requests.get(fed.broker.url(fed.pool, "/saml2/metadata"), params={"idp": "Corp"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/samlmetadata+xml")
    root = etree.fromstring(r.content)
    assert root.get("entityID") == f"urn:cognate:sp:{fed.pool}"
    [sp] = root.xpath("md:SPSSODescriptor", namespaces=MD)
    assert sp.get("AuthnRequestsSigned") == "true" and sp.get("WantAssertionsSigned") == "true"
    [acs] = sp.xpath("md:AssertionConsumerService", namespaces=MD)
    assert (acs.get("Binding"), acs.get("Location")) == (POST, fed.broker.url(fed.pool, "/saml2/idpresponse"))
    [slo] = sp.xpath("md:SingleLogoutService", namespaces=MD)
    assert (slo.get("Binding"), slo.get("Location")) == (REDIRECT, fed.broker.url(fed.pool, "/saml2/logout"))
    certs = {kd.get("use"): kd.xpath("string(ds:KeyInfo/ds:X509Data/ds:X509Certificate)", namespaces=MD)
             for kd in sp.xpath("md:KeyDescriptor", namespaces=MD)}
    assert set(certs) == {"signing", "encryption"} and certs["signing"] == certs["encryption"]
    cert = x509.load_der_x509_certificate(base64.b64decode(certs["signing"]))
    details = fed.broker.cli_json("idp", "describe", "--pool", fed.pool, "--name", "Corp")["IdentityProvider"]
    assert base64.b64decode(details["ProviderDetails"]["sp_certificate"]) == base64.b64decode(certs["signing"])
    assert cert.public_key().key_size >= 2048
    assert details["ProviderDetails"]["sp_private_key"] == "********"
    assert "PRIVATE KEY" not in r.text
    # the IdP of another name, or none: nothing
    assert requests.get(fed.broker.url(fed.pool, "/saml2/metadata"), params={"idp": "Nope"}, timeout=10).status_code == 404


def test_idp_create_takes_metadata_by_url_and_refuses_what_does_not_apply(shared_broker, idp, tmp_path):
    broker = shared_broker
    pool = broker.pool()
    created = broker.cli_json("idp", "create", "--pool", pool, "--type", "SAML", "--name", "ByUrl",
                              "--metadata-url", f"{idp.base_url}/metadata", "--no-sign-requests")
    details = created["IdentityProvider"]["ProviderDetails"]
    assert details["idp_entity_id"] == idp.entity_id and details["sso_url"] == f"{idp.base_url}/sso/redirect"
    assert details["sign_requests"] is False and details["want_assertions_signed"] is True
    # the IdP's WantAuthnRequestsSigned="true" did not turn our own signing back on
    assert 'WantAuthnRequestsSigned="true"' in idp.metadata_xml()
    bad_metadata = tmp_path / "doctype.xml"
    bad_metadata.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                            + idp.metadata_xml().split("?>", 1)[-1])
    cases = {
        ("--client-id", "abc", "--metadata-url", f"{idp.base_url}/metadata"): "--client-id does not apply to SAML",
        ("--scopes", "openid", "--metadata-url", f"{idp.base_url}/metadata"): "--scopes does not apply to SAML",
        (): "missing --metadata-url or --metadata-file",
        ("--metadata-file", str(bad_metadata)): "the SAML metadata could not be read",
        ("--metadata-url", "http://example.com/metadata"): "--metadata-url must use https",
        ("--metadata-url", f"{idp.base_url}/nothing-here"): "--metadata-url could not be fetched",
    }
    for args, message in cases.items():
        r = broker.cli("idp", "create", "--pool", pool, "--type", "SAML", "--name", "Bad", *args, check=False)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
    names = [p["ProviderName"] for p in broker.cli_json("idp", "list", "--pool", pool)["Providers"]]
    assert names == ["ByUrl"]


def test_single_logout_started_by_the_idp_ends_the_hosted_session(shared_broker, idp, tmp_path):
    fed = corp(shared_broker, idp, tmp_path)
    fed.tokens(*sign_in(fed, idp))
    assert "code=" in fed.authorize(prompt="none")[1].headers["Location"]  # the hosted session is there
    r = fed.rp.browser.get(f"{idp.base_url}/idp-logout", params={"sp": f"urn:cognate:sp:{fed.pool}", "user": "alice"},
                           allow_redirects=False, timeout=10)
    assert r.headers["Location"].startswith(fed.broker.url(fed.pool, "/saml2/logout?SAMLRequest="))
    r = fed.rp.browser.get(r.headers["Location"], allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(idp.base_url + "/slo/redirect?SAMLResponse=")
    assert fed.rp.browser.get(r.headers["Location"], timeout=10).status_code == 200
    assert idp.logout_responses == ["urn:oasis:names:tc:SAML:2.0:status:Success"]
    r = fed.authorize(prompt="none")[1]
    assert query_of(r.headers["Location"])["error"] == "login_required"


def test_single_logout_started_by_the_idp_tells_the_apps_of_the_session(shared_broker, idp, tmp_path):
    """The hosted session the IdP ends is signed out as at /logout: its apps with a
    back-channel logout URL are told, with the session's ``sid``."""
    fed = corp(shared_broker, idp, tmp_path)
    with LogoutReceiver() as receiver:
        shared_broker.cli("client", "update", "--pool", fed.pool, "--client", fed.rp.client_id,
                          "--backchannel-logout-url", receiver.url("/web"))
        id_claims, _access = fed.tokens(*sign_in(fed, idp))
        r = fed.rp.browser.get(f"{idp.base_url}/idp-logout", allow_redirects=False, timeout=10,
                               params={"sp": f"urn:cognate:sp:{fed.pool}", "user": "alice"})
        assert fed.rp.browser.get(r.headers["Location"], allow_redirects=False, timeout=10).status_code == 302
        (post,) = receiver.wait(1, path="/web")
        claims = verified_logout_token(post.form["logout_token"], fed.rp.issuer, fed.rp.config["jwks_uri"],
                                       fed.rp.client_id)
    assert (claims["sub"], claims["sid"]) == (id_claims["sub"], id_claims["sid"])


def test_single_logout_request_not_signed_by_the_idp_is_refused(shared_broker, idp, tmp_path):
    fed = corp(shared_broker, idp, tmp_path)
    fed.tokens(*sign_in(fed, idp))
    r = fed.rp.browser.get(f"{idp.base_url}/idp-logout", params={"sp": f"urn:cognate:sp:{fed.pool}", "user": "alice"},
                           allow_redirects=False, timeout=10)
    unsigned = re.sub(r"&(SigAlg|Signature)=[^&]*", "", r.headers["Location"])
    r = fed.rp.browser.get(unsigned, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers
    assert "code=" in fed.authorize(prompt="none")[1].headers["Location"]  # still signed in


@pytest.mark.parametrize("signed_out_everywhere", [False, True], ids=["signed-in", "after-global-sign-out"])
def test_single_logout_started_by_the_app_reaches_the_idp(shared_broker, idp, tmp_path, signed_out_everywhere):
    """Also when an admin has signed the user out everywhere: the hosted session no longer
    counts, but the IdP's own session must still end."""
    fed = corp(shared_broker, idp, tmp_path)
    fed.tokens(*sign_in(fed, idp))
    if signed_out_everywhere:
        [user] = shared_broker.cli_json("user", "list", "--pool", fed.pool)["Users"]
        shared_broker.cli("user", "sign-out", "--pool", fed.pool, "--username", user["Username"])
        assert query_of(fed.authorize(prompt="none")[1].headers["Location"])["error"] == "login_required"
    r = fed.rp.browser.get(fed.broker.url(fed.pool, "/logout"), params={
        "client_id": fed.rp.client_id, "logout_uri": "http://localhost:9000/bye", "state": "s1"},
        allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(idp.base_url + "/slo/redirect?SAMLRequest=")
    r = fed.rp.browser.get(r.headers["Location"], allow_redirects=False, timeout=10)  # the IdP verifies our signature
    assert r.status_code == 302, r.text
    [request] = idp.logout_requests
    assert request["sp"] == f"urn:cognate:sp:{fed.pool}" and request["name_id"] == ALICE
    assert request["session_indexes"]  # the SessionIndex of the sign-in
    r = fed.rp.browser.get(urljoin(idp.base_url, r.headers["Location"]), allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "http://localhost:9000/bye?state=s1"
    assert query_of(fed.authorize(prompt="none")[1].headers["Location"])["error"] == "login_required"
