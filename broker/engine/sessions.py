"""Cognito's ``Session``: the string InitiateAuth and RespondToAuthChallenge hand to the
client with a challenge, which the client sends back with its answer. It names the
sign-in's progress in the state store, so any node can take the next call.

Each string serves one answer: taking it is atomic, so two answers sent at once cannot
both be checked, and each challenge comes with a new string. A wrong code keeps the same
string (as Cognito lets a user type the code again) until the engine ends the sign-in.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from ..store.state import Keys, StateStore

#: Cognito's AuthSessionValidity: 3 minutes by default (3 to 15).
TTL = 180
#: The longest ``Session`` Cognito's model allows.
MAX_LENGTH = 2048


def open_session(state: StateStore, progress: dict[str, Any], session: str | None = None, keep: bool = False) -> str:
    """Keep ``progress`` under a new session string (or under ``session``) for :data:`TTL`. A
    new one never starts with ``-``, which command lines (the AWS CLI's ``--session``) read as
    an option. Kept again (``keep``: a wrong code, a refused answer), it keeps its deadline:
    refused answers never extend a Session's life."""
    session = session or "s" + secrets.token_urlsafe(96)
    now = time.time()
    kept = progress.get("deadline") if keep else None
    deadline = float(kept) if isinstance(kept, (int, float)) else now + TTL
    if deadline > now:
        state.put(Keys.auth_session(session), {**progress, "deadline": deadline}, max(1, int(deadline - now + 0.999)))
    return session


def take(state: StateStore, session: str | None, pool_id: str | None = None,
         client_id: str | None = None) -> dict[str, Any] | None:
    """The progress of ``session``, once; None when it is unknown, used, expired, or a
    sign-in of another pool or client than those given (calls such as
    VerifySoftwareToken name no client: the session alone says whose sign-in it is)."""
    if not session or len(session) > MAX_LENGTH:
        return None
    progress = state.take(Keys.auth_session(session))
    if progress is None or float(progress.get("deadline", 0)) <= time.time():
        return None
    if (pool_id is not None and progress.get("pool") != pool_id) or \
            (client_id is not None and progress.get("client_id") != client_id):
        open_session(state, progress, session, keep=True)  # another client's call ends nobody's sign-in
        return None
    return progress
