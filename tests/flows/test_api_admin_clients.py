"""App clients over the admin API against a real server, with boto3 signing with an admin
key: a client created over the API runs the authorization-code flow (its secret, scopes and
token lifetimes as set) and InitiateAuth (with a SECRET_HASH of a secret the caller chose);
DescribeUserPoolClient shows the secret as Cognito does; UpdateUserPoolClient resets what it
leaves out, and two nodes sharing one database see a new callback URL at once (the node that
wrote it) and within a second (the other one, through the configuration version); bad
input gets AWS's error and writes nothing (read back from the database)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from broker.userpool.client_auth import secret_hash
from tests.aws import api_broker, cognito_idp, refused
from tests.aws_admin import admin, rows, snapshot
from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty

PASSWORD = "Corr3ct-Horse!"
OTHER_CALLBACK = "http://localhost:9000/other"
WEB: dict[str, Any] = {"CallbackURLs": [CALLBACK], "LogoutURLs": ["http://localhost:9000/bye"],
                       "AllowedOAuthFlows": ["code"], "AllowedOAuthScopes": ["openid", "email"],
                       "AllowedOAuthFlowsUserPoolClient": True, "SupportedIdentityProviders": ["COGNITO"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Broker]:
    with api_broker(tmp_path_factory.mktemp("admin-clients"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server: Broker) -> Any:
    return admin(server, server.cli_json("admin-key", "create"))


@pytest.fixture
def pool(server: Broker) -> str:
    pool = server.pool()
    server.cli("user", "create", "--pool", pool, "--username", "ada", "--password", PASSWORD,
               "--email", "ada@example.com", "--confirmed")
    return pool


def test_a_client_created_over_the_api_runs_the_code_flow_with_its_settings(server, idp, pool):
    created = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="web", GenerateSecret=True, AccessTokenValidity=30, IdTokenValidity=2,
        RefreshTokenValidity=5, TokenValidityUnits={"AccessToken": "minutes", "IdToken": "hours"},
        RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 10}, **WEB)["UserPoolClient"]
    client, secret = created["ClientId"], created["ClientSecret"]
    described = idp.describe_user_pool_client(UserPoolId=pool, ClientId=client)["UserPoolClient"]
    for shown in (created, described):
        assert shown["ClientSecret"] == secret and shown["ClientName"] == "web"
        assert (shown["AccessTokenValidity"], shown["IdTokenValidity"], shown["RefreshTokenValidity"]) == (30, 2, 5)
        assert shown["TokenValidityUnits"] == {"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"}
        assert shown["CallbackURLs"] == [CALLBACK] and shown["AllowedOAuthFlowsUserPoolClient"] is True
        assert shown["PreventUserExistenceErrors"] == "ENABLED" and shown["EnableTokenRevocation"] is True
        assert shown["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 10}
    rp = RelyingParty(server.base_url, pool, client, secret)
    _params, code = rp.sign_in("ada", PASSWORD, scope="openid email")
    tokens = rp.exchange(code).json()
    access, id_claims = rp.verify(tokens["access_token"]), rp.verify(tokens["id_token"], audience=client)
    assert access["scope"] == "openid email" and access["exp"] - access["iat"] == 30 * 60
    assert id_claims["exp"] - id_claims["iat"] == 2 * 3600 and id_claims["email"] == "ada@example.com"
    [(created_at, expires_at)] = rows(server, "SELECT created_at, expires_at FROM refresh_tokens WHERE client_id = :c",
                                      c=client)
    assert _seconds(expires_at) - _seconds(created_at) == pytest.approx(5 * 86400, abs=5)
    assert rp.refresh(tokens["refresh_token"]).json()["refresh_token"] != tokens["refresh_token"]  # rotation


def _seconds(value: Any) -> float:
    from datetime import datetime, timezone

    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=when.tzinfo or timezone.utc).timestamp()


def test_initiate_auth_takes_a_client_with_the_secret_its_creator_chose(server, idp, pool):
    chosen = "s3cr3t_chosen_by_the_backend_0123456789"
    created = idp.create_user_pool_client(UserPoolId=pool, ClientName="backend", ClientSecret=chosen,
                                          ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    client = created["UserPoolClient"]["ClientId"]
    assert created["UserPoolClient"]["ClientSecret"] == chosen
    assert created["UserPoolClient"]["AllowedOAuthFlows"] == [] and "AllowedOAuthFlowsUserPoolClient" in \
        created["UserPoolClient"] and created["UserPoolClient"]["AllowedOAuthFlowsUserPoolClient"] is False
    users = cognito_idp(server.base_url)
    result = users.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "ada", "PASSWORD": PASSWORD, "SECRET_HASH": secret_hash(chosen, "ada", client)})
    assert result["AuthenticationResult"]["AccessToken"]
    code, _ = refused(lambda: users.initiate_auth(ClientId=client, AuthFlow="USER_SRP_AUTH", AuthParameters={
        "USERNAME": "ada", "SRP_A": "abc", "SECRET_HASH": secret_hash(chosen, "ada", client)}))
    assert code == "InvalidParameterException"  # SRP was not among the flows given


def test_update_user_pool_client_resets_what_it_leaves_out(server, idp, pool):
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="web", AccessTokenValidity=5,
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"], ReadAttributes=["email"],
                                         **WEB)["UserPoolClient"]["ClientId"]
    rp = RelyingParty(server.base_url, pool, client)
    assert rp.authorize().status_code == 302
    updated = idp.update_user_pool_client(UserPoolId=pool, ClientId=client, ClientName="renamed")["UserPoolClient"]
    assert updated["ClientName"] == "renamed" and updated["CallbackURLs"] == [] and updated["AllowedOAuthFlows"] == []
    assert updated["AllowedOAuthFlowsUserPoolClient"] is False and "ReadAttributes" not in updated
    assert updated["ExplicitAuthFlows"] == ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    assert (updated["AccessTokenValidity"], updated["TokenValidityUnits"]["AccessToken"]) == (1, "hours")
    assert updated["LastModifiedDate"] > updated["CreationDate"]
    assert rows(server, "SELECT callback_urls, allowed_flows FROM app_clients WHERE id = :c", c=client) == [("[]", "[]")]
    assert rp.authorize().status_code != 302  # no registered redirect_uri any more: an error page, no redirect


def test_the_implicit_flow_is_allowed_only_where_named(server, idp, pool):
    """Cognito's AllowedOAuthFlows ``implicit``: response_type=token for that client only."""
    implicit = idp.create_user_pool_client(UserPoolId=pool, ClientName="legacy",
                                           **{**WEB, "AllowedOAuthFlows": ["implicit"]})["UserPoolClient"]
    assert implicit["AllowedOAuthFlows"] == ["implicit"]
    code = idp.create_user_pool_client(UserPoolId=pool, ClientName="web", **WEB)["UserPoolClient"]["ClientId"]
    for client, answer in ((implicit["ClientId"], "/login?"), (code, "#error=unauthorized_client")):
        rp = RelyingParty(server.base_url, pool, client)
        r = rp.authorize(response_type="token", scope="openid email")
        assert r.status_code == 302 and answer in r.headers["Location"], r.headers["Location"]


