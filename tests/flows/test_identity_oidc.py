"""OpenID Connect issuers as identity pools' providers, with the OIDC peer on loopback and
boto3's cognito-identity client: an issuer is configured with the audiences its tokens may
have (the client ids, under its Logins key in SupportedLoginProviders) and takes no token
without them; ``azp``, when a token has one, is the audience checked (as Cognito checks
it); Cognate's own issuers are not OIDC providers; tokens under made-up key ids do not
make Cognate fetch the provider's JWKS each time."""
from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey

from tests.aws import refused
from tests.aws_identity import (BAD_SIGNATURE, NOT_SUPPORTED, REDIRECT, admin, oidc_id_token, public,  # noqa: F401
                                server, server_env)
from tests.peers.oidc_provider import OIDCProvider, running_provider


@pytest.fixture(scope="module")
def provider():
    with running_provider() as found:
        found.add_user("olga", sub="olga-1", email="olga@example.org")
        yield found


def login_key(provider: OIDCProvider) -> str:
    return provider.issuer.split("://", 1)[1]


def signed(provider: OIDCProvider, **claims: object) -> str:
    """An ID token the provider signed (its own key), with these claims."""
    now = int(time.time())
    body = {"iss": provider.issuer, "sub": "olga-1", "iat": now, "exp": now + 600, **claims}
    return jose_jwt.encode({"alg": "RS256", "kid": provider.key.kid}, body, provider.key, ["RS256"])


def oidc_pool(admin, provider: OIDCProvider, audiences: str, name: str = "oidc") -> str:
    return admin.create_identity_pool(
        IdentityPoolName=name, AllowUnauthenticatedIdentities=False, OpenIdConnectProviderARNs=[provider.issuer],
        SupportedLoginProviders={login_key(provider): audiences})["IdentityPoolId"]


def test_an_issuer_is_given_with_its_audiences(admin, public, provider):
    client_id, secret = provider.register(REDIRECT)
    second_id, second_secret = provider.register(REDIRECT)
    other_id, other_secret = provider.register(REDIRECT)
    bare = admin.create_identity_pool(  # kept, but takes no token until its audiences are given
        IdentityPoolName="bare", AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=[provider.issuer])["IdentityPoolId"]
    token = oidc_id_token(provider, client_id, secret, REDIRECT, "olga")
    assert refused(lambda: public.get_id(IdentityPoolId=bare, Logins={login_key(provider): token})) == NOT_SUPPORTED
    pool = oidc_pool(admin, provider, f"{client_id};{second_id}")
    described = admin.describe_identity_pool(IdentityPoolId=pool)
    assert described["SupportedLoginProviders"] == {login_key(provider): f"{client_id};{second_id}"}
    key = login_key(provider)
    for client, client_secret in ((client_id, secret), (second_id, second_secret)):
        public.get_id(IdentityPoolId=pool, Logins={key: oidc_id_token(provider, client, client_secret, REDIRECT,
                                                                       "olga")})
    foreign = oidc_id_token(provider, other_id, other_secret, REDIRECT, "olga")
    assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={key: foreign})) == NOT_SUPPORTED


def test_an_issuer_stored_without_audiences_takes_no_token(server, admin, public, provider):
    client_id, secret = provider.register(REDIRECT)
    pool = oidc_pool(admin, provider, client_id, name="emptied")
    engine = sa.create_engine(server.env["DATABASE_URL"])
    try:
        with engine.begin() as db:  # as a pool saved before audiences were required holds it
            db.execute(sa.text("UPDATE identity_pools SET oidc_providers = :v WHERE id = :p"),
                       {"v": f'[{{"Issuer": "{provider.issuer}", "ClientIds": []}}]', "p": pool})
    finally:
        engine.dispose()
    token = oidc_id_token(provider, client_id, secret, REDIRECT, "olga")
    assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={login_key(provider): token})) == NOT_SUPPORTED


def test_azp_is_the_audience_when_the_token_has_one(admin, public, provider):
    ours, theirs = "our-app", "their-app"
    pool = oidc_pool(admin, provider, ours, name="azp")
    key = login_key(provider)
    taken = signed(provider, aud=[theirs, ours], azp=ours)
    assert public.get_id(IdentityPoolId=pool, Logins={key: taken})["IdentityId"]
    for token in (signed(provider, aud=[theirs, ours], azp=theirs), signed(provider, aud=ours, azp=theirs),
                  signed(provider, aud=ours, azp=["x"])):
        assert refused(lambda token=token: public.get_id(IdentityPoolId=pool, Logins={key: token})) == NOT_SUPPORTED


def test_cognates_own_issuers_are_not_oidc_providers(server, admin):
    user_pool = server.pool()
    for issuer in (f"{server.base_url}/identity", f"{server.base_url}/{user_pool}", server.base_url):
        code, message = refused(lambda issuer=issuer: admin.create_identity_pool(
            IdentityPoolName="own", AllowUnauthenticatedIdentities=False, OpenIdConnectProviderARNs=[issuer],
            SupportedLoginProviders={issuer.split("://", 1)[1]: "aud"}))
        assert code == "InvalidParameterException" and "Cognate's own" in message, issuer


def test_tokens_under_made_up_key_ids_cost_the_provider_one_jwks_request(admin, public, provider):
    client_id, secret = provider.register(REDIRECT)
    pool = oidc_pool(admin, provider, client_id, name="kids")
    key = login_key(provider)
    public.get_id(IdentityPoolId=pool, Logins={key: oidc_id_token(provider, client_id, secret, REDIRECT, "olga")})
    jwks = urlsplit(provider.discovery()["jwks_uri"]).path
    before = provider.hits[jwks]
    stranger = RSAKey.generate_key(2048, private=True)
    now = int(time.time())
    claims = {"iss": provider.issuer, "sub": "olga-1", "aud": client_id, "iat": now, "exp": now + 600}
    for _ in range(12):
        forged = jose_jwt.encode({"alg": "RS256", "kid": secrets.token_hex(8)}, claims, stranger, ["RS256"])
        assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={key: forged})) == BAD_SIGNATURE
    assert provider.hits[jwks] - before <= 1


def test_an_issuer_is_an_https_url_off_private_networks(admin):
    for issuer in ("http://idp.example.com", "https://10.0.0.8/oidc", "https://169.254.169.254/latest",
                   "https://[fe80::1]/oidc", "https://0.0.0.0/oidc", "https://idp.example.com/?tenant=x",
                   "https://user:secret@idp.example.com", "ftp://idp.example.com", "not an issuer url at all",
                   "arn:aws:iam::123456789012:oidc-provider/192.168.1.20/realms/x"):
        key = issuer.split("oidc-provider/")[-1].split("://")[-1]
        code, message = refused(lambda issuer=issuer, key=key: admin.create_identity_pool(
            IdentityPoolName="urls", AllowUnauthenticatedIdentities=False, OpenIdConnectProviderARNs=[issuer],
            SupportedLoginProviders={key: "aud"}))
        assert code == "InvalidParameterException" and "is not an IAM OIDC provider ARN or an issuer URL" in message, \
            (issuer, message)
    arn = "arn:aws:iam::123456789012:oidc-provider/idp.example.com/realms/x"
    created = admin.create_identity_pool(IdentityPoolName="urls", AllowUnauthenticatedIdentities=False,
                                         OpenIdConnectProviderARNs=[arn],
                                         SupportedLoginProviders={"idp.example.com/realms/x": "aud"})
    assert created["OpenIdConnectProviderARNs"] == ["arn:aws:iam::000000000000:oidc-provider/idp.example.com/realms/x"]
