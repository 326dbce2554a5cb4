"""Sign in with Google and with Facebook, over real HTTP, against local servers speaking
their protocols (Google: discovery, ``/o/oauth2/v2/auth``, ``/token``, ``/v1/userinfo``,
``/oauth2/v3/certs``; Facebook: the login dialog, ``/oauth/access_token``, Graph ``/me``
with ``appsecret_proof``). The tokens at the app carry the mapped attributes and the
``identities`` claim; a second sign-in refreshes the same user."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.peers.facebook import VERSION, FacebookStandIn, running_facebook
from tests.peers.oidc_provider import OIDCProvider, running_google
from tests.peers.social import assert_identities, attributes, federation
from tests.rp import query_of

GOOGLE_SUB = "109876543210987654321"
FACEBOOK_ID = "10158000000000001"


@pytest.fixture
def google() -> Iterator[OIDCProvider]:
    with running_google() as peer:
        peer.add_user("alice", sub=GOOGLE_SUB, email="alice.liddell@gmail.com", email_verified=True,
                      name="Alice Liddell", given_name="Alice", family_name="Liddell",
                      picture="https://lh3.googleusercontent.com/a/alice=s96-c", locale="en")
        yield peer


@pytest.fixture
def facebook() -> Iterator[FacebookStandIn]:
    with running_facebook() as peer:
        peer.add_user("alice", id=FACEBOOK_ID, name="Alice Liddell", email="alice@example.net", first_name="Alice",
                      last_name="Liddell", picture="https://platform-lookaside.fbsbx.com/alice.jpg", birthday="05/04/1852")
        yield peer


def test_google_sign_in_with_default_mapping(shared_broker, google):
    fed = federation(shared_broker, google, "Google", "Google", "--issuer", google.issuer)
    params, r = fed.authorize(identity_provider="Google")
    assert r.status_code == 302 and r.headers["Location"].startswith(f"{google.base_url}/o/oauth2/v2/auth?")
    upstream = query_of(r.headers["Location"])
    assert upstream["scope"] == "openid email profile" and upstream["response_type"] == "code"
    assert upstream["redirect_uri"] == shared_broker.url(fed.pool, "/oauth2/idpresponse")
    assert upstream["code_challenge_method"] == "S256" and len(upstream["nonce"]) >= 32
    assert upstream["state"] != params["state"]  # Cognate's own state, never the app's

    id_claims, access = fed.tokens(params, fed.back_from_upstream(r.headers["Location"], "alice"))
    assert id_claims["cognito:username"] == f"google_{GOOGLE_SUB}"
    assert id_claims["email"] == "alice.liddell@gmail.com" and id_claims["email_verified"] is True
    assert (id_claims["name"], id_claims["given_name"], id_claims["family_name"]) == ("Alice Liddell", "Alice", "Liddell")
    assert id_claims["picture"] == "https://lh3.googleusercontent.com/a/alice=s96-c"
    assert_identities(id_claims, GOOGLE_SUB, "Google", "Google")
    assert access["username"] == f"google_{GOOGLE_SUB}"
    for path in ("/.well-known/openid-configuration", "/token", "/v1/userinfo", "/oauth2/v3/certs"):
        assert google.hits[path] >= 1, path
    assert google.token_auth == ["client_secret_post"]


def test_second_google_sign_in_updates_the_user(shared_broker, google):
    fed = federation(shared_broker, google, "Google", "Google", "--issuer", google.issuer)
    first, _ = fed.tokens(*fed.sign_in("alice"))
    google.users["alice"].claims.update(name="Alice Kingsleigh", family_name="Kingsleigh")
    fed.rp.browser = requests.Session()
    again, _ = fed.tokens(*fed.sign_in("alice"))
    assert again["sub"] == first["sub"]
    assert (again["name"], again["family_name"]) == ("Alice Kingsleigh", "Kingsleigh")
    [user] = fed.users()
    assert attributes(user)["family_name"] == "Kingsleigh"


def _facebook(broker, facebook: FacebookStandIn, *extra: str):
    urls = facebook.urls()
    return federation(broker, facebook, "Facebook", "Facebook", "--authorize-url", urls["authorize_url"],
                      "--token-url", urls["token_url"], "--userinfo-url", urls["userinfo_url"], *extra)


def test_facebook_sign_in_asks_graph_for_the_mapped_fields_with_appsecret_proof(shared_broker, facebook):
    fed = _facebook(shared_broker, facebook, "--attribute-mapping", "email=email", "--attribute-mapping", "name=name",
                    "--attribute-mapping", "picture=picture", "--attribute-mapping", "birthdate=birthday")
    params, r = fed.authorize(identity_provider="Facebook")
    assert r.headers["Location"].startswith(f"{facebook.base_url}/{VERSION}/dialog/oauth?")
    assert query_of(r.headers["Location"])["scope"] == "public_profile email"
    id_claims, _ = fed.tokens(params, fed.back_from_upstream(r.headers["Location"], "alice"))
    assert id_claims["cognito:username"] == f"facebook_{FACEBOOK_ID}"
    assert id_claims["email"] == "alice@example.net" and id_claims["email_verified"] is True
    assert id_claims["name"] == "Alice Liddell" and id_claims["birthdate"] == "05/04/1852"
    assert id_claims["picture"] == "https://platform-lookaside.fbsbx.com/alice.jpg"
    assert_identities(id_claims, FACEBOOK_ID, "Facebook", "Facebook")
    [call] = facebook.graph_calls
    assert set(call["fields"].split(",")) == {"id", "email", "name", "picture", "birthday"}
    assert len(call["appsecret_proof"]) == 64


def test_second_facebook_sign_in_updates_the_user_with_the_default_mapping(shared_broker, facebook):
    fed = _facebook(shared_broker, facebook)
    first, _ = fed.tokens(*fed.sign_in("alice"))
    assert (first["given_name"], first["family_name"]) == ("Alice", "Liddell")
    facebook.users["alice"].update(last_name="Kingsleigh", name="Alice Kingsleigh")
    fed.rp.browser = requests.Session()
    again, _ = fed.tokens(*fed.sign_in("alice"))
    assert again["sub"] == first["sub"]
    assert (again["family_name"], again["name"]) == ("Kingsleigh", "Alice Kingsleigh")
    assert_identities(again, FACEBOOK_ID, "Facebook", "Facebook")
    [user] = fed.users()
    assert attributes(user)["family_name"] == "Kingsleigh"
