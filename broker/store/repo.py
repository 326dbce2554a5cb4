"""Queries over the durable store. Views and services call these, never raw SQL."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload, selectinload

from .models import (AppClient, Device, Group, IdentityProvider, RefreshToken, ResourceServer, RevokedOrigin, User,
                     UserGroup, UserPool, canonical_username, utcnow)


def sha256(value: str) -> str:
    """Digest of a high-entropy secret (client secrets, refresh tokens, codes)."""
    return hashlib.sha256(value.encode()).hexdigest()


def _storable(*keys: str) -> bool:
    """PostgreSQL text cannot hold NUL: a key with one names nothing, and must not reach
    the driver (it raises, which would answer hostile input with a 500)."""
    return not any("\x00" in key for key in keys)


def get_pool(session: Session, pool_id: str) -> UserPool | None:
    return session.get(UserPool, pool_id) if _storable(pool_id) else None


def list_pools(session: Session) -> list[UserPool]:
    return list(session.scalars(select(UserPool).order_by(UserPool.created_at, UserPool.id)))


def get_client(session: Session, pool_id: str, client_id: str) -> AppClient | None:
    client = session.get(AppClient, client_id) if _storable(client_id) else None
    return client if client is not None and client.pool_id == pool_id else None


def list_clients(session: Session, pool_id: str) -> list[AppClient]:
    stmt = select(AppClient).where(AppClient.pool_id == pool_id).order_by(AppClient.created_at, AppClient.id)
    return list(session.scalars(stmt))


def get_user(session: Session, pool_id: str, username: str) -> User | None:
    """By username, in its canonical form (case and width folded, see :func:`canonical_username`)."""
    if not _storable(pool_id, username):
        return None
    stmt = select(User).where(User.pool_id == pool_id, User.username == canonical_username(username))
    return session.scalars(stmt).first()


def get_user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_sub(session: Session, pool_id: str, sub: str) -> User | None:
    if not _storable(pool_id, sub):
        return None
    return session.scalars(select(User).where(User.pool_id == pool_id, User.sub == sub)).first()


def list_users(session: Session, pool_id: str) -> list[User]:
    stmt = select(User).where(User.pool_id == pool_id).order_by(User.id).options(selectinload(User.groups))
    return list(session.scalars(stmt))


def page(session: Session, stmt: Select[Any], key: InstrumentedAttribute[int], after: int | None = None,
         limit: int | None = None, newest_first: bool = False) -> list[Any]:
    """One page of ``stmt``'s rows in ``key`` order (a row id; descending when
    ``newest_first``): those after the row ``after`` (the last of the previous page), at
    most ``limit``. Rows added meanwhile never make a page repeat or skip one."""
    if after is not None:
        stmt = stmt.where(key < after if newest_first else key > after)
    stmt = stmt.order_by(key.desc() if newest_first else key)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def count_users(session: Session, pool_id: str) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.pool_id == pool_id)) or 0


def idp_names(session: Session, pool_id: str) -> list[str]:
    return list(session.scalars(select(IdentityProvider.name).where(IdentityProvider.pool_id == pool_id)))


def get_group(session: Session, pool_id: str, name: str) -> Group | None:
    if not _storable(pool_id, name):
        return None
    return session.scalars(select(Group).where(Group.pool_id == pool_id, Group.name == name)).first()


def add_user_to_group(session: Session, user: User, group: Group) -> None:
    if group not in user.groups:
        session.add(UserGroup(user_id=user.id, group_id=group.id))
        session.flush()
        session.refresh(user)


def resource_scopes(session: Session, pool_id: str) -> set[str]:
    """Every ``<identifier>/<scope>`` defined by the pool's resource servers."""
    servers = session.scalars(select(ResourceServer).where(ResourceServer.pool_id == pool_id))
    return {f"{rs.identifier}/{scope}" for rs in servers for scope in rs.scopes}


def get_refresh_token_and_user(session: Session, token: str) -> tuple[RefreshToken, User] | None:
    """A refresh token with its user and the user's groups, in one query (the refresh grant
    needs all three); none when its family was revoked, even if the token was stored after
    the revocation (a code replayed while its first exchange was still running)."""
    revoked = select(RevokedOrigin.origin_jti).where(RevokedOrigin.origin_jti == RefreshToken.origin_jti).exists()
    stmt = (select(RefreshToken, User).join(User, User.id == RefreshToken.user_id)
            .where(RefreshToken.token_hash == sha256(token), ~revoked).options(joinedload(User.groups)))
    found = session.execute(stmt).unique().first()
    return (found[0], found[1]) if found is not None else None


