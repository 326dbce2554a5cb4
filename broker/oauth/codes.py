"""Authorization codes (RFC 6749 §4.1.2): random, hashed in the state store, 5 minutes,
consumed atomically. A consumed code leaves a tombstone, so that a second use is recognised
and revokes what the first one issued (§10.5); the ``origin_jti`` of those tokens is derived
from the code itself, so the tombstone needs to carry nothing.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import asdict, dataclass, fields

from ..store import repo
from ..store.state import Keys, StateStore


@dataclass(frozen=True)
class CodeRecord:
    client_id: str
    redirect_uri: str
    scope: str
    user_id: int
    auth_time: int
    origin_jti: str
    event_id: str
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    amr: tuple[str, ...] = ()
    #: The user's ``session_epoch`` at the sign-in: a sign-out everywhere since voids the code.
    epoch: int = 0
    #: The user's ``sub``: a user id freed by a deletion and taken again is not this user.
    sub: str | None = None
    #: The hosted sign-in session's id, the ID token's ``sid`` (Back-Channel Logout 1.0 §2.1).
    sid: str | None = None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


def origin_jti_of(code: str) -> str:
    return str(uuid.UUID(hex=repo.sha256("origin:" + code)[:32], version=4))


def issue(state: StateStore, pool_id: str, ttl: int, **fields: object) -> str:
    code = secrets.token_urlsafe(32)
    record = CodeRecord(origin_jti=origin_jti_of(code), event_id=str(uuid.uuid4()), **fields)  # type: ignore[arg-type]
    state.put(Keys.code(pool_id, repo.sha256(code)), asdict(record), ttl)
    return code


@dataclass(frozen=True)
class Reused:
    """A code presented again: what it issued must be revoked."""

    origin_jti: str


def consume(state: StateStore, pool_id: str, code: str) -> CodeRecord | Reused | None:
    """The code's record the first time, :class:`Reused` afterwards, None if unknown."""
    if not code or len(code) > 128:
        return None
    old = state.swap(Keys.code(pool_id, repo.sha256(code)), {"used": True})
    if old is None:
        return None
    if old.get("used"):
        return Reused(origin_jti_of(code))
    return _record(old)


def peek(state: StateStore, pool_id: str, code: str) -> CodeRecord | None:
    """The record of a code not used yet, leaving it so (None for any other code)."""
    if not code or len(code) > 128:
        return None
    stored = state.get(Keys.code(pool_id, repo.sha256(code)))
    return None if stored is None or stored.get("used") else _record(stored)


def _record(stored: dict) -> CodeRecord:
    known = {f.name for f in fields(CodeRecord)} - {"amr"}  # a newer node's record may hold more
    return CodeRecord(**{k: v for k, v in stored.items() if k in known}, amr=tuple(stored.get("amr", ())))
