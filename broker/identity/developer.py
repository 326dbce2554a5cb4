"""Developer-authenticated identities: the developer's backend, signed with an admin key,
names its users by an identifier of its own under the pool's DeveloperProviderName.
https://docs.aws.amazon.com/cognito/latest/developerguide/developer-authenticated-identities.html

GetOpenIdTokenForDeveloperIdentity (:func:`open_id_token`: its logins vouched for by the
signed developer, :func:`broker.identity.identities.resolve` ``vouched``),
LookupDeveloperIdentity, MergeDeveloperIdentities and UnlinkDeveloperIdentity.

    identity_id = merge_users(session, pool, "DevProvider", source="bob", destination="alice")
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..runtime import Runtime
from ..store.models import IdentityLogin, IdentityPool
from . import logins, tokens
from .errors import conflict, invalid_parameter, not_found
from .identities import check_links, find, merge, remove_links, resolve

NOT_LINKED = "The developer user identifier is not linked to an identity of this identity pool."


def open_id_token(session: Session, runtime: Runtime, pool: IdentityPool, identity_id: str | None,
                  given: dict[str, str], duration: int | None,
                  principal_tags: dict[str, str] | None) -> tuple[str, str]:
    """GetOpenIdTokenForDeveloperIdentity: the identity (named, or found or made from the
    logins) and its token, for ``duration`` seconds (TokenDuration; Cognito's default: 15
    minutes)."""
    verified = logins.developer(session, runtime, pool, given)
    identity = resolve(session, pool, identity_id, verified, vouched=True)
    return identity.id, tokens.open_id_token(session, runtime, pool, identity, verified,
                                             ttl=duration or tokens.DEVELOPER_TTL, principal_tags=principal_tags)


def require_provider(pool: IdentityPool, name: str) -> None:
    if not pool.developer_provider or name != pool.developer_provider:
        raise not_found(f"Developer provider '{name}' not found in this identity pool.")


def user_link(session: Session, pool: IdentityPool, user: str) -> IdentityLogin | None:
    stmt = select(IdentityLogin).where(IdentityLogin.pool_id == pool.id,
                                       IdentityLogin.provider == pool.developer_provider,
                                       IdentityLogin.subject == user)
    return session.scalars(stmt).first()


def lookup(session: Session, pool: IdentityPool, identity_id: str | None, user: str | None) -> tuple[str, list[str]]:
    """LookupDeveloperIdentity: the identity and all its developer user identifiers, from
    either; both given must name each other (ResourceConflictException otherwise)."""
    if not identity_id and not user:
        raise invalid_parameter("Give an IdentityId or a DeveloperUserIdentifier.")
    identity = find(session, pool, identity_id) if identity_id else None
    if user:
        link = user_link(session, pool, user)
        if link is None:
            raise not_found(NOT_LINKED)
        if identity is not None and link.identity_id != identity.id:
            raise conflict("The developer user identifier is not linked to the identity given.")
        identity = link.identity
    assert identity is not None
    users = sorted(link.subject for link in identity.logins if link.provider == pool.developer_provider)
    return identity.id, users


def merge_users(session: Session, pool: IdentityPool, provider: str, source: str, destination: str) -> str:
    """MergeDeveloperIdentities: the source user's identity joins the destination user's
    (all its logins move; it is disabled); two different users of one public provider
    cannot be merged. Answers the destination's identity id."""
    require_provider(pool, provider)
    source_link, target_link = user_link(session, pool, source), user_link(session, pool, destination)
    if source_link is None or target_link is None:
        raise not_found(NOT_LINKED)
    moving, target = source_link.identity, target_link.identity
    if moving.id == target.id:
        return target.id
    check_links(pool, [moving, target], [])
    merge(session, moving, target)
    session.flush()
    return target.id


def unlink_user(session: Session, pool: IdentityPool, identity_id: str, provider: str, user: str) -> None:
    """UnlinkDeveloperIdentity: the user is new the next time the developer names it; an
    identity left without logins becomes inaccessible."""
    require_provider(pool, provider)
    identity = find(session, pool, identity_id)
    link = user_link(session, pool, user)
    if link is None or link.identity_id != identity.id:
        raise not_found(NOT_LINKED)
    remove_links(session, identity, [link])
