"""A real SAML 2.0 identity provider for the federation tests: pysaml2's ``Server`` behind a
small WSGI app on a free loopback port, in a thread.

It speaks the Web Browser SSO profile (SAML 2.0 Profiles §4.1) the way enterprise IdPs do:
AuthnRequest in by HTTP-Redirect, Response out by an auto-submitting HTTP-POST form,
unsolicited responses for IdP-initiated sign-in, and Single Logout (§4.4) both ways.
Keys are generated at test time; assertions are signed with rsa-sha256.

Example::

    with running_idp(tmp_path, auto_login="alice") as idp:
        idp.add_user("alice", "alice@example.org", {"email": "alice@example.org"})
        idp.add_sp_from_url(f"{pool_url}/saml2/metadata?idp=Corp")
        ...  # broker idp create --metadata-file <idp.metadata_xml() saved to a file>

Endpoints (all under ``idp.base_url``): ``/metadata``, ``/sso/redirect`` (AuthnRequest;
answers with a login form, or signs ``auto_login`` in at once), ``/sso/login`` (the form's
POST), ``/idp-init?sp=ENTITY&relay_state=...[&user=U]``, ``/slo/redirect`` (LogoutRequest or
LogoutResponse from an SP), ``/idp-logout?sp=ENTITY&user=U`` (IdP-initiated logout).
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import secrets
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urljoin

import requests
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, NAMEID_FORMAT_EMAILADDRESS
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_BASIC, NameID
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

with warnings.catch_warnings():  # pysaml2 7.5 still names cryptography's relocated CFB mode
    warnings.filterwarnings("ignore", message="CFB has been moved", category=CryptographyDeprecationWarning)
    from saml2.server import Server

PASSWORD_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
XMLSEC = "/usr/bin/xmlsec1"


def make_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """A fresh RSA key and a self-signed certificate for it, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def sp_metadata(entity_id: str, acs_url: str, slo_url: str | None = None) -> str:
    """Minimal SP metadata for an SP we only know by entity id and ACS URL."""
    slo = (f'<md:SingleLogoutService Binding="{BINDING_HTTP_REDIRECT}" Location="{html.escape(slo_url)}"/>'
           if slo_url else "")
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{html.escape(entity_id)}">'
            f'<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{slo}'
            f'<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{html.escape(acs_url)}" index="0"/>'
            "</md:SPSSODescriptor></md:EntityDescriptor>")


def through_acs(browser: Any, answer: Any) -> Any:
    """The ACS's answer as the browser ends up seeing it: a verified response is finished by
    a same-site GET (303) in the same browser, where Cognate checks who started the sign-in."""
    if answer.status_code != 303:
        return answer
    return browser.get(urljoin(answer.url, answer.headers["Location"]), allow_redirects=False, timeout=30)


def post_form(action: str, fields: dict[str, str]) -> str:
    """The HTTP-POST binding's auto-submitting form (SAML Bindings §3.5.4)."""
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items() if v)
    return (f'<!doctype html><html><head><link rel="icon" href="data:,"><title>Test IdP</title></head><body>'
            f'<form method="post" action="{html.escape(action)}">{inputs}<button type="submit">Continue</button></form>'
            "<script>document.forms[0].submit()</script></body></html>")


@dataclass
class IdpUser:
    name_id: str
    attributes: dict[str, list[str]]
    name_id_format: str = NAMEID_FORMAT_EMAILADDRESS


