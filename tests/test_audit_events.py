"""The audit log's token and admin events, seen the way an operator sees them
(``broker events list --json``): tokens issued by the code grant, revocations, reuse of a
rotated refresh token or of a code, and admin changes, each with its ids and never a
token, a hash of one, or a secret. Refreshes and made-up tokens write nothing."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jwt

from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty, pkce

PASSWORD = "Corr3ct-Horse!"


def _events(broker: Broker, pool: str) -> tuple[list[dict[str, Any]], str]:
    """The pool's events, newest first, and the command's raw output."""
    out = broker.cli("events", "list", "--pool", pool, "--json").stdout
    return json.loads(out)["Events"], out


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["EventType"] == kind]


def _setup(broker: Broker, *client_args: str) -> RelyingParty:
    pool = broker.pool()
    broker.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD,
               "--email", "alice@example.com", "--confirmed")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                             *client_args)
    return RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"])


def _sign_in(rp: RelyingParty) -> tuple[str, str]:
    """A code for alice and its PKCE verifier."""
    verifier, challenge = pkce()
    _params, code = rp.sign_in("alice", PASSWORD, code_challenge=challenge, code_challenge_method="S256")
    assert code, "no code came back to the callback"
    return code, verifier


def _tokens(rp: RelyingParty) -> dict[str, Any]:
    code, verifier = _sign_in(rp)
    r = rp.exchange(code, verifier)
    assert r.status_code == 200, r.text
    return r.json()


def _origin(tokens: dict[str, Any]) -> str:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["origin_jti"]


def test_code_exchange_records_token_issued_without_any_token_text(shared_broker: Broker) -> None:
    rp = _setup(shared_broker)
    code, verifier = _sign_in(rp)
    r = rp.exchange(code, verifier)
    assert r.status_code == 200, r.text
    tokens = r.json()

    events, raw = _events(shared_broker, rp.pool_id)
    (issued,) = _of(events, "TokenIssued")
    assert issued["EventResponse"] == "Pass" and issued["Username"] == "alice"
    assert issued["Details"]["client_id"] == rp.client_id
    assert issued["Details"]["grant_type"] == "authorization_code"
    assert issued["Details"]["scopes"] == ["openid", "email", "profile"]
    assert issued["Details"]["origin_jti"] == _origin(tokens)
    secrets = [code, verifier, *(tokens[k] for k in ("access_token", "id_token", "refresh_token"))]
    for value in secrets:
        assert value not in raw and hashlib.sha256(value.encode()).hexdigest() not in raw
        for part in value.split("."):  # nor any part of a JWT (its signature, its payload)
            assert part not in raw


def test_refresh_records_no_event(shared_broker: Broker) -> None:
    rp = _setup(shared_broker)
    tokens = _tokens(rp)
    before, _raw = _events(shared_broker, rp.pool_id)
    r = rp.refresh(tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert _events(shared_broker, rp.pool_id)[0] == before


def test_revocation_records_revoke_token_once(shared_broker: Broker) -> None:
    rp = _setup(shared_broker, "--secret")
    tokens = _tokens(rp)
    assert rp.revoke(tokens["refresh_token"]).status_code == 200
    events, raw = _events(shared_broker, rp.pool_id)
    (revoked,) = _of(events, "RevokeToken")
    assert revoked["EventResponse"] == "Pass" and revoked["Username"] == "alice"
    assert revoked["Details"]["client_id"] == rp.client_id and revoked["Details"]["origin_jti"] == _origin(tokens)
    assert tokens["refresh_token"] not in raw and rp.client_secret not in raw
    # revoked already: the same 200, and nothing more in the log
    assert rp.revoke(tokens["refresh_token"]).status_code == 200
    assert rp.revoke(tokens["access_token"]).status_code == 200
    assert _events(shared_broker, rp.pool_id)[0] == events


def test_revoking_a_made_up_token_records_nothing(shared_broker: Broker) -> None:
    rp = _setup(shared_broker)
    _tokens(rp)
    before, _raw = _events(shared_broker, rp.pool_id)
    for token in ("made-up-token", "x" * 300, "a.b.c"):
        assert rp.revoke(token).status_code == 200
    assert _events(shared_broker, rp.pool_id)[0] == before


def test_reusing_a_rotated_refresh_token_records_refresh_token_reuse_once(shared_broker: Broker) -> None:
    rp = _setup(shared_broker, "--rotate-refresh-tokens")
    first = _tokens(rp)
    second = rp.refresh(first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    time.sleep(0.01)
    for _ in range(2):
        r = rp.refresh(first["refresh_token"])
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    events, raw = _events(shared_broker, rp.pool_id)
    (reuse,) = _of(events, "RefreshTokenReuse")
    assert reuse["EventResponse"] == "Block" and reuse["Username"] == "alice"
    assert reuse["Details"] == {"client_id": rp.client_id, "origin_jti": _origin(first)}
    assert first["refresh_token"] not in raw and second.json()["refresh_token"] not in raw


def test_replaying_an_authorization_code_records_the_reuse_once(shared_broker: Broker) -> None:
    rp = _setup(shared_broker)
    code, verifier = _sign_in(rp)
    tokens = rp.exchange(code, verifier).json()
    for _ in range(2):
        r = rp.exchange(code, verifier)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert rp.refresh(tokens["refresh_token"]).status_code == 400  # what the code issued is revoked
    events, raw = _events(shared_broker, rp.pool_id)
    (reuse,) = _of(events, "AuthorizationCodeReuse")
    assert reuse["EventResponse"] == "Block" and not _of(events, "RefreshTokenReuse")
    assert reuse["Details"] == {"client_id": rp.client_id, "origin_jti": _origin(tokens)}
    assert code not in raw


def test_pool_resource_server_group_and_membership_changes_are_recorded(shared_broker: Broker) -> None:
    b = shared_broker
    pool = b.pool("--mfa", "OPTIONAL")
    b.cli("resource-server", "create", "--pool", pool, "--identifier", "https://api.example.com",
          "--name", "api", "--scope", "read")
    b.cli("group", "create", "--pool", pool, "--name", "staff", "--precedence", "3")
    b.cli("user", "create", "--pool", pool, "--username", "bob", "--password", PASSWORD, "--confirmed",
          "--group", "staff")
    events, raw = _events(b, pool)
    assert [e["EventType"] for e in events] == [
        "AdminAddUserToGroup", "AdminCreateUser", "CreateGroup", "CreateResourceServer", "CreateUserPool"]
    added, _created, group, server, created_pool = events
    assert created_pool["Details"]["mfa"] == "OPTIONAL" and created_pool["Details"]["signing_alg"] == "RS256"
    assert server["Details"] == {"identifier": "https://api.example.com", "name": "api", "scopes": ["read"]}
    assert group["Details"] == {"group": "staff", "precedence": 3, "role_arn": None}
    assert added["Username"] == "bob" and added["Details"] == {"group": "staff"}
    assert PASSWORD not in raw


def test_client_creation_is_recorded_without_its_secret(shared_broker: Broker) -> None:
    pool = shared_broker.pool()
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--secret",
                                    "--callback-url", CALLBACK)
    events, raw = _events(shared_broker, pool)
    (created,) = _of(events, "CreateUserPoolClient")
    assert created["Details"]["client_id"] == client["ClientId"] and created["Details"]["has_secret"] is True
    assert created["Details"]["name"] == "web" and created["Details"]["callback_urls"] == [CALLBACK]
    assert client["ClientSecret"] not in raw
    assert hashlib.sha256(client["ClientSecret"].encode()).hexdigest() not in raw


def test_key_rotation_is_recorded_with_key_ids_only(shared_broker: Broker) -> None:
    pool = shared_broker.pool()
    rotated = shared_broker.cli_json("keys", "rotate", "--pool", pool)
    old = set(rotated["PublishedKids"]) - {rotated["Kid"]}
    assert len(old) == 1
    events, raw = _events(shared_broker, pool)
    (rotation,) = _of(events, "RotateSigningKey")
    assert rotation["Details"] == {"kid": rotated["Kid"], "alg": "RS256", "retired_kids": sorted(old)}
    assert '"d"' not in raw and '"n"' not in raw  # no key material, private or public


def test_branding_changes_are_recorded(shared_broker: Broker, tmp_path: Path) -> None:
    pool = shared_broker.pool()
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
    css = tmp_path / "brand.css"
    css.write_text(".submitButton-customizable { background-color: rgb(1, 2, 3); }")
    shown = shared_broker.cli_json("ui", "set", "--pool", pool, "--client", client["ClientId"], "--css", str(css))
    shared_broker.cli("ui", "reset", "--pool", pool, "--client", client["ClientId"])
    events, raw = _events(shared_broker, pool)
    reset, customized = _of(events, "SetUICustomization")
    assert customized["Details"]["client_id"] == client["ClientId"] and customized["Details"]["changed"] == ["css"]
    assert customized["Details"]["css_version"] == shown["CSSVersion"]
    assert reset["Details"] == {"client_id": client["ClientId"], "reset": True, "removed": True}
    assert "rgb(1, 2, 3)" not in raw


def test_identity_provider_changes_are_recorded_without_the_client_secret(shared_broker: Broker) -> None:
    pool = shared_broker.pool()
    base = ("--pool", pool, "--name", "Google")
    shared_broker.cli("idp", "create", "--type", "Google", *base, "--client-id", "gid.apps.example",
                      "--client-secret", "first-upstream-secret")
    shared_broker.cli("idp", "update", *base, "--client-secret", "second-upstream-secret", "--identifier", "example.com")
    events, raw = _events(shared_broker, pool)
    assert [e["EventType"] for e in events[:2]] == ["UpdateIdentityProvider", "CreateIdentityProvider"]
    assert events[0]["Details"] == {"provider": "Google", "changed": ["client_secret", "identifiers"]}
    assert "first-upstream-secret" not in raw and "second-upstream-secret" not in raw
