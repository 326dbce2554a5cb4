"""Cognito's SRP-6a (``USER_SRP_AUTH``, the ``PASSWORD_VERIFIER`` challenge), server side.

The protocol is SRP-6a (RFC 2945, RFC 5054 §2.5-2.6) over the 3072-bit group of RFC 5054
Appendix A with g = 2, in the encoding Cognito's clients fix (amazon-cognito-identity-js
``src/AuthenticationHelper.js``, Amplify v6 ``packages/auth/src/providers/cognito/utils/srp/``,
pycognito ``aws_srp.py``):

- Every number hashed is written as the clients' ``padHex``: big-endian hex, a ``0`` in front
  to an even length, then ``00`` in front of a first byte whose high bit is set (a positive
  two's-complement integer). So PAD(N) is 385 bytes and PAD(g) one byte, not RFC 5054's
  padding to the length of N.
- k = H(PAD(N) | PAD(g)); x = H(PAD(salt) | H(poolName | username | ":" | password)); v = g^x.
- B = k·v + g^b; u = H(PAD(A) | PAD(B)); S = (A·v^u)^b; K = HKDF-SHA256 (RFC 5869) of PAD(S)
  with salt PAD(u) and info "Caldera Derived Key", 16 bytes.
- ``PASSWORD_CLAIM_SIGNATURE`` = base64(HMAC-SHA256(K, poolName | username | SECRET_BLOCK
  bytes | TIMESTAMP)), poolName being the pool id after its ``_`` and username the
  ``USER_ID_FOR_SRP`` the server sent.

    verifier = make_verifier("Ab12Cd34E", "alice", password)       # at sign-up
    state, srp_b, salt = challenge(verifier)                        # InitiateAuth
    verify(state, "Ab12Cd34E", "alice", srp_a, block, timestamp, signature, now)  # the answer
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: RFC 5054 Appendix A, the 3072-bit group.
N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2
INFO = b"Caldera Derived Key"
#: Cognito's salts are 16 random bytes; b has 256 bits, RFC 5054 §2.5.4's minimum.
SALT_BYTES = 16
EXPONENT_BITS = 256
#: Longest SRP_A taken, in hex digits: A < N has 768; a longer one only costs time.
MAX_A_HEX = 1024
#: How far TIMESTAMP may be from the server's clock, either way (see :func:`check_timestamp`).
MAX_SKEW = dt.timedelta(minutes=5)
#: The form Cognito names when it refuses a TIMESTAMP (Java's SimpleDateFormat pattern).
TIMESTAMP_FORMAT = "EEE MMM d HH:mm:ss z yyyy"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIMESTAMP = re.compile(r"([A-Z][a-z]{2}) ([A-Z][a-z]{2}) (\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2}) UTC (\d{4})")
_HEX = re.compile(r"[0-9a-fA-F]+")
_FORMAT = "srp1"


class SrpError(Exception):
    """An SRP answer refused before its proof is weighed."""


class InvalidSrpA(SrpError):
    """SRP_A is no hex number, too long, or ≡ 0 mod N (RFC 5054 §2.5.4: the host aborts)."""


class InvalidTimestamp(SrpError):
    """TIMESTAMP is not in Cognito's form (Cognito: InvalidParameterException)."""

    def __init__(self) -> None:
        super().__init__(f"TIMESTAMP format should be {TIMESTAMP_FORMAT} in english.")


class StaleTimestamp(SrpError):
    """TIMESTAMP is more than :data:`MAX_SKEW` away from the server's clock."""


def pad_hex(value: int) -> str:
    """The clients' ``padHex``: even-length hex, ``00`` first when the high bit is set."""
    text = format(value, "x")
    if len(text) % 2:
        return "0" + text
    return "00" + text if text[0] in "89abcdef" else text


def _pad(value: int) -> bytes:
    return bytes.fromhex(pad_hex(value))


def _hash_int(data: bytes) -> int:
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


K = _hash_int(_pad(N) + _pad(G))


def pool_name(pool_id: str) -> str:
    """The part of a pool id the clients put in x and in the signature: after the ``_``
    (they take ``poolId.split('_')[1]``; Cognate's ids have a single ``_``)."""
    return pool_id.partition("_")[2]


