"""Compact JWS signing (RFC 7515 §7.1) with one key: the protected header encoded once and
the private key object loaded once, so that a token costs its claims' JSON and one
signature. It makes what ``joserfc.jwt.encode`` makes (``typ`` ``JWT`` unless told, then
``alg`` and ``kid``); joserfc verifies it, as every relying party does.

>>> from joserfc import jwt
>>> from joserfc.jwk import ECKey
>>> key = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
>>> token = Signer(key, "ES256").sign({"sub": "u"})
>>> decoded = jwt.decode(token, key)
>>> decoded.header, decoded.claims
({'typ': 'JWT', 'alg': 'ES256', 'kid': 'k1'}, {'sub': 'u'})
"""
from __future__ import annotations

import base64
import json
from typing import Any, Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, RSAKey


def _rsa(hash_: hashes.HashAlgorithm) -> Callable[[Any, bytes], bytes]:
    return lambda key, data: key.sign(data, padding.PKCS1v15(), hash_)


def _es256(key: Any, data: bytes) -> bytes:
    """RFC 7518 §3.4: R and S as two 32-byte big-endian integers (not DER)."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


#: The algorithms Cognate signs with: pools' RS256 and ES256, identities' RS512.
ALGORITHMS: dict[str, Callable[[Any, bytes], bytes]] = {
    "RS256": _rsa(hashes.SHA256()), "RS384": _rsa(hashes.SHA384()), "RS512": _rsa(hashes.SHA512()), "ES256": _es256,
}


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class Signer:
    """Signs claims with ``key`` under ``alg``."""

    def __init__(self, key: RSAKey | ECKey, alg: str) -> None:
        self.kid, self.alg = key.kid, alg
        self._private = key.private_key
        self._algorithm = ALGORITHMS[alg]
        self._headers: dict[str, bytes] = {}

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        header = self._headers.get(typ)
        if header is None:
            header = _b64(json.dumps({"typ": typ, "alg": self.alg, "kid": self.kid}, separators=(",", ":")).encode())
            self._headers[typ] = header
        signing_input = header + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
        return (signing_input + b"." + _b64(self._algorithm(self._private, signing_input))).decode("ascii")
