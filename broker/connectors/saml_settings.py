"""The SAML service provider's keys, the IdP's metadata, python3-saml's settings and the
small amount of XML the SP reads before python3-saml takes over.

- The SP's own key pair is generated when the IdP is created (one per IdP), so rotating it
  for one IdP never disturbs another.
- IdP metadata (SAML Metadata §2.4.3) is *parsed*, never merged onto our settings: an IdP's
  ``WantAuthnRequestsSigned`` must not change our own security settings.
- python3-saml runs strict, with rsa-sha256 and deprecated algorithms refused.

Example::

    key_pem, cert = new_sp_key_pair("urn:cognate:sp")
    idp = parse_idp_metadata(xml)        # {"idp_entity_id", "sso_url", "slo_url", "idp_certs"}
    settings = toolkit_settings(details, SpEndpoints("urn:cognate:sp:P", acs, slo))
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from ..errors import InvalidInput
from .oauth import TIMEOUT, check_url

#: Largest metadata document, SAML message or decompressed redirect message we read.
MAX_XML = 512 * 1024
SP_CERT_YEARS = 10
NS = {"samlp": C.NS_SAMLP, "saml": C.NS_SAML}


@dataclass(frozen=True)
class SpEndpoints:
    """Cognate's own SP identity for one pool: entity id, ACS (HTTP-POST), SLO (HTTP-Redirect)."""

    entity_id: str
    acs_url: str
    slo_url: str

    @classmethod
    def from_acs(cls, entity_id: str, acs_url: str) -> SpEndpoints:
        """The SLO endpoint sits beside the ACS (``.../saml2/idpresponse`` → ``.../saml2/logout``)."""
        return cls(entity_id, acs_url, acs_url.rsplit("/", 1)[0] + "/logout")


def new_sp_key_pair(common_name: str) -> tuple[str, str]:
    """A fresh RSA-2048 key (PKCS#8 PEM) and a self-signed certificate for it (base64 DER,
    as metadata carries it). SAML peers trust the certificate itself, not a CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * SP_CERT_YEARS)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def fetch_metadata(url: str) -> str:
    """The IdP's metadata document at ``url`` (https, or http on loopback)."""
    check_url("metadata_url", url)
    try:
        response = requests.get(url, timeout=TIMEOUT, allow_redirects=False, stream=True)
        response.raise_for_status()
        body = response.raw.read(MAX_XML + 1, decode_content=True)
    except requests.RequestException as exc:
        raise InvalidInput(f"--metadata-url could not be fetched: {type(exc).__name__}") from None
    if len(body) > MAX_XML:
        raise InvalidInput("--metadata-url answered a document larger than 512 KiB")
    return body.decode("utf-8", errors="replace")


def parse_idp_metadata(xml: str) -> dict[str, Any]:
    """The first IdP in ``xml``: entity id, SSO and SLO URLs (HTTP-Redirect) and signing
    certificates; :class:`InvalidInput` when any of the first three is unusable."""
    if len(xml) > MAX_XML:
        raise InvalidInput("the SAML metadata is larger than 512 KiB")
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, required_sso_binding=C.BINDING_HTTP_REDIRECT,
                                                        required_slo_binding=C.BINDING_HTTP_REDIRECT)
    except Exception as exc:  # lxml, DTD refusals, anything python3-saml raises on bad XML
        raise InvalidInput(f"the SAML metadata could not be read: {type(exc).__name__}") from None
    idp = parsed.get("idp") or {}
    if not idp.get("entityId"):
        raise InvalidInput("the SAML metadata describes no identity provider (IDPSSODescriptor)")
    sso = (idp.get("singleSignOnService") or {}).get("url")
    if not sso:
        raise InvalidInput("the SAML metadata has no SingleSignOnService with the HTTP-Redirect binding")
    slo = (idp.get("singleLogoutService") or {}).get("url")
    multi = idp.get("x509certMulti") or {}
    certs = multi.get("signing") or ([idp["x509cert"]] if idp.get("x509cert") else [])
    if not certs:
        raise InvalidInput("the SAML metadata has no signing certificate")
    for cert in certs:
        _check_certificate(cert)
    return {"idp_entity_id": idp["entityId"], "sso_url": _endpoint("SingleSignOnService", sso),
            "slo_url": _endpoint("SingleLogoutService", slo) if slo else None, "idp_certs": certs}


def _endpoint(element: str, url: str) -> str:
    try:
        return check_url("metadata_url", url)
    except InvalidInput:
        raise InvalidInput(f"the SAML metadata's {element} must use https (http only on 127.0.0.1, ::1 or "
                           "localhost)") from None


def _check_certificate(b64: str) -> None:
    try:
        x509.load_der_x509_certificate(base64.b64decode(b64, validate=True))
    except (ValueError, binascii.Error):
        raise InvalidInput("the SAML metadata holds a signing certificate that cannot be read") from None


