"""Admin keys: the AWS-style access keys that sign calls to the admin and management API
(``broker admin-key create|list|delete``). The secret is shown once and kept sealed
(:mod:`broker.sealing`), bound to its key id: Signature Version 4 needs the secret itself
to check a signature, and a database dump alone must not give it away.

    key, secret = create(session, pools=["local_Ab12Cd34E"], description="backend")
    secret_of(session, key)      # to check a signature
"""
from __future__ import annotations

import logging
import secrets
import string

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import sealing
from ..errors import InvalidInput, NotFound
from ..store.models import AdminKey, IdentityPool, UserPool, utcnow

log = logging.getLogger("broker.audit")  # keys belong to no pool: logged, not in a pool's audit table
PURPOSE = "admin-key"
#: AWS's access key ids are 20 upper-case letters and digits; Cognate's start with "CGNT".
ID_PREFIX = "CGNT"
ID_ALPHABET = string.ascii_uppercase + "234567"


def create(session: Session, pools: list[str], description: str | None = None) -> tuple[AdminKey, str]:
    """A new key for ``pools`` (user pools or identity pools; none: every pool) and its
    secret, to show once."""
    for pool_id in pools:
        if session.get(UserPool, pool_id) is None and session.get(IdentityPool, pool_id) is None:
            raise InvalidInput(f"no user pool or identity pool {pool_id}")
    if description is not None and len(description) > 256:
        raise InvalidInput("the description is longer than 256 characters")
    key_id = ID_PREFIX + "".join(secrets.choice(ID_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)
    key = AdminKey(id=key_id, secret_sealed=sealing.of(session).seal(PURPOSE, secret.encode(), bound_to=key_id),
                   description=description, pools=sorted(set(pools)))
    session.add(key)
    log.info("CreateAdminKey %s for %s", key_id, ", ".join(key.pools) or "every pool")
    return key, secret


def find(session: Session, key_id: str) -> AdminKey | None:
    return session.get(AdminKey, key_id) if 0 < len(key_id) <= 32 else None


def secret_of(session: Session, key: AdminKey) -> str | None:
    """The key's secret, or None when it was sealed under another server secret."""
    raw = sealing.of(session).unseal(PURPOSE, key.secret_sealed, bound_to=key.id)
    return raw.decode() if raw is not None else None


def listed(session: Session) -> list[AdminKey]:
    return list(session.scalars(select(AdminKey).order_by(AdminKey.created_at, AdminKey.id)))


def delete(session: Session, key_id: str) -> None:
    key = find(session, key_id)
    if key is None:
        raise NotFound(f"no admin key {key_id}")
    session.delete(key)
    log.info("DeleteAdminKey %s", key_id)


def allows(key: AdminKey, pool_id: str | None) -> bool:
    """Whether ``key`` may act on ``pool_id`` (None: on no one pool, such as creating one)."""
    return not key.pools or (pool_id is not None and pool_id in key.pools)


def used(key: AdminKey) -> None:
    key.last_used_at = utcnow()


def describe(key: AdminKey) -> dict[str, object]:
    return {"AccessKeyId": key.id, "Description": key.description, "UserPoolIds": key.pools,
            "CreationDate": key.created_at.isoformat(),
            "LastUsedDate": key.last_used_at.isoformat() if key.last_used_at else None}
