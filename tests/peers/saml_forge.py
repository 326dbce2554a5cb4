"""What an attacker does to a SAML Response between the IdP and the ACS.

Every helper takes and returns the Response as XML bytes, so a test reads as "mint, tamper,
post". Signing goes through python-xmlsec (libxmlsec1, an implementation independent of
pysaml2's xmlsec1 subprocess), so a forgery can be signed by a stranger's key or, for
checks of content rather than signature, re-signed by the IdP's own key.

The signature-wrapping variants follow Somorovsky et al., "On Breaking SAML: Be Whoever You
Want to Be" (USENIX Security 2012), in the numbering of the SAML Raider tool: each keeps the
signed original reachable by its ID, so a verifier that looks elements up by ID finds a
valid signature, and puts an evil copy where a careless reader takes the identity from.

Example::

    xml = forge.xsw(minted, 3, evil="mallory@evil.example")
    client.post(acs, data={"SAMLResponse": forge.encode(xml), "RelayState": state})
"""
from __future__ import annotations

import base64
import copy
import datetime
import tempfile
import zlib
from pathlib import Path
from typing import Callable

import xmlsec
from lxml import etree

from tests.peers.saml_idp import make_key_pair

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}
EVIL = "mallory@evil.example"
#: Where an IdP may put the email: a plain name or the eduPerson/X.500 OIDs.
EMAIL_VALUES = ("saml:Attribute[@Name='email' or @FriendlyName='email' or @FriendlyName='mail' or "
                "@Name='urn:oid:1.2.840.113549.1.9.1.1' or @Name='urn:oid:0.9.2342.19200300.100.1.3']"
                "/saml:AttributeValue")


# --- transport -------------------------------------------------------------------------

def encode(xml: bytes) -> str:
    """HTTP-POST binding: plain base64 (SAML Bindings §3.5.4)."""
    return base64.b64encode(xml).decode()


def request_id(saml_request: str) -> str:
    """The ID of a deflated, base64 AuthnRequest (HTTP-Redirect binding, Bindings §3.4.4.1)."""
    xml = zlib.decompress(base64.b64decode(saml_request), -15)
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == f"{{{SAMLP}}}AuthnRequest", root.tag
    return root.get("ID")


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))