@dataclass(frozen=True)
class Verifier:
    """What the server keeps of a password: the salt (hex, in the ``padHex`` form it is
    sent as ``SALT``) and v = g^x mod N. Serialised as ``srp1.<salt hex>.<v hex>``."""

    salt: str
    verifier: int

    def dumps(self) -> str:
        return f"{_FORMAT}.{self.salt}.{self.verifier:x}"

    @classmethod
    def loads(cls, text: str) -> Verifier:
        """The verifier :meth:`dumps` wrote; ValueError for anything else."""
        form, _, rest = text.partition(".")
        salt, _, value = rest.partition(".")
        if form != _FORMAT or not _HEX.fullmatch(salt) or not _HEX.fullmatch(value) or len(salt + value) > MAX_A_HEX:
            raise ValueError("not an SRP verifier")
        if pad_hex(int(salt, 16)) != salt or not 0 < int(value, 16) < N:
            raise ValueError("not an SRP verifier")
        return cls(salt, int(value, 16))


def _x(salt: str, pool: str, username: str, password: str) -> int:
    """x = H(PAD(salt) | H(poolName | username | ":" | password)), as the clients hash it."""
    inner = hashlib.sha256(f"{pool}{username}:{password}".encode()).digest()
    return _hash_int(bytes.fromhex(salt) + inner)


def make_verifier(pool_name: str, username: str, password: str) -> Verifier:
    """A new verifier for ``password`` with a fresh 16-byte salt (RFC 5054 §2.4)."""
    salt = pad_hex(int.from_bytes(secrets.token_bytes(SALT_BYTES), "big"))
    return Verifier(salt, pow(G, _x(salt, pool_name, username, password), N))


def decoy_verifier(key: bytes, pool_name: str, username: str) -> Verifier:
    """A verifier no password opens, for a name without one: the same salt at every try
    (as a real user's), derived from ``key`` (a server secret), so that SALT does not tell
    which names exist. B = k·v + g^b looks alike for any v."""
    seed = hmac.new(key, f"srp-decoy\0{pool_name}\0{username}".encode(), hashlib.sha256).digest()
    salt = pad_hex(int.from_bytes(seed[:SALT_BYTES], "big"))
    value = int.from_bytes(hashlib.shake_256(seed).digest(len(_pad(N)) + 16), "big") % N
    return Verifier(salt, value or 1)


