"""Six-digit one-time codes (sign-up confirmation, password reset), kept hashed in the
state store, consumed once, with a bounded number of tries.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from ..store.state import Keys, StateStore

MAX_TRIES = 5


def _digest(pool_id: str, username: str, code: str) -> str:
    return hashlib.sha256(f"{pool_id}:{username}:{code}".encode()).hexdigest()


def issue(state: StateStore, pool_id: str, purpose: str, username: str, ttl: int) -> str:
    code = f"{secrets.randbelow(10**6):06d}"
    state.put(Keys.otp(pool_id, purpose, username), {"h": _digest(pool_id, username, code)}, ttl)
    state.delete(Keys.otp(pool_id, purpose + "-tries", username))
    return code


def check(state: StateStore, pool_id: str, purpose: str, username: str, code: str, ttl: int) -> bool:
    """True for the live code, without using it up (a step that may still refuse, such as
    password history, runs between ``check`` and :func:`redeem`). Counts as a try."""
    tries = state.incr(Keys.otp(pool_id, purpose + "-tries", username), ttl)
    record = state.get(Keys.otp(pool_id, purpose, username))
    if record is None or tries > MAX_TRIES or not code.isdigit() or len(code) != 6:
        return False
    return hmac.compare_digest(record["h"], _digest(pool_id, username, code))


def redeem(state: StateStore, pool_id: str, purpose: str, username: str, code: str) -> bool:
    """Use up a code :func:`check` accepted: atomically, so two requests never both succeed."""
    key = Keys.otp(pool_id, purpose, username)
    if state.swap(key, {"h": ""}) != {"h": _digest(pool_id, username, code)}:
        return False
    state.delete(key)
    return True


def consume(state: StateStore, pool_id: str, purpose: str, username: str, code: str, ttl: int) -> bool:
    """True once for the right code; after MAX_TRIES wrong codes the code is dead."""
    return check(state, pool_id, purpose, username, code, ttl) and redeem(state, pool_id, purpose, username, code)
