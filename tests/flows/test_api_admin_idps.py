"""Identity providers over the admin API against a real server, with boto3 signing with an
admin key: an OIDC provider created over the API (ProviderDetails in Cognito's names) is
offered on the hosted login page, routes by its identifier and signs a user in from a real
OIDC provider on loopback with the attributes mapped; an update that sends the masked
secret back keeps the secret; Google, Facebook and SAML details round-trip under Cognito's
names; deleting a provider takes it off the clients and the page; bad details get AWS's
error and write nothing."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.aws import api_broker, refused
from tests.aws_admin import admin, rows, snapshot
from tests.conftest import Broker
from tests.peers.oidc_provider import OIDCProvider, running_provider
from tests.peers.saml_idp import running_idp
from tests.peers.social import Federation, assert_identities
from tests.rp import CALLBACK, RelyingParty, query_of

WEB: dict[str, Any] = {"CallbackURLs": [CALLBACK], "AllowedOAuthFlows": ["code"],
                       "AllowedOAuthScopes": ["openid", "email", "profile"], "AllowedOAuthFlowsUserPoolClient": True}
MASK = "*" * 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Broker]:
    with api_broker(tmp_path_factory.mktemp("admin-idps"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server: Broker) -> Any:
    return admin(server, server.cli_json("admin-key", "create"))


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    with running_provider() as upstream:
        upstream.add_user("alice", sub="b7c1-alice", email="alice@corp.example", email_verified=True,
                          name="Alice Liddell", team="blue")
        yield upstream


def _corp(server: Broker, idp: Any, provider: OIDCProvider) -> tuple[str, dict[str, Any]]:
    pool = server.pool()
    client_id, secret = provider.register(server.url(pool, "/oauth2/idpresponse"))
    created = idp.create_identity_provider(
        UserPoolId=pool, ProviderName="Corp", ProviderType="OIDC", IdpIdentifiers=["corp.example"],
        ProviderDetails={"client_id": client_id, "client_secret": secret, "oidc_issuer": provider.issuer,
                         "authorize_scopes": "openid email profile", "attributes_request_method": "GET"},
        AttributeMapping={"username": "sub", "email": "email", "name": "name", "custom:team": "team"})
    return pool, created["IdentityProvider"]


def _app(server: Broker, idp: Any, pool: str, *providers: str) -> Federation:
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="web", GenerateSecret=True,
                                         SupportedIdentityProviders=list(providers), **WEB)["UserPoolClient"]
    rp = RelyingParty(server.base_url, pool, client["ClientId"], client["ClientSecret"])
    return Federation(server, pool, "Corp", rp)


def _buttons(fed: Federation) -> list[str]:
    _params, r = fed.authorize()
    page = fed.rp.follow(r)
    return re.findall(r'<a class="[^"]*idp-button"\s+href="[^"]+">([^<]+)</a>', page.text)


def test_an_oidc_provider_created_over_the_api_signs_users_in(server, idp, provider):
    pool, created = _corp(server, idp, provider)
    assert created["ProviderType"] == "OIDC" and created["IdpIdentifiers"] == ["corp.example"]
    details = created["ProviderDetails"]
    assert details["client_secret"] == MASK and details["oidc_issuer"] == provider.issuer
    assert details["authorize_scopes"] == "openid email profile" and details["attributes_request_method"] == "GET"
    assert created["AttributeMapping"] == {"email": "email", "name": "name", "custom:team": "team"}
    fed = _app(server, idp, pool, "COGNITO", "Corp")
    assert _buttons(fed) == ["Continue with Corp"]
    _params, r = fed.authorize(idp_identifier="corp.example")
    assert r.headers["Location"].startswith(provider.discovery()["authorization_endpoint"])
    id_claims, _access = fed.tokens(*fed.sign_in("alice"))
    assert id_claims["email"] == "alice@corp.example" and id_claims["custom:team"] == "blue"
    assert_identities(id_claims, "b7c1-alice", "Corp", "OIDC")


def test_an_update_sending_the_masked_secret_back_keeps_the_secret(server, idp, provider):
    pool, created = _corp(server, idp, provider)
    [(stored,)] = rows(server, "SELECT details FROM identity_providers WHERE pool_id = :p", p=pool)
    details = {**created["ProviderDetails"], "authorize_scopes": "openid email"}
    updated = idp.update_identity_provider(UserPoolId=pool, ProviderName="Corp", ProviderDetails=details,
                                           AttributeMapping={"email": "email"})["IdentityProvider"]
    assert updated["ProviderDetails"]["authorize_scopes"] == "openid email"
    assert updated["AttributeMapping"] == {"email": "email"} and updated["IdpIdentifiers"] == ["corp.example"]
    [(after,)] = rows(server, "SELECT details FROM identity_providers WHERE pool_id = :p", p=pool)
    assert json.loads(after)["client_secret"] == json.loads(stored)["client_secret"] != MASK
    fed = _app(server, idp, pool, "Corp")
    _params, r = fed.authorize(identity_provider="Corp")
    assert query_of(r.headers["Location"])["scope"].split() == ["openid", "email"]
    id_claims, _ = fed.tokens(*fed.sign_in("alice"))  # the upstream still takes Cognate's secret
    assert "custom:team" not in id_claims and id_claims["email"] == "alice@corp.example"


def test_deleting_a_provider_takes_it_off_the_clients_and_the_page(server, idp, provider):
    pool, _ = _corp(server, idp, provider)
    fed = _app(server, idp, pool, "COGNITO", "Corp")
    listed = idp.list_identity_providers(UserPoolId=pool)["Providers"]
    assert [(p["ProviderName"], p["ProviderType"]) for p in listed] == [("Corp", "OIDC")]
    idp.delete_identity_provider(UserPoolId=pool, ProviderName="Corp")
    assert _buttons(fed) == []
    client = idp.describe_user_pool_client(UserPoolId=pool, ClientId=fed.rp.client_id)["UserPoolClient"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert refused(lambda: idp.describe_identity_provider(UserPoolId=pool, ProviderName="Corp"))[0] == \
        "ResourceNotFoundException"
    assert rows(server, "SELECT count(*) FROM identity_providers WHERE pool_id = :p", p=pool) == [(0,)]


def test_social_and_saml_details_round_trip_under_cognitos_names(server, idp, tmp_path):
    pool = server.pool()
    google = idp.create_identity_provider(UserPoolId=pool, ProviderName="Google", ProviderType="Google", ProviderDetails={
        "client_id": "gid.apps.googleusercontent.com", "client_secret": "g-secret", "authorize_scopes": "openid email"})
    assert google["IdentityProvider"]["ProviderDetails"] == {
        "client_id": "gid.apps.googleusercontent.com", "client_secret": MASK, "authorize_scopes": "openid email",
        "oidc_issuer": "https://accounts.google.com"}
    facebook = idp.create_identity_provider(UserPoolId=pool, ProviderName="Facebook", ProviderType="Facebook",
                                            ProviderDetails={"client_id": "1234", "client_secret": "f-secret",
                                                             "authorize_scopes": "public_profile,email",
                                                             "api_version": "v19.0"})
    shown = facebook["IdentityProvider"]["ProviderDetails"]
    assert shown["authorize_scopes"] == "public_profile,email" and shown["api_version"] == "v19.0"
    with running_idp(tmp_path / "saml") as saml:
        created = idp.create_identity_provider(UserPoolId=pool, ProviderName="Corp", ProviderType="SAML",
                                               ProviderDetails={"MetadataFile": saml.metadata_xml(), "IDPInit": "true",
                                                                "RequestSigningAlgorithm": "rsa-sha256"},
                                               AttributeMapping={"email": "email"})["IdentityProvider"]
        saml_details = created["ProviderDetails"]
        assert saml_details["IDPInit"] == "true" and saml_details["EncryptedResponses"] == "false"
        assert saml_details["RequestSigningAlgorithm"] == "rsa-sha256"
        assert saml_details["SSORedirectBindingURI"].startswith(saml.base_url)
        metadata = requests.get(server.url(pool, "/saml2/metadata"), params={"idp": "Corp"}, timeout=10)
        assert metadata.status_code == 200 and "AssertionConsumerService" in metadata.text
    pages = list(idp.get_paginator("list_identity_providers").paginate(UserPoolId=pool, MaxResults=2))
    assert [p["ProviderName"] for page in pages for p in page["Providers"]] == ["Corp", "Facebook", "Google"]


@pytest.mark.parametrize("kind, details, extra, code, named", [
    ("LoginWithAmazon", {"client_id": "a", "client_secret": "b", "authorize_scopes": "profile"}, {},
     "InvalidParameterException", "ProviderType"),
    ("Google", {"client_id": "a", "authorize_scopes": "openid"}, {}, "InvalidParameterException", "client-secret"),
    ("OIDC", {"client_id": "a", "client_secret": "b", "oidc_issuer": "https://idp.example",
              "authorize_scopes": "openid", "attributes_request_method": "POST"}, {},
     "InvalidParameterException", "attributes_request_method"),
    ("OIDC", {"client_id": "a", "client_secret": "b", "oidc_issuer": "https://idp.example",
              "authorize_scopes": "openid", "favourite_colour": "blue"}, {}, "InvalidParameterException",
     "favourite_colour"),
    ("OIDC", {"client_id": "a", "client_secret": "b", "oidc_issuer": "https://idp.example",
              "authorize_scopes": "openid"}, {"AttributeMapping": {"sub": "id"}}, "InvalidParameterException", "sub"),
    ("Facebook", {"client_id": "a", "client_secret": "b", "authorize_scopes": "email", "api_version": "19"}, {},
     "InvalidParameterException", "api-version"),
    ("SAML", {"MetadataFile": "<not-metadata/>"}, {}, "InvalidParameterException", "metadata"),
    ("SAML", {"MetadataFile": "<x/>", "IDPSignout": "true"}, {}, "InvalidParameterException", "IDPSignout"),
    ("OIDC", {"client_id": "a", "client_secret": "b", "oidc_issuer": "https://idp.example",
              "authorize_scopes": "openid"}, {"ProviderName": "Existing"}, "DuplicateProviderException", "Existing"),
])
def test_bad_provider_settings_are_refused_and_nothing_is_written(server, idp, kind, details, extra, code, named):
    pool = server.pool()
    idp.create_identity_provider(UserPoolId=pool, ProviderName="Existing", ProviderType="OIDC", ProviderDetails={
        "client_id": "a", "client_secret": "b", "oidc_issuer": "https://idp.example", "authorize_scopes": "openid"})
    before = snapshot(server, pool)
    params = {"UserPoolId": pool, "ProviderName": "New", "ProviderType": kind, "ProviderDetails": details, **extra}
    found, message = refused(lambda: idp.create_identity_provider(**params))
    assert found == code and named in message, message
    assert snapshot(server, pool) == before


def test_a_provider_update_with_bad_details_changes_nothing(server, idp, provider):
    pool, created = _corp(server, idp, provider)
    before = snapshot(server, pool)
    code, message = refused(lambda: idp.update_identity_provider(
        UserPoolId=pool, ProviderName="Corp", ProviderDetails={"oidc_issuer": "ftp://idp.example"}))
    assert code == "InvalidParameterException" and "issuer" in message, message
    code, message = refused(lambda: idp.update_identity_provider(UserPoolId=pool, ProviderName="Corp",
                                                                 AttributeMapping={"email": "mail"},
                                                                 IdpIdentifiers=["corp example"]))
    assert code == "InvalidParameterException" and "invalid identifier" in message, message  # Cognate's own rule
    assert snapshot(server, pool) == before
