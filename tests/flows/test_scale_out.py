"""Scale-out: two gunicorn nodes sharing one PostgreSQL database and one Redis, behind one
public base URL. Each step of a login goes to the other node than the one before; a key
rotated or a client changed by the CLI reaches every worker of both nodes within the
configuration check interval (long before the key cache would expire); nodes migrating the
schema at the same moment take turns."""
from __future__ import annotations

import re
import secrets
import subprocess
import time
import uuid
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import jwt
import psycopg
import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from broker.store.db import Database, alembic_config
from broker.store.models import Base
from tests.conftest import BROKER, Broker, broker_env, free_port, start_broker
from tests.rp import CALLBACK, form_fields, pkce, query_of

PUBLIC = "http://auth.cognate.test"  # the load balancer's address: every node's BROKER_BASE_URL
PASSWORD = "Corr3ct-Horse!"
#: The production defaults: keys are re-read every 30 s, configuration checked every second.
KEY_CACHE_SECONDS = 30
CONFIG_CACHE_SECONDS = 1
LOGOUT = "http://localhost:9000/bye"


@pytest.fixture(scope="module")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"cognate_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{postgres_admin_url.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str) -> Iterator[dict[str, Broker]]:
    shared = {"BROKER_BASE_URL": PUBLIC, "BROKER_SECRET_KEY": secrets.token_urlsafe(40),
              "BROKER_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
              "BROKER_CONFIG_CACHE_SECONDS": str(CONFIG_CACHE_SECONDS)}
    tmp = tmp_path_factory.mktemp("nodes")
    started: dict[str, Broker] = {}
    try:
        for name in ("A", "B"):
            started[name] = start_broker(tmp / name, database_url=database_url, redis_url=redis_url, workers=2,
                                         **shared)
        yield started
    finally:
        for node in started.values():
            node.stop()
    for node in started.values():
        log = node.log.read_text() if node.log and node.log.exists() else ""
        assert "Traceback" not in log, f"a node logged a traceback:\n{log[-4000:]}"


