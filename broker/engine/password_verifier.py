"""USER_SRP_AUTH: the password proven by Cognito's SRP-6a (:mod:`.srp`) instead of sent.

InitiateAuth brings ``SRP_A``; the engine answers the PASSWORD_VERIFIER challenge
(``SALT``, ``SRP_B``, ``SECRET_BLOCK``); the answer's ``PASSWORD_CLAIM_SIGNATURE`` proves
the password. The proof is checked inside :func:`broker.userpool.signin.authenticate`, so
it is counted, throttled, locked out, weighed for risk and audited exactly as a password
is. Names without a verifier (unknown, or imported with a hash and not yet signed in by
password) get a decoy challenge that no answer passes, so the challenge does not tell
which names exist.

The client echoes ``SECRET_BLOCK`` back, and some clients (pycognito) send no ``Session``
with their answer: the block, random and good for one answer, names the sign-in's state.
The state holds b and v, so it is sealed while it waits (:mod:`broker.sealing`).
"""
from __future__ import annotations

import json
from typing import Any

from .. import sealing
from ..store import repo
from ..store.models import User, canonical_username, utcnow
from ..triggers import authentication, invoke
from ..triggers.settings import PRE_AUTHENTICATION
from ..userpool import srp_verifiers
from ..userpool.security import Security
from ..userpool.signin import MAX_FIELD, authenticate
from . import srp
from .challenges import PASSWORD_VERIFIER, Challenge, Step
from .signin import Env, after_password, proven

STATE_PURPOSE = "srp-state"
DECOY_PURPOSE = "srp-decoy"
#: What the PASSWORD_VERIFIER step keeps besides what the sign-in started with.
SRP_KEYS = ("step", "username", "srp", "srp_a", "block")


class SrpDisabled(Exception):
    """The pool has SRP turned off (``broker pool update --no-srp``)."""


def start(env: Env, progress: dict[str, Any], username: str, srp_a: str) -> Challenge:
    """The PASSWORD_VERIFIER challenge for ``username``'s SRP_A (:class:`srp.InvalidSrpA`
    when A is no number or ≡ 0 mod N; :class:`SrpDisabled` when the pool turned SRP off),
    once the pool's PreAuthentication let the sign-in start (Cognito runs it here, at
    InitiateAuth). A name the pool lacks is never migrated: its password never comes."""
    check_srp(env, srp_a)
    name, user = find(env, username)
    with authentication.initiating() as validation:
        gate(env, name, user, validation)
    return challenge(env, progress, name, user, srp_a)


def gate(env: Env, name: str, user: User | None, validation: dict[str, str]) -> None:
    """PreAuthentication before the password comes: it runs unless earlier failures of the
    name or the address must be waited out first (:meth:`Throttle.check`, which counts
    nothing), so a handler is called no more often than passwords are checked."""
    if not invoke.configured(env.pool, PRE_AUTHENTICATION):
        return
    if env.throttle is not None:
        env.throttle.check(env.pool.id, name or "-", env.context.ip)
    authentication.pre_authentication(env.db, env.pool, name, user, validation)


def check_srp(env: Env, srp_a: str) -> None:
    if not Security.of(env.pool.security).srp_enabled:
        raise SrpDisabled()
    srp.parse_srp_a(srp_a)


def find(env: Env, username: str) -> tuple[str, User | None]:
    """The canonical form of ``username``, and its user (None when the pool has none)."""
    name = canonical_username(username)
    return name, repo.get_user(env.db, env.pool.id, name) if 0 < len(name) <= MAX_FIELD else None


def challenge(env: Env, progress: dict[str, Any], name: str, user: User | None, srp_a: str) -> Challenge:
    """PASSWORD_VERIFIER for ``user`` (a decoy that no answer passes for a name without a
    verifier), waiting with ``progress``."""
    verifier = srp_verifiers.load(env.db, user) if user is not None else None
    sealer, pool_name = sealing.of(env.db), srp.pool_name(env.pool.id)
    if verifier is None:
        verifier = srp.decoy_verifier(sealer.mac(DECOY_PURPOSE, b"key"), pool_name, name)
    state, big_b, salt = srp.challenge(verifier)
    block = srp.new_secret_block()
    sealed = sealer.seal(STATE_PURPOSE, json.dumps(state.as_dict()).encode(), bound_to=block)
    waiting = {**progress, "step": PASSWORD_VERIFIER, "username": name, "srp": sealed, "srp_a": srp_a,
               "block": block}
    return Challenge(PASSWORD_VERIFIER, waiting,
                     {"SALT": salt, "SRP_B": big_b, "SECRET_BLOCK": block, "USERNAME": name, "USER_ID_FOR_SRP": name})


def answer(env: Env, progress: dict[str, Any], timestamp: str, signature: str) -> Step:
    """The PASSWORD_VERIFIER answer: :class:`srp.StaleTimestamp` or
    :class:`srp.InvalidTimestamp` before anything is counted, :class:`SignInFailed` when the
    signature does not prove the password, else the next step as after a password."""
    name, block = progress["username"], progress["block"]
    now = utcnow()
    srp.check_timestamp(timestamp, now)
    raw = sealing.of(env.db).unseal(STATE_PURPOSE, progress.get("srp"), bound_to=block)
    state = srp.ServerState.from_dict(json.loads(raw)) if raw else None
    pool_name = srp.pool_name(env.pool.id)

    def proof(user: object) -> bool:
        matches = state is not None and srp.verify(state, pool_name, name, progress["srp_a"], block, timestamp,
                                                   signature, now)
        return matches and user is not None

    assert env.throttle is not None
    signed = authenticate(env.db, env.throttle, env.pool, name, "", env.context.ip, env.context, env.sender,
                          proof=proof)
    env.db.commit()
    # the proof's SRP_A stays: a client answering DEVICE_SRP_AUTH without its Session is known by it
    started = {k: v for k, v in progress.items() if k not in SRP_KEYS} | {"password_srp_a": progress["srp_a"]}
    # (a CUSTOM_AUTH that began with SRP goes on with its triggers once the factors are done:
    # :func:`broker.engine.signin.signed_in`)
    return after_password(env, proven(started, signed.user, signed), signed.user)
