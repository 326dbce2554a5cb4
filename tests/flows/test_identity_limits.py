"""Identity pools' public operations are limited per client network and identity pool
(here 3 a minute), with boto3's cognito-identity client behind a trusted proxy that names
each client's address: past the limit, Cognito's TooManyRequestsException, and nothing
written; another network, or another pool, is not held back; an IPv6 client's /64 is one
network."""
from __future__ import annotations

from typing import Any

import pytest

from tests.aws import refused
from tests.aws_admin import rows
from tests.aws_identity import admin, identity, server  # noqa: F401 - the fixtures

THROTTLED = ("TooManyRequestsException", "Rate exceeded")


@pytest.fixture(scope="module")
def server_env():
    return {"BROKER_TRUSTED_PROXIES": "1", "BROKER_IDENTITY_CALLS_PER_MINUTE": "3"}


def client_at(server: Any, address: str) -> Any:
    """The public client, its calls coming through the proxy from ``address``."""
    client = identity(server.base_url)
    client.meta.events.register("request-created.cognito-identity",
                                lambda request, **_: request.headers.__setitem__("X-Forwarded-For", address))
    return client


def guest_pool(admin: Any) -> str:
    return admin.create_identity_pool(IdentityPoolName="limits", AllowUnauthenticatedIdentities=True,
                                      AllowClassicFlow=True)["IdentityPoolId"]


def test_a_client_network_makes_so_many_calls_a_minute_to_a_pool(server, admin):
    pool, other_pool = guest_pool(admin), guest_pool(admin)
    first = client_at(server, "198.51.100.7")
    made = [first.get_id(IdentityPoolId=pool)["IdentityId"] for _ in range(2)]
    first.get_open_id_token(IdentityId=made[0])
    identities = rows(server, "SELECT count(*) FROM identities WHERE pool_id = :p", p=pool)
    assert refused(lambda: first.get_id(IdentityPoolId=pool)) == THROTTLED
    assert refused(lambda: first.get_credentials_for_identity(IdentityId=made[0])) == THROTTLED
    assert refused(lambda: first.get_open_id_token(IdentityId=made[1])) == THROTTLED
    assert rows(server, "SELECT count(*) FROM identities WHERE pool_id = :p", p=pool) == identities
    assert client_at(server, "198.51.100.8").get_id(IdentityPoolId=pool)["IdentityId"]
    assert first.get_id(IdentityPoolId=other_pool)["IdentityId"]


def test_an_ipv6_clients_prefix_is_one_network(server, admin):
    pool = guest_pool(admin)
    for host in ("1", "2", "3"):
        client_at(server, f"2001:db8:5:7::{host}").get_id(IdentityPoolId=pool)
    assert refused(lambda: client_at(server, "2001:db8:5:7::99").get_id(IdentityPoolId=pool)) == THROTTLED
    assert client_at(server, "2001:db8:5:8::1").get_id(IdentityPoolId=pool)["IdentityId"]
