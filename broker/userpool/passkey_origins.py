"""Which pages may use a pool's passkeys, and which authenticators' attestations are trusted.

**Origins.** A browser lets any page whose host is the relying-party id, or below it, use
the id's passkeys; a server that accepted all of them would let a page on any subdomain (a
forgotten staging host, a user-content host) or any port ask for a sign-in that counts
here. So the answer's ``origin`` must be one of an exact list: the server's own origin, the
pool's custom domains (https), the origins of its app clients' callback URLs, and the
pool's ``AllowedOrigins``; each of them https (or http on localhost, as browsers allow) and
with a host that is the relying-party id or below it.
https://www.w3.org/TR/webauthn-3/#sctn-validating-origin

**Attestation.** A pool that allows only some authenticator models (AAGUIDs) must know the
AAGUID is the maker's, not the client's word: the attestation's certificate chain must lead
to one of the operator's roots (``BROKER_PASSKEY_ATTESTATION_ROOTS``, a PEM bundle such as
the FIDO Metadata Service's roots), and "none" or self-attestation (no chain) proves nothing.
https://www.w3.org/TR/webauthn-3/#sctn-attestation-trustworthiness

    origin_of("https://App.example.com:443/cb")      # 'https://app.example.com'
    below("https://app.example.com", "example.com")  # True
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

from ..urls import LOOPBACK

#: The attestation formats whose statement carries a certificate chain (``x5c``).
CHAIN_FORMATS = ("packed", "tpm", "android-key", "fido-u2f", "apple")
#: Most origins a pool may list itself (``AllowedOrigins``).
MAX_ORIGINS = 50


def origin_of(url: object) -> str | None:
    """The serialized origin (scheme, host, non-default port) of ``url``, when it is one a
    page with passkeys may have: https, or http on a loopback host; None otherwise."""
    if not isinstance(url, str) or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    secure = scheme == "https" or (scheme == "http" and (host in LOOPBACK or host.endswith(".localhost")))
    if not host or not secure or parts.username or parts.password:
        return None
    default = {"https": 443, "http": 80}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def below(origin: str, rp_id: str) -> bool:
    """Whether ``origin``'s host is the relying-party id or a subdomain of it."""
    host = (urlsplit(origin).hostname or "").lower()
    return host == rp_id or host.endswith("." + rp_id)


def parse_allowed(given: Any, rp_id: str | None) -> list[str]:
    """A pool's own ``AllowedOrigins`` in canonical form; ValueError says what is wrong (an
    origin is a scheme, a host and a port: no path, query or fragment)."""
    if not isinstance(given, (list, tuple)) or len(given) > MAX_ORIGINS:
        raise ValueError(f"at most {MAX_ORIGINS} origins")
    out: list[str] = []
    for value in given:
        origin = origin_of(value)
        parts = urlsplit(value) if origin else None
        if origin is None or parts is None or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{value!r} is not an https origin (http only on localhost)")
        if rp_id and not below(origin, rp_id):
            raise ValueError(f"{value!r} is not on the relying party {rp_id} or below it")
        out.append(origin)
    return list(dict.fromkeys(out))


def allowed(rp_id: str, candidates: Iterable[object]) -> frozenset[str]:
    """The exact origins among ``candidates`` (URLs) that may use ``rp_id``'s passkeys."""
    return frozenset(o for o in map(origin_of, candidates) if o is not None and below(o, rp_id))


def load_roots(path: str) -> list[bytes]:
    """The PEM certificates of the bundle at ``path``, one each; ValueError (or OSError) when
    it cannot be read or holds none."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    certificates = x509.load_pem_x509_certificates(Path(path).read_bytes())
    return [c.public_bytes(Encoding.PEM) for c in certificates]


def roots_problem(path: str | None) -> str | None:
    """What is wrong with the attestation roots setting, or None (also when unset)."""
    if not path:
        return None
    try:
        load_roots(path)
    except (OSError, ValueError) as exc:
        return f"BROKER_PASSKEY_ATTESTATION_ROOTS must name a PEM bundle of root certificates ({exc})"
    return None