def dump(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def edit(xml: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = parse(xml)
    change(root)
    return dump(root)


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    return found[0]


def assertion(root: etree._Element) -> etree._Element:
    return one(root, "/samlp:Response/saml:Assertion")


# --- keys and signatures ---------------------------------------------------------------

def stranger(name: str = "evil.example") -> tuple[bytes, bytes]:
    """A fresh RSA key and self-signed certificate (PEM): nobody's trusted signer."""
    with tempfile.TemporaryDirectory() as directory:
        key_file, cert_file = make_key_pair(Path(directory), name)
        return key_file.read_bytes(), cert_file.read_bytes()


def signed(xml: bytes) -> list[str]:
    """Local names of the elements that carry an enveloped signature, outermost first."""
    return [etree.QName(sig.getparent()).localname for sig in parse(xml).iter(f"{{{DS}}}Signature")]


def strip(root: etree._Element, where: str = "//") -> None:
    """Remove every ds:Signature below ``where`` (an XPath prefix such as ``/samlp:Response/``)."""
    for sig in root.xpath(f"{where}ds:Signature", namespaces=NS):
        sig.getparent().remove(sig)


def unsigned(xml: bytes) -> bytes:
    return edit(xml, strip)


RSA_SHA256 = (xmlsec.Transform.RSA_SHA256, xmlsec.Transform.SHA256)
RSA_SHA1 = (xmlsec.Transform.RSA_SHA1, xmlsec.Transform.SHA1)


def sign_element(node: etree._Element, key_pem: bytes, cert_pem: bytes, algorithm: tuple = RSA_SHA256) -> None:
    """An enveloped signature (RSA-SHA256 unless told) placed after saml:Issuer, as the SAML
    schema wants it (SAML Core §5.4.1: the Reference is the element's ID, exclusive C14N)."""
    sig = xmlsec.template.create(node, xmlsec.Transform.EXCL_C14N, algorithm[0], ns="ds")
    issuer = node.find(f"{{{SAML}}}Issuer")
    if issuer is not None:
        issuer.addnext(sig)
    else:
        node.insert(0, sig)
    ref = xmlsec.template.add_reference(sig, algorithm[1], uri=f"#{node.get('ID')}")
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
    ctx = xmlsec.SignatureContext()
    key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
    key.load_cert_from_memory(cert_pem, xmlsec.constants.KeyDataFormatPem)
    ctx.key = key
    ctx.register_id(node, "ID")
    ctx.sign(sig)


def sign(xml: bytes, key_pem: bytes, cert_pem: bytes, assertion_too: bool = True, response: bool = False,
         algorithm: tuple = RSA_SHA256) -> bytes:
    """Drop every signature, then sign the assertion and/or the response with this key
    (assertion first: the response's digest covers the signed assertion)."""
    root = parse(xml)
    strip(root)
    if assertion_too:
        sign_element(assertion(root), key_pem, cert_pem, algorithm)
    if response:
        sign_element(root, key_pem, cert_pem, algorithm)
    return dump(root)


def resign(xml: bytes, key_pem: bytes, cert_pem: bytes, change: Callable[[etree._Element], None]) -> bytes:
    """Change the content, then sign again the same elements the IdP had signed: a response
    whose signature is genuine but whose content must still be refused."""
    was = signed(xml)
    return sign(edit(xml, change), key_pem, cert_pem, "Assertion" in was, "Response" in was)


# --- content ---------------------------------------------------------------------------

def set_name_id(node: etree._Element, value: str) -> None:
    """Replace the subject (and an ``email`` attribute, if any) below ``node``."""
    for name_id in node.iter(f"{{{SAML}}}NameID"):
        name_id.text = value
    for attr in node.xpath(f".//{EMAIL_VALUES}", namespaces=NS):
        attr.text = value


def name_id_of(xml: bytes) -> str:
    return "".join(one(parse(xml), "/samlp:Response/saml:Assertion/saml:Subject/saml:NameID").itertext())


def shift(path: str, attr: str, minutes: int) -> Callable[[etree._Element], None]:
    """A change for :func:`resign`: move the time ``attr`` of the nodes at ``path``."""
    def change(root: etree._Element) -> None:
        nodes = root.xpath(path, namespaces=NS)
        assert nodes, path
        for node in nodes:
            when = datetime.datetime.strptime(node.get(attr)[:19], "%Y-%m-%dT%H:%M:%S")
            node.set(attr, (when + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return change


def chain(*changes: Callable[[etree._Element], None]) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        for one_change in changes:
            one_change(root)
    return change


def remove(path: str, attr: str | None = None) -> Callable[[etree._Element], None]:
    """Drop the nodes at ``path``, or only their attribute ``attr``."""
    def change(root: etree._Element) -> None:
        nodes = root.xpath(path, namespaces=NS)
        assert nodes, path
        for node in nodes:
            if attr is None:
                node.getparent().remove(node)
            else:
                del node.attrib[attr]
    return change


def set_attr(path: str, attr: str, value: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        for node in root.xpath(path, namespaces=NS):
            node.set(attr, value)
    return change


def set_text(path: str, value: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        for node in root.xpath(path, namespaces=NS):
            node.text = value
    return change


def comment_in_name_id(xml: bytes, after: str) -> bytes:
    """Split the signed NameID (and email attribute) text with an empty comment after the
    prefix ``after``: ``alice@example.org<!---->.evil.example``. Canonicalization drops
    comments, so the signature still verifies; a reader that takes only the first text node
    sees ``alice@example.org`` (CVE-2017-11427 and its siblings)."""
    root = parse(xml)
    nodes = root.xpath(f"//saml:NameID | //{EMAIL_VALUES}", namespaces=NS)
    for node in nodes:
        text = node.text or ""
        assert text.startswith(after) and text != after, text
        node.text = after
        comment = etree.Comment("")
        comment.tail = text[len(after):]
        node.append(comment)
    return dump(root)


# --- signature wrapping ----------------------------------------------------------------

Place = Callable[[etree._Element, etree._Element, etree._Element], None]


def _evil_id(node: etree._Element) -> str:
    return "_evil_" + node.get("ID").lstrip("_")


def _wrap_response(place: Place) -> Callable[[etree._Element, str], None]:
    """The root becomes the evil Response (new ID, evil subject); an unsigned copy of the
    signed original, still under its own ID, is put somewhere by ``place(root, signature,
    original)``."""
    def wrap(root: etree._Element, evil: str) -> None:
        original = copy.deepcopy(root)
        strip(original, "./")
        root.set("ID", _evil_id(root))
        set_name_id(assertion(root), evil)
        place(root, one(root, "./ds:Signature"), original)
    return wrap


def _wrap_assertion(place: Place, evil_signs: bool = False) -> Callable[[etree._Element, str], None]:
    """An evil copy of the signed Assertion (new ID, evil subject) is added; with
    ``evil_signs`` it carries the original's Signature and the original goes unsigned.
    ``place(root, evil_one, original)`` arranges the two."""
    def wrap(root: etree._Element, evil: str) -> None:
        original = assertion(root)
        evil_one = copy.deepcopy(original)
        evil_one.set("ID", _evil_id(original))
        strip(original if evil_signs else evil_one, "./")
        set_name_id(evil_one, evil)
        original.addprevious(evil_one)
        place(root, evil_one, original)
    return wrap


def _into_extensions(root: etree._Element, evil_one: etree._Element, original: etree._Element) -> None:
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    one(root, "./samlp:Status").addprevious(extensions)
    extensions.append(original)


WRAPS: dict[int, Callable[[etree._Element, str], None]] = {
    # XSW1: the signed Response travels inside the Signature of the evil one.
    1: _wrap_response(lambda root, sig, original: sig.append(original)),
    # XSW2: ... as a detached sibling before that Signature.
    2: _wrap_response(lambda root, sig, original: sig.addprevious(original)),
    # XSW3: an unsigned evil Assertion before the signed original.
    3: _wrap_assertion(lambda root, evil_one, original: None),
    # XSW4: the evil Assertion takes the original's place and wraps it.
    4: _wrap_assertion(lambda root, evil_one, original: evil_one.append(original)),
    # XSW5: the evil Assertion carries the Signature; the original, unsigned, moves to the end.
    5: _wrap_assertion(lambda root, evil_one, original: root.append(original), evil_signs=True),
    # XSW6: ... and the original sits inside that Signature.
    6: _wrap_assertion(lambda root, evil_one, original: one(evil_one, "./ds:Signature").append(original),
                       evil_signs=True),
    # XSW7: the signed original moves into samlp:Extensions (any content), the evil one stays.
    7: _wrap_assertion(_into_extensions),
    # XSW8: the evil Assertion carries the Signature, whose ds:Object holds the original.
    8: _wrap_assertion(lambda root, evil_one, original: etree.SubElement(
        one(evil_one, "./ds:Signature"), f"{{{DS}}}Object").append(original), evil_signs=True),
}


def xsw(xml: bytes, variant: int, evil: str = EVIL) -> bytes:
    root = parse(xml)
    WRAPS[variant](root, evil)
    return dump(root)


# --- hostile documents -----------------------------------------------------------------

def _with_doctype(xml: bytes, subset: str, reference: str) -> bytes:
    """The same Response with an internal DTD subset, the entity used in the NameID."""
    root = parse(xml)
    name_id = one(root, "/samlp:Response/saml:Assertion/saml:Subject/saml:NameID")
    name_id.text = "ENTITY_HERE"
    body = etree.tostring(root, encoding="UTF-8").decode().replace("ENTITY_HERE", reference)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE samlp:Response [{subset}]>\n{body}'.encode()


def billion_laughs(xml: bytes) -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)]
    return _with_doctype(xml, "".join(levels), "&lol9;")


def external_entity(xml: bytes, target: str = "file:///etc/passwd") -> bytes:
    return _with_doctype(xml, f'<!ENTITY xxe SYSTEM "{target}">', "&xxe;")


def internal_entity(xml: bytes, value: str) -> bytes:
    """An entity that expands to another identity: a parser resolving it reads ``value``."""
    return _with_doctype(xml, f'<!ENTITY who "{value}">', "&who;")


def parameter_entity(xml: bytes, target: str) -> bytes:
    """Out-of-band XXE: an external parameter entity fetched while the DTD is read."""
    return _with_doctype(xml, f'<!ENTITY % ext SYSTEM "{target}"> %ext;', "x")


# --- the naive verifier the wrapping attacks aim at ------------------------------------

def naive_verify(xml: bytes, cert_pem: bytes) -> bool:
    """Whether every ds:Signature in the document verifies with ``cert_pem``, its Reference
    resolved by ID anywhere in the document: the check a wrapping attack passes, which is
    why the ACS must also ask *which* element was signed."""
    root = parse(xml)
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("ID"):
            xmlsec.tree.add_ids(node, ["ID"])
    signatures = list(root.iter(f"{{{DS}}}Signature"))
    for sig in signatures:
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        try:
            ctx.verify(sig)
        except xmlsec.Error:
            return False
    return bool(signatures)