#: INSERT ... ON CONFLICT, by dialect (both spell it alike).
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def note_device(session: Session, user_id: int, key_hash: str, now: dt.datetime, values: dict[str, Any]) -> None:
    """Set ``values`` on the user's device ``key_hash``, added (first seen ``now``) if missing,
    even when another transaction adds or deletes it meanwhile. An UPDATE first: the upsert
    takes a new id from the sequence even when it updates, and most sign-ins are from a known
    device."""
    known = Device.user_id == user_id, Device.key_hash == key_hash
    if session.execute(update(Device).where(*known).values(values)).rowcount:
        return
    insert = _INSERT[session.get_bind().dialect.name](Device)
    session.execute(insert.values(user_id=user_id, key_hash=key_hash, first_seen=now, **values)
                    .on_conflict_do_update(index_elements=[Device.user_id, Device.key_hash], set_=values))


def revoke_origin(session: Session, origin_jti: str) -> bool:
    """Revoke a token family: its refresh tokens and every access token carrying it. True
    when this call revoked it, False when it was already (requests revoking one family at
    once, such as racing replays of a rotated token, do not collide on the insert)."""
    now = utcnow()
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.origin_jti == origin_jti, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if session.get(RevokedOrigin, origin_jti) is not None:
        return False
    insert = _INSERT[session.get_bind().dialect.name](RevokedOrigin)
    added = session.execute(insert.values(origin_jti=origin_jti, revoked_at=now).on_conflict_do_nothing())
    return bool(added.rowcount)


def mark_rotated(session: Session, token_id: int, now: dt.datetime) -> bool:
    """Mark a refresh token rotated, unless it already is (or was revoked): True for the
    one request, of any number presenting the token at once, whose update changed the row
    (PostgreSQL makes the others wait on the row lock, then re-check ``rotated_at``)."""
    stmt = (update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(rotated_at=now).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def rotated_at(session: Session, token_id: int) -> dt.datetime | None:
    """When the refresh token was rotated, as committed now; None if it is revoked or gone."""
    row = session.execute(select(RefreshToken.rotated_at, RefreshToken.revoked_at)
                          .where(RefreshToken.id == token_id)).first()
    return row.rotated_at if row is not None and row.revoked_at is None else None


def refresh_token_live(session: Session, token: str, now: dt.datetime) -> bool:
    """Whether ``token`` is stored, unrotated, unrevoked, unexpired and of an unrevoked family."""
    revoked = select(RevokedOrigin.origin_jti).where(RevokedOrigin.origin_jti == RefreshToken.origin_jti).exists()
    stmt = select(RefreshToken.id).where(RefreshToken.token_hash == sha256(token), RefreshToken.rotated_at.is_(None),
                                         RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now, ~revoked)
    return session.execute(stmt).first() is not None


#: ``session.info`` key of the sign-outs apps are to be told of once the transaction commits
#: (:mod:`broker.oauth.backchannel`): ``[pool_id, client_id, sub]`` of each client with a
#: back-channel logout URL that a user signed out everywhere held a live refresh token of.
SIGNED_OUT = "broker.signed_out"


def revoke_user_tokens(session: Session, user: User) -> int:
    """Revoke every token family of a user (Cognito's AdminUserGlobalSignOut), noting the
    clients to tell (:data:`SIGNED_OUT`) first."""
    live = (RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > utcnow(),
            AppClient.backchannel_logout_url.is_not(None))
    told = session.scalars(select(RefreshToken.client_id).join(AppClient, AppClient.id == RefreshToken.client_id)
                           .where(*live).distinct())
    session.info.setdefault(SIGNED_OUT, []).extend([user.pool_id, client, user.sub] for client in told)
    return _revoke_families(session, RefreshToken.user_id == user.id)


def revoke_client_tokens(session: Session, client_id: str) -> int:
    """Revoke every token family issued to an app client (it is being deleted)."""
    return _revoke_families(session, RefreshToken.client_id == client_id)


def _revoke_families(session: Session, *where: Any) -> int:
    stmt = select(RefreshToken.origin_jti).where(*where, RefreshToken.revoked_at.is_(None))
    origins = set(session.scalars(stmt))
    for origin in origins:
        revoke_origin(session, origin)
    return len(origins)


def sign_out_everywhere(session: Session, user: User) -> int:
    """End every session of ``user``: its token families (refresh tokens and the access
    tokens issued from them), and, by moving its ``session_epoch``, its hosted sign-in
    sessions in every browser, its sign-ins in progress and its unused authorization codes
    (:mod:`broker.web.flow` and the code grant compare epochs). The number of families revoked."""
    user.session_epoch = User.session_epoch + 1  # in the database: two at once both count
    session.flush()  # the row is locked before the families are read; the attribute reloads
    return revoke_user_tokens(session, user)


def origin_revoked(session: Session, origin_jti: str) -> bool:
    return session.get(RevokedOrigin, origin_jti) is not None


def user_unless_revoked(session: Session, pool_id: str, sub: str, origin_jti: str) -> User | None:
    """The user ``sub`` of the pool, unless the token family ``origin_jti`` was revoked: what
    an access token's bearer may see, in one query."""
    if not _storable(pool_id, sub, origin_jti):
        return None
    revoked = select(RevokedOrigin.origin_jti).where(RevokedOrigin.origin_jti == origin_jti).exists()
    return session.scalars(select(User).where(User.pool_id == pool_id, User.sub == sub, ~revoked)).first()

