"""Identities under concurrency, on PostgreSQL with two workers: many first GetId calls of
one login at once, from one user's devices, make one identity (the unique (pool, provider,
user) constraint decides; the losers find the winner's); a guest signing in on two devices
at once ends as one identity. Nothing is answered with a 500."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.aws_admin import rows
from tests.aws_identity import identity, identity_pool, user_pool_site


def test_concurrent_first_logins_make_one_identity(make_broker, postgres_url, redis_url):
    server = make_broker(database_url=postgres_url, redis_url=redis_url, workers=2)
    admin = identity(server.base_url, server.cli_json("admin-key", "create"))
    site = user_pool_site(server)
    pool = identity_pool(admin, site, name="races", guests=True, AllowClassicFlow=True)
    tokens = {name: site.id_token(site.user(name)) for name in ("ann", "ben")}

    def get_id(name: str) -> str:
        return identity(server.base_url).get_id(IdentityPoolId=pool, Logins={site.provider: tokens[name]})["IdentityId"]

    with ThreadPoolExecutor(12) as pool_of_threads:
        found = list(pool_of_threads.map(get_id, ["ann"] * 12))
    assert len(set(found)) == 1
    assert rows(server, "SELECT count(*) FROM identities WHERE pool_id = :p", p=pool) == [(1,)]

    guest = identity(server.base_url).get_id(IdentityPoolId=pool)["IdentityId"]

    def sign_in(_: int) -> str:
        return identity(server.base_url).get_open_id_token(
            IdentityId=guest, Logins={site.provider: tokens["ben"]})["IdentityId"]

    with ThreadPoolExecutor(8) as pool_of_threads:
        answered = set(pool_of_threads.map(sign_in, range(8)))
    assert answered == {guest}
    assert rows(server, "SELECT identity_id FROM identity_logins WHERE pool_id = :p AND subject <> :s",
                p=pool, s=rows(server, "SELECT subject FROM identity_logins WHERE identity_id = :i", i=found[0])[0][0]) \
        == [(guest,)]