@pytest.mark.parametrize("change, code, named", [
    ({"AllowedOAuthFlows": ["code", "token"]}, "InvalidParameterException", "token"),
    ({"AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": False}, "InvalidParameterException",
     "AllowedOAuthFlowsUserPoolClient"),
    ({"AllowedOAuthFlows": ["client_credentials"]}, "InvalidParameterException", "secret"),
    ({"AllowedOAuthScopes": ["openid", "https://api.example/read"]}, "InvalidParameterException", "unknown scope"),
    ({"CallbackURLs": ["http://app.example/cb"]}, "InvalidParameterException", "localhost"),
    ({"PreventUserExistenceErrors": "LEGACY"}, "InvalidParameterException", "PreventUserExistenceErrors"),
    ({"EnableTokenRevocation": False}, "InvalidParameterException", "EnableTokenRevocation"),
    ({"AccessTokenValidity": 2, "TokenValidityUnits": {"AccessToken": "minutes"}}, "InvalidParameterException",
     "AccessTokenValidity must be from 300"),
    ({"ExplicitAuthFlows": ["USER_PASSWORD_AUTH"]}, "InvalidParameterException", "deprecated"),
    ({"SupportedIdentityProviders": ["COGNITO", "Corp"]}, "InvalidParameterException", "Corp"),
    ({"WriteAttributes": ["email_verified"]}, "InvalidParameterException", "email_verified"),
    ({"DefaultRedirectURI": CALLBACK}, "InvalidParameterException", "DefaultRedirectURI"),
    ({"ClientName": "bad/name"}, "InvalidParameterException", "clientName"),
])
def test_bad_client_settings_are_refused_and_nothing_is_written(server, idp, pool, change, code, named):
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="web", **WEB)["UserPoolClient"]["ClientId"]
    before = snapshot(server, pool)
    found, message = refused(lambda: idp.update_user_pool_client(UserPoolId=pool, ClientId=client,
                                                                  **{**WEB, **change}))
    assert found == code and named in message, message
    found, message = refused(lambda: idp.create_user_pool_client(UserPoolId=pool, **{"ClientName": "new", **WEB,
                                                                                      **change}))
    assert found == code and named in message, message
    assert snapshot(server, pool) == before


