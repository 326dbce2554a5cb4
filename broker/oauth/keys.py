"""Signing keys: generation, rotation and the published JWKS (RFC 7517).

Keys live in the database so every node signs with the same key; parsed keys are cached
in process for a short time, and a ``kid`` the cache does not know, if the database
publishes it for the pool, triggers a reload.

A user pool's keys are :class:`SigningKey` rows; the identity pools' OpenID tokens are
signed with :class:`~broker.store.models.IdentityKey` rows (:mod:`broker.identity.keys`).
One :class:`KeyRows` reads, generates and retires either family, and one :class:`KeyCache`
shape keeps each parsed.
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
from .signer import Signer

SUPPORTED_ALGS = ("RS256", "ES256")
#: What a key id can be (``new_jwk`` makes 22 of these characters; the column holds 64).
KID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Clock skew allowed to verifiers when a retired key's last tokens expire.
SKEW = 300


def new_jwk(alg: str) -> RSAKey | ECKey:
    """A fresh private key for ``alg`` (ES256: P-256; RS*: RSA 2048) with a random ``kid``."""
    params = {"kid": secrets.token_urlsafe(16), "alg": alg, "use": "sig"}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, private=True)
    return RSAKey.generate_key(2048, parameters=params, private=True)


class KeyRows:
    """Where one family of keys is stored, and what :class:`KeyCache` reads of it: a user
    pool's :class:`SigningKey` rows (``owner_column`` ``pool_id``, the pool's algorithm) or
    the identities' :class:`~broker.store.models.IdentityKey` rows (one family, RS512). A
    new key of a family with ``publish_ahead`` is published that many seconds before it
    signs (its predecessor signs meanwhile)."""

    def __init__(self, model: Any, owner_column: str | None, alg: str | None = None, publish_ahead: int = 0) -> None:
        self.model, self.owner_column, self.alg, self.publish_ahead = model, owner_column, alg, publish_ahead

    def _owned(self, stmt: Any, owner_id: str | None) -> Any:
        return stmt.where(getattr(self.model, self.owner_column) == owner_id) if self.owner_column else stmt

    def active(self, session: Session, owner_id: str | None) -> list[Any]:
        """The keys not retired, newest first."""
        stmt = self._owned(select(self.model).where(self.model.retired_at.is_(None)), owner_id)
        return list(session.scalars(stmt.order_by(self.model.created_at.desc())))

    def published(self, session: Session, owner_id: str | None, now: dt.datetime | None = None) -> list[Any]:
        """The keys in the JWKS, newest first."""
        now = now or utcnow()
        stmt = self._owned(select(self.model), owner_id).order_by(self.model.created_at.desc())
        return [k for k in session.scalars(stmt) if k.expires_at is None or k.expires_at > now]

    def is_published(self, session: Session, owner_id: str | None, kid: str) -> bool:
        """Whether ``kid`` is one of them: one primary-key lookup."""
        row = session.execute(self._owned(select(self.model.expires_at).where(self.model.kid == kid), owner_id)).first()
        return row is not None and (row.expires_at is None or row.expires_at > utcnow())

    def generate(self, session: Session, owner: Any) -> Any:
        """A new key of ``owner``'s (its algorithm: the family's or the pool's), flushed."""
        alg = self.alg or owner.signing_alg
        key = new_jwk(alg)
        fields = {"kid": key.kid, "alg": alg, "private_jwk": key.as_dict(private=True),
                  "public_jwk": key.as_dict(private=False)}
        row = self.model(**fields, **({self.owner_column: owner.id} if self.owner_column else {}))
        session.add(row)
        session.flush()
        return row


#: A user pool's keys.
POOL_KEY_ROWS = KeyRows(SigningKey, "pool_id")


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
    retired = POOL_KEY_ROWS.active(session, pool.id)
    retire(retired, now, keep)
    new = POOL_KEY_ROWS.generate(session, pool)
    audit.record(session, pool.id, "RotateSigningKey", audit.PASS, kid=new.kid, alg=new.alg,
                 retired_kids=[k.kid for k in retired])
    return new


class KeyOwner(Protocol):
    """Whose keys: a user pool, or the identity pools' one issuer."""

    id: str


@dataclass(frozen=True)
class ParsedKeys:
    signing: RSAKey | ECKey
    alg: str
    #: Signs with ``signing`` (:mod:`.signer`: its header and key object prepared once).
    signer: Signer
    verifying: KeySet
    jwks: dict
    kids: frozenset[str]
    loaded: float


class KeyCache:
    """Parsed keys per owner (a user pool, the identities' issuer), shared by the threads of
    one process; ``rows`` says where the keys are stored (a user pool's by default)."""

    def __init__(self, ttl: float = 30, rows: KeyRows = POOL_KEY_ROWS) -> None:
        self.ttl = ttl
        self.rows = rows
        self._owners: dict[str, ParsedKeys] = {}
        self._lock = threading.Lock()
        #: Moves with each :meth:`clear`: keys read before a clear are not kept after it.
        self._generation = 0

    def get(self, session: Session, owner: KeyOwner, kid: str | None = None) -> ParsedKeys:
        cached = self._owners.get(owner.id)
        if cached is not None and time.monotonic() - cached.loaded < self.ttl:
            # An unknown kid may be a key another node rotated in a moment ago (this node
            # sees the configuration version move up to a second later), or made up: only
            # the first reloads the keys; a made-up one costs a primary-key lookup, if it
            # could be a key id at all (it comes from an unverified token header).
            if kid is None or kid in cached.kids or not KID.fullmatch(kid) \
                    or not self.rows.is_published(session, owner.id, kid):
                return cached
        return self._load(session, owner)

    def clear(self) -> None:
        with self._lock:
            self._owners.clear()
            self._generation += 1

    def _load(self, session: Session, owner: KeyOwner) -> ParsedKeys:
        generation = self._generation
        rows = self.rows.published(session, owner.id)
        now = utcnow()
        active = [r for r in rows if r.retired_at is None or r.retired_at > now]
        if not active:
            active = [self.rows.generate(session, owner)]
            session.commit()
            rows = [*active, *rows]
        signing = _signing(active, now, self.rows.publish_ahead)
        public = [r.public_jwk for r in rows]
        private = _import(signing.private_jwk)
        keys = ParsedKeys(
            signing=private,
            alg=signing.alg,
            signer=Signer(private, signing.alg),
            verifying=KeySet.import_key_set({"keys": public}),
            jwks={"keys": public},
            kids=frozenset(r.kid for r in rows),
            loaded=time.monotonic(),
        )
        with self._lock:
            if self._generation == generation:  # else a rotation was seen meanwhile: read again next time
                self._owners[owner.id] = keys
        return keys


def _signing(active: list[Any], now: dt.datetime, ahead: int) -> Any:
    """The newest of the keys not yet retired (newest first) that has been published for
    ``ahead`` seconds, else the one published longest."""
    ready = now - dt.timedelta(seconds=ahead)
    return next((r for r in active if r.created_at <= ready), active[-1])


def _import(jwk: dict) -> RSAKey | ECKey:
    return ECKey.import_key(jwk) if jwk["kty"] == "EC" else RSAKey.import_key(jwk)
