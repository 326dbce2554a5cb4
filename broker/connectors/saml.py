"""SAML 2.0 identity providers: the Web Browser SSO profile (SAML Profiles §4.1; SP- and
IdP-initiated) and Single Logout (§4.4), through python3-saml as a strict SP.

python3-saml verifies signatures, decrypts, and checks issuers and status. What it checks
loosely is checked again here, exactly: ``Destination`` and every bearer ``Recipient`` equal
the ACS URL (it compares by prefix and substring), ``InResponseTo`` equals our request (it
skips the check when the response has none), every ``Audience`` is ours, and the validity
windows allow :data:`SKEW` seconds, not five minutes. NameID and attributes come from
python3-saml's getters only: re-reading them from the XML would reopen the comment-in-NameID
attack. The assertion ID is returned so the web layer accepts it once (replay).

Example::

    details = configure({"metadata_xml": xml, "want_assertions_encrypted": True}, None)
    out = open(idp).begin(Callback(acs_url, relay_state, "urn:cognate:sp:<PoolId>"))
    identity = open(idp).complete(callback, request.form, out.kept)   # -> SamlIdentity
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from ..errors import InvalidInput
from ..store.models import IdentityProvider
from .base import Callback, Identity, Outbound, UpstreamError
from .oauth import check_url, cli_name
from .saml_settings import (MAX_XML, NS, SpEndpoints, decode_post, decode_redirect, fetch_metadata,
                            new_sp_key_pair, parse_idp_metadata, peek_issuer, request_data, sp_metadata,
                            toolkit_settings)

DEFAULT_MAPPING = {"email": "email"}
SECRETS = frozenset({"sp_private_key"})
FLAGS = {"sign_requests": True, "want_assertions_signed": True, "want_assertions_encrypted": False,
         "idp_initiated": False}
OPTIONS = frozenset({"metadata_url", "metadata_xml", "name_id_format", *FLAGS})
#: Cognito's ProviderDetails names of the options, its "true"/"false" flags, the keys it only shows.
PROVIDER_DETAILS = {"MetadataURL": "metadata_url", "MetadataFile": "metadata_xml"}
PROVIDER_FLAGS = {"EncryptedResponses": "want_assertions_encrypted", "IDPInit": "idp_initiated"}
READ_ONLY = ("SSORedirectBindingURI", "SLORedirectBindingURI", "ActiveEncryptionCertificate")
#: The one request-signing algorithm Cognate uses (Cognito's RequestSigningAlgorithm).
SIGNING_ALGORITHM = "rsa-sha256"
#: Clock skew allowed on every validity window, in seconds.
SKEW = 60
MAX_NAME_ID = 512
MAX_VALUE = 2048
ASSERTION = f"{{{C.NS_SAML}}}Assertion"
RESPONSE = f"{{{C.NS_SAMLP}}}Response"


def configure(options: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated details: the IdP from its metadata (URL or file), our security options, and
    the SP key pair generated once, when the IdP is created."""
    for name in options:
        if name not in OPTIONS:
            raise InvalidInput(f"{cli_name(name)} does not apply to SAML identity providers")
    if "metadata_url" in options and "metadata_xml" in options:
        raise InvalidInput("give --metadata-url or --metadata-file, not both")
    details: dict[str, Any] = {**FLAGS, "name_id_format": C.NAMEID_UNSPECIFIED, **(current or {})}
    for name in FLAGS:
        if name in options:
            if not isinstance(options[name], bool):
                raise InvalidInput(f"{cli_name(name)} is a flag")
            details[name] = options[name]
    if "name_id_format" in options:
        details["name_id_format"] = _name_id_format(options["name_id_format"])
    if "metadata_url" in options:
        url = check_url("metadata_url", _text(options, "metadata_url"))
        details.update(parse_idp_metadata(fetch_metadata(url)), metadata_url=url)
    elif "metadata_xml" in options:
        details.update(parse_idp_metadata(_text(options, "metadata_xml")))
        details.pop("metadata_url", None)
    elif not details.get("idp_entity_id"):
        raise InvalidInput("missing --metadata-url or --metadata-file")
    if not details.get("sp_private_key"):
        details["sp_private_key"], details["sp_certificate"] = new_sp_key_pair("Cognate SAML SP")
    return details


