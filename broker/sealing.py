"""Secrets the server must read back, sealed so that a database dump alone reveals none of
them: app-client secrets (Cognito's ``SECRET_HASH`` is an HMAC keyed with the secret itself)
and SRP verifiers (password-equivalent against offline guessing).

Each value is sealed with AES-256-GCM (NIST SP 800-38D) under a key derived from the
server's secret key by HKDF-SHA256 (RFC 5869), one key per purpose; the associated data
names the row the value belongs to, so a sealed value copied onto another row does not
open there.

    sealer = Sealer(settings_secret_key)
    token = sealer.seal("client-secret", b"s3cr3t", bound_to=client_id)
    sealer.unseal("client-secret", token, bound_to=client_id)  # b"s3cr3t"
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .config import Settings

VERSION = "v1"


def for_settings(settings: Settings) -> Sealer:
    """The sealer of a deployment: its ``BROKER_SECRET_KEY``, or the development key."""
    from .config import dev_secret_key

    return Sealer(settings.secret_key or dev_secret_key(settings.data_dir))


def of(session: Session) -> Sealer:
    """The sealer of the database ``session`` belongs to (:class:`broker.store.db.Database`)."""
    sealer = session.info.get("sealer")
    if sealer is None:
        raise RuntimeError("this database session was opened without a sealer")
    return sealer


class Sealer:
    """Seals and opens values under keys derived from one server secret."""

    def __init__(self, secret_key: str) -> None:
        self._secret = secret_key.encode()
        self._keys: dict[str, AESGCM] = {}

    def _derive(self, purpose: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"cognate-sealing",
                    info=purpose.encode()).derive(self._secret)

    def _aead(self, purpose: str) -> AESGCM:
        aead = self._keys.get(purpose)
        if aead is None:
            aead = self._keys[purpose] = AESGCM(self._derive(purpose))
        return aead

    def mac(self, purpose: str, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under a key of its own for ``purpose``: a value that
        only this deployment can compute, the same every time (e.g. a stand-in answer that
        must not change between two asks)."""
        return hmac.new(self._derive(f"mac:{purpose}"), message, hashlib.sha256).digest()

    def seal(self, purpose: str, value: bytes, bound_to: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead(purpose).encrypt(nonce, value, bound_to.encode())
        return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def unseal(self, purpose: str, token: str | None, bound_to: str) -> bytes | None:
        """The value, or None when there is none, or it was sealed under another server
        secret or for another row (a secret key changed since: the value must be made anew)."""
        if not token or not token.startswith(f"{VERSION}."):
            return None
        try:
            raw = base64.urlsafe_b64decode(token[len(VERSION) + 1:])
            return self._aead(purpose).decrypt(raw[:12], raw[12:], bound_to.encode())
        except (ValueError, InvalidTag):
            return None