class LoadBalancer(requests.Session):
    """One browser (one cookie jar) whose requests the test sends to the node it names: the
    URLs the nodes hand out carry the public address and are rewritten to that node's."""

    def __init__(self, nodes: dict[str, Broker]) -> None:
        super().__init__()
        self.nodes = nodes

    def to(self, node: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        public = urlsplit(url if "://" in url else PUBLIC + url)
        address = urlsplit(self.nodes[node].base_url)
        routed = urlunsplit((address.scheme, address.netloc, public.path, public.query, ""))
        return self.request(method, routed, allow_redirects=False, timeout=15, **kwargs)


@pytest.fixture
def lb(nodes: dict[str, Broker]) -> Iterator[LoadBalancer]:
    with LoadBalancer(nodes) as balancer:  # closed: no kept-alive connection holds a node's shutdown
        yield balancer


def _verify(lb: LoadBalancer, node: str, issuer: str, token: str, audience: str | None = None) -> dict[str, Any]:
    """PyJWT against the JWKS that ``node`` publishes."""
    jwks = jwt.PyJWKSet.from_dict(lb.to(node, "GET", f"{issuer}/.well-known/jwks.json").json())
    key = jwks[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, audience=audience,
                      options={"verify_aud": audience is not None})


def test_every_step_of_a_login_may_land_on_either_node(nodes, lb):
    a = nodes["A"]
    pool = a.pool()
    a.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD,
          "--email", "alice@example.com", "--confirmed")
    client = a.cli_json("client", "create", "--pool", pool, "--name", "spa", "--callback-url", CALLBACK,
                        "--logout-url", LOGOUT)["ClientId"]
    config = lb.to("B", "GET", f"{PUBLIC}/{pool}/.well-known/openid-configuration").json()
    issuer = config["issuer"]
    assert issuer == f"{PUBLIC}/{pool}"
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": client, "redirect_uri": CALLBACK, "state": "st-1",
              "scope": "openid email profile", "nonce": "n-1", "code_challenge": challenge,
              "code_challenge_method": "S256"}

    r = lb.to("A", "GET", config["authorization_endpoint"], params=params)
    assert r.status_code == 302 and "/login?txn=" in r.headers["Location"], r.text
    page = lb.to("B", "GET", r.headers["Location"])
    assert page.status_code == 200 and 'name="password"' in page.text, page.text
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    r = lb.to("A", "POST", action, data={**form_fields(page.text), "username": "alice", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK + "?"), r.text
    answer = query_of(r.headers["Location"])
    assert answer["state"] == "st-1"

    r = lb.to("B", "POST", config["token_endpoint"], data={
        "grant_type": "authorization_code", "code": answer["code"], "redirect_uri": CALLBACK,
        "client_id": client, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    tokens = r.json()
    id_claims = _verify(lb, "A", issuer, tokens["id_token"], audience=client)
    assert id_claims["nonce"] == "n-1" and id_claims["cognito:username"] == "alice"
    assert _verify(lb, "B", issuer, tokens["access_token"])["sub"] == id_claims["sub"]

    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = lb.to("A", "GET", config["userinfo_endpoint"], headers=bearer)
    assert r.status_code == 200 and r.json()["email"] == "alice@example.com", r.text
    r = lb.to("B", "POST", config["token_endpoint"], data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client})
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert _verify(lb, "A", issuer, refreshed["id_token"], audience=client)["auth_time"] == id_claims["auth_time"]
    r = lb.to("A", "POST", config["revocation_endpoint"], data={"token": tokens["refresh_token"], "client_id": client})
    assert r.status_code == 200, r.text
    r = lb.to("B", "POST", config["token_endpoint"], data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert lb.to("A", "GET", config["userinfo_endpoint"],
                 headers={"Authorization": f"Bearer {refreshed['access_token']}"}).status_code == 401

    silent = {**params, "prompt": "none", "state": "st-2"}
    r = lb.to("B", "GET", config["authorization_endpoint"], params=silent)
    assert r.status_code == 302 and "code" in query_of(r.headers["Location"])  # node B sees A's sign-in
    r = lb.to("A", "GET", config["end_session_endpoint"], params={"client_id": client, "logout_uri": LOGOUT})
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT, r.text
    r = lb.to("B", "GET", config["authorization_endpoint"], params={**silent, "state": "st-3"})
    assert r.status_code == 302
    answer = query_of(r.headers["Location"])
    assert answer["error"] == "login_required" and answer["state"] == "st-3" and "code" not in answer


def _wait_check_interval(since: float) -> None:
    """Past this, every worker of every node has checked the configuration version since ``since``."""
    time.sleep(max(0.0, since + CONFIG_CACHE_SECONDS + 0.2 - time.monotonic()))


def test_a_rotated_key_reaches_both_nodes_within_the_check_interval(nodes, lb):
    a = nodes["A"]
    pool = a.pool()
    a.cli("resource-server", "create", "--pool", pool, "--identifier", "https://api.example.com", "--scope", "read")
    client = a.cli_json("client", "create", "--pool", pool, "--name", "m2m", "--secret", "--flow",
                        "client_credentials", "--scope", "https://api.example.com/read")
    auth = (client["ClientId"], client["ClientSecret"])
    issuer = f"{PUBLIC}/{pool}"

    def mint(node: str) -> str:
        r = lb.to(node, "POST", f"{issuer}/oauth2/token", data={"grant_type": "client_credentials"}, auth=auth)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    before = [mint(node) for node in "ABAB"]  # both workers of both nodes hold the first key
    old_kid = jwt.get_unverified_header(before[0])["kid"]
    assert {jwt.get_unverified_header(t)["kid"] for t in before} == {old_kid}

    rotated = a.cli_json("keys", "rotate", "--pool", pool)
    _wait_check_interval(time.monotonic())
    new_kid = rotated["Kid"]
    assert new_kid != old_kid and old_kid in rotated["PublishedKids"]
    for node in "ABABAB":  # several requests per node: each gunicorn worker has its own cache
        token = mint(node)
        assert jwt.get_unverified_header(token)["kid"] == new_kid
        published = {k["kid"] for k in lb.to(node, "GET", f"{issuer}/.well-known/jwks.json").json()["keys"]}
        assert published == {old_kid, new_kid}
        for verifier_node in "AB":
            assert _verify(lb, verifier_node, issuer, token)["client_id"] == auth[0]
            assert _verify(lb, verifier_node, issuer, before[0])["client_id"] == auth[0]  # the old key still verifies


def test_nodes_upgrading_a_fresh_database_at_once_take_turns(postgres_url, tmp_path):
    env = broker_env(tmp_path, postgres_url, None, free_port())
    procs = [subprocess.Popen([BROKER, "db", "upgrade"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    results = [(p.wait(60), *p.communicate()) for p in procs]
    assert [code for code, _out, _err in results] == [0, 0, 0], results
    assert all("database is up to date" in out and "Traceback" not in err for _code, out, err in results)
    db = Database(postgres_url)
    try:
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert versions == [ScriptDirectory.from_config(alembic_config(db.engine)).get_current_head()]
    finally:
        db.dispose()
