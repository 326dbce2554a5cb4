"""A revoked token family stays revoked: a refresh token stored after its family was revoked
(a code replayed while its first exchange was still being answered) is refused too."""
from __future__ import annotations

import time
import uuid

from broker.oauth.issue import new_refresh_token
from broker.oauth.tokens import Grant
from broker.store import repo
from broker.userpool import admin, app_clients


def test_a_token_stored_after_its_family_was_revoked_is_refused(migrated_db):
    with migrated_db.session() as s:
        pool = admin.create_pool(s, "p")
        client, _ = app_clients.create_client(s, pool.id, "app", ["https://a.example/cb"])
        user = admin.create_user(s, pool.id, "alice", "Corr3ct-Horse!", {"email": "a@example.com"}, confirmed=True)[0]
        family, other = (Grant(issuer="", client_id=client.id, scopes=("openid",), auth_time=int(time.time()),
                               origin_jti=str(uuid.uuid4()), event_id=str(uuid.uuid4())) for _ in range(2))
        kept = new_refresh_token(s, client, user, other)
    with migrated_db.session() as s:
        repo.revoke_origin(s, family.origin_jti)  # the replay revokes the family ...
    with migrated_db.session() as s:  # ... before the first exchange stores its refresh token
        late = new_refresh_token(s, repo.get_client(s, pool.id, client.id), repo.get_user(s, pool.id, "alice"), family)
    with migrated_db.sessions() as s:
        assert repo.get_refresh_token_and_user(s, late) is None
        token, owner = repo.get_refresh_token_and_user(s, kept)
        assert token.origin_jti == other.origin_jti and owner.username == "alice"
