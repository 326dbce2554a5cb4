"""What the admin API shows and changes of identities: DescribeIdentity, ListIdentities,
DeleteIdentities, and UnlinkIdentity (a user taking a login off their own identity).
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_ListIdentities.html

Identities are listed in id order, a page at a time from the database (a pool may hold
millions); a disabled identity (merged, or left without logins) is listed unless
``HideDisabled``.

    page, after = listed(session, pool, 60, after=None, hide_disabled=False)
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..store.models import Identity, IdentityPool
from .errors import LOGINS_DONT_MATCH, invalid_parameter, not_authorized
from .identities import remove_links, survivor_of
from .providers import Login


def describe(identity: Identity) -> dict[str, Any]:
    """Cognito's ``IdentityDescription``: the providers of its logins (never the users),
    and its dates (epoch seconds on the wire)."""
    return {"IdentityId": identity.id, "Logins": sorted({link.provider for link in identity.logins}),
            "CreationDate": identity.created_at, "LastModifiedDate": identity.updated_at}


def listed(session: Session, pool: IdentityPool, limit: int, after: str | None,
           hide_disabled: bool) -> tuple[list[Identity], str | None]:
    """A page of the pool's identities after id ``after``, and the id the next page starts
    after (None on the last page)."""
    stmt = select(Identity).where(Identity.pool_id == pool.id).options(selectinload(Identity.logins))
    if after is not None:
        stmt = stmt.where(Identity.id > after)
    if hide_disabled:
        stmt = stmt.where(Identity.merged_into.is_(None))
    rows = list(session.scalars(stmt.order_by(Identity.id).limit(limit + 1)))
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


def delete_many(session: Session, identity_ids: list[str], may_act_on: Callable[[str | None], bool]) -> list[dict]:
    """DeleteIdentities: each identity and its logins (each login is new the next time it
    is seen), if the caller ``may_act_on`` its pool. Answers Cognito's
    ``UnprocessedIdentityIds``: AccessDenied for the others, and, for a caller limited to
    some pools, for unknown ones too (it learns nothing of other pools' identities);
    otherwise an unknown identity is already gone."""
    unprocessed = []
    for identity_id in dict.fromkeys(identity_ids):
        identity = session.get(Identity, identity_id)
        if identity is not None and may_act_on(identity.pool_id):
            session.delete(identity)
            session.flush()
        elif identity is not None or not may_act_on(None):
            unprocessed.append({"IdentityId": identity_id, "ErrorCode": "AccessDenied"})
    return unprocessed


def unlink(session: Session, pool: IdentityPool, identity: Identity, logins: list[Login],
           providers: list[str]) -> None:
    """UnlinkIdentity: ``providers``' logins leave ``identity``, which ``logins`` (verified)
    must prove; without any login left it becomes inaccessible, as Cognito's does."""
    live = survivor_of(session, identity)
    linked = {(link.provider, link.subject) for link in live.logins} if live is not None else set()
    if live is None or live.id != identity.id or not any((l.provider, l.subject) in linked for l in logins):
        raise not_authorized(LOGINS_DONT_MATCH)
    if pool.developer_provider and pool.developer_provider in providers:
        raise invalid_parameter("Developer users are unlinked with UnlinkDeveloperIdentity.")
    remove_links(session, identity, [link for link in identity.logins if link.provider in providers])