@dataclass
class SamlIdp:
    """The IdP; options are read at each response, so a test may change them in between."""

    directory: Path
    http: BaseWSGIServer
    sign_assertion: bool = True
    sign_response: bool = False
    encrypt_assertion: bool = False
    want_authn_requests_signed: bool = True
    #: Sign this user in without a form (requests-based tests); None shows the login form.
    auto_login: str | None = None
    users: dict[str, IdpUser] = field(default_factory=dict)
    #: Every response sent: {"sp", "user", "in_response_to", "xml"}.
    issued: list[dict[str, Any]] = field(default_factory=list)
    #: LogoutRequests received from SPs: {"sp", "name_id", "session_indexes"}.
    logout_requests: list[dict[str, Any]] = field(default_factory=list)
    #: Status codes of LogoutResponses received from SPs.
    logout_responses: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base_url = f"http://127.0.0.1:{self.http.server_port}"
        self.entity_id = f"{self.base_url}/metadata"
        self.key_file, self.cert_file = make_key_pair(self.directory, "idp")
        self._sps: dict[str, str] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self.server = self._build()

    # -- configuration ----------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        endpoints = {
            "single_sign_on_service": [(f"{self.base_url}/sso/redirect", BINDING_HTTP_REDIRECT)],
            "single_logout_service": [(f"{self.base_url}/slo/redirect", BINDING_HTTP_REDIRECT)],
        }
        conf: dict[str, Any] = {
            "entityid": self.entity_id,
            "service": {"idp": {
                "name": "Test IdP", "endpoints": endpoints,
                "want_authn_requests_signed": self.want_authn_requests_signed,
                "signing_algorithm": SIG_RSA_SHA256, "digest_algorithm": DIGEST_SHA256,
                "sign_response": False, "sign_assertion": False,
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC}},
            }},
            "key_file": str(self.key_file), "cert_file": str(self.cert_file),
            "xmlsec_binary": XMLSEC, "delete_tmpfiles": True, "accepted_time_diff": 60,
        }
        if self._sps:
            conf["metadata"] = {"inline": list(self._sps.values())}
        return conf

    def _build(self) -> Server:
        server = Server(config=IdPConfig().load(self._config()))
        # Attribute names go out as given ("email", not urn:oid:...), as Okta or Entra send them.
        plain = AttributeConverter(NAME_FORMAT_BASIC)
        plain.from_dict({"identifier": NAME_FORMAT_BASIC, "fro": {}, "to": {}})
        server.config.attribute_converters = [plain]
        return server

    def metadata_xml(self) -> str:
        with self._lock:
            return str(entity_descriptor(self.server.config))

    def write_metadata(self, path: Path) -> Path:
        path.write_text(self.metadata_xml())
        return path

    def add_sp(self, metadata: str) -> None:
        """Trust an SP (its ACS, SLO and certificates) from its metadata XML."""
        entity_id = etree.fromstring(metadata.encode()).get("entityID")
        with self._lock:
            self._sps[entity_id] = metadata
            self.server = self._build()

    def add_sp_from_url(self, url: str) -> str:
        """Fetch an SP's metadata (e.g. Cognate's /saml2/metadata) and trust it; returns it."""
        r = requests.get(url, timeout=10)
        r.raise_for_status()
        self.add_sp(r.text)
        return r.text

    def add_user(self, username: str, name_id: str, attributes: dict[str, str | list[str]],
                 name_id_format: str = NAMEID_FORMAT_EMAILADDRESS) -> IdpUser:
        values = {k: [v] if isinstance(v, str) else list(v) for k, v in attributes.items()}
        self.users[username] = IdpUser(name_id, values, name_id_format)
        return self.users[username]

    # -- messages ---------------------------------------------------------------------------
    def mint_response(self, in_response_to: str | None, audience: str, recipient: str, name_id: str,
                      attributes: dict[str, list[str]] | None = None, *, sign_assertion: bool | None = None,
                      sign_response: bool | None = None, encrypt_assertion: bool | None = None,
                      name_id_format: str = NAMEID_FORMAT_EMAILADDRESS) -> str:
        """A SAML Response (XML text) as this IdP signs it; options default to the IdP's own.
        ``in_response_to`` None makes it unsolicited (IdP-initiated)."""
        sign_a = self.sign_assertion if sign_assertion is None else sign_assertion
        sign_r = self.sign_response if sign_response is None else sign_response
        encrypt = self.encrypt_assertion if encrypt_assertion is None else encrypt_assertion
        with self._lock:
            response = self.server.create_authn_response(
                attributes or {}, in_response_to, recipient, audience,
                name_id=NameID(format=name_id_format, text=name_id),
                authn={"class_ref": PASSWORD_CONTEXT, "authn_auth": self.entity_id},
                sign_assertion=sign_a, sign_response=sign_r, encrypt_assertion=encrypt,
                sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
            )
        return str(response)

    def _respond(self, username: str, sp: str, acs_url: str, in_response_to: str | None, relay_state: str) -> Response:
        user = self.users.get(username)
        if user is None:
            return Response("unknown user", status=403)
        xml = self.mint_response(in_response_to, sp, acs_url, user.name_id, user.attributes,
                                 name_id_format=user.name_id_format)
        self.issued.append({"sp": sp, "user": username, "in_response_to": in_response_to, "xml": xml})
        fields = {"SAMLResponse": base64.b64encode(xml.encode()).decode(), "RelayState": relay_state}
        return Response(post_form(acs_url, fields), content_type="text/html; charset=utf-8")

    def _acs_of(self, sp: str) -> str:
        with self._lock:
            return self.server.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"]

    def _slo_of(self, sp: str) -> str:
        with self._lock:
            return self.server.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")[0]["location"]

    # -- endpoints --------------------------------------------------------------------------
    def sso_redirect(self, req: Request) -> Response:
        args = req.args
        with self._lock:
            parsed = self.server.parse_authn_request(args["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                                     relay_state=args.get("RelayState"),
                                                     sigalg=args.get("SigAlg"), signature=args.get("Signature"))
            info = self.server.response_args(parsed.message, [BINDING_HTTP_POST])
        pending = {"sp": info["sp_entity_id"], "acs": info["destination"], "id": info["in_response_to"],
                   "relay_state": args.get("RelayState", "")}
        if self.auto_login:
            return self._respond(self.auto_login, pending["sp"], pending["acs"], pending["id"], pending["relay_state"])
        key = secrets.token_urlsafe(16)
        self._pending[key] = pending
        page = (f'<!doctype html><html><head><link rel="icon" href="data:,"><title>Test IdP sign-in</title></head><body>'
                f'<form method="post" action="/sso/login"><input type="hidden" name="key" value="{key}">'
                '<label for="username">Username</label> <input id="username" name="username" autocomplete="off">'
                '<button type="submit">Sign in</button></form></body></html>')
        return Response(page, content_type="text/html; charset=utf-8")

    def sso_login(self, req: Request) -> Response:
        pending = self._pending.pop(req.form.get("key", ""), None)
        if pending is None:
            return Response("no such request", status=400)
        return self._respond(req.form.get("username", ""), pending["sp"], pending["acs"], pending["id"],
                             pending["relay_state"])

    def idp_init(self, req: Request) -> Response:
        sp = req.args["sp"]
        user = req.args.get("user") or self.auto_login or ""
        return self._respond(user, sp, self._acs_of(sp), None, req.args.get("relay_state", ""))

    def slo_redirect(self, req: Request) -> Response:
        args = req.args
        if "SAMLResponse" in args:  # the SP's answer to our IdP-initiated logout
            with self._lock:
                parsed = self.server.parse_logout_request_response(args["SAMLResponse"], BINDING_HTTP_REDIRECT)
            self.logout_responses.append(parsed.response.status.status_code.value)
            return Response("<!doctype html><title>Test IdP</title><p>Signed out.", content_type="text/html")
        with self._lock:
            parsed = self.server.parse_logout_request(args["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                                      relay_state=args.get("RelayState"),
                                                      sigalg=args.get("SigAlg"), signature=args.get("Signature"))
            message = parsed.message
            sp = message.issuer.text.strip()
            self.logout_requests.append({"sp": sp, "name_id": message.name_id.text,
                                         "session_indexes": [s.text for s in message.session_index]})
            answer = self.server.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
            info = self.server.apply_binding(BINDING_HTTP_REDIRECT, str(answer), self._slo_of(sp),
                                             args.get("RelayState", ""), response=True, sign=True,
                                             sigalg=SIG_RSA_SHA256)
        return Response(status=302, headers=info["headers"])

    def idp_logout(self, req: Request) -> Response:
        sp, user = req.args["sp"], self.users[req.args["user"]]
        with self._lock:
            _id, request = self.server.create_logout_request(
                self._slo_of(sp), sp, name_id=NameID(format=user.name_id_format, text=user.name_id),
                sign=False, session_indexes=req.args.getlist("session_index") or None)
            info = self.server.apply_binding(BINDING_HTTP_REDIRECT, str(request), self._slo_of(sp),
                                             req.args.get("relay_state", ""), sign=True, sigalg=SIG_RSA_SHA256)
        return Response(status=302, headers=info["headers"])

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        req = Request(environ)
        routes: dict[str, Callable[[Request], Response]] = {
            "/metadata": lambda _r: Response(self.metadata_xml(), content_type="application/samlmetadata+xml"),
            "/sso/redirect": self.sso_redirect, "/sso/login": self.sso_login, "/idp-init": self.idp_init,
            "/slo/redirect": self.slo_redirect, "/idp-logout": self.idp_logout,
        }
        view = routes.get(req.path)
        if view is None:
            return Response("not found", status=404)(environ, start_response)
        try:
            response = view(req)
        except Exception as exc:  # a refused message: the test sees a 400 with the reason
            response = Response(f"{type(exc).__name__}: {exc}", status=400)
        return response(environ, start_response)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def running_idp(directory: Path, **options: Any) -> Iterator[SamlIdp]:
    """Start an IdP on a free loopback port; ``options`` are :class:`SamlIdp` fields."""
    directory.mkdir(parents=True, exist_ok=True)
    holder: dict[str, SamlIdp] = {}
    http = make_server("127.0.0.1", 0, lambda env, start: holder["idp"].wsgi(env, start), threaded=True,
                       request_handler=_QuietHandler)
    holder["idp"] = idp = SamlIdp(directory, http, **options)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        http.shutdown()
        thread.join(10)