@dataclass(frozen=True)
class ServerState:
    """What the server holds between InitiateAuth and the PASSWORD_VERIFIER answer: b, B
    and v. It reveals v (v = (B - g^b)/k): keep it no longer, and no less secret, than the
    challenge needs. Serialised as ``{"b": hex, "B": hex, "v": hex}``."""

    b: int
    big_b: int
    verifier: int

    def as_dict(self) -> dict[str, str]:
        return {"b": format(self.b, "x"), "B": format(self.big_b, "x"), "v": format(self.verifier, "x")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerState:
        """The state :meth:`as_dict` wrote; ValueError for anything else."""
        values = [data.get(name) if isinstance(data, dict) else None for name in ("b", "B", "v")]
        if not all(isinstance(v, str) and _HEX.fullmatch(v) and len(v) <= MAX_A_HEX for v in values):
            raise ValueError("not an SRP server state")
        b, big_b, verifier = (int(v, 16) for v in values)  # type: ignore[arg-type]
        if not (b and 0 < big_b < N and 0 < verifier < N):
            raise ValueError("not an SRP server state")
        return cls(b, big_b, verifier)


def challenge(verifier: Verifier) -> tuple[ServerState, str, str]:
    """The server's first step (RFC 5054 §2.5.3): b, B = (k·v + g^b) mod N; returns the
    state to keep and the challenge's ``SRP_B`` and ``SALT`` (hex)."""
    while True:
        b = secrets.randbits(EXPONENT_BITS)
        big_b = (K * verifier.verifier + pow(G, b, N)) % N
        if b > 1 and big_b:
            return ServerState(b, big_b, verifier.verifier), format(big_b, "x"), verifier.salt


def new_secret_block() -> str:
    """A ``SECRET_BLOCK``: random bytes (base64) the answer must sign; the caller binds it
    to the sign-in it issued it for."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def parse_srp_a(srp_a_hex: str) -> int:
    """A, or :class:`InvalidSrpA` when it is no hex number, too long, or ≡ 0 mod N. Worth
    calling when SRP_A arrives (InitiateAuth), before a challenge is spent on it."""
    if not isinstance(srp_a_hex, str) or len(srp_a_hex) > MAX_A_HEX or not _HEX.fullmatch(srp_a_hex):
        raise InvalidSrpA("SRP_A is not a hexadecimal number")
    value = int(srp_a_hex, 16)
    if value % N == 0:
        raise InvalidSrpA("SRP_A mod N is 0")
    return value


def parse_timestamp(text: str) -> dt.datetime:
    """The instant a TIMESTAMP names (``EEE MMM d HH:mm:ss UTC yyyy``), or :class:`InvalidTimestamp`.

    Read leniently, as Java reads its pattern: a zero-padded day or hour is read, and the
    weekday only has to be a weekday's name. What is signed is the canonical form
    (:func:`format_timestamp`), so ``Sep 05`` or a wrong weekday fail the signature, as on
    Cognito (which answers both with NotAuthorizedException, and an unreadable TIMESTAMP
    with InvalidParameterException)."""
    match = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None or match[1] not in WEEKDAYS or match[2] not in MONTHS:
        raise InvalidTimestamp()
    day, hour, minute, second, year = (int(match[i]) for i in (3, 4, 5, 6, 7))
    try:
        return dt.datetime(year, MONTHS.index(match[2]) + 1, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except ValueError:
        raise InvalidTimestamp() from None


def format_timestamp(when: dt.datetime) -> str:
    """Cognito's TIMESTAMP, as the JS clients and pycognito write it: ``Tue Sep 5 08:07:06 UTC 2026``."""
    when = when.astimezone(dt.timezone.utc)
    return f"{WEEKDAYS[when.weekday()]} {MONTHS[when.month - 1]} {when.day} {when:%H:%M:%S} UTC {when.year}"


def check_timestamp(text: str, now: dt.datetime) -> dt.datetime:
    """The instant of a TIMESTAMP within :data:`MAX_SKEW` of ``now``.

    Cognito documents no window; clients sign their own clock's time, and sign-ins are
    reported to fail once a device's clock is more than about five minutes off, the
    tolerance AWS gives SigV4 requests too. Replay within the window is stopped by the
    SECRET_BLOCK, which is good for one answer."""
    when = parse_timestamp(text)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    if abs(now - when) > MAX_SKEW:
        raise StaleTimestamp(f"TIMESTAMP is more than {MAX_SKEW.seconds // 60} minutes from the server's time")
    return when


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None


def session_key(state: ServerState, big_a: int) -> bytes | None:
    """K (16 bytes), or None when u = 0 (RFC 5054 §2.6: the host aborts)."""
    u = _hash_int(_pad(big_a) + _pad(state.big_b))
    if u == 0:
        return None
    s = pow(big_a * pow(state.verifier, u, N) % N, state.b, N)
    return HKDF(algorithm=hashes.SHA256(), length=16, salt=_pad(u), info=INFO).derive(_pad(s))


def verify(state: ServerState, pool_name: str, username: str, srp_a_hex: str, secret_block_b64: str,
           timestamp: str, signature_b64: str, now: dt.datetime) -> bool:
    """Whether ``signature_b64`` (PASSWORD_CLAIM_SIGNATURE) proves the password.

    ``secret_block_b64`` is the SECRET_BLOCK the server issued with this challenge (not the
    client's copy); ``username`` the USER_ID_FOR_SRP it sent. Raises :class:`InvalidSrpA`,
    :class:`InvalidTimestamp` or :class:`StaleTimestamp` before any arithmetic."""
    big_a = parse_srp_a(srp_a_hex)
    when = check_timestamp(timestamp, now)
    block, signature = _b64(secret_block_b64), _b64(signature_b64)
    if block is None or signature is None:
        return False
    key = session_key(state, big_a)
    if key is None:
        return False
    message = b"".join((pool_name.encode(), username.encode(), block, format_timestamp(when).encode()))
    return hmac.compare_digest(hmac.new(key, message, hashlib.sha256).digest(), signature)
