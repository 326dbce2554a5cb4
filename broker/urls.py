"""The one check of URLs Cognate itself calls or names: identity providers' issuers and
endpoints, SAML metadata, the STS, the Google and Facebook stand-ins, the server's own base
URL. Standard library only: the settings are checked with it before anything else loads.

Upstreams are https, or http on a loopback host (a test's stand-in, a sidecar); an issuer
names no query. :func:`is_internal` tells an address of this host or a private network,
which a provider's discovery document must not send Cognate to.

>>> problem("http://idp.example.com")
'must use https (http only on 127.0.0.1, ::1 or localhost)'
>>> problem("http://127.0.0.1:8080/realms/test") is None
True
>>> problem("https://10.0.0.8/oidc", private=False)
'must not name a private, link-local or unspecified address'
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
ABSOLUTE = "must be an absolute https URL"


def problem(value: object, *, query: bool = False, http: bool = False, private: bool = True) -> str | None:
    """What is wrong with ``value`` as an upstream's URL, or None: an absolute URL without
    credentials or fragment (nor query, unless ``query``), https or, unless ``http`` allows
    any host, http on a loopback host; with ``private`` False, on no private, link-local or
    unspecified address (loopback stays allowed)."""
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        host = parts.hostname if parts else None
    except ValueError:
        parts = host = None
    if parts is None or not host or parts.fragment or parts.username or parts.password or \
            (parts.query and not query):
        return (ABSOLUTE.replace("https", "http(s)") if http else ABSOLUTE) + ("" if query else
                                                                              " without query or fragment")
    if parts.scheme != "https" and not (parts.scheme == "http" and (http or host in LOOPBACK)):
        return "must be an http(s) URL" if http else "must use https (http only on 127.0.0.1, ::1 or localhost)"
    if not private and is_internal(value) and not is_loopback(value):  # type: ignore[arg-type]
        return "must not name a private, link-local or unspecified address"
    return None


def _address(url: str) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    host = (urlsplit(url).hostname or "").lower()
    try:
        return host, ipaddress.ip_address(host)
    except ValueError:
        return host, None


def is_loopback(url: str) -> bool:
    host, address = _address(url)
    return host in LOOPBACK or host.endswith(".localhost") or (address is not None and address.is_loopback)


def is_internal(url: str) -> bool:
    """Whether ``url`` names this host or a private network: loopback names, and loopback,
    private, link-local or unspecified IP literals."""
    _host, address = _address(url)
    return is_loopback(url) or (address is not None and (
        address.is_private or address.is_link_local or address.is_unspecified))
