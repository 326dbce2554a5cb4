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


def consume(state: StateStore, pool_id: str, purpose: str, username: str, code: str, ttl: int) -> bool:
    """True once for the right code; after MAX_TRIES wrong codes the code is dead."""
    tries = state.incr(Keys.otp(pool_id, purpose + "-tries", username), ttl)
    key = Keys.otp(pool_id, purpose, username)
    record = state.get(key)
    if record is None or tries > MAX_TRIES or not code.isdigit() or len(code) != 6:
        return False
    if not hmac.compare_digest(record["h"], _digest(pool_id, username, code)):
        return False
    if state.swap(key, {"h": ""}) != record:
        return False
    state.delete(key)
    return True
