"""Hostile SAML Responses at the ACS (``POST /<pool>/saml2/idpresponse``), over real HTTP.

Each test starts a real SP-initiated login (``/oauth2/authorize?identity_provider=Corp``),
has the real pysaml2 IdP mint the answer to that AuthnRequest, tampers with it and posts it
with the login's RelayState. Everything but the tampering is genuine, so a refusal can only
come from the check under test; the untampered controls prove the path works. A refusal is
our error page with a 4xx (never a 500, a stack trace or a code) and no user in the pool.

Checks follow SAML 2.0 Core §3.2.2 (Destination), §2.5.1 (Conditions), Profiles §4.1.4.2-3
(bearer SubjectConfirmation: Recipient, NotOnOrAfter, InResponseTo; AudienceRestriction),
§4.1.4.5 (one-time use), and Somorovsky et al., "On Breaking SAML" (signature wrapping).
"""
from __future__ import annotations

import html
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import pytest
import redis
import requests

from tests.conftest import Broker
from tests.peers import saml_forge as forge
from tests.peers.saml_idp import SamlIdp, running_idp, through_acs
from tests.rp import CALLBACK, RelyingParty, query_of

ALICE = "alice@example.org"
FAILED = "The sign-in with your identity provider did not succeed. Go back to the application and try again."
EXPIRED = "Your sign-in session has expired. Go back to the application and sign in again."
NOT_ENABLED = "This identity provider is not enabled for this application."
TOO_LARGE = "The request is too large."
REFUSALS = (FAILED, EXPIRED, NOT_ENABLED)


# --- the world: one IdP, pools that trust it, a stranger IdP ---------------------------

@dataclass
class Sp:
    """One pool whose IdP ``Corp`` is the test IdP, and a confidential app allowed to use it."""

    broker: Broker
    pool: str
    rp: RelyingParty
    idp: SamlIdp

    @property
    def acs(self) -> str:
        return self.broker.url(self.pool, "/saml2/idpresponse")

    @property
    def audience(self) -> str:
        return f"urn:cognate:sp:{self.pool}"


@dataclass
class Login:
    request_id: str  # the AuthnRequest's ID
    relay_state: str
    state: str  # the app's OAuth state


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    with running_idp(tmp_path_factory.mktemp("idp")) as server:
        yield server


@pytest.fixture(scope="module")
def other_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    """A second real IdP that the shared pool trusts too, as ``Other``."""
    with running_idp(tmp_path_factory.mktemp("other")) as server:
        yield server


@pytest.fixture(scope="module")
def stranger_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    """A real IdP, with its own key and entity id, that the pools of these tests do not trust."""
    with running_idp(tmp_path_factory.mktemp("stranger")) as server:
        yield server


