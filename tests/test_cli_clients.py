"""``broker client describe|update|delete`` (DescribeUserPoolClient, UpdateUserPoolClient,
DeleteUserPoolClient): an update changes only what it is given and passes the checks of
``client create`` or changes nothing; a delete takes the client's refresh tokens and branding
with it, on SQLite and PostgreSQL; a running server follows both at its next request."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from broker.store import repo
from broker.store.db import Database
from broker.store.models import RefreshToken, UiCustomization, utcnow
from tests.conftest import Broker, broker_env, free_port
from tests.rp import CALLBACK, RelyingParty, pkce
from tests.test_cli import _one_document, _refused, cli  # noqa: F401 (cli is a fixture)

LOGOUT = "http://localhost:9000/bye"
NEW_CALLBACK = "https://app.example/cb"
API = "https://api.example.com"
PASSWORD = "Corr3ct-Horse!"


def _describe(broker: Broker, pool: str, client_id: str) -> dict[str, Any]:
    return _one_document(broker.cli("client", "describe", "--pool", pool, "--client", client_id, "--json"))["UserPoolClient"]


def _client(broker: Broker, pool: str, *args: str) -> str:
    return broker.cli_json("client", "create", "--pool", pool, *args)["ClientId"]


def test_update_changes_only_the_given_settings(cli):
    pool = cli.pool()
    client = _client(cli, pool, "--name", "web", "--callback-url", CALLBACK, "--logout-url", LOGOUT, "--secret",
                     "--id-token-ttl", "900", "--scope", "openid email profile")
    before = _describe(cli, pool, client)
    assert before["CallbackURLs"] == [CALLBACK] and before["IdTokenValidity"] == 900 and before["HasSecret"]

    printed = _one_document(cli.cli("client", "update", "--pool", pool, "--client", client,
                                    "--callback-url", NEW_CALLBACK, "--callback-url", CALLBACK, "--scope", "openid email",
                                    "--access-token-ttl", "600", "--rotate-refresh-tokens", "--refresh-grace", "5",
                                    "--json"))
    after = _describe(cli, pool, client)
    assert printed == {"UserPoolClient": after}
    assert after == {**before, "CallbackURLs": [NEW_CALLBACK, CALLBACK], "AllowedOAuthScopes": ["openid", "email"],
                     "AccessTokenValidity": 600, "EnableTokenRotation": True,
                     "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 5}}

    cli.cli("client", "update", "--pool", pool, "--client", client, "--name", "renamed", "--no-rotate-refresh-tokens")
    assert _describe(cli, pool, client) == {
        **after, "ClientName": "renamed", "EnableTokenRotation": False,
        "RefreshTokenRotation": {"Feature": "DISABLED", "RetryGracePeriodSeconds": 5}}


PUBLIC_CASES = [
    (("--no-secret",), "No such option '--no-secret'"),
    (("--secret",), "No such option '--secret'"),
    (("--flow", "client_credentials"), "the client_credentials flow needs a client secret"),
    (("--scope", "openid admin:all"), "unknown scope 'admin:all'"),
    (("--access-token-ttl", "299"), "access-token-ttl must be between 300 and 86400 seconds"),
    (("--name", "renamed", "--refresh-token-ttl", "315360001"), "refresh-token-ttl must be between 3600 and"),
    (("--idp", "COGNITO", "--idp", "Nope"), "no identity provider 'Nope'"),
    (("--callback-url", "http://evil.com/cb"), "http is allowed only for localhost"),
    (("--logout-url", "javascript:alert(1)"), "scheme javascript is not allowed"),
    (("--name", " "), "client name must have 1 to 128 characters"),
    (("--refresh-grace", "61"), "not in the range"),
    ((), "give at least one setting to change"),
]
M2M_CASES = [
    (("--flow", "code"), "the code flow needs at least one --callback-url"),
    (("--scope", "openid"), "client_credentials clients take only resource-server scopes"),
]


def test_bad_updates_exit_2_and_change_nothing(cli):
    pool, other_pool = cli.pool(), cli.pool()
    cli.cli("resource-server", "create", "--pool", pool, "--identifier", API, "--scope", "read")
    public = _client(cli, pool, "--name", "web", "--callback-url", CALLBACK, "--logout-url", LOGOUT)
    m2m = _client(cli, pool, "--name", "m2m", "--secret", "--flow", "client_credentials", "--scope", f"{API}/read")
    stranger = _client(cli, other_pool, "--name", "elsewhere", "--callback-url", CALLBACK)
    before = {c: _describe(cli, p, c) for p, c in [(pool, public), (pool, m2m), (other_pool, stranger)]}

    update = ("client", "update", "--pool", pool, "--client")
    cases = [((*update, public, *extra), expected) for extra, expected in PUBLIC_CASES]
    cases += [((*update, m2m, *extra), expected) for extra, expected in M2M_CASES]
    cases += [
        ((*update, "nosuchclient", "--name", "x"), f"no app client 'nosuchclient' in pool {pool}"),
        ((*update, stranger, "--name", "x"), f"no app client '{stranger}' in pool {pool}"),
        (("client", "update", "--pool", "local_XXXXXXXXX", "--client", public, "--name", "x"),
         "no user pool 'local_XXXXXXXXX'"),
        (("client", "describe", "--pool", pool, "--client", stranger), f"no app client '{stranger}' in pool {pool}"),
        (("client", "delete", "--pool", pool, "--client", stranger), f"no app client '{stranger}' in pool {pool}"),
    ]
    _refused([cli.cli(*args, check=False) for args, _ in cases], cases)
    assert {c: _describe(cli, p, c) for p, c in [(pool, public), (pool, m2m), (other_pool, stranger)]} == before


@pytest.fixture
def store_cli(any_database_url: str, tmp_path: Path) -> Broker:
    """The CLI on a fresh database of each kind (nothing serves it)."""
    port = free_port()
    broker = Broker(base_url=f"http://127.0.0.1:{port}", env=broker_env(tmp_path, any_database_url, None, port))
    if any_database_url.startswith("postgresql"):
        broker.cli("db", "upgrade")
    return broker


def _add_refresh_tokens(database: Database, pool: str, username: str, client_ids: list[str]) -> None:
    with database.session() as session:
        user = repo.get_user(session, pool, username)
        assert user is not None
        for n, client_id in enumerate(client_ids):
            session.add(RefreshToken(
                token_hash=repo.sha256(f"{client_id}-{n}"), pool_id=pool, client_id=client_id, user_id=user.id,
                scope="openid", origin_jti=f"origin-{n}", event_id=f"event-{n}", auth_time=0, amr=["pwd"],
                expires_at=utcnow().replace(year=utcnow().year + 1),
            ))


def test_delete_removes_the_client_its_refresh_tokens_and_branding(store_cli, tmp_path):
    pool = store_cli.pool()
    store_cli.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD, "--confirmed")
    gone = _client(store_cli, pool, "--name", "gone", "--callback-url", CALLBACK)
    kept = _client(store_cli, pool, "--name", "kept", "--callback-url", CALLBACK)
    css = tmp_path / "brand.css"
    css.write_text(".submitButton-customizable { background-color: rgb(1, 2, 3); }")
    for client_id in (gone, kept):
        store_cli.cli("ui", "set", "--pool", pool, "--client", client_id, "--css", str(css))
    database = Database(store_cli.env["DATABASE_URL"])
    try:
        _add_refresh_tokens(database, pool, "alice", [gone, gone, kept])

        printed = _one_document(store_cli.cli("client", "delete", "--pool", pool, "--client", gone, "--json"))
        assert printed == {"ClientId": gone, "UserPoolId": pool, "Deleted": True}

        with database.session() as session:
            tokens = session.scalars(select(RefreshToken.client_id).where(RefreshToken.pool_id == pool)).all()
            branded = session.scalars(select(UiCustomization.client_id).where(UiCustomization.pool_id == pool)).all()
        assert list(tokens) == [kept] and list(branded) == [kept]
    finally:
        database.dispose()
    listed = _one_document(store_cli.cli("client", "list", "--pool", pool, "--json"))["UserPoolClients"]
    assert [c["ClientId"] for c in listed] == [kept]
    cases = [(("client", "describe", "--pool", pool, "--client", gone), f"no app client '{gone}' in pool {pool}")]
    _refused([store_cli.cli(*args, check=False) for args, _ in cases], cases)


def _to_login(response: requests.Response) -> bool:
    """The authorize request was accepted: on to the hosted sign-in page."""
    return response.status_code == 302 and "/login?txn=" in response.headers["Location"]


def test_running_server_follows_update_and_delete(make_broker):
    broker = make_broker()
    pool = broker.pool()
    broker.cli("resource-server", "create", "--pool", pool, "--identifier", API, "--scope", "read")
    web = _client(broker, pool, "--name", "web", "--callback-url", CALLBACK)
    m2m = broker.cli_json("client", "create", "--pool", pool, "--name", "m2m", "--secret",
                          "--flow", "client_credentials", "--scope", f"{API}/read")
    _verifier, challenge = pkce()
    old = RelyingParty(broker.base_url, pool, web)
    assert _to_login(old.authorize(code_challenge=challenge, code_challenge_method="S256"))  # now loaded
    machine = RelyingParty(broker.base_url, pool, m2m["ClientId"], m2m["ClientSecret"])
    assert machine.token(grant_type="client_credentials").status_code == 200

    broker.cli("client", "update", "--pool", pool, "--client", web, "--callback-url", NEW_CALLBACK)
    r = old.authorize(code_challenge=challenge, code_challenge_method="S256")
    assert r.status_code == 400 and "Location" not in r.headers
    new = RelyingParty(broker.base_url, pool, web, redirect_uri=NEW_CALLBACK)
    assert _to_login(new.authorize(code_challenge=challenge, code_challenge_method="S256"))

    broker.cli("client", "delete", "--pool", pool, "--client", m2m["ClientId"])
    r = machine.token(grant_type="client_credentials")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text


def test_what_was_issued_follows_the_client_as_updated(make_broker):
    """Removed scopes leave the tokens that refresh tokens bring; a removed callback URL gets
    no code from a login already under way, nor tokens for a code already issued to it."""
    broker = make_broker()
    pool = broker.pool()
    broker.cli("user", "create", "--pool", pool, "--username", "alice", "--password", "Corr3ct-Horse!",
               "--email", "alice@example.com", "--confirmed")
    web = _client(broker, pool, "--name", "web", "--callback-url", CALLBACK, "--callback-url", NEW_CALLBACK)
    rp = RelyingParty(broker.base_url, pool, web)
    verifier, challenge = pkce()
    _params, code = rp.sign_in("alice", "Corr3ct-Horse!", code_challenge=challenge, code_challenge_method="S256")
    tokens = rp.exchange(code, verifier).json()
    assert set(rp.verify(tokens["access_token"])["scope"].split()) == {"openid", "email", "profile"}

    broker.cli("client", "update", "--pool", pool, "--client", web, "--scope", "openid", "--scope", "profile")
    refreshed = rp.refresh(tokens["refresh_token"]).json()
    assert set(rp.verify(refreshed["access_token"])["scope"].split()) == {"openid", "profile"}
    assert "email" not in rp.verify(refreshed["id_token"], audience=web)

    again = RelyingParty(broker.base_url, pool, web)  # a code issued, then the callback goes
    _params, issued = again.sign_in("alice", "Corr3ct-Horse!", code_challenge=challenge, code_challenge_method="S256",
                                    scope="openid profile")
    later = RelyingParty(broker.base_url, pool, web)  # and a login under way
    page = later.follow(later.authorize(code_challenge=challenge, code_challenge_method="S256", scope="openid"))
    assert page.status_code == 200 and 'name="password"' in page.text
    broker.cli("client", "update", "--pool", pool, "--client", web, "--callback-url", NEW_CALLBACK)
    r = later.post_form(page, {"username": "alice", "password": "Corr3ct-Horse!"})
    assert r.status_code == 400 and "Location" not in r.headers
    r = again.exchange(issued, verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


BAD_BACKCHANNEL = [  # checked as every URL the server calls (broker.urls.problem)
    ("http://app.example/logout", "must use https (http only on 127.0.0.1, ::1 or localhost)"),
    ("myapp://logout", "must use https"),
    ("ftp://127.0.0.1/logout", "must use https"),
    ("https://app.example/logout#x", "must be an absolute https URL"),
    ("https:///logout", "must be an absolute https URL"),
    ("/logout", "must be an absolute https URL"),
    ("https://user:secret@app.example/logout", "must be an absolute https URL"),
    ("https://app.example/log out", "without spaces"),
    ("https://app.example/" + "a" * 1100, "at most 1024 characters"),
]


def test_backchannel_logout_url_is_checked_shown_and_removed(cli):
    """``--backchannel-logout-url``: the server POSTs to it, so https, or http on loopback
    only; ``client describe`` shows it; an empty value removes it; bad ones write nothing."""
    pool = cli.pool()
    client = _client(cli, pool, "--name", "web", "--callback-url", CALLBACK, "--backchannel-logout-url",
                     "https://app.example/backchannel")
    assert _describe(cli, pool, client)["BackchannelLogoutURL"] == "https://app.example/backchannel"
    before = _describe(cli, pool, client)
    cases = [(("client", "update", "--pool", pool, "--client", client, "--backchannel-logout-url", url), expected)
             for url, expected in BAD_BACKCHANNEL]
    cases += [(("client", "create", "--pool", pool, "--name", "x", "--callback-url", CALLBACK,
                "--backchannel-logout-url", url), expected) for url, expected in BAD_BACKCHANNEL[:2]]
    _refused([cli.cli(*args, check=False) for args, _ in cases], cases)
    assert _describe(cli, pool, client) == before
    assert len(cli.cli_json("client", "list", "--pool", pool)["UserPoolClients"]) == 1
    cli.cli("client", "update", "--pool", pool, "--client", client, "--backchannel-logout-url",
            "http://127.0.0.1:8080/bc?tenant=a")
    assert _describe(cli, pool, client)["BackchannelLogoutURL"] == "http://127.0.0.1:8080/bc?tenant=a"
    cli.cli("client", "update", "--pool", pool, "--client", client, "--name", "renamed")  # kept when not given
    assert _describe(cli, pool, client)["BackchannelLogoutURL"] == "http://127.0.0.1:8080/bc?tenant=a"
    cli.cli("client", "update", "--pool", pool, "--client", client, "--backchannel-logout-url", "")
    assert _describe(cli, pool, client)["BackchannelLogoutURL"] is None


def test_the_implicit_flow_is_opt_in_and_warned_about(cli):
    pool = cli.pool()
    plain = _client(cli, pool, "--name", "web", "--callback-url", CALLBACK)
    assert _describe(cli, pool, plain)["AllowedOAuthFlows"] == ["code"]  # off by default
    result = cli.cli("client", "create", "--pool", pool, "--name", "legacy", "--callback-url", CALLBACK,
                     "--flow", "implicit", "--json")
    assert "RFC 9700" in result.stderr and "response_type=token" in result.stderr
    client = _one_document(result)["ClientId"]
    assert _describe(cli, pool, client)["AllowedOAuthFlows"] == ["implicit"]
    refused = cli.cli("client", "create", "--pool", pool, "--name", "nocb", "--flow", "implicit", check=False)
    _refused([refused], [(("client", "create"), "the implicit flow needs at least one --callback-url")])