def _text(options: Mapping[str, Any], name: str) -> str:
    value = options[name]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{cli_name(name)} must not be empty")
    return value.strip()


def _name_id_format(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("urn:oasis:names:tc:SAML:") or len(value) > 256 \
            or not value.isprintable() or " " in value:
        raise InvalidInput("--name-id-format must be a SAML NameID format URN (urn:oasis:names:tc:SAML:...)")
    return value


def from_provider_details(details: Mapping[str, str]) -> dict[str, Any]:
    """Cognito's ProviderDetails as options. RequestSigningAlgorithm ``rsa-sha256`` signs
    AuthnRequests (left out, Cognate's default: they are signed too); IDPSignout takes
    ``false`` only: Cognate does not sign users out at the IdP."""
    options: dict[str, Any] = {}
    for key, value in details.items():
        if key in READ_ONLY:
            continue
        if key in PROVIDER_DETAILS:
            options[PROVIDER_DETAILS[key]] = value
        elif key in PROVIDER_FLAGS and str(value).lower() in ("true", "false"):
            options[PROVIDER_FLAGS[key]] = str(value).lower() == "true"
        elif key == "RequestSigningAlgorithm" and value == SIGNING_ALGORITHM:
            options["sign_requests"] = True
        elif key == "IDPSignout" and str(value).lower() == "false":
            continue
        else:
            raise InvalidInput(f"ProviderDetails: {key}={str(value)[:64]!r} is not supported for SAML identity providers")
    return options


def provider_details(details: Mapping[str, Any]) -> dict[str, str]:
    out = {key: str(details[option]) for key, option in PROVIDER_DETAILS.items() if details.get(option)}
    out.update({key: str(bool(details.get(option))).lower() for key, option in PROVIDER_FLAGS.items()})
    out["IDPSignout"] = "false"
    if details.get("sign_requests"):
        out["RequestSigningAlgorithm"] = SIGNING_ALGORITHM
    if details.get("sso_url"):
        out["SSORedirectBindingURI"] = str(details["sso_url"])
    if details.get("slo_url"):
        out["SLORedirectBindingURI"] = str(details["slo_url"])
    return out


def open(idp: IdentityProvider) -> SAMLConnector:  # noqa: A001 - the registry's name
    return SAMLConnector(idp.name, dict(idp.details))


def find_idp(candidates: Iterable[IdentityProvider], message: str, redirect: bool = False) -> IdentityProvider | None:
    """The IdP whose entity id is the ``Issuer`` of a message (an unsolicited response, or a
    LogoutRequest of the HTTP-Redirect binding when ``redirect``); only picks the settings
    python3-saml then verifies the message with."""
    try:
        issuer = peek_issuer(decode_redirect(message) if redirect else decode_post(message))
    except ValueError:
        return None
    found = [i for i in candidates if i.type == "SAML" and issuer and i.details.get("idp_entity_id") == issuer]
    return found[0] if len(found) == 1 else None


class _Response(OneLogin_Saml2_Response):
    """python3-saml's Response, decrypting without renaming namespace prefixes.

    python3-saml moves the decrypted assertion into the response with lxml, which drops the
    assertion's own namespace declaration when the response declares the same namespace
    under another prefix (``encas2:Assertion`` becomes ``ns1:Assertion``, as pysaml2's
    self-contained encryption produces it). Exclusive c14n then sees other prefixes and the
    assertion's signature fails. Here the assertion is decrypted under a bare parent and
    spliced back in as text, exactly as it was signed, then the whole response re-parsed.
    """

    def _decrypt_assertion(self, xml: etree._Element) -> etree._Element:
        holders = OneLogin_Saml2_XML.query(xml, "/samlp:Response/saml:EncryptedAssertion")
        if len(holders) != 1:
            return super()._decrypt_assertion(xml)  # python3-saml refuses the count later
        bare = etree.Element(f"{{{C.NS_SAMLP}}}Response", nsmap={"samlp": C.NS_SAMLP})
        bare.append(deepcopy(holders[0]))
        assertion = super()._decrypt_assertion(bare)[0]
        marker = f"cognate-{secrets.token_hex(16)}"
        holders[0].getparent().replace(holders[0], etree.Comment(marker))
        text = etree.tostring(xml).replace(f"<!--{marker}-->".encode(), etree.tostring(assertion, with_tail=False), 1)
        return OneLogin_Saml2_XML.to_etree(text)


@dataclass(frozen=True)
class SamlIdentity(Identity):
    """An identity from one SAML assertion, which must be accepted once: the web layer
    remembers ``assertion_id`` until ``expires_at`` (epoch seconds)."""

    assertion_id: str = ""
    expires_at: int = 0


class SAMLConnector:
    """One configured SAML IdP."""

    def __init__(self, name: str, details: dict[str, Any]) -> None:
        self.name, self.details = name, details

    @property
    def has_slo(self) -> bool:
        return bool(self.details.get("slo_url"))

    def _auth(self, url: str, sp: SpEndpoints, signed_messages: bool = False, **data: Any) -> OneLogin_Saml2_Auth:
        try:
            return OneLogin_Saml2_Auth(request_data(url, **data), toolkit_settings(self.details, sp, signed_messages))
        except Exception as exc:  # settings python3-saml refuses: the stored details are unusable
            raise UpstreamError("invalid_request", f"SAML settings of {self.name}: {exc}") from None

    def begin(self, callback: Callback) -> Outbound:
        """An AuthnRequest by HTTP-Redirect (Bindings §3.4), signed unless ``sign_requests``
        is off; RelayState is the login's state."""
        sp = SpEndpoints.from_acs(callback.sp_entity_id, callback.url)
        auth = self._auth(sp.acs_url, sp)
        url = auth.login(return_to=callback.state, force_authn=callback.fresh)
        return Outbound(url=url, kept={"request_id": auth.get_last_request_id()})

    def metadata(self, sp: SpEndpoints) -> str:
        return sp_metadata(self.details, sp)

    def complete(self, callback: Callback, params: Mapping[str, str], kept: dict[str, Any]) -> SamlIdentity:
        """Verify the POSTed ``SAMLResponse``. ``kept["request_id"]`` is our AuthnRequest's ID;
        without it the response must be unsolicited (IdP-initiated)."""
        sp = SpEndpoints.from_acs(callback.sp_entity_id, callback.url)
        raw = params.get("SAMLResponse") or ""
        if not raw or len(raw) > MAX_XML * 2:
            raise UpstreamError("invalid_request", "no usable SAMLResponse")
        request_id = kept.get("request_id")
        settings = self._auth(sp.acs_url, sp).get_settings()
        try:
            response = _Response(settings, raw)
            response.is_valid(request_data(sp.acs_url, post={"SAMLResponse": raw}), request_id, raise_exceptions=True)
            return self._identity(response, sp, request_id, time.time())
        except UpstreamError:
            raise
        except OneLogin_Saml2_ValidationError as exc:
            refused = exc.code == OneLogin_Saml2_ValidationError.STATUS_CODE_IS_NOT_SUCCESS
            raise UpstreamError("access_denied" if refused else "invalid_request", f"SAML response: {exc}") from None
        except Exception as exc:  # DOCTYPE, bad base64, broken XML or encryption: never a 500
            raise UpstreamError("invalid_request", f"SAML response: {type(exc).__name__}: {exc}") from None

    def _identity(self, response: OneLogin_Saml2_Response, sp: SpEndpoints, request_id: str | None,
                  now: float) -> SamlIdentity:
        expires_at = check_response(response, sp, request_id, self.details, now)
        name_id = response.get_nameid()
        if not isinstance(name_id, str) or not name_id.strip() or len(name_id) > MAX_NAME_ID \
                or not name_id.isprintable():
            raise UpstreamError("invalid_request", "SAML NameID is empty, too long or not printable")
        attributes = {"NameID": name_id}
        for key, values in response.get_attributes().items():
            first = next((v for v in values if isinstance(v, str)), None)
            if first is not None and len(first) <= MAX_VALUE and key != "NameID":
                attributes[key] = first
        logout = {"name_id": name_id, "name_id_format": response.get_nameid_format(),
                  "session_index": response.get_session_index(), "name_id_nq": response.get_nameid_nq(),
                  "name_id_spnq": response.get_nameid_spnq()}
        return SamlIdentity(
            provider_name=self.name, provider_type="SAML", subject=name_id, attributes=attributes,
            logout={k: v for k, v in logout.items() if isinstance(v, str)},
            assertion_id=response.get_assertion_id(), expires_at=expires_at,
        )

    # -- Single Logout (SAML Profiles §4.4, HTTP-Redirect binding) ------------------------------
    def logout_request(self, sp: SpEndpoints, logout: Mapping[str, str], relay_state: str) -> tuple[str, str]:
        """Our LogoutRequest for a session this IdP started: (redirect URL, request ID)."""
        if not self.has_slo:
            raise UpstreamError("invalid_request", f"{self.name} has no SingleLogoutService")
        auth = self._auth(sp.slo_url, sp)
        url = auth.logout(return_to=relay_state, name_id=logout.get("name_id"),
                          session_index=logout.get("session_index"), nq=logout.get("name_id_nq"),
                          name_id_format=logout.get("name_id_format"), spnq=logout.get("name_id_spnq"))
        return url, auth.get_last_request_id()

    def answer_logout_request(self, sp: SpEndpoints, args: Mapping[str, str], query_string: str) -> tuple[str, str]:
        """Verify the IdP's signed LogoutRequest: (its NameID, redirect URL carrying our
        LogoutResponse to the IdP)."""
        auth = self._auth(sp.slo_url, sp, signed_messages=True, get=args, query_string=query_string)
        try:
            url = auth.process_slo(keep_local_session=True)
            errors = auth.get_errors()
            name_id = None if errors else OneLogin_Saml2_Logout_Request.get_nameid(auth.get_last_request_xml())
        except Exception as exc:
            raise UpstreamError("invalid_request", f"LogoutRequest: {type(exc).__name__}: {exc}") from None
        if errors or not url or not name_id:
            raise UpstreamError("invalid_request", f"LogoutRequest: {errors} {auth.get_last_error_reason()}")
        return name_id, url

    def check_logout_response(self, sp: SpEndpoints, args: Mapping[str, str], query_string: str,
                              request_id: str) -> None:
        """Verify the IdP's signed LogoutResponse to our LogoutRequest ``request_id``."""
        auth = self._auth(sp.slo_url, sp, signed_messages=True, get=args, query_string=query_string)
        try:
            auth.process_slo(keep_local_session=True, request_id=request_id)
        except Exception as exc:
            raise UpstreamError("invalid_request", f"LogoutResponse: {type(exc).__name__}: {exc}") from None
        if auth.get_errors():
            raise UpstreamError("invalid_request", f"LogoutResponse: {auth.get_errors()} {auth.get_last_error_reason()}")


def check_response(response: OneLogin_Saml2_Response, sp: SpEndpoints, request_id: str | None,
                   details: Mapping[str, Any], now: float) -> int:
    """The checks python3-saml makes loosely, made exactly, on the document it verified.
    Returns until when the assertion could be accepted (epoch seconds)."""
    doc = response.decrypted_document if response.encrypted else response.document
    if details.get("want_assertions_encrypted") and not response.encrypted:
        raise UpstreamError("invalid_request", "SAML assertion is not encrypted")
    signed = response.process_signed_elements()
    if details.get("want_assertions_signed", True) and ASSERTION not in signed:
        raise UpstreamError("invalid_request", "SAML assertion is not signed")
    if ASSERTION not in signed and RESPONSE not in signed:
        raise UpstreamError("invalid_request", "SAML response is not signed")
    destination = doc.get("Destination")
    if destination is None and RESPONSE in signed:  # Bindings §3.5.5.2: a signed message names it
        raise UpstreamError("invalid_request", "signed SAML response without Destination")
    if destination is not None and destination != sp.acs_url:
        raise UpstreamError("invalid_request", f"SAML Destination {destination[:200]!r} is not our ACS URL")
    _check_in_response_to(doc.get("InResponseTo"), request_id, "Response")
    assertions = doc.xpath("//saml:Assertion", namespaces=NS)
    if len(assertions) != 1 or assertions[0].getparent() is not doc:
        raise UpstreamError("invalid_request", "SAML response must hold exactly one assertion")
    until = _check_subject_confirmation(assertions[0], sp, request_id, now)
    conditions_until = _check_conditions(assertions[0], sp, now)
    return int(min(until, conditions_until or until)) + SKEW


def _check_in_response_to(value: str | None, request_id: str | None, where: str) -> None:
    if request_id is None and value is not None:
        raise UpstreamError("invalid_request", f"unsolicited SAML {where} answers a request (InResponseTo)")
    if request_id is not None and value != request_id:
        raise UpstreamError("invalid_request", f"SAML {where} InResponseTo does not match our AuthnRequest")


def _time(value: str) -> int:
    return int(OneLogin_Saml2_Utils.parse_SAML_to_time(value))


def _check_subject_confirmation(assertion: etree._Element, sp: SpEndpoints, request_id: str | None,
                                now: float) -> int:
    """Profiles §4.1.4.2: every bearer SubjectConfirmationData names our ACS as Recipient,
    answers our request, and is within its window. Returns its latest NotOnOrAfter."""
    bearer = [data for sc in assertion.xpath("saml:Subject/saml:SubjectConfirmation", namespaces=NS)
              if sc.get("Method") == C.CM_BEARER
              for data in sc.xpath("saml:SubjectConfirmationData", namespaces=NS)]
    if not bearer:
        raise UpstreamError("invalid_request", "SAML assertion has no bearer SubjectConfirmationData")
    latest = 0
    for data in bearer:
        if data.get("Recipient") != sp.acs_url:
            raise UpstreamError("invalid_request", "SAML Recipient is not our ACS URL")
        _check_in_response_to(data.get("InResponseTo"), request_id, "SubjectConfirmationData")
        not_after, not_before = data.get("NotOnOrAfter"), data.get("NotBefore")
        if not_after is None or _time(not_after) + SKEW <= now:
            raise UpstreamError("invalid_request", "SAML SubjectConfirmationData expired or without NotOnOrAfter")
        if not_before is not None and _time(not_before) - SKEW > now:
            raise UpstreamError("invalid_request", "SAML SubjectConfirmationData not yet valid")
        latest = max(latest, _time(not_after))
    return latest


def _check_conditions(assertion: etree._Element, sp: SpEndpoints, now: float) -> int | None:
    """Core §2.5: the validity window (with :data:`SKEW`) and an audience of ours only."""
    conditions = assertion.xpath("saml:Conditions", namespaces=NS)
    if len(conditions) != 1:
        raise UpstreamError("invalid_request", "SAML assertion must hold one Conditions element")
    not_before, not_after = conditions[0].get("NotBefore"), conditions[0].get("NotOnOrAfter")
    if not_before is not None and _time(not_before) - SKEW > now:
        raise UpstreamError("invalid_request", "SAML assertion not yet valid")
    if not_after is not None and _time(not_after) + SKEW <= now:
        raise UpstreamError("invalid_request", "SAML assertion expired")
    audiences = [OneLogin_Saml2_XML.element_text(a) for a in
                 conditions[0].xpath("saml:AudienceRestriction/saml:Audience", namespaces=NS)]
    if not audiences or any((a or "").strip() != sp.entity_id for a in audiences):
        raise UpstreamError("invalid_request", "SAML Audience is not our SP entity id")
    return _time(not_after) if not_after is not None else None