def make_sp(broker: Broker, idp: SamlIdp, tmp: Path, *idp_options: str, others: dict[str, SamlIdp] | None = None,
            strangers: tuple[SamlIdp, ...] = ()) -> Sp:
    """A pool, its SAML IdP ``Corp`` (plus ``others`` by name) and an app allowed to use them.
    Every IdP involved, and the ``strangers`` the pool does not trust, learn the pool's SP
    metadata, as an admin would set them up."""
    pool = broker.pool()
    servers = {"Corp": idp, **(others or {})}
    for name, server in servers.items():
        metadata = server.write_metadata(tmp / f"{pool}-{name}.xml")
        options = idp_options if name == "Corp" else ()
        broker.cli("idp", "create", "--pool", pool, "--type", "SAML", "--name", name, "--metadata-file",
                   str(metadata), "--attribute-mapping", "email=email", *options)
    sp_metadata_url = broker.url(pool, "/saml2/metadata") + "?idp=Corp"
    for server in [*servers.values(), *strangers]:
        server.add_sp_from_url(sp_metadata_url)
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             "--secret", *[arg for name in servers for arg in ("--idp", name)])
    return Sp(broker, pool, RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"]), idp)


@pytest.fixture(scope="module")
def shared_sp(shared_broker: Broker, idp: SamlIdp, other_idp: SamlIdp, stranger_idp: SamlIdp,
              tmp_path_factory: pytest.TempPathFactory) -> Sp:
    """Corp wants signed assertions (the default); the pool also trusts ``Other``, which the
    app allows too, for the IdP mix-up cases."""
    return make_sp(shared_broker, idp, tmp_path_factory.mktemp("sp"), others={"Other": other_idp},
                   strangers=(stranger_idp,))


@pytest.fixture(scope="module")
def shared_sp_response_signed(shared_broker: Broker, idp: SamlIdp, tmp_path_factory: pytest.TempPathFactory) -> Sp:
    """Corp signs only the Response (``--no-want-assertions-signed``): the target of XSW1/2."""
    return make_sp(shared_broker, idp, tmp_path_factory.mktemp("sp-rs"), "--no-want-assertions-signed")


def _purge(sp: Sp) -> None:
    """A hostile test that got through created a user; remove it so the next test starts clean
    (the test itself has already failed on it)."""
    for user in _users(sp):
        sp.broker.cli("user", "delete", "--pool", sp.pool, "--username", user)


@pytest.fixture
def sp(shared_sp: Sp) -> Iterator[Sp]:
    yield shared_sp
    _purge(shared_sp)


@pytest.fixture
def sp_rs(shared_sp_response_signed: Sp) -> Iterator[Sp]:
    yield shared_sp_response_signed
    _purge(shared_sp_response_signed)


@pytest.fixture
def fresh_sp(shared_broker: Broker, idp: SamlIdp, tmp_path: Path) -> Sp:
    """A pool of its own, for the tests in which a sign-in succeeds."""
    return make_sp(shared_broker, idp, tmp_path)


# --- the flow ---------------------------------------------------------------------------

def start(sp: Sp) -> Login:
    """The app sends a new browser to Cognate, which sends it to the IdP with an AuthnRequest
    (a browser already signed in would get its code at once)."""
    sp.rp.browser.cookies.clear()
    params = sp.rp.authorize_params(identity_provider="Corp")
    r = sp.rp.browser.get(sp.rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    location = r.headers["Location"]
    assert location.startswith(f"{sp.idp.base_url}/sso/redirect?"), location
    query = query_of(location)
    return Login(forge.request_id(query["SAMLRequest"]), query["RelayState"], params["state"])


def mint(sp: Sp, login: Login | None, name_id: str = ALICE, *, server: SamlIdp | None = None,
         **options: Any) -> bytes:
    """The IdP's genuine answer to ``login`` (unsolicited when None), for this pool's ACS."""
    return (server or sp.idp).mint_response(login.request_id if login else None, sp.audience, sp.acs, name_id,
                                            {"email": [name_id]}, **options).encode()


def post(sp: Sp, saml_response: str | bytes | None, relay_state: str | None) -> requests.Response:
    data = {}
    if saml_response is not None:
        data["SAMLResponse"] = forge.encode(saml_response) if isinstance(saml_response, bytes) else saml_response
    if relay_state is not None:
        data["RelayState"] = relay_state
    return through_acs(sp.rp.browser, sp.rp.browser.post(sp.acs, data=data, allow_redirects=False, timeout=30))


def key_pair(server: SamlIdp) -> tuple[bytes, bytes]:
    return server.key_file.read_bytes(), server.cert_file.read_bytes()


def resign(sp: Sp, xml: bytes, change: Callable) -> bytes:
    """Tampered content under a genuine signature of the IdP's own key."""
    return forge.resign(xml, *key_pair(sp.idp), change)


def _users(sp: Sp) -> list[str]:
    return [u["Username"] for u in sp.broker.cli_json("user", "list", "--pool", sp.pool)["Users"]]


def _code_keys(sp: Sp) -> int:
    store = redis.Redis.from_url(sp.broker.env["REDIS_URL"])
    return sum(1 for _ in store.scan_iter(match=f"cognate:{{{sp.pool}}}:code:*", count=1000))


def signed_in(sp: Sp, r: requests.Response, login: Login) -> dict[str, Any]:
    """The ACS sent the browser to the app with a code; the app's ID token claims."""
    assert r.status_code == 302, r.text
    location = r.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    answer = query_of(location)
    assert answer["state"] == login.state and "code" in answer, answer
    tokens = sp.rp.exchange(answer["code"])
    assert tokens.status_code == 200, tokens.text
    return sp.rp.verify(tokens.json()["id_token"], audience=sp.rp.client_id)


def refused(sp: Sp, r: requests.Response, codes_before: int, status: int | None = None,
            users: list[str] | None = None, messages: tuple[str, ...] = REFUSALS) -> None:
    """Our error page with a 4xx; no code minted; the pool's users unchanged (none by default)."""
    assert 400 <= r.status_code < 500, f"{r.status_code} {r.headers.get('Location')}\n{r.text[:3000]}"
    if status is not None:
        assert r.status_code == status, r.text
    assert "Location" not in r.headers, r.headers["Location"]
    assert r.headers["Content-Type"].startswith("text/html"), r.headers["Content-Type"]
    text = html.unescape(r.text)
    assert "Traceback" not in text and 'File "' not in text, text
    assert any(message in text for message in messages), text
    assert _code_keys(sp) == codes_before
    assert sorted(_users(sp)) == sorted(users or [])


def attempt(sp: Sp, tamper: Callable[[bytes], bytes | str], **mint_options: Any) -> None:
    """One login, the IdP's genuine answer, tampered, posted with the login's RelayState."""
    login = start(sp)
    forged = tamper(mint(sp, login, **mint_options))
    before = _code_keys(sp)
    refused(sp, post(sp, forged, login.relay_state), before)


# --- controls: the untampered paths work ------------------------------------------------

@pytest.mark.parametrize("signing", [{}, {"sign_response": True}], ids=["assertion-signed", "both-signed"])
def test_untampered_response_signs_in(fresh_sp, signing):
    login = start(fresh_sp)
    claims = signed_in(fresh_sp, post(fresh_sp, mint(fresh_sp, login, **signing), login.relay_state), login)
    assert claims["cognito:username"] == f"corp_{ALICE}" and claims["email"] == ALICE
    assert _users(fresh_sp) == [f"corp_{ALICE}"]


def test_untampered_response_signed_only_on_the_response_signs_in_when_allowed(sp_rs):
    login = start(sp_rs)
    xml = mint(sp_rs, login, sign_assertion=False, sign_response=True)
    assert forge.signed(xml) == ["Response"]
    claims = signed_in(sp_rs, post(sp_rs, xml, login.relay_state), login)
    assert claims["cognito:username"] == f"corp_{ALICE}"


def test_forge_resigning_keeps_a_response_acceptable(fresh_sp):
    """The forge's own signing is accepted when nothing else changes, so the refusals below
    are about the content, not about how the forge signs."""
    login = start(fresh_sp)
    xml = resign(fresh_sp, mint(fresh_sp, login), lambda root: None)
    assert signed_in(fresh_sp, post(fresh_sp, xml, login.relay_state), login)["email"] == ALICE


# --- signatures -------------------------------------------------------------------------

def _mixed_signers(sp: Sp, xml: bytes) -> bytes:
    """The assertion signed by a stranger, the response around it by the IdP itself."""
    root = forge.parse(forge.sign(xml, *forge.stranger()))
    forge.sign_element(root, *key_pair(sp.idp))
    return forge.dump(root)


SIGNATURES: dict[str, tuple[Callable[[Sp, bytes], bytes], dict[str, Any]]] = {
    "unsigned": (lambda sp, xml: forge.unsigned(xml), {}),
    "unsigned-both-stripped": (lambda sp, xml: forge.unsigned(xml), {"sign_response": True}),
    "tampered-name-id-under-idp-signature": (
        lambda sp, xml: forge.edit(xml, lambda root: forge.set_name_id(forge.assertion(root), forge.EVIL)), {}),
    "signed-by-stranger-key": (lambda sp, xml: forge.sign(xml, *forge.stranger(), response=True), {}),
    "assertion-by-stranger-response-by-idp": (lambda sp, xml: _mixed_signers(sp, xml), {}),
    "only-response-signed-when-assertions-must-be": (
        lambda sp, xml: forge.sign(xml, *key_pair(sp.idp), assertion_too=False, response=True), {}),
    "rsa-sha1-signature": (
        lambda sp, xml: forge.sign(xml, *key_pair(sp.idp), algorithm=forge.RSA_SHA1), {}),
}


@pytest.mark.parametrize("case", SIGNATURES, ids=SIGNATURES.keys())
def test_response_without_a_valid_idp_signature_is_refused(sp, case):
    tamper, options = SIGNATURES[case]
    attempt(sp, lambda xml: tamper(sp, xml), **options)


#: Wrappings whose Signature still verifies for a verifier that resolves the Reference by ID
#: anywhere (libxmlsec). In XSW1, 6 and 8 the signed original sits inside the Signature, which
#: the enveloped-signature transform then removes whole: they target verifiers that drop only
#: the referenced element's own Signature child, and are refused here all the same.
NAIVELY_VALID = {2, 3, 4, 5, 7}


def wrapped(sp: Sp, variant: int) -> Callable[[bytes], bytes]:
    def tamper(xml: bytes) -> bytes:
        forged = forge.xsw(xml, variant)
        assert forge.naive_verify(forged, key_pair(sp.idp)[1]) == (variant in NAIVELY_VALID)
        assert forge.EVIL.encode() in forged
        return forged
    return tamper


@pytest.mark.parametrize("variant", [3, 4, 5, 6, 7, 8])
def test_assertion_signature_wrapping_is_refused(sp, variant):
    attempt(sp, wrapped(sp, variant))


@pytest.mark.parametrize("variant", [1, 2])
def test_response_signature_wrapping_is_refused(sp_rs, variant):
    attempt(sp_rs, wrapped(sp_rs, variant), sign_assertion=False, sign_response=True)


def test_comment_in_name_id_never_signs_in_as_the_truncated_user(fresh_sp):
    """``alice@example.org<!---->.evil.example``: the IdP signed the attacker's own NameID,
    the comment leaves the signature valid. Refusal, or the whole text as the subject, are
    both right; alice's account must stay out of reach."""
    sp = fresh_sp
    login = start(sp)
    signed_in(sp, post(sp, mint(sp, login), login.relay_state), login)  # alice exists, federated
    evil = ALICE + ".evil.example"
    login = start(sp)
    xml = forge.comment_in_name_id(mint(sp, login, evil), ALICE)
    assert b"<!---->" in xml and forge.name_id_of(xml) == evil
    before = _code_keys(sp)
    r = post(sp, xml, login.relay_state)
    if r.status_code == 302:
        claims = signed_in(sp, r, login)
        assert claims["cognito:username"] == f"corp_{evil}", claims
        assert claims["email"] == evil, claims
        assert [i["userId"] for i in claims["identities"]] == [evil], claims
        assert sorted(_users(sp)) == sorted([f"corp_{ALICE}", f"corp_{evil}"])
    else:
        refused(sp, r, before, users=[f"corp_{ALICE}"])


# --- XML parsing ------------------------------------------------------------------------

class Listener:
    """A loopback TCP port that counts connections: where an external entity would be fetched."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.hits = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/evil.dtd"
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self.done.set()
        self.sock.close()


DOCTYPES: dict[str, Callable[[bytes, str], bytes]] = {
    "billion-laughs": lambda xml, url: forge.billion_laughs(xml),
    "external-entity-file": lambda xml, url: forge.external_entity(xml, "file:///etc/passwd"),
    "external-entity-http": lambda xml, url: forge.external_entity(xml, url),
    "parameter-entity-http": lambda xml, url: forge.parameter_entity(xml, url),
    "internal-entity": lambda xml, url: forge.internal_entity(xml, ALICE),
}


@pytest.mark.parametrize("case", DOCTYPES, ids=DOCTYPES.keys())
def test_response_with_a_doctype_is_a_400(sp, case):
    listener = Listener()
    try:
        login = start(sp)
        forged = DOCTYPES[case](mint(sp, login), listener.url)
        before = _code_keys(sp)
        r = post(sp, forged, login.relay_state)
        refused(sp, r, before, status=400)
        assert "root:" not in r.text and "/bin/" not in r.text
        assert listener.hits == 0
    finally:
        listener.close()


GARBAGE: dict[str, str | None] = {
    "missing": None,
    "empty": "",
    "not-base64": "%%% not base64 %%%",
    "base64-of-text": forge.encode(b"hello, this is not XML"),
    "base64-of-binary": forge.encode(bytes(range(256)) * 4),
    "base64-of-other-xml": forge.encode(b"<?xml version='1.0'?><html><body>hi</body></html>"),
    "truncated-xml": forge.encode(b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' ID='x'"),
    "raw-xml-not-encoded": "<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>",
    "oversized": forge.encode(b"<a>" + b"x" * (2 * 1024 * 1024) + b"</a>"),
}


@pytest.mark.parametrize("case", GARBAGE, ids=GARBAGE.keys())
def test_garbage_saml_response_is_refused(sp, case):
    login = start(sp)
    before = _code_keys(sp)
    if case == "oversized":  # the server's body limit answers before the ACS runs
        refused(sp, post(sp, GARBAGE[case], login.relay_state), before, status=413, messages=(TOO_LARGE,))
    else:
        refused(sp, post(sp, GARBAGE[case], login.relay_state), before)


# --- binding to this login --------------------------------------------------------------

def test_replayed_response_is_refused(fresh_sp):
    sp = fresh_sp
    login = start(sp)
    xml = mint(sp, login)
    signed_in(sp, post(sp, xml, login.relay_state), login)
    before = _code_keys(sp)
    refused(sp, post(sp, xml, login.relay_state), before, users=[f"corp_{ALICE}"])
    fresh = start(sp)
    refused(sp, post(sp, xml, fresh.relay_state), before, users=[f"corp_{ALICE}"])


def test_response_to_another_login_is_refused(sp):
    first, second = start(sp), start(sp)
    before = _code_keys(sp)
    refused(sp, post(sp, mint(sp, first), second.relay_state), before)


def test_unsolicited_response_in_an_sp_initiated_login_is_refused(sp):
    """No InResponseTo at all, while this login sent an AuthnRequest (and Corp does not
    accept IdP-initiated sign-in)."""
    login = start(sp)
    before = _code_keys(sp)
    refused(sp, post(sp, mint(sp, None), login.relay_state), before)


def app_request(sp: Sp, state: str = "app-state") -> str:
    """Cognito's RelayState for IdP-initiated sign-in: the app's authorization request."""
    return urlencode({"client_id": sp.rp.client_id, "redirect_uri": CALLBACK, "response_type": "code",
                      "scope": "openid email", "state": state})


RELAY_STATES: dict[str, Callable[[Sp], str | None]] = {
    "missing": lambda sp: None,
    "empty": lambda sp: "",
    "unknown": lambda sp: "no-such-relay-state",
    "overlong": lambda sp: "x" * 5000,
    "app-request": app_request,
}


@pytest.mark.parametrize("case", RELAY_STATES, ids=RELAY_STATES.keys())
@pytest.mark.parametrize("solicited", [True, False], ids=["solicited", "unsolicited"])
def test_response_without_its_login_is_refused_when_idp_initiated_is_off(sp, case, solicited):
    """Corp does not accept IdP-initiated sign-in: a genuine answer needs its login's RelayState."""
    login = start(sp)
    before = _code_keys(sp)
    refused(sp, post(sp, mint(sp, login if solicited else None), RELAY_STATES[case](sp)), before)


def test_replayed_unsolicited_response_is_refused(shared_broker, idp, tmp_path):
    """IdP-initiated: no InResponseTo and no login to consume, so only the memory of used
    assertion IDs stops a replay, with the same or a fresh RelayState."""
    sp = make_sp(shared_broker, idp, tmp_path, "--idp-initiated")
    xml = mint(sp, None)
    first = Login("", app_request(sp, "s1"), "s1")
    signed_in(sp, post(sp, xml, first.relay_state), first)
    before = _code_keys(sp)
    for relay_state in [first.relay_state, app_request(sp, "s2")]:
        refused(sp, post(sp, xml, relay_state), before, users=[f"corp_{ALICE}"])


def test_unsolicited_response_posted_at_once_many_times_signs_in_once(shared_broker, idp, tmp_path):
    """The assertion-ID memory is one atomic step: parallel replays do not slip through."""
    sp = make_sp(shared_broker, idp, tmp_path, "--idp-initiated")
    xml = forge.encode(mint(sp, None))
    before = _code_keys(sp)

    def once(i: int) -> requests.Response:
        return through_acs(requests, requests.post(sp.acs, data={"SAMLResponse": xml,
                                                                 "RelayState": app_request(sp, f"s{i}")},
                                                   allow_redirects=False, timeout=60))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(once, range(8)))
    codes = [r for r in answers if r.status_code == 302 and "code=" in r.headers.get("Location", "")]
    assert len(codes) == 1, [(r.status_code, r.headers.get("Location")) for r in answers]
    assert all(r.status_code == 400 for r in answers if r not in codes), [r.status_code for r in answers]
    assert _code_keys(sp) == before + 1
    assert _users(sp) == [f"corp_{ALICE}"]


def test_solicited_response_is_refused_as_unsolicited(shared_broker, idp, tmp_path):
    """An answer to a real AuthnRequest, posted as IdP-initiated (the app's RelayState): the
    login it belongs to is not this one."""
    sp = make_sp(shared_broker, idp, tmp_path, "--idp-initiated")
    login = start(sp)
    before = _code_keys(sp)
    refused(sp, post(sp, mint(sp, login), app_request(sp)), before)


ISSUERS: dict[str, Callable[[Sp, Login, dict[str, SamlIdp]], bytes]] = {
    "idp-the-pool-does-not-know": lambda sp, login, peers: mint(sp, login, server=peers["stranger"]),
    "issuer-renamed-under-idp-key": lambda sp, login, peers: resign(
        sp, mint(sp, login), forge.set_text("//saml:Issuer", "http://evil.example/idp")),
    "other-idp-of-the-pool-answers-corps-request": lambda sp, login, peers: mint(sp, login, server=peers["other"]),
    "issuer-of-other-idp-under-corps-key": lambda sp, login, peers: resign(
        sp, mint(sp, login), forge.set_text("//saml:Issuer", peers["other"].entity_id)),
}


@pytest.mark.parametrize("case", ISSUERS, ids=ISSUERS.keys())
def test_response_not_from_the_login_idp_is_refused(sp, other_idp, stranger_idp, case):
    """The login went to Corp: only Corp, under its own key, may answer it (an IdP mix-up
    otherwise lets any IdP of the pool sign in any subject through Corp's login)."""
    login = start(sp)
    forged = ISSUERS[case](sp, login, {"other": other_idp, "stranger": stranger_idp})
    before = _code_keys(sp)
    refused(sp, post(sp, forged, login.relay_state), before)


# --- conditions: audience, recipient, destination, time ---------------------------------

SCD = "//saml:SubjectConfirmation/saml:SubjectConfirmationData"


def _other_pool_acs(sp: Sp) -> str:
    return sp.broker.url("eu-west-1_Other1234", "/saml2/idpresponse")


CONDITIONS: dict[str, Callable[[Sp], Callable]] = {
    "audience-of-another-pool": lambda sp: forge.set_text("//saml:Audience", "urn:cognate:sp:eu-west-1_Other1234"),
    "audience-with-suffix": lambda sp: forge.set_text("//saml:Audience", sp.audience + "-evil"),
    "audience-is-the-idp": lambda sp: forge.set_text("//saml:Audience", sp.idp.entity_id),
    "audience-restriction-removed": lambda sp: forge.remove("//saml:Conditions/saml:AudienceRestriction"),
    "recipient-with-suffix": lambda sp: forge.set_attr(SCD, "Recipient", sp.acs + "/evil"),
    "recipient-containing-the-acs": lambda sp: forge.set_attr(SCD, "Recipient", "https://evil.example/?to=" + sp.acs),
    "recipient-of-another-pool": lambda sp: forge.set_attr(SCD, "Recipient", _other_pool_acs(sp)),
    "recipient-removed": lambda sp: forge.remove(SCD, "Recipient"),
    "destination-with-suffix": lambda sp: forge.set_attr("/samlp:Response", "Destination", sp.acs + "x"),
    "destination-below-the-acs": lambda sp: forge.set_attr("/samlp:Response", "Destination", sp.acs + "/../evil"),
    "destination-of-another-pool": lambda sp: forge.set_attr("/samlp:Response", "Destination", _other_pool_acs(sp)),
    "destination-on-another-host": lambda sp: forge.set_attr(
        "/samlp:Response", "Destination", sp.acs.replace("127.0.0.1", "evil.example")),
    "expired-everywhere": lambda sp: forge.chain(
        forge.shift("//saml:Conditions", "NotOnOrAfter", -60), forge.shift(SCD, "NotOnOrAfter", -60),
        forge.shift("//saml:Conditions", "NotBefore", -60)),
    "conditions-expired": lambda sp: forge.shift("//saml:Conditions", "NotOnOrAfter", -15),
    "subject-confirmation-expired": lambda sp: forge.shift(SCD, "NotOnOrAfter", -15),
    "subject-confirmation-without-not-on-or-after": lambda sp: forge.remove(SCD, "NotOnOrAfter"),
    "not-yet-valid": lambda sp: forge.shift("//saml:Conditions", "NotBefore", +30),
}


@pytest.mark.parametrize("case", CONDITIONS, ids=CONDITIONS.keys())
def test_signed_response_with_wrong_conditions_is_refused(sp, case):
    """Signed by the IdP's own key, so only the check of that one condition can refuse it."""
    attempt(sp, lambda xml: resign(sp, xml, CONDITIONS[case](sp)))
