"""Sign-in through a generic OpenID Connect provider, over real HTTP: a real provider
(Authlib's server) on loopback, Cognate as a subprocess, the app as a relying party.
The IdP is set up with the CLI; the tokens at the app carry the mapped attributes and
Cognito's ``identities`` claim; a second sign-in refreshes the same user."""
from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.peers.oidc_provider import OIDCProvider, running_provider
from tests.peers.social import Federation, assert_identities, attributes, federation
from tests.rp import form_fields

MAPPING = ("--attribute-mapping", "email=email", "--attribute-mapping", "name=name",
           "--attribute-mapping", "given_name=given_name", "--attribute-mapping", "custom:team=team")


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    with running_provider() as idp:
        idp.add_user("alice", sub="b7c1-alice", email="alice@corp.example", email_verified=True, name="Alice Liddell",
                     given_name="Alice", team="blue")
        yield idp


def _corp(broker, provider: OIDCProvider, *extra: str, client_idps: tuple[str, ...] | None = None) -> Federation:
    return federation(broker, provider, "OIDC", "Corp", "--issuer", provider.issuer, "--scopes",
                      "openid email profile", *MAPPING, *extra, client_idps=client_idps)


def test_oidc_sign_in_by_discovery_lands_in_the_pool_with_mapped_attributes(shared_broker, provider):
    fed = _corp(shared_broker, provider)
    params, answer = fed.sign_in("alice")
    id_claims, access = fed.tokens(params, answer)
    assert id_claims["cognito:username"] == "corp_b7c1-alice"
    assert id_claims["email"] == "alice@corp.example" and id_claims["email_verified"] is True
    assert id_claims["name"] == "Alice Liddell" and id_claims["given_name"] == "Alice"
    assert id_claims["custom:team"] == "blue"
    assert id_claims["nonce"] == params["nonce"]
    assert_identities(id_claims, "b7c1-alice", "Corp", "OIDC")
    assert access["username"] == "corp_b7c1-alice" and access["sub"] == id_claims["sub"]
    # discovery found the endpoints; Cognate authenticated with client_secret_basic (the default)
    assert provider.hits[urlsplit(provider.issuer).path + "/.well-known/openid-configuration"] >= 1
    assert provider.token_auth == ["client_secret_basic"]
    [user] = fed.users()
    assert user["UserStatus"] == "EXTERNAL_PROVIDER" and user["Username"] == "corp_b7c1-alice"


def test_second_oidc_sign_in_updates_the_user_instead_of_adding_one(shared_broker, provider):
    fed = _corp(shared_broker, provider)
    first, _ = fed.tokens(*fed.sign_in("alice"))
    provider.users["alice"].claims.update(name="Alice Kingsleigh", team="red")
    fed.rp.browser = requests.Session()  # another device: no hosted session
    again, _ = fed.tokens(*fed.sign_in("alice"))
    assert again["sub"] == first["sub"]
    assert again["name"] == "Alice Kingsleigh" and again["custom:team"] == "red"
    assert_identities(again, "b7c1-alice", "Corp", "OIDC")
    [user] = fed.users()
    assert attributes(user)["name"] == "Alice Kingsleigh" and attributes(user)["custom:team"] == "red"


def test_explicit_endpoints_with_client_secret_post_skip_discovery(shared_broker, provider):
    urls = provider.discovery()
    fed = _corp(shared_broker, provider, "--authorize-url", urls["authorization_endpoint"],
                "--token-url", urls["token_endpoint"], "--jwks-uri", urls["jwks_uri"],
                "--userinfo-url", urls["userinfo_endpoint"], "--token-auth-method", "client_secret_post")
    id_claims, _ = fed.tokens(*fed.sign_in("alice"))
    assert id_claims["email"] == "alice@corp.example" and id_claims["custom:team"] == "blue"
    assert provider.token_auth == ["client_secret_post"]
    assert not any(path.endswith("openid-configuration") for path in provider.hits)
    assert provider.hits[urlsplit(urls["userinfo_endpoint"]).path] == 1


def test_provider_key_rotation_is_followed(shared_broker, provider):
    """Cognate caches the provider's JWKS; a token under a kid it has not seen makes it
    fetch the JWKS again instead of refusing the sign-in."""
    fed = _corp(shared_broker, provider)
    fed.tokens(*fed.sign_in("alice"))
    jwks_path = urlsplit(provider.discovery()["jwks_uri"]).path
    assert provider.hits[jwks_path] == 1
    provider.rotate_key()
    fed.rp.browser = requests.Session()
    again, _ = fed.tokens(*fed.sign_in("alice"))
    assert again["email"] == "alice@corp.example"
    assert provider.hits[jwks_path] == 2


def test_claims_only_in_userinfo_reach_the_tokens(shared_broker, provider):
    """The provider keeps its own claims (``team``) out of the ID token: Cognate must ask
    UserInfo for them."""
    fed = _corp(shared_broker, provider)
    id_claims, _ = fed.tokens(*fed.sign_in("alice"))
    assert id_claims["custom:team"] == "blue"
    assert provider.hits[urlsplit(provider.discovery()["userinfo_endpoint"]).path] == 1