def test_clients_are_listed_page_by_page_and_deleted(server, idp, pool):
    made = {idp.create_user_pool_client(UserPoolId=pool, ClientName=f"app{i}")["UserPoolClient"]["ClientId"]
            for i in range(3)}
    pages = list(idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool, MaxResults=2))
    assert [len(p["UserPoolClients"]) for p in pages] == [2, 1]
    assert {c["ClientId"] for p in pages for c in p["UserPoolClients"]} == made
    gone = sorted(made)[0]
    idp.delete_user_pool_client(UserPoolId=pool, ClientId=gone)
    assert rows(server, "SELECT count(*) FROM app_clients WHERE id = :c", c=gone) == [(0,)]
    assert refused(lambda: idp.describe_user_pool_client(UserPoolId=pool, ClientId=gone))[0] == \
        "ResourceNotFoundException"
    assert refused(lambda: idp.delete_user_pool_client(UserPoolId=pool, ClientId=gone))[0] == \
        "ResourceNotFoundException"


def test_a_key_scoped_to_another_pool_writes_no_client(server, idp, pool):
    other = server.pool()
    scoped = admin(server, server.cli_json("admin-key", "create", "--pool", other))
    before = snapshot(server, pool)
    assert refused(lambda: scoped.create_user_pool_client(UserPoolId=pool, ClientName="x"))[0] == \
        "AccessDeniedException"
    assert refused(lambda: scoped.list_user_pool_clients(UserPoolId=pool))[0] == "AccessDeniedException"
    assert snapshot(server, pool) == before
    assert scoped.list_user_pool_clients(UserPoolId=other)["UserPoolClients"] == []


def test_every_node_sees_an_updated_callback_url_at_once(make_broker, postgres_url, redis_url):
    """Node A keeps configuration an hour, node B a second (the production default): A
    wrote the change and drops its cache when it commits; B sees the configuration version
    move at its next check."""
    a = make_broker(database_url=postgres_url, redis_url=redis_url, BROKER_CONFIG_CACHE_SECONDS="3600")
    b = make_broker(database_url=postgres_url, redis_url=redis_url, BROKER_SECRET_KEY=a.env["BROKER_SECRET_KEY"])
    pool = a.pool()
    idp = admin(a, a.cli_json("admin-key", "create"))
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="web", **WEB)["UserPoolClient"]["ClientId"]

    def authorize(node: Broker, redirect_uri: str) -> int:
        params = {"response_type": "code", "client_id": client, "redirect_uri": redirect_uri, "scope": "openid",
                  "state": "s", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                  "code_challenge_method": "S256"}
        return requests.get(node.url(pool, "/oauth2/authorize"), params=params, allow_redirects=False,
                            timeout=10).status_code

    assert authorize(a, CALLBACK) == 302 and authorize(b, CALLBACK) == 302  # both nodes cached the client
    assert authorize(a, OTHER_CALLBACK) != 302
    idp.update_user_pool_client(UserPoolId=pool, ClientId=client, **{**WEB, "CallbackURLs": [OTHER_CALLBACK]})
    assert authorize(a, OTHER_CALLBACK) == 302 and authorize(a, CALLBACK) != 302
    deadline = time.monotonic() + 5
    while authorize(b, OTHER_CALLBACK) != 302:
        assert time.monotonic() < deadline, "node B never saw the new callback URL"
        time.sleep(0.2)
    assert authorize(b, CALLBACK) != 302
