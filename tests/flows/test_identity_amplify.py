"""Amplify v6's ``fetchAuthSession()`` against Cognate's identity pools, in Node
(tests/node/identity-pool.mjs), configured with ``identityPoolId``, ``identityPoolEndpoint``,
``userPoolEndpoint`` and ``allowGuestAccess``: a guest's credentials and identity id, then,
after ``signIn``, the authenticated role's for the identity Amplify kept; the credentials
are checked at moto's STS and S3 (the STS Cognate asked)."""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from tests.aws_identity import PASSWORD, admin, identity_pool, server, user_pool_site  # noqa: F401 - the fixtures
from tests.node_peers import NodePeers, node_peers  # noqa: F401 - the fixture
from tests.sts_peer import CONTENT, OBJECT, StsPeer, assumed_role as assumed, sts_peer  # noqa: F401 - the fixture

IDENTITY_ID = r"local:[0-9a-f-]{36}"


@pytest.fixture(scope="module")
def server_env(sts_peer):
    return {"BROKER_STS_ENDPOINT": sts_peer.url}


@pytest.fixture(scope="module")
def setup(server, admin, sts_peer):
    """A user pool whose app client takes Amplify's SRP sign-in, and an identity pool for it."""
    site = user_pool_site(server)
    site.client_id = server.cli_json("client", "create", "--pool", site.pool_id, "--name", "amplify",
                                     "--auth-flow", "ALLOW_USER_SRP_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH",
                                     "--callback-url", "http://localhost:9000/callback")["ClientId"]
    for name in ("ann", "ben"):
        site.user(name)
    pool_id = identity_pool(admin, site, name="amplify", guests=True)
    admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={
        "authenticated": sts_peer.role("amplify-auth", ["s3:GetObject", "s3:PutObject"]),
        "unauthenticated": sts_peer.reader("amplify-guest")})
    return {"endpoint": server.base_url, "identityPoolId": pool_id, "poolId": site.pool_id,
            "clientId": site.client_id, "password": PASSWORD, "provider": site.provider}


def test_a_guest_session_has_credentials_and_an_identity_id(node_peers: NodePeers, setup, sts_peer: StsPeer):
    out = node_peers.run("identity-pool", "guest", setup)
    first = out["first"]
    assert re.fullmatch(IDENTITY_ID, first["identityId"])
    assert out["cached"] == first and out["refreshed"]["identityId"] == first["identityId"]
    assert [c["op"] for c in out["calls"]] == ["GetId", "GetCredentialsForIdentity", "GetCredentialsForIdentity"]
    assert all(c["got"] == first["identityId"] and c["logins"] == [] for c in out["calls"])
    credentials = first["credentials"]
    assert abs(credentials["Expiration"] - (time.time() + 3600)) < 120  # epoch seconds, read as Amplify reads them
    assert sts_peer.caller(credentials) == assumed("amplify-guest")
    with sts_peer.enforcing():
        assert sts_peer.client("s3", credentials).get_object(Bucket=sts_peer.bucket, Key=OBJECT)["Body"].read() \
            == CONTENT


def test_after_sign_in_the_kept_identity_gets_the_authenticated_role(node_peers: NodePeers, setup, sts_peer: StsPeer):
    out = node_peers.run("identity-pool", "guest_then_sign_in", {**setup, "username": "ann"})
    guest, user = out["guest"], out["user"]
    assert user["signedIn"] and not guest["signedIn"]
    # Amplify asks for the guest's identity with the user's login; the login is linked to it
    assert out["userCalls"] == [{"op": "GetCredentialsForIdentity", "identityId": guest["identityId"],
                                 "logins": [setup["provider"]], "got": guest["identityId"]}]
    assert user["identityId"] == guest["identityId"]
    assert sts_peer.caller(user["credentials"]) == assumed("amplify-auth")
    assert sts_peer.caller(guest["credentials"]) == assumed("amplify-guest")
    assert out["afterSignOut"]["credentials"] and not out["afterSignOut"]["signedIn"]


def test_without_guest_access_credentials_come_only_after_sign_in(node_peers: NodePeers, setup, sts_peer: StsPeer):
    out = node_peers.run("identity-pool", "sign_in_only", {**setup, "username": "ben"})
    assert out["before"]["credentials"] is None and out["before"]["identityId"] is None
    assert [c["op"] for c in out["calls"]] == ["GetId", "GetCredentialsForIdentity"]
    assert out["calls"][0]["logins"] == [setup["provider"]]
    assert sts_peer.caller(out["user"]["credentials"]) == assumed("amplify-auth")
    assert dt.datetime.fromtimestamp(out["user"]["credentials"]["Expiration"], dt.timezone.utc) > \
        dt.datetime.now(dt.timezone.utc)
