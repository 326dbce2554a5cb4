"""Identities of identity pools, created, linked and merged as Cognito does it
(https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html and
the API reference of GetId, GetOpenIdToken, GetCredentialsForIdentity):

- without logins: a guest, if the pool allows them ("Unauthenticated access is not
  supported for this identity pool."); an identity that has logins needs one of them
  ("Logins don't match...");
- with logins: the identity they are linked to (GetId is idempotent: one identity per
  pool, provider and user), else the identity named, else a new one; a login linked to
  nobody is linked to it, and a login linked to another identity merges the two: the
  older signed-in identity survives (a guest never outlives a signed-in one), takes every
  login, and the other is disabled (``merged_into``), its id answered with the survivor's;
- an identity has one login per provider (ResourceConflictException for a second user of
  the same provider), except the developer provider's, which MergeDeveloperIdentities
  gathers; at most :data:`MAX_LOGINS` logins;
- a disabled identity answers "Access to Identity '...' is forbidden." when it was left
  without logins, or is asked for without logins; one merged into another is reached with
  a login of its survivor (whose id is answered), and otherwise answers "Logins don't
  match...", as the survivor would.

Two calls linking one new login at once both try to insert it: the unique (pool,
provider, subject) constraint lets one win, and the other runs again and finds it. The
identity named is read with its logins before the links are: a login another call links to
it meanwhile is then found among the links as well, not in its logins alone (which would
refuse the call as "Logins don't match").

    identity = resolve(session, pool, None, logins)                  # GetId
    identity = resolve(session, pool, identity_id, logins)           # GetCredentialsForIdentity
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..store.models import Identity, IdentityLogin, IdentityPool, utcnow
from .errors import LOGINS_DONT_MATCH, UNAUTHENTICATED, Refused, conflict, forbidden, identity_not_found, \
    not_authorized
from .providers import COGNITO_IDENTITY, Login

log = logging.getLogger("broker.identity")
MAX_LOGINS = 20
#: Merges followed from a disabled identity to its survivor (they are kept one deep).
MAX_HOPS = 5
ATTEMPTS = 3


def resolve(session: Session, pool: IdentityPool, identity_id: str | None, logins: list[Login], *,
            vouched: bool = False) -> Identity:
    """The identity that ``identity_id`` (or none) and the verified ``logins`` name, linked
    and merged as Cognito does. ``vouched``: the caller is the developer's backend
    (GetOpenIdTokenForDeveloperIdentity), which may link logins to the identity it names
    without one of its logins, and whose users are never merged implicitly.

    Rolls the session back when a concurrent call linked a login first: it must hold no
    other uncommitted work."""
    for attempt in range(ATTEMPTS):
        try:
            identity = _resolve(session, pool, identity_id, logins, vouched)
            session.flush()
            return identity
        except IntegrityError:
            session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
            log.info("a concurrent call linked a login of identity pool %s first: resolving again", pool.id)
    raise AssertionError("unreachable")


def find(session: Session, pool: IdentityPool, identity_id: str) -> Identity:
    """The identity ``identity_id`` of ``pool`` (ResourceNotFoundException otherwise)."""
    identity = session.get(Identity, identity_id) if isinstance(identity_id, str) else None
    if identity is None or identity.pool_id != pool.id:
        raise identity_not_found(identity_id)
    return identity


def with_pool(session: Session, identity_id: str) -> tuple[Identity, IdentityPool]:
    """The identity ``identity_id`` and its pool, for operations that name only the identity."""
    identity = session.get(Identity, identity_id) if isinstance(identity_id, str) else None
    if identity is None:
        raise identity_not_found(identity_id)
    pool = session.get(IdentityPool, identity.pool_id)
    assert pool is not None  # identities cascade with their pool
    return identity, pool


def survivor_of(session: Session, identity: Identity) -> Identity | None:
    """The live identity ``identity`` was merged into (itself when it is live); None when
    it is disabled for good."""
    seen: set[str] = set()
    while identity.merged_into is not None:
        if identity.merged_into == identity.id or identity.id in seen or len(seen) >= MAX_HOPS:
            return None
        seen.add(identity.id)
        found = session.get(Identity, identity.merged_into)
        if found is None:
            return None
        identity = found
    return identity


def new_identity(session: Session, pool: IdentityPool) -> Identity:
    region = pool.id.split(":", 1)[0]
    identity = Identity(id=f"{region}:{uuid.uuid4()}", pool_id=pool.id)
    session.add(identity)
    return identity


def disable(identity: Identity) -> None:
    """No login reaches it any more: Cognito's "the identity becomes inaccessible"."""
    identity.merged_into = identity.id
    identity.updated_at = utcnow()


def remove_links(session: Session, identity: Identity, links: list[IdentityLogin]) -> None:
    """Unlink ``links`` from ``identity`` (each login is new the next time it is seen); an
    identity left without logins is disabled."""
    for link in links:
        identity.logins.remove(link)
        session.delete(link)
    identity.updated_at = utcnow()
    if not identity.logins:
        disable(identity)
    session.flush()