def toolkit_settings(details: Mapping[str, Any], sp: SpEndpoints, signed_messages: bool = False) -> OneLogin_Saml2_Settings:
    """python3-saml's settings for one IdP. ``signed_messages`` demands signed protocol
    messages (Single Logout); Web SSO responses usually sign only the assertion."""
    sign = bool(details.get("sign_requests", True))
    idp: dict[str, Any] = {
        "entityId": details["idp_entity_id"],
        "singleSignOnService": {"url": details["sso_url"], "binding": C.BINDING_HTTP_REDIRECT},
        "x509certMulti": {"signing": list(details["idp_certs"])},
    }
    if details.get("slo_url"):
        idp["singleLogoutService"] = {"url": details["slo_url"], "binding": C.BINDING_HTTP_REDIRECT}
    settings = {
        "strict": True, "debug": False,
        "sp": {
            "entityId": sp.entity_id,
            "assertionConsumerService": {"url": sp.acs_url, "binding": C.BINDING_HTTP_POST},
            "singleLogoutService": {"url": sp.slo_url, "binding": C.BINDING_HTTP_REDIRECT},
            "NameIDFormat": details.get("name_id_format") or C.NAMEID_UNSPECIFIED,
            "x509cert": details["sp_certificate"], "privateKey": details["sp_private_key"],
        },
        "idp": idp,
        "security": {
            "authnRequestsSigned": sign, "logoutRequestSigned": sign, "logoutResponseSigned": sign,
            "wantMessagesSigned": signed_messages,
            "wantAssertionsSigned": bool(details.get("want_assertions_signed", True)),
            "wantAssertionsEncrypted": bool(details.get("want_assertions_encrypted", False)),
            "wantNameId": True, "wantNameIdEncrypted": False, "wantAttributeStatement": False,
            "requestedAuthnContext": False, "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": C.RSA_SHA256, "digestAlgorithm": C.SHA256,
            "allowRepeatAttributeName": False, "rejectUnsolicitedResponsesWithInResponseTo": True,
        },
    }
    return OneLogin_Saml2_Settings(settings, sp_validation_only=False)


def sp_metadata(details: Mapping[str, Any], sp: SpEndpoints) -> str:
    """The SP's metadata (SAML Metadata §2.4.4): entity id, ACS (HTTP-POST), SLO
    (HTTP-Redirect) and its certificate for signing and for encryption."""
    settings = toolkit_settings(details, sp)
    xml = OneLogin_Saml2_Metadata.builder(settings.get_sp_data(), authnsign=bool(details.get("sign_requests", True)),
                                          wsign=bool(details.get("want_assertions_signed", True)))
    xml = OneLogin_Saml2_Metadata.add_x509_key_descriptors(xml, details["sp_certificate"], add_encryption=True)
    return xml if isinstance(xml, str) else xml.decode()


def request_data(url: str, post: Mapping[str, str] | None = None, get: Mapping[str, str] | None = None,
                 query_string: str | None = None) -> dict[str, Any]:
    """python3-saml's view of a request that arrived at ``url`` (our configured endpoint, not
    the Host header): its own URL checks then compare against what we published."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""
    data: dict[str, Any] = {
        "https": "on" if https else "off", "http_host": host, "script_name": parts.path,
        "post_data": dict(post or {}), "get_data": dict(get or {}),
    }
    if query_string is not None:  # verify redirect signatures over the bytes the IdP signed
        data.update(query_string=query_string, validate_signature_from_qs=True)
    return data


def _safe_parse(raw: bytes) -> etree._Element:
    """lxml without DTDs, entities or network; any DOCTYPE is refused outright."""
    if len(raw) > MAX_XML:
        raise ValueError("message too large")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=False)
    root = etree.fromstring(raw, parser)
    if root.getroottree().docinfo.doctype or root.getroottree().docinfo.internalDTD is not None:
        raise ValueError("DOCTYPE is not allowed")
    return root


def decode_post(value: str) -> bytes:
    """A message of the HTTP-POST binding (base64, SAML Bindings §3.5.4)."""
    if len(value) > MAX_XML * 4 // 3 + 4:
        raise ValueError("message too large")
    return base64.b64decode(value, validate=False)


def decode_redirect(value: str) -> bytes:
    """A message of the HTTP-Redirect binding (base64 of raw DEFLATE, §3.4.4.1), inflated to
    at most :data:`MAX_XML` bytes."""
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(base64.b64decode(value), MAX_XML + 1)
    except zlib.error as exc:
        raise ValueError(f"not DEFLATE data: {exc}") from None
    if len(raw) > MAX_XML or inflater.unconsumed_tail:
        raise ValueError("message too large")
    return raw


def peek_issuer(raw: bytes) -> str | None:
    """The ``Issuer`` of a SAML protocol message, only to choose which IdP's settings
    python3-saml then verifies it with; None when it cannot be read."""
    try:
        root = _safe_parse(raw)
    except (ValueError, etree.XMLSyntaxError):
        return None
    issuers = root.xpath("./saml:Issuer", namespaces=NS) or root.xpath("./saml:Assertion/saml:Issuer", namespaces=NS)
    if len(issuers) != 1:
        return None
    return "".join(issuers[0].itertext()).strip() or None
