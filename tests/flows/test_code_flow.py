"""The whole path over real HTTP: authorize → hosted form → code → token (PKCE) →
userInfo → refresh → revoke → refresh refused, on real Redis with SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import time

import jwt
import pytest
import requests

from tests.rp import CALLBACK, RelyingParty, pkce, query_of

PASSWORD = "Corr3ct-Horse!"


def _setup(broker, *client_args: str) -> RelyingParty:
    pool = broker.pool()
    broker.cli("group", "create", "--pool", pool, "--name", "admins", "--precedence", "1",
               "--role-arn", "arn:aws:iam::123456789012:role/admins")
    broker.cli("group", "create", "--pool", pool, "--name", "staff", "--precedence", "5")
    broker.cli("user", "create", "--pool", pool, "--username", "Alice", "--password", PASSWORD,
               "--email", "alice@example.com", "--attribute", "custom:tier=7", "--attribute", "given_name=Alice",
               "--confirmed", "--group", "staff", "--group", "admins")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                             "--logout-url", "http://localhost:9000/bye", *client_args)
    return RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"])


def _walk_whole_path(rp: RelyingParty) -> None:
    verifier, challenge = pkce()
    params, code = rp.sign_in("alice", PASSWORD, code_challenge=challenge, code_challenge_method="S256")
    assert code, "no code came back to the callback"
    r = rp.exchange(code, verifier)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600

    id_claims = rp.verify(tokens["id_token"], audience=rp.client_id)
    assert id_claims["token_use"] == "id"
    assert id_claims["nonce"] == params["nonce"]
    assert id_claims["cognito:username"] == "alice"
    assert id_claims["cognito:groups"] == ["admins", "staff"]  # by precedence
    assert id_claims["cognito:roles"] == ["arn:aws:iam::123456789012:role/admins"]
    assert id_claims["cognito:preferred_role"] == "arn:aws:iam::123456789012:role/admins"
    assert id_claims["email"] == "alice@example.com" and id_claims["email_verified"] is True
    assert id_claims["custom:tier"] == "7" and id_claims["given_name"] == "Alice"
    assert {"jti", "origin_jti", "event_id", "auth_time", "iat", "exp"} <= id_claims.keys()
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()[:16]
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert abs(id_claims["auth_time"] - time.time()) < 60

    access = rp.verify(tokens["access_token"])
    assert access["token_use"] == "access" and "aud" not in access
    assert access["client_id"] == rp.client_id and access["username"] == "alice"
    assert access["scope"] == "openid email profile" and access["version"] == 2
    assert access["sub"] == id_claims["sub"] and access["origin_jti"] == id_claims["origin_jti"]
    assert id_claims["amr"] == ["pwd"] and access["amr"] == ["pwd"]

    r = rp.userinfo(tokens["access_token"])
    assert r.status_code == 200, r.text
    assert r.json()["sub"] == id_claims["sub"] and r.json()["email"] == "alice@example.com"

    r = rp.refresh(tokens["refresh_token"])
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert ("refresh_token" in refreshed) == (rp.client_secret is None)  # rotation by default for public clients only
    new_id = rp.verify(refreshed["id_token"], audience=rp.client_id)
    assert new_id["auth_time"] == id_claims["auth_time"]  # of the original sign-in
    assert new_id["origin_jti"] == id_claims["origin_jti"] and new_id["jti"] != id_claims["jti"]
    assert rp.userinfo(refreshed["access_token"]).status_code == 200

    assert rp.revoke(tokens["refresh_token"]).status_code == 200
    r = rp.refresh(tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # access tokens issued from the revoked refresh token are refused too
    assert rp.userinfo(refreshed["access_token"]).status_code == 401
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_public_client_whole_path_on_sqlite_and_redis(make_broker, tmp_path, redis_url):
    broker = make_broker(database_url=f"sqlite:///{tmp_path}/b.db", redis_url=redis_url)
    _walk_whole_path(_setup(broker))


def test_confidential_client_whole_path_on_postgresql_redis_and_gunicorn(make_broker, postgres_url, redis_url):
    broker = make_broker(database_url=postgres_url, redis_url=redis_url, workers=2)
    _walk_whole_path(_setup(broker, "--secret"))


def test_whole_path_on_embedded_defaults(make_broker):
    broker = make_broker()
    _walk_whole_path(_setup(broker))


def test_second_authorize_uses_the_hosted_session(shared_broker):
    rp = _setup(shared_broker, "--secret")
    _params, code = rp.sign_in("alice", PASSWORD)
    assert code
    first = rp.verify(rp.exchange(code).json()["id_token"], audience=rp.client_id)
    r = rp.authorize(prompt="none")
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK + "?code=")
    # prompt=login forces the form even with a session
    r = rp.authorize(prompt="login")
    assert r.status_code == 302 and "/login?txn=" in r.headers["Location"]
    # max_age=0 also demands a fresh sign-in
    time.sleep(1.1)
    assert "/login?txn=" in rp.authorize(max_age="0").headers["Location"]
    code = rp.authorize().headers["Location"].split("code=")[1].split("&")[0]
    again = rp.verify(rp.exchange(code).json()["id_token"], audience=rp.client_id)
    assert again["auth_time"] == first["auth_time"] and again["origin_jti"] != first["origin_jti"]


def test_prompt_none_without_session_answers_login_required(shared_broker):
    rp = _setup(shared_broker)
    _v, challenge = pkce()
    r = rp.authorize(prompt="none", code_challenge=challenge, code_challenge_method="S256")
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(CALLBACK) and "error=login_required" in location


def test_client_credentials_with_resource_server_scopes(shared_broker):
    pool = shared_broker.pool()
    shared_broker.cli("resource-server", "create", "--pool", pool, "--identifier", "https://api.example.com",
                      "--scope", "read", "--scope", "write")
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "m2m", "--secret",
                                    "--flow", "client_credentials", "--scope", "https://api.example.com/read")
    rp = RelyingParty(shared_broker.base_url, pool, client["ClientId"], client["ClientSecret"])
    r = rp.token(grant_type="client_credentials")
    assert r.status_code == 200, r.text
    claims = rp.verify(r.json()["access_token"])
    assert claims["sub"] == rp.client_id and claims["scope"] == "https://api.example.com/read"
    assert "refresh_token" not in r.json() and "id_token" not in r.json()
    r = rp.token(grant_type="client_credentials", scope="https://api.example.com/write")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_refresh_rotation_with_grace_then_reuse_revokes_family(shared_broker):
    rp = _setup(shared_broker, "--secret", "--rotate-refresh-tokens", "--refresh-grace", "2")
    _p, code = rp.sign_in("alice", PASSWORD)
    first = rp.exchange(code).json()
    second = rp.refresh(first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    # within the grace period the old token still works once more
    assert rp.refresh(first["refresh_token"]).status_code == 200
    time.sleep(2.5)
    r = rp.refresh(first["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # reuse after the grace period revoked the whole family
    assert rp.refresh(second["refresh_token"]).status_code == 400


@pytest.mark.parametrize("alg,kty", [("RS256", "RSA"), ("ES256", "EC")])
def test_signing_algorithm_per_pool_and_key_rotation(shared_broker, alg, kty):
    pool = shared_broker.pool("--signing-alg", alg)
    shared_broker.cli("user", "create", "--pool", pool, "--username", "bob", "--password", PASSWORD, "--confirmed")
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK,
                                    "--secret")
    rp = RelyingParty(shared_broker.base_url, pool, client["ClientId"], client["ClientSecret"])
    _p, code = rp.sign_in("bob", PASSWORD)
    old = rp.exchange(code).json()
    rp.verify(old["access_token"])
    old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    rotated = shared_broker.cli_json("keys", "rotate", "--pool", pool)
    assert rotated["Kid"] != old_kid and old_kid in rotated["PublishedKids"]
    time.sleep(1.5)  # the server's key cache lives 1 s in tests (BROKER_KEY_CACHE_SECONDS)
    jwks = rp.browser.get(rp.config["jwks_uri"]).json()["keys"]
    assert {k["kid"] for k in jwks} == {old_kid, rotated["Kid"]} and {k["kty"] for k in jwks} == {kty}
    assert all("d" not in k for k in jwks)  # never a private part
    rp.verify(old["access_token"])  # old tokens still verify
    new = rp.refresh(old["refresh_token"]).json()
    header = jwt.get_unverified_header(new["access_token"])
    assert header["kid"] == rotated["Kid"] and header["alg"] == alg


def test_introspection_answers_authenticated_clients_only(shared_broker):
    rp = _setup(shared_broker, "--secret")
    _p, code = rp.sign_in("alice", PASSWORD)
    tokens = rp.exchange(code).json()
    url = rp.config["introspection_endpoint"]
    auth = (rp.client_id, rp.client_secret)
    access = requests.post(url, data={"token": tokens["access_token"]}, auth=auth, timeout=10).json()
    assert access["active"] is True and access["username"] == "alice" and access["token_use"] == "access"
    refresh = requests.post(url, data={"token": tokens["refresh_token"]}, auth=auth, timeout=10).json()
    assert refresh["active"] is True and refresh["client_id"] == rp.client_id
    assert refresh["token_type"] == "refresh_token"
    garbage = requests.post(url, data={"token": "not-a-token"}, auth=auth, timeout=10)
    assert garbage.status_code == 200 and garbage.json() == {"active": False}
    anonymous = requests.post(url, data={"token": tokens["access_token"], "client_id": rp.client_id}, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    rp.revoke(tokens["refresh_token"])
    after = requests.post(url, data={"token": tokens["access_token"]}, auth=auth, timeout=10).json()
    assert after == {"active": False}


def test_imported_pbkdf2_hash_signs_in_and_is_upgraded_to_argon2id(shared_broker):
    pool = shared_broker.pool()
    digest = hashlib.pbkdf2_hmac("sha256", b"Imported-Passw0rd!", b"salty", 20000)
    stored = f"pbkdf2_sha256$20000$salty${base64.b64encode(digest).decode()}"
    shared_broker.cli("user", "create", "--pool", pool, "--username", "carol", "--password-hash", stored, "--confirmed")
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK,
                                    "--secret")
    rp = RelyingParty(shared_broker.base_url, pool, client["ClientId"], client["ClientSecret"])
    _p, code = rp.sign_in("carol", "Imported-Passw0rd!")
    assert code and rp.exchange(code).status_code == 200
    db = shared_broker.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (now,) = conn.execute("select password_hash from users where username='carol'").fetchone()
    assert now.startswith("$argon2id$")
    rp.browser.cookies.clear()
    assert rp.sign_in("carol", "Imported-Passw0rd!")[1]  # the upgraded hash still takes the password


def test_custom_domain_serves_the_pool_at_the_root(make_broker, tmp_path, redis_url):
    probe = make_broker(database_url=f"sqlite:///{tmp_path}/d.db", redis_url=redis_url)
    pool = probe.pool()
    probe.stop()
    broker = make_broker(database_url=f"sqlite:///{tmp_path}/d.db", redis_url=redis_url,
                         BROKER_DOMAINS=f"auth.localtest={pool}")
    host = {"Host": "auth.localtest"}
    doc = requests.get(f"{broker.base_url}/.well-known/openid-configuration", headers=host, timeout=10)
    assert doc.status_code == 200 and doc.json()["issuer"] == f"{broker.base_url}/{pool}"
    assert requests.get(f"{broker.base_url}/.well-known/jwks.json", headers=host, timeout=10).json()["keys"]
    bad = requests.post(f"{broker.base_url}/oauth2/token", data={"grant_type": "client_credentials"},
                        headers=host, timeout=10)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"  # not a CSRF page
    other = requests.get(f"{broker.base_url}/.well-known/jwks.json", headers={"Host": "other.localtest"}, timeout=10)
    assert other.status_code == 404


def test_browser_apps_may_call_the_token_endpoint_cross_origin(shared_broker):
    pool = shared_broker.pool()
    url = shared_broker.url(pool, "/oauth2/token")
    origin = {"Origin": "https://spa.example.com"}
    preflight = requests.options(url, headers={**origin, "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "authorization"}, timeout=10)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    answer = requests.post(url, data={"grant_type": "nope"}, headers=origin, timeout=10)
    assert answer.headers["Access-Control-Allow-Origin"] == "*" and "Access-Control-Allow-Credentials" not in answer.headers
    # the hosted pages are not readable cross-origin
    login = requests.get(shared_broker.url(pool, "/login"), headers=origin, timeout=10)
    assert "Access-Control-Allow-Origin" not in login.headers


def test_error_page_inside_a_login_offers_a_way_back_to_the_app(shared_broker):
    pool = shared_broker.pool("--no-self-signup")
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK,
                                    "--secret")
    rp = RelyingParty(shared_broker.base_url, pool, client["ClientId"], client["ClientSecret"])
    r = rp.authorize(state="s-123")
    txn = r.headers["Location"].split("txn=")[1].split("&")[0]
    page = rp.browser.get(shared_broker.url(pool, f"/signup?txn={txn}"), timeout=10)
    assert page.status_code == 403 and "Sign-up is not available" in page.text
    back = re.search(r'href="([^"]+)"[^>]*>\s*Back to the application', page.text)
    assert back, page.text
    target = back.group(1).replace("&amp;", "&")
    assert target.startswith(CALLBACK + "?") and "error=access_denied" in target and "state=s-123" in target
    # outside a login transaction there is no verified place to send the user
    lost = rp.browser.get(shared_broker.url(pool, "/signup?txn=unknown"), timeout=10)
    assert lost.status_code == 400 and "Back to the application" not in lost.text


def test_admin_global_sign_out_revokes_every_session_of_the_user(shared_broker):
    rp = _setup(shared_broker, "--secret")
    first = rp.exchange(rp.sign_in("alice", PASSWORD)[1]).json()
    rp.browser.cookies.clear()
    second = rp.exchange(rp.sign_in("alice", PASSWORD)[1]).json()
    out = shared_broker.cli_json("user", "sign-out", "--pool", rp.pool_id, "--username", "alice")
    assert out["RevokedSessions"] == 2
    for tokens in (first, second):
        assert rp.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
        assert rp.userinfo(tokens["access_token"]).status_code == 401
    bad = shared_broker.cli("user", "sign-out", "--pool", rp.pool_id, "--username", "nobody", check=False)
    assert bad.returncode == 2 and "no user" in bad.stderr


def test_discovery_lists_every_claim_the_tokens_and_userinfo_carry(shared_broker):
    pool = shared_broker.pool("--required-attribute", "custom:tenant")
    shared_broker.cli("group", "create", "--pool", pool, "--name", "admins", "--precedence", "1",
                      "--role-arn", "arn:aws:iam::123456789012:role/admins")
    shared_broker.cli("user", "create", "--pool", pool, "--username", "dora", "--password", PASSWORD,
                      "--email", "dora@example.com", "--attribute", "custom:tenant=acme", "--attribute",
                      "phone_number=+14325551212", "--attribute", "nickname=D", "--confirmed", "--group", "admins")
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
    rp = RelyingParty(shared_broker.base_url, pool, client["ClientId"])
    verifier, challenge = pkce()
    _params, code = rp.sign_in("dora", PASSWORD, scope="openid email phone profile", code_challenge=challenge,
                               code_challenge_method="S256")
    tokens = rp.exchange(code, verifier).json()
    issued = set(rp.verify(tokens["id_token"], audience=rp.client_id)) | set(rp.userinfo(tokens["access_token"]).json())
    supported = set(rp.config["claims_supported"])
    assert issued <= supported, issued - supported
    assert {"at_hash", "amr", "token_use", "cognito:roles", "cognito:preferred_role", "custom:tenant",
            "username", "nickname", "phone_number_verified", "address"} <= supported


def _authorize_without_pkce(rp: RelyingParty) -> requests.Response:
    r = rp.authorize()  # the browser is signed in: a code comes back at once, or an error
    assert r.status_code == 302, r.text
    return r


def test_public_clients_need_pkce_unless_exempted(shared_broker):
    rp = _setup(shared_broker)
    pool = rp.pool_id
    assert rp.sign_in("alice", PASSWORD, code_challenge=pkce()[1], code_challenge_method="S256")[1]
    refused = _authorize_without_pkce(rp)
    assert "error=invalid_request" in refused.headers["Location"] and "code=" not in refused.headers["Location"]

    exempted = shared_broker.cli("client", "update", "--pool", pool, "--client", rp.client_id, "--no-require-pkce",
                                 "--json")
    assert json.loads(exempted.stdout)["UserPoolClient"]["PkceRequired"] is False
    assert exempted.stderr.startswith(f"warning: app client {rp.client_id} may now use the code flow without PKCE")
    code = query_of(_authorize_without_pkce(rp).headers["Location"])["code"]
    r = rp.exchange(code)
    assert r.status_code == 200, r.text
    assert rp.verify(r.json()["id_token"], audience=rp.client_id)["cognito:username"] == "alice"
    # a code asked for with a challenge still needs its verifier
    verifier, challenge = pkce()
    code = query_of(rp.authorize(code_challenge=challenge, code_challenge_method="S256").headers["Location"])["code"]
    assert rp.exchange(code).json()["error"] == "invalid_request"

    # back to required: a code issued without a challenge is no longer exchanged
    code = query_of(_authorize_without_pkce(rp).headers["Location"])["code"]
    again = shared_broker.cli("client", "update", "--pool", pool, "--client", rp.client_id, "--require-pkce")
    assert again.stderr == ""
    r = rp.exchange(code)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    assert "error=invalid_request" in _authorize_without_pkce(rp).headers["Location"]


def test_only_public_clients_can_be_exempted_from_pkce(shared_broker):
    pool = shared_broker.pool()
    r = shared_broker.cli("client", "create", "--pool", pool, "--name", "c", "--callback-url", CALLBACK, "--secret",
                          "--no-require-pkce", check=False)
    assert r.returncode == 2 and r.stderr == ("error: only a public client can be exempt from PKCE: "
                                              "with a secret it is optional already\n")
    created = shared_broker.cli("client", "create", "--pool", pool, "--name", "p", "--callback-url", CALLBACK,
                                "--no-require-pkce", "--json")
    client_id = json.loads(created.stdout)["ClientId"]
    assert "warning: app client" in created.stderr
    described = shared_broker.cli_json("client", "describe", "--pool", pool, "--client", client_id)
    assert described["UserPoolClient"]["PkceRequired"] is False