def test_hosted_page_button_goes_upstream_and_back_to_the_app(shared_broker, provider):
    fed = _corp(shared_broker, provider, client_idps=("COGNITO", "Corp"))
    params, r = fed.authorize()
    assert r.status_code == 302 and "/login?txn=" in r.headers["Location"]
    page = fed.rp.follow(r)
    assert page.status_code == 200
    links = dict((text, href.replace("&amp;", "&")) for href, text in
                 re.findall(r'<a class="[^"]*idp-button"\s+href="([^"]+)">([^<]+)</a>', page.text))
    assert list(links) == ["Continue with Corp"], page.text
    r = fed.rp.browser.get(urljoin(page.url, links["Continue with Corp"]), allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(provider.discovery()["authorization_endpoint"])
    id_claims, _ = fed.tokens(params, fed.back_from_upstream(r.headers["Location"], "alice"))
    assert id_claims["email"] == "alice@corp.example"
    assert_identities(id_claims, "b7c1-alice", "Corp", "OIDC")


def test_idp_identifier_and_the_email_field_route_to_the_provider_by_domain(shared_broker, provider):
    fed = _corp(shared_broker, provider, "--identifier", "corp.example", client_idps=("COGNITO", "Corp"))
    params, r = fed.authorize(idp_identifier="corp.example")
    assert r.status_code == 302 and r.headers["Location"].startswith(provider.discovery()["authorization_endpoint"])
    id_claims, _ = fed.tokens(params, fed.back_from_upstream(r.headers["Location"], "alice"))
    assert id_claims["cognito:username"] == "corp_b7c1-alice"

    fed.rp.browser = requests.Session()
    params, r = fed.authorize()
    page = fed.rp.follow(r)
    action = re.search(r'<form method="post" action="([^"]+/federate)"', page.text)
    assert action, page.text
    r = fed.rp.browser.post(urljoin(page.url, action.group(1)),
                            data={**form_fields(page.text), "email": "Alice@Corp.Example"}, allow_redirects=False,
                            timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(provider.discovery()["authorization_endpoint"])
    again, _ = fed.tokens(params, fed.back_from_upstream(r.headers["Location"], "alice"))
    assert again["sub"] == id_claims["sub"]
    assert len(fed.users()) == 1


CREDENTIALS = ("--client-id", "app", "--client-secret", "s3cret-value")


@pytest.fixture(scope="module")
def empty_pool(shared_broker) -> str:
    return shared_broker.pool()


@pytest.mark.parametrize("provider_type, args, line", [
    ("OIDC", ("--client-id", "app", "--client-secret", "s"), "missing --issuer"),
    ("OIDC", ("--issuer", "https://id.example.com", "--client-id", "app"), "missing --client-secret"),
    ("Google", ("--client-secret", "s"), "missing --client-id"),
    ("OIDC", (*CREDENTIALS, "--issuer", "https://id.example.com", "--metadata-url", "https://id.example.com/md"),
     "--metadata-url does not apply to OIDC identity providers"),
    ("OIDC", (*CREDENTIALS, "--issuer", "https://id.example.com", "--api-version", "v19.0"),
     "--api-version does not apply to OIDC identity providers"),
    ("Google", (*CREDENTIALS, "--jwks-uri", "https://evil.example/jwks"), "--jwks-uri does not apply to Google"),
    ("Facebook", (*CREDENTIALS, "--sign-requests"), "--sign-requests does not apply to Facebook"),
    ("OIDC", (*CREDENTIALS, "--issuer", "http://id.example.com"), "--issuer must use https"),
    ("OIDC", (*CREDENTIALS, "--issuer", "https://id.example.com", "--jwks-uri", "javascript:alert(1)//"),
     "--jwks-uri must be an absolute https URL"),
    ("OIDC", (*CREDENTIALS, "--issuer", "https://id.example.com", "--scopes", 'openid "email'),
     "--scopes must be space-separated printable scope names"),
    ("OIDC", (*CREDENTIALS, "--issuer", "https://id.example.com", "--scopes", "email profile"),
     "--scopes must include openid"),
    ("Facebook", (*CREDENTIALS, "--api-version", "19"), "--api-version must look like v19.0"),
])
def test_idp_create_refuses_options_that_do_not_fit_the_type(shared_broker, empty_pool, provider_type, args, line):
    pool = empty_pool
    r = shared_broker.cli("idp", "create", "--pool", pool, "--type", provider_type, "--name", "Up", *args,
                          check=False)
    assert r.returncode == 2 and line in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert shared_broker.cli_json("idp", "list", "--pool", pool)["Providers"] == []


def test_idp_settings_keep_the_secret_hidden_and_updates_keep_the_rest(shared_broker):
    pool = shared_broker.pool()
    created = shared_broker.cli_json("idp", "create", "--pool", pool, "--type", "OIDC", "--name", "Corp",
                                     "--issuer", "https://id.example.com", *CREDENTIALS)["IdentityProvider"]
    assert created["ProviderDetails"] == {
        "client_id": "app", "client_secret": "********", "issuer": "https://id.example.com", "scopes": "openid",
        "token_auth_method": "client_secret_basic"}
    shared_broker.cli("idp", "update", "--pool", pool, "--name", "Corp", "--scopes", "openid  email openid")
    details = shared_broker.cli_json("idp", "describe", "--pool", pool, "--name", "Corp")["IdentityProvider"]
    assert details["ProviderDetails"] == {**created["ProviderDetails"], "scopes": "openid email"}
    google = shared_broker.cli_json("idp", "create", "--pool", pool, "--type", "Google", "--name", "Google",
                                    *CREDENTIALS)["IdentityProvider"]
    assert google["ProviderDetails"]["issuer"] == "https://accounts.google.com"
    assert google["ProviderDetails"]["scopes"] == "openid email profile"
    assert "s3cret-value" not in shared_broker.cli("idp", "describe", "--pool", pool, "--name", "Google", "--json").stdout