def _resolve(session: Session, pool: IdentityPool, identity_id: str | None, logins: list[Login],
             vouched: bool) -> Identity:
    requested = find(session, pool, identity_id) if identity_id else None
    if not logins:
        return _guest(session, pool, requested)
    target = survivor_of(session, requested) if requested is not None else None
    if target is not None:
        len(target.logins)  # read before the links: a login linked to it meanwhile is among the links too
    linkable = [login for login in logins if login.provider != COGNITO_IDENTITY]
    links = _links(session, pool, linkable)
    owners = _owners(session, pool, links, logins)
    if requested is not None:
        if target is None:
            raise forbidden(requested.id)
        if target.logins and target.id not in owners and not vouched:
            raise not_authorized(LOGINS_DONT_MATCH)
    if vouched:
        _check_developer_links(pool, links, target)
    candidates = {**owners, **({target.id: target} if target is not None else {})}
    survivor = _survivor(list(candidates.values())) or new_identity(session, pool)
    check_links(pool, list(candidates.values()), linkable)
    for other in candidates.values():
        if other.id != survivor.id:
            merge(session, other, survivor)
    for login in linkable:
        if (login.provider, login.subject) not in links:
            survivor.logins.append(IdentityLogin(pool_id=pool.id, provider=login.provider, subject=login.subject))
            survivor.updated_at = utcnow()
    return survivor


def _guest(session: Session, pool: IdentityPool, requested: Identity | None) -> Identity:
    if requested is not None:
        if requested.merged_into is not None:
            raise forbidden(requested.id)
        if requested.logins:
            raise not_authorized(LOGINS_DONT_MATCH)
    if not pool.allow_unauthenticated:
        raise not_authorized(UNAUTHENTICATED)
    return requested or new_identity(session, pool)


def _links(session: Session, pool: IdentityPool, logins: list[Login]) -> dict[tuple[str, str], IdentityLogin]:
    if not logins:
        return {}
    keys = [(login.provider, login.subject) for login in logins]
    stmt = select(IdentityLogin).where(IdentityLogin.pool_id == pool.id,
                                       tuple_(IdentityLogin.provider, IdentityLogin.subject).in_(keys))
    return {(row.provider, row.subject): row for row in session.scalars(stmt)}


def _owners(session: Session, pool: IdentityPool, links: dict[tuple[str, str], IdentityLogin],
            logins: list[Login]) -> dict[str, Identity]:
    """The live identities the logins belong to: linked ones, and those an OpenID token
    of Cognate's was issued for (followed to their survivor)."""
    owners = {link.identity.id: link.identity for link in links.values()}
    for login in logins:
        if login.provider == COGNITO_IDENTITY:
            named = session.get(Identity, login.subject)
            live = survivor_of(session, named) if named is not None and named.pool_id == pool.id else None
            if live is None:
                raise forbidden(login.subject)
            owners[live.id] = live
    return owners


def _survivor(candidates: list[Identity]) -> Identity | None:
    """The oldest signed-in identity, else the (one) guest named."""
    ranked = sorted(candidates, key=lambda i: (not i.logins, i.created_at, i.id))
    return ranked[0] if ranked else None


def _check_developer_links(pool: IdentityPool, links: dict[tuple[str, str], IdentityLogin],
                           target: Identity | None) -> None:
    for (provider, _subject), link in links.items():
        if provider == pool.developer_provider and target is not None and link.identity_id != target.id:
            raise Refused("DeveloperUserAlreadyRegisteredException",
                          "The developer user identifier is already registered under a different identity ID.")


def check_links(pool: IdentityPool, identities: list[Identity], logins: list[Login]) -> None:
    """The logins of ``identities`` and ``logins`` can be one identity's: one user per
    provider (the developer provider's aside), at most :data:`MAX_LOGINS`."""
    held = {(link.provider, link.subject) for identity in identities for link in identity.logins}
    held |= {(login.provider, login.subject) for login in logins}
    providers = [provider for provider, _ in held if provider != pool.developer_provider]
    for provider in set(providers):
        if providers.count(provider) > 1:
            raise conflict(f"The identity would have two different logins of {provider}: "
                           "only one login per provider can be linked to an identity.")
    if len(held) > MAX_LOGINS:
        raise Refused("LimitExceededException", f"An identity has at most {MAX_LOGINS} linked logins.")


def merge(session: Session, other: Identity, survivor: Identity) -> None:
    """``other``'s logins go to ``survivor``; ``other`` (and what was merged into it) now
    points at ``survivor``."""
    for link in list(other.logins):
        link.identity = survivor
    now = utcnow()
    session.execute(update(Identity).where(Identity.merged_into == other.id)
                    .values(merged_into=survivor.id, updated_at=now))
    other.merged_into, other.updated_at, survivor.updated_at = survivor.id, now, now
