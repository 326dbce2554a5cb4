"""``broker token decode [--verify] TOKEN``: the header and claims as JSON; --verify checks
the signature against the issuer's JWKS (from the database for a pool of this store, with
no server running; over HTTP otherwise), exp and iss, and refuses with one line and exit 2."""
from __future__ import annotations

import json
import sqlite3
import time

import jwt
import requests

from tests.flows.hostile import _split
from tests.rp import RelyingParty


def _client_token(broker) -> tuple[str, str]:
    """A pool and a client_credentials access token of it."""
    pool = broker.pool()
    broker.cli("resource-server", "create", "--pool", pool, "--identifier", "api", "--scope", "read")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "m2m", "--secret",
                             "--flow", "client_credentials", "--scope", "api/read")
    rp = RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"])
    r = rp.token(grant_type="client_credentials")
    assert r.status_code == 200, r.text
    return pool, r.json()["access_token"]


def _refused(broker, token: str, reason: str) -> None:
    r = broker.cli("token", "decode", "--verify", token, check=False)
    assert r.returncode == 2 and r.stdout == "", r.stdout
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: invalid token: "), r.stderr
    assert reason in r.stderr, r.stderr


def test_decode_prints_header_and_claims_and_verifies_without_the_server(make_broker, tmp_path):
    broker = make_broker(database_url=f"sqlite:///{tmp_path}/t.db")
    pool, token = _client_token(broker)
    broker.stop()  # the pool is local: its keys come from the database

    shown = broker.cli_json("token", "decode", token)
    assert shown["header"]["alg"] == "RS256" and shown["header"]["kid"]
    assert shown["claims"]["iss"] == f"{broker.base_url}/{pool}" and shown["claims"]["token_use"] == "access"
    verified = broker.cli("token", "decode", "--verify", token)
    assert json.loads(verified.stdout) == shown and verified.stderr == ""

    header, claims, signature = _split(token)
    _refused(broker, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), "signature")
    with sqlite3.connect(f"{tmp_path}/t.db") as conn:
        (private,) = conn.execute("select private_jwk from signing_keys where kid = ?", (header["kid"],)).fetchone()
    key = jwt.algorithms.RSAAlgorithm.from_jwk(private)
    expired = jwt.encode({**claims, "exp": int(time.time()) - 5}, key, "RS256", headers={"kid": header["kid"]})
    _refused(broker, expired, "expired at")
    other_issuer = jwt.encode({**claims, "iss": f"{broker.base_url}/{pool}x"}, key, "RS256",
                              headers={"kid": header["kid"]})
    _refused(broker, other_issuer, "cannot read the issuer's keys")
    _refused(broker, "not.a-token", "not a JWT")


def test_verify_fetches_the_keys_of_a_pool_of_another_store(make_broker, tmp_path):
    theirs = make_broker(database_url=f"sqlite:///{tmp_path}/theirs.db")
    ours = make_broker(database_url=f"sqlite:///{tmp_path}/ours.db")
    pool, token = _client_token(theirs)
    assert requests.get(theirs.url(pool, "/.well-known/jwks.json"), timeout=10).status_code == 200
    assert json.loads(ours.cli("token", "decode", "--verify", token).stdout)["claims"]["client_id"]
    theirs.stop()
    _refused(ours, token, "cannot read the issuer's keys")
