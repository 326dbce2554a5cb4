"""Looking up refresh tokens, with rotation and reuse detection."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g, request

from ..runtime import runtime
from ..store import repo
from ..store.models import RefreshToken, User, utcnow
from ..userpool import audit


class StoredRefreshToken:
    def __init__(self, row: RefreshToken, user: User) -> None:
        self.row = row
        self.user = user

    def check_client(self, client: Any) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope


def find_refresh_token(value: str) -> StoredRefreshToken | None:
    """A usable refresh token of this pool. Reuse after rotation (past the grace period)
    revokes the whole family, as OAuth 2.0 Security BCP §4.14.2 recommends, and is audited
    (``RefreshTokenReuse``) once: the revoked family refuses the token before this point."""
    found = repo.get_refresh_token_and_user(g.db_session, value)
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if row.pool_id != g.pool.id or row.revoked_at or row.expires_at <= now:
        return None
    if row.rotated_at is not None:
        client = runtime().config.client(g.db_session, g.pool.id, row.client_id)
        grace = client.refresh_grace_seconds if client else 0
        if now > row.rotated_at + dt.timedelta(seconds=grace):
            repo.revoke_origin(g.db_session, row.origin_jti)
            audit.record(g.db_session, g.pool.id, "RefreshTokenReuse", audit.BLOCK, user=user, ip=request.remote_addr,
                         client_id=row.client_id, origin_jti=row.origin_jti)
            g.db_session.commit()
            return None
    return StoredRefreshToken(row, user)
