"""Users' SRP verifiers (Cognito's ``USER_SRP_AUTH``), made wherever a password is set or
proven in the clear and stored sealed in ``User.srp_verifier``.

A verifier lets whoever holds it test password guesses offline as fast as SHA-256 goes, so
it is sealed (:mod:`broker.sealing`) under a key derived from the server's secret and bound
to the user's ``sub``: a database dump alone tests nothing. A pool whose security settings
turn SRP off (``srp_enabled``) keeps none. Users who have none yet (imported with a hash, or
created before SRP) get one at their next password sign-in.

    remember(session, pool, user, password)   # after setting the password
    load(session, user)                       # Verifier, or None
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from .. import sealing
from ..engine.srp import Verifier, make_verifier, pool_name
from ..store.models import User, UserPool
from .security import Security

PURPOSE = "srp-verifier"


def remember(session: Session, pool: UserPool, user: User, password: str) -> None:
    """Make and seal ``user``'s verifier for ``password`` (the caller has set or proven it).
    In a pool with SRP off, drop any verifier instead: it would be for an older password."""
    if not Security.of(pool.security).srp_enabled:
        user.srp_verifier = None
        return
    verifier = make_verifier(pool_name(pool.id), user.username, password)
    user.srp_verifier = seal(session, PURPOSE, verifier, user.sub)


def spend(pool: UserPool, username: str, password: str) -> None:
    """The work :func:`remember` costs, storing nothing: an answer that must take as long as
    one that makes a verifier (a sign-up with a taken name) does it instead."""
    if Security.of(pool.security).srp_enabled:
        make_verifier(pool_name(pool.id), username, password)


def remember_missing(session: Session, pool: UserPool, user: User, password: str) -> None:
    """At a successful password sign-in: a verifier for a user without a usable one (none
    yet, or sealed under a server secret since replaced)."""
    if load(session, user) is None:
        remember(session, pool, user, password)


def load(session: Session, user: User) -> Verifier | None:
    """``user``'s verifier, or None when there is none or it does not open here."""
    return unseal(session, PURPOSE, user.srp_verifier, bound_to=user.sub)


def seal(session: Session, purpose: str, verifier: Verifier, bound_to: str) -> str:
    """A verifier (a user's, a tracked device's) sealed for its row."""
    return sealing.of(session).seal(purpose, verifier.dumps().encode(), bound_to=bound_to)


def unseal(session: Session, purpose: str, token: str | None, bound_to: str) -> Verifier | None:
    """The verifier :func:`seal` made, or None when there is none or it does not open here."""
    raw = sealing.of(session).unseal(purpose, token, bound_to=bound_to)
    try:
        return Verifier.loads(raw.decode()) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None
