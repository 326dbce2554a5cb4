"""Signing keys: generation, rotation and the published JWKS (RFC 7517).

Keys live in the database so every node signs with the same key; parsed keys are cached
in process for a short time, and a ``kid`` the cache does not know, if the database
publishes it for the pool, triggers a reload.

A user pool's keys are :class:`SigningKey` rows; the identity pools' OpenID tokens are
signed with :class:`~broker.store.models.IdentityKey` rows (:mod:`broker.identity.keys`).
Both go through one :class:`KeyCache` shape, each with its own :class:`KeyRows`.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import AppClient, SigningKey, UserPool, utcnow
from ..userpool import audit

SUPPORTED_ALGS = ("RS256", "ES256")
#: What a key id can be (``generate_key`` makes 22 of these characters; the column holds 64).
KID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Clock skew allowed to verifiers when a retired key's last tokens expire.
SKEW = 300


def new_jwk(alg: str) -> RSAKey | ECKey:
    """A fresh private key for ``alg`` (ES256: P-256; RS*: RSA 2048) with a random ``kid``."""
    params = {"kid": secrets.token_urlsafe(16), "alg": alg, "use": "sig"}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, private=True)
    return RSAKey.generate_key(2048, parameters=params, private=True)


def generate_key(session: Session, pool: UserPool) -> SigningKey:
    key = new_jwk(pool.signing_alg)
    row = SigningKey(
        kid=key.kid, pool_id=pool.id, alg=pool.signing_alg,
        private_jwk=key.as_dict(private=True), public_jwk=key.as_dict(private=False),
    )
    session.add(row)
    session.flush()
    return row


def retire(rows: Sequence[Any], now: dt.datetime, keep: int, ahead: int = 0) -> None:
    """Stop signing with ``rows`` in ``ahead`` seconds; they stay published ``keep``
    seconds longer (their last tokens' lifetime plus :data:`SKEW`)."""
    for old in rows:
        old.retired_at = now + dt.timedelta(seconds=ahead)
        old.expires_at = old.retired_at + dt.timedelta(seconds=keep)


def rotate(session: Session, pool: UserPool, now: dt.datetime | None = None) -> SigningKey:
    """Start signing with a new key; older keys stay published until their tokens expire.
    Audited as ``RotateSigningKey`` (Cognito has no such operation) with the key ids only."""
    now = now or utcnow()
    ttls = session.execute(
        select(AppClient.access_token_ttl, AppClient.id_token_ttl).where(AppClient.pool_id == pool.id)
    ).all()
    keep = max([max(a, i) for a, i in ttls] or [3600]) + SKEW
    retired = active_keys(session, pool.id)
    retire(retired, now, keep)
    new = generate_key(session, pool)
    audit.record(session, pool.id, "RotateSigningKey", audit.PASS, kid=new.kid, alg=new.alg,
                 retired_kids=[k.kid for k in retired])
    return new


def active_keys(session: Session, pool_id: str) -> list[SigningKey]:
    stmt = select(SigningKey).where(SigningKey.pool_id == pool_id, SigningKey.retired_at.is_(None))
    return list(session.scalars(stmt.order_by(SigningKey.created_at.desc())))


def published_keys(session: Session, pool_id: str, now: dt.datetime | None = None) -> list[SigningKey]:
    now = now or utcnow()
    stmt = select(SigningKey).where(SigningKey.pool_id == pool_id).order_by(SigningKey.created_at.desc())
    return [k for k in session.scalars(stmt) if k.expires_at is None or k.expires_at > now]


def is_published(session: Session, pool_id: str, kid: str) -> bool:
    """Whether ``kid`` is one of the pool's published keys: one primary-key lookup."""
    row = session.execute(select(SigningKey.expires_at).where(SigningKey.kid == kid,
                                                              SigningKey.pool_id == pool_id)).first()
    return row is not None and (row.expires_at is None or row.expires_at > utcnow())


class KeyOwner(Protocol):
    """Whose keys: a user pool, or the identity pools' one issuer."""

    id: str


class KeyRows(Protocol):
    """Where one family of keys is stored: what :class:`KeyCache` reads and, when no key
    signs yet, has generated."""

    def published(self, session: Session, owner_id: str) -> list[Any]:
        """The keys in the JWKS, newest first."""

    def is_published(self, session: Session, owner_id: str, kid: str) -> bool:
        """Whether ``kid`` is one of them (one indexed lookup)."""

    def generate(self, session: Session, owner: Any) -> Any:
        """A new signing key, flushed."""

    #: Seconds a new key is published before it signs (verifiers' caches of the JWKS must
    #: hold it first); its predecessor signs meanwhile.
    publish_ahead: int


class _PoolKeyRows:
    """A user pool's :class:`SigningKey` rows."""

    publish_ahead = 0

    def published(self, session: Session, owner_id: str) -> list[SigningKey]:
        return published_keys(session, owner_id)

    def is_published(self, session: Session, owner_id: str, kid: str) -> bool:
        return is_published(session, owner_id, kid)

    def generate(self, session: Session, owner: UserPool) -> SigningKey:
        return generate_key(session, owner)


POOL_KEY_ROWS = _PoolKeyRows()


@dataclass(frozen=True)
class PoolKeys:
    signing: RSAKey | ECKey
    alg: str
    verifying: KeySet
    jwks: dict
    kids: frozenset[str]
    loaded: float


class KeyCache:
    """Parsed keys per owner (a user pool), shared by the threads of one process; ``rows``
    says where the keys are stored (a user pool's by default)."""

    def __init__(self, ttl: float = 30, rows: KeyRows = POOL_KEY_ROWS) -> None:
        self.ttl = ttl
        self.rows = rows
        self._pools: dict[str, PoolKeys] = {}
        self._lock = threading.Lock()
        #: Moves with each :meth:`clear`: keys read before a clear are not kept after it.
        self._generation = 0

    def get(self, session: Session, pool: KeyOwner, kid: str | None = None) -> PoolKeys:
        cached = self._pools.get(pool.id)
        if cached is not None and time.monotonic() - cached.loaded < self.ttl:
            # An unknown kid may be a key another node rotated in a moment ago (this node
            # sees the configuration version move up to a second later), or made up: only
            # the first reloads the keys; a made-up one costs a primary-key lookup, if it
            # could be a key id at all (it comes from an unverified token header).
            if kid is None or kid in cached.kids or not KID.fullmatch(kid) \
                    or not self.rows.is_published(session, pool.id, kid):
                return cached
        return self._load(session, pool)

    def clear(self) -> None:
        with self._lock:
            self._pools.clear()
            self._generation += 1

    def _load(self, session: Session, pool: KeyOwner) -> PoolKeys:
        generation = self._generation
        rows = self.rows.published(session, pool.id)
        now = utcnow()
        active = [r for r in rows if r.retired_at is None or r.retired_at > now]
        if not active:
            active = [self.rows.generate(session, pool)]
            session.commit()
            rows = [*active, *rows]
        signing = _signing(active, now, self.rows.publish_ahead)
        public = [r.public_jwk for r in rows]
        keys = PoolKeys(
            signing=_import(signing.private_jwk),
            alg=signing.alg,
            verifying=KeySet.import_key_set({"keys": public}),
            jwks={"keys": public},
            kids=frozenset(r.kid for r in rows),
            loaded=time.monotonic(),
        )
        with self._lock:
            if self._generation == generation:  # else a rotation was seen meanwhile: read again next time
                self._pools[pool.id] = keys
        return keys


def _signing(active: list[Any], now: dt.datetime, ahead: int) -> Any:
    """The newest of the keys not yet retired (newest first) that has been published for
    ``ahead`` seconds, else the one published longest."""
    ready = now - dt.timedelta(seconds=ahead)
    return next((r for r in active if r.created_at <= ready), active[-1])


def _import(jwk: dict) -> RSAKey | ECKey:
    return ECKey.import_key(jwk) if jwk["kty"] == "EC" else RSAKey.import_key(jwk)
