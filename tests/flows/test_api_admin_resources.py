"""Resource servers and hosted-UI branding over the admin API against a real server, with
boto3 signing with an admin key: a resource server's scopes are granted by the token
endpoint to a client-credentials client made over the API, and a scope taken away by
UpdateResourceServer or DeleteResourceServer leaves the client and is refused; the CSS and
logo of SetUICustomization are what the hosted login page loads (the pool's, or a client's
own), under the CSS and image rules of ``broker ui set``; bad input writes nothing."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.aws import api_broker, refused
from tests.aws_admin import admin, snapshot
from tests.conftest import Broker
from tests.rp import CALLBACK, RelyingParty, pkce
from tests.test_branding import png

API = "https://api.example"
CSS = ".submitButton-customizable { background-color: #1a73e8; }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Broker]:
    with api_broker(tmp_path_factory.mktemp("admin-resources"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server: Broker) -> Any:
    return admin(server, server.cli_json("admin-key", "create"))


def _scopes(*names: str) -> list[dict[str, str]]:
    return [{"ScopeName": name, "ScopeDescription": f"{name} access"} for name in names]


def _grant(server: Broker, pool: str, client: dict[str, Any], scope: str) -> requests.Response:
    return requests.post(server.url(pool, "/oauth2/token"), timeout=10,
                         data={"grant_type": "client_credentials", "scope": scope},
                         auth=(client["ClientId"], client["ClientSecret"]))


def test_resource_server_scopes_are_granted_and_withdrawn(server, idp):
    pool = server.pool()
    created = idp.create_resource_server(UserPoolId=pool, Identifier=API, Name="orders",
                                         Scopes=_scopes("read", "write"))["ResourceServer"]
    assert [s["ScopeName"] for s in created["Scopes"]] == ["read", "write"] and created["Name"] == "orders"
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="worker", GenerateSecret=True,
                                         AllowedOAuthFlows=["client_credentials"], AllowedOAuthFlowsUserPoolClient=True,
                                         AllowedOAuthScopes=[f"{API}/read", f"{API}/write"])["UserPoolClient"]
    r = _grant(server, pool, client, f"{API}/read")
    assert r.status_code == 200, r.text
    assert RelyingParty(server.base_url, pool, client["ClientId"]).verify(r.json()["access_token"])["scope"] == \
        f"{API}/read"

    updated = idp.update_resource_server(UserPoolId=pool, Identifier=API, Name="orders v2",
                                         Scopes=_scopes("write"))["ResourceServer"]
    assert updated["Name"] == "orders v2" and [s["ScopeName"] for s in updated["Scopes"]] == ["write"]
    shown = idp.describe_user_pool_client(UserPoolId=pool, ClientId=client["ClientId"])["UserPoolClient"]
    assert shown["AllowedOAuthScopes"] == [f"{API}/write"]
    assert _grant(server, pool, client, f"{API}/read").json()["error"] == "invalid_scope"
    assert _grant(server, pool, client, f"{API}/write").status_code == 200

    assert idp.describe_resource_server(UserPoolId=pool, Identifier=API)["ResourceServer"]["Name"] == "orders v2"
    idp.create_resource_server(UserPoolId=pool, Identifier="billing", Name="billing", Scopes=_scopes("pay"))
    pages = list(idp.get_paginator("list_resource_servers").paginate(UserPoolId=pool, MaxResults=1))
    assert [s["Identifier"] for page in pages for s in page["ResourceServers"]] == ["billing", API]
    idp.delete_resource_server(UserPoolId=pool, Identifier=API)
    assert refused(lambda: idp.describe_resource_server(UserPoolId=pool, Identifier=API))[0] == \
        "ResourceNotFoundException"
    assert _grant(server, pool, client, f"{API}/write").json()["error"] == "invalid_scope"
    assert idp.describe_user_pool_client(UserPoolId=pool, ClientId=client["ClientId"])["UserPoolClient"][
        "AllowedOAuthScopes"] == []


@pytest.mark.parametrize("call, named", [
    (lambda idp, pool: idp.create_resource_server(UserPoolId=pool, Identifier="taken", Name="again",
                                                  Scopes=_scopes("x")), "already exists"),
    (lambda idp, pool: idp.create_resource_server(UserPoolId=pool, Identifier="new", Name="n",
                                                  Scopes=_scopes("bad/scope")), "scopeName"),
    (lambda idp, pool: idp.update_resource_server(UserPoolId=pool, Identifier="nobody", Name="n"),
     "does not exist"),
])
def test_bad_resource_servers_are_refused_and_nothing_is_written(server, idp, call, named):
    pool = server.pool()
    idp.create_resource_server(UserPoolId=pool, Identifier="taken", Name="taken", Scopes=_scopes("read"))
    before = snapshot(server, pool)
    code, message = refused(lambda: call(idp, pool))
    assert code in ("InvalidParameterException", "ResourceNotFoundException") and named in message, message
    assert snapshot(server, pool) == before


def _login_page(server: Broker, pool: str, client: str) -> str:
    rp = RelyingParty(server.base_url, pool, client)
    r = rp.authorize(code_challenge=pkce()[1], code_challenge_method="S256")
    assert r.status_code == 302 and "/login?" in r.headers["Location"], r.headers.get("Location")
    return rp.follow(r).text


def _stylesheets(server: Broker, page: str) -> list[str]:
    links = re.findall(r'<link rel="stylesheet" href="([^"]+/ui/[^"]+)"', page)
    return [requests.get(server.base_url + link.replace("&amp;", "&"), timeout=10).text for link in links]


def test_ui_customization_is_what_the_hosted_page_loads(server, idp):
    pool = server.pool()
    web = {"CallbackURLs": [CALLBACK], "AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": True}
    a = idp.create_user_pool_client(UserPoolId=pool, ClientName="a", **web)["UserPoolClient"]["ClientId"]
    b = idp.create_user_pool_client(UserPoolId=pool, ClientName="b", **web)["UserPoolClient"]["ClientId"]
    logo = png(40, 20)
    set_ = idp.set_ui_customization(UserPoolId=pool, CSS=CSS, ImageFile=logo)["UICustomization"]
    assert set_["ClientId"] == "ALL" and "background-color: #1a73e8" in set_["CSS"] and set_["CSSVersion"]
    assert requests.get(set_["ImageUrl"], timeout=10).content == logo
    assert any("#1a73e8" in css for css in _stylesheets(server, _login_page(server, pool, a)))

    idp.set_ui_customization(UserPoolId=pool, ClientId=b, CSS=".banner-customizable { background-color: #00ff00; }")
    page_b = _stylesheets(server, _login_page(server, pool, b))
    assert any("#00ff00" in css for css in page_b) and not any("#1a73e8" in css for css in page_b)
    assert idp.get_ui_customization(UserPoolId=pool, ClientId=a)["UICustomization"]["ClientId"] == "ALL"
    own = idp.get_ui_customization(UserPoolId=pool, ClientId=b)["UICustomization"]
    assert own["ClientId"] == b and "ImageUrl" not in own  # a client's branding replaces the pool's

    idp.set_ui_customization(UserPoolId=pool, CSS=CSS)  # the image left out is removed
    assert "ImageUrl" not in idp.get_ui_customization(UserPoolId=pool)["UICustomization"]
    idp.set_ui_customization(UserPoolId=pool)  # neither: the default look
    assert idp.get_ui_customization(UserPoolId=pool)["UICustomization"] == {"UserPoolId": pool, "ClientId": "ALL"}
    assert not any("#1a73e8" in css for css in _stylesheets(server, _login_page(server, pool, a)))


@pytest.mark.parametrize("params, code, named", [
    ({"CSS": ".submitButton-customizable { background: url(https://evil.example/x.png); }"},
     "InvalidParameterException", "url()"),
    ({"CSS": "@import 'https://evil.example/x.css';"}, "InvalidParameterException", "at-rules"),
    ({"ImageFile": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"},
     "InvalidParameterException", "only PNG and JPEG"),
    ({"ClientId": "nosuchclient", "CSS": CSS}, "ResourceNotFoundException", "nosuchclient"),
])
def test_bad_ui_customization_is_refused_and_nothing_is_written(server, idp, params, code, named):
    pool = server.pool()
    idp.set_ui_customization(UserPoolId=pool, CSS=CSS)
    before = snapshot(server, pool)
    found, message = refused(lambda: idp.set_ui_customization(UserPoolId=pool, **params))
    assert found == code and named in message, message
    assert snapshot(server, pool) == before

