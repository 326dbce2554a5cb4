"""Password hashes brought from other systems: recognised once, at import, stored as a PHC
string (https://github.com/P-H-C/phc-string-format/blob/master/phc-sf-spec.md) wherever
the algorithm has one, checked at sign-in until the user's next successful sign-in replaces
them with Argon2id (:func:`broker.userpool.passwords.needs_rehash`).

=========================  =====================================================  ==========================================
algorithm                  accepted as                                            stored as
=========================  =====================================================  ==========================================
Argon2 (i, d, id)          PHC ``$argon2id$v=19$m=..,t=..,p=..$salt$hash``;       PHC, unchanged
                           Django ``argon2$argon2id$...``
bcrypt                     ``$2a$``/``$2b$``/``$2y$`` (Modular Crypt Format);     MCF (bcrypt has no PHC form)
                           Django ``bcrypt$$2b$...``
bcrypt over SHA-256        Django ``bcrypt_sha256$$2b$...``                       Django's string, unchanged
PBKDF2-SHA1/256/512        Django ``pbkdf2_sha256$N$salt$b64``,                   PHC ``$pbkdf2-sha256$i=N$salt$hash``
                           ``pbkdf2_sha1$...``; passlib ``$pbkdf2-sha256$N$..``,
                           ``$pbkdf2$N$..`` (SHA-1); PHC ``$pbkdf2-sha256$i=N$..``
scrypt                     passlib / PHC ``$scrypt$ln=..,r=..,p=..$salt$hash``;   PHC ``$scrypt$ln=..,r=..,p=..$salt$hash``
                           Django ``scrypt$N$salt$r$p$b64``
Firebase's scrypt          ``$firebase-scrypt$ln=..,r=..,sep=..,key=..$salt$hash``  PHC, unchanged
                           (the project's parameters inside), or
                           ``$firebase-scrypt$salt$hash`` with :class:`Firebase`
=========================  =====================================================  ==========================================

Salts and hashes are the standard Base64 alphabet without padding (``.`` read as ``+``,
passlib's variant; padding tolerated). Work factors are bounded, so that an imported hash
cannot make a sign-in cost much more than a default Argon2 (a few tenths of a second, 64 MiB;
Argon2 itself up to Django's default, 100 MiB).

    stored = recognise("pbkdf2_sha256$600000$salt$Hh1...=")   # '$pbkdf2-sha256$i=600000$c2FsdA$Hh1...'
    verify(stored, "the password")                             # True / False
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

import argon2
import bcrypt
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import InvalidInput

MAX_LENGTH = 1024
#: Bounds of the work an imported hash may ask for at each sign-in: one budget, near the
#: cost of argon2-cffi's default (t=3, m=64 MiB, p=4, about 0.3 s), for every family.
MAX_BCRYPT_COST = 13
#: PBKDF2 rounds times the digest blocks the hash's length needs (each block runs every round).
MAX_PBKDF2_WORK = {"sha1": 2_000_000, "sha256": 2_000_000, "sha512": 1_000_000}
MAX_SCRYPT_MEMORY = 64 * 1024 * 1024
#: Argon2: Django's default (m=100 MiB, t=2, p=8) costs what argon2-cffi's does, and is
#: the hash most often brought; its time grows with memory × passes, split over p lanes.
MAX_ARGON2_MEMORY_KIB = 100 * 1024
MAX_ARGON2_WORK_KIB = 256 * 1024
MAX_ARGON2_PARALLELISM = 8
_B64 = re.compile(r"[A-Za-z0-9+/.]*={0,2}")
_ARGON2_B64 = re.compile(r"[A-Za-z0-9+/]+")
_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_PBKDF2_DIGESTS = {"sha1": "sha1", "sha256": "sha256", "sha512": "sha512"}
_ARGON2 = ("$argon2id$", "$argon2i$", "$argon2d$")


class HashRejected(InvalidInput):
    """A hash that is not in an accepted format, or asks for too much work."""


@dataclass(frozen=True)
class Firebase:
    """A Firebase project's password hash parameters (its console's "hash_config"):
    ``base64_signer_key``, ``base64_salt_separator``, ``rounds``, ``mem_cost``."""

    signer_key: bytes
    salt_separator: bytes
    rounds: int
    mem_cost: int

    @classmethod
    def parse(cls, text: str) -> Firebase:
        """``signer_key=B64,salt_separator=B64,rounds=8,mem_cost=14`` (Firebase's names)."""
        fields = dict(part.strip().partition("=")[::2] for part in text.split(",") if part.strip())
        try:
            made = cls(_b64(fields["signer_key"]), _b64(fields.get("salt_separator", "")),
                       int(fields["rounds"]), int(fields["mem_cost"]))
        except (KeyError, ValueError, HashRejected):
            raise InvalidInput("Firebase parameters are signer_key=B64,salt_separator=B64,rounds=N,mem_cost=N") from None
        _scrypt_bounds(made.mem_cost, made.rounds, 1)
        return made

    def params(self) -> str:
        return f"ln={self.mem_cost},r={self.rounds},sep={_enc(self.salt_separator)},key={_enc(self.signer_key)}"


def recognise(text: str, firebase: Firebase | None = None) -> str:
    """The PHC (or MCF) string to store for the hash ``text``; :class:`HashRejected` with
    the reason when it is in no accepted format or out of bounds."""
    text = text.strip()
    if not text or len(text) > MAX_LENGTH:
        raise HashRejected("the password hash is empty or longer than 1024 characters")
    if text.startswith("argon2$"):
        text = text[len("argon2"):]  # Django's prefix
    if text.startswith("bcrypt$"):
        text = text[len("bcrypt$"):]
    if text.startswith(_ARGON2):
        return _argon2(text)
    if _BCRYPT.fullmatch(text):
        return _bcrypt(text, text)
    if text.startswith("bcrypt_sha256$"):
        return _bcrypt(text.removeprefix("bcrypt_sha256$"), text)
    if text.startswith(("pbkdf2_", "$pbkdf2")):
        return _pbkdf2(text)
    if text.startswith(("scrypt$", "$scrypt$")):
        return _scrypt(text)
    if text.startswith("$firebase-scrypt$"):
        return _firebase(text, firebase)
    raise HashRejected("the password hash is in no supported format (Argon2, bcrypt, PBKDF2, scrypt, Firebase scrypt)")


def verify(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (any form :func:`recognise` accepts or
    stores); False for anything unreadable."""
    try:
        phc = recognise(stored)
    except HashRejected:
        return False
    try:
        return _matches(phc, password)
    except ValueError:  # UnicodeError too: a hash or password the primitives refuse is no match
        return False


def _matches(phc: str, password: str) -> bool:
    secret = password.encode()
    if phc.startswith(_ARGON2):
        try:
            return argon2.PasswordHasher().verify(phc, password)
        except (VerificationError, InvalidHashError):
            return False
    if phc.startswith("bcrypt_sha256$"):
        return _bcrypt_matches(hashlib.sha256(secret).hexdigest().encode(), phc.removeprefix("bcrypt_sha256$"))
    if phc.startswith("$2"):
        return _bcrypt_matches(secret, phc)
    algorithm, params, salt, digest = _fields(phc)
    if algorithm.startswith("pbkdf2-"):
        mine = hashlib.pbkdf2_hmac(algorithm.removeprefix("pbkdf2-"), secret, salt, int(params["i"]), len(digest))
    elif algorithm == "scrypt":
        mine = _scrypt_key(secret, salt, int(params["ln"]), int(params["r"]), int(params["p"]), len(digest))
    else:
        mine = _firebase_hash(secret, salt, params)
    return hmac.compare_digest(mine, digest)


# -- each family -------------------------------------------------------------------------

def _argon2(text: str) -> str:
    """argon2-cffi reads the salt and hash only at verification (as ASCII): check them here."""
    fields = text.split("$")
    try:
        if not text.isascii() or len(fields) not in (5, 6) \
                or not all(_ARGON2_B64.fullmatch(field) for field in fields[-2:]):
            raise InvalidHashError
        params = argon2.extract_parameters(text)
        salt, hashed = _b64(fields[-2]), _b64(fields[-1])
    except (InvalidHashError, ValueError):
        raise HashRejected("the Argon2 hash is malformed") from None
    if len(salt) < 8 or len(hashed) < 4:
        raise HashRejected("the Argon2 hash needs a salt of 8 bytes or more and a hash of 4 or more")
    if params.memory_cost > MAX_ARGON2_MEMORY_KIB or params.memory_cost * params.time_cost > MAX_ARGON2_WORK_KIB \
            or params.parallelism > MAX_ARGON2_PARALLELISM:
        raise HashRejected(f"the Argon2 hash asks for more work than Cognate allows (at most m={MAX_ARGON2_MEMORY_KIB}, "
                           f"m×t={MAX_ARGON2_WORK_KIB} and p={MAX_ARGON2_PARALLELISM})")
    return text


def _bcrypt(mcf: str, stored: str) -> str:
    found = _BCRYPT.fullmatch(mcf)
    if found is None:
        raise HashRejected("the bcrypt hash is malformed")
    if not 4 <= int(found.group(1)) <= MAX_BCRYPT_COST:
        raise HashRejected(f"the bcrypt cost must be between 4 and {MAX_BCRYPT_COST}")
    return stored


def _bcrypt_matches(secret: bytes, mcf: str) -> bool:
    """bcrypt reads at most 72 bytes; the ``bcrypt`` package refuses longer passwords
    instead of cutting them as the systems that made these hashes did."""
    hashed = ("$2b$" + mcf[4:]) if mcf.startswith("$2y$") else mcf
    try:
        return bcrypt.checkpw(secret[:72], hashed.encode())
    except ValueError:
        return False


def _pbkdf2(text: str) -> str:
    parts = text.split("$")
    try:
        if text.startswith("pbkdf2_"):  # Django: pbkdf2_sha256$N$salt$b64 (the salt is text)
            name, rounds, salt, digest = parts
            digest_name, salt_bytes = name.removeprefix("pbkdf2_"), salt.encode()
        else:  # passlib $pbkdf2-sha256$N$ab64$ab64 ($pbkdf2$ is SHA-1), or PHC $pbkdf2-sha256$i=N$b64$b64
            _, name, rounds, salt, digest = parts
            digest_name = name.removeprefix("pbkdf2").removeprefix("-") or "sha1"
            rounds = rounds.removeprefix("i=")
            salt_bytes = _b64(salt)
        hashed, iterations = _b64(digest), int(rounds)
    except ValueError:
        raise HashRejected("the PBKDF2 hash is malformed") from None
    if digest_name not in _PBKDF2_DIGESTS or iterations < 1 or not salt_bytes or not 16 <= len(hashed) <= 64:
        raise HashRejected("the PBKDF2 hash has an unknown digest, or its rounds, salt or length are out of bounds")
    blocks = -(-len(hashed) // hashlib.new(digest_name).digest_size)
    if iterations * blocks > MAX_PBKDF2_WORK[digest_name]:
        raise HashRejected(f"the PBKDF2 hash asks for more work than Cognate allows (rounds × digest blocks at most "
                           f"{MAX_PBKDF2_WORK[digest_name]} for {digest_name})")
    return f"$pbkdf2-{digest_name}$i={iterations}${_enc(salt_bytes)}${_enc(hashed)}"


def _scrypt(text: str) -> str:
    parts = text.split("$")
    try:
        if text.startswith("scrypt$"):  # Django: scrypt$N$salt$r$p$b64 (the salt is text)
            _, n, salt, r, p, digest = parts
            ln, salt_bytes = int(n).bit_length() - 1, salt.encode()
            if 1 << ln != int(n):
                raise ValueError("N is not a power of two")
        else:
            _, _, params, salt, digest = parts
            found = _params(params)
            ln, r, p, salt_bytes = int(found["ln"]), found["r"], found["p"], _b64(salt)
        hashed, r_, p_ = _b64(digest), int(r), int(p)
    except (ValueError, KeyError):
        raise HashRejected("the scrypt hash is malformed") from None
    _scrypt_bounds(ln, r_, p_)
    if not salt_bytes or not 16 <= len(hashed) <= 128:
        raise HashRejected("the scrypt hash has no salt, or a hash length out of bounds")
    return f"$scrypt$ln={ln},r={r_},p={p_}${_enc(salt_bytes)}${_enc(hashed)}"


def _firebase(text: str, firebase: Firebase | None) -> str:
    """Firebase's modified scrypt: the key scrypt derives from the password and the user's
    salt + the project's salt separator encrypts the project's signer key with AES-256-CTR
    (https://github.com/firebase/scrypt)."""
    parts = text.split("$")
    try:
        if len(parts) == 4:  # $firebase-scrypt$salt$hash: the project's parameters come with the import
            if firebase is None:
                raise HashRejected("a Firebase scrypt hash without parameters needs the project's (--firebase-scrypt)")
            params, salt, digest = firebase.params(), parts[2], parts[3]
        else:
            _, _, params, salt, digest = parts
        found = _params(params)
        ln, r, key, sep = int(found["ln"]), int(found["r"]), _b64(found["key"]), _b64(found.get("sep", ""))
        salt_bytes, hashed = _b64(salt), _b64(digest)
    except (ValueError, KeyError):
        raise HashRejected("the Firebase scrypt hash is malformed") from None
    _scrypt_bounds(ln, r, 1)
    if not key or not salt_bytes or len(hashed) != len(key):
        raise HashRejected("the Firebase scrypt hash needs a signer key, a salt and a hash as long as the key")
    return f"$firebase-scrypt$ln={ln},r={r},sep={_enc(sep)},key={_enc(key)}${_enc(salt_bytes)}${_enc(hashed)}"


def _firebase_hash(secret: bytes, salt: bytes, params: dict[str, str]) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    derived = _scrypt_key(secret, salt + _b64(params.get("sep", "")), int(params["ln"]), int(params["r"]), 1, 64)
    encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
    return encryptor.update(_b64(params["key"])) + encryptor.finalize()


def _scrypt_bounds(ln: int, r: int, p: int) -> None:
    """OpenSSL also refuses N ≥ 2^(16·r) (RFC 7914 §2: N < 2^(128·r/8))."""
    if not 1 <= ln <= 24 or not 1 <= r <= 64 or not 1 <= p <= 16 or 128 * r * (1 << ln) * p > MAX_SCRYPT_MEMORY:
        raise HashRejected(f"the scrypt parameters are out of bounds (at most {MAX_SCRYPT_MEMORY >> 20} MiB of memory)")
    if ln >= 16 * r:
        raise HashRejected("the scrypt parameters are out of bounds (N must be below 2^(16·r))")


def _scrypt_key(secret: bytes, salt: bytes, ln: int, r: int, p: int, length: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=2 * 128 * r * n * p + 1024 * 1024)


# -- encodings -----------------------------------------------------------------------------

def _fields(phc: str) -> tuple[str, dict[str, str], bytes, bytes]:
    _, algorithm, params, salt, digest = phc.split("$")
    return algorithm, _params(params), _b64(salt), _b64(digest)


def _params(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"parameter {part!r} has no value")
        out[name] = value
    return out


def _b64(text: str) -> bytes:
    """Standard Base64, padded or not, ``.`` read as ``+`` (passlib's "adapted" Base64)."""
    if not _B64.fullmatch(text):
        raise ValueError("not Base64")
    text = text.rstrip("=").replace(".", "+")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise ValueError("not Base64") from None


def _enc(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")
