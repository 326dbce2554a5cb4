"""Logins of identity pools with boto3's cognito-identity client against a real server:
a Cognate user pool's ID token (from InitiateAuth) and an OpenID Connect provider's (the
OIDC peer on loopback) get one identity per user, GetId after GetId; forged, expired,
wrong-audience, other-pool and malformed tokens are refused with Cognito's
NotAuthorizedException and write nothing; the OpenID token of an identity verifies with
PyJWT against the JWKS the issuer's discovery document names, with Cognito's claims."""
from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey

from tests.aws import refused
from tests.aws_admin import rows
from tests.aws_identity import (BAD_SIGNATURE, NOT_SUPPORTED, REDIRECT, ROLE, admin, claims_of,  # noqa: F401
                                identity_pool, oidc_id_token, public, server, server_env, user_pool_site,
                                verified)
from tests.peers.oidc_provider import running_provider


@pytest.fixture(scope="module")
def site(server):
    found = user_pool_site(server)
    for name in ("alice", "bob"):
        found.user(name)
    return found


@pytest.fixture(scope="module")
def pool(admin, site):
    return identity_pool(admin, site, name="logins", guests=True, AllowClassicFlow=True)


def _identities(server, pool_id: str) -> list[tuple]:
    return rows(server, "SELECT id FROM identities WHERE pool_id = :p", p=pool_id) + \
        rows(server, "SELECT identity_id, provider, subject FROM identity_logins WHERE pool_id = :p", p=pool_id)


def test_get_id_gives_one_identity_per_user_pool_user(server, public, admin, site, pool):
    first = public.get_id(IdentityPoolId=pool, Logins={site.provider: site.id_token("alice")})["IdentityId"]
    again = public.get_id(IdentityPoolId=pool, Logins={site.provider: site.id_token("alice")})["IdentityId"]
    other = public.get_id(IdentityPoolId=pool, Logins={site.provider: site.id_token("bob")})["IdentityId"]
    assert first == again != other and first.startswith("local:")
    described = admin.describe_identity(IdentityId=first)
    assert described["Logins"] == [site.provider] and described["IdentityId"] == first


def test_guests_get_identities_only_where_the_pool_allows_them(server, public, admin, pool):
    guest = public.get_id(IdentityPoolId=pool)["IdentityId"]
    answer = public.get_open_id_token(IdentityId=guest)
    assert answer["IdentityId"] == guest and claims_of(answer["Token"])["amr"] == ["unauthenticated"]
    assert public.get_id(IdentityPoolId=pool)["IdentityId"] != guest  # a guest has nothing to be found by
    closed = admin.create_identity_pool(IdentityPoolName="members", AllowUnauthenticatedIdentities=False)
    assert refused(lambda: public.get_id(IdentityPoolId=closed["IdentityPoolId"])) == (
        "NotAuthorizedException", "Unauthenticated access is not supported for this identity pool.")


def test_bad_login_tokens_are_refused_and_nothing_is_written(server, public, admin, site, pool):
    good = site.id_token("alice")
    other_client = site.client("unregistered")
    other_pool = user_pool_site(server)
    other_pool.user("alice")
    stranger = other_pool.id_token("alice")
    cases = {
        "forged": (site.provider, _resigned(good, RSAKey.generate_key(2048, private=True))),
        "expired": (site.provider, _resigned(good, _pool_key(server, site.pool_id), exp=int(time.time()) - 5)),
        "wrong audience": (site.provider, site.id_token("alice", other_client)),
        "other pool, its own key": (other_pool.provider, stranger),
        "other pool, this pool's key": (site.provider, stranger),
        "access token": (site.provider, site.sign_in("alice")["AccessToken"]),
        "garbage": (site.provider, "not-a-token"),
        "unknown provider": ("accounts.example.com", good),
    }
    before = _identities(server, pool)
    answers = {name: refused(lambda key=key, token=token: public.get_id(IdentityPoolId=pool, Logins={key: token}))
               for name, (key, token) in cases.items()}
    assert all(code == "NotAuthorizedException" for code, _ in answers.values()), answers
    assert answers["forged"] == BAD_SIGNATURE
    assert answers["expired"][1].startswith("Invalid login token. Token expired: ")
    assert answers["wrong audience"] == answers["other pool, its own key"] == NOT_SUPPORTED
    assert answers["other pool, this pool's key"][1] == "Invalid login token. Issuer doesn't match providerName"
    assert answers["access token"][1] == answers["garbage"][1] == \
        "Invalid login token. Not a valid OpenId Connect identity token."
    assert _identities(server, pool) == before


def test_the_open_id_token_verifies_against_the_published_jwks(server, public, site, pool):
    alice = site.id_token("alice")
    identity_id = public.get_id(IdentityPoolId=pool, Logins={site.provider: alice})["IdentityId"]
    answer = public.get_open_id_token(IdentityId=identity_id, Logins={site.provider: alice})
    claims = verified(server.base_url, answer["Token"], pool)
    sub = claims_of(alice)["sub"]
    assert answer["IdentityId"] == claims["sub"] == identity_id and claims["aud"] == pool
    assert claims["amr"] == ["authenticated", site.provider, f"{site.provider}:CognitoSignIn:{sub}"]
    assert claims["exp"] - claims["iat"] == 600
    assert claims["https://cognito-identity.amazonaws.com/identity-pool-arn"] == \
        f"arn:aws:cognito-identity:local:000000000000:identitypool/{pool}"


def test_an_oidc_providers_id_token_is_a_login(server, public, admin):
    with running_provider() as provider:
        client_id, secret = provider.register(REDIRECT)
        other_id, other_secret = provider.register(REDIRECT)
        provider.add_user("olga", sub="olga-1", email="olga@example.org")
        created = server.cli_json("identity-pool", "create", "--name", "oidc", "--oidc-provider",
                                  f"{provider.issuer}={client_id}", "--authenticated-role", ROLE + "Members")
        pool = created["IdentityPoolId"]
        key = provider.issuer.split("://", 1)[1]
        token = oidc_id_token(provider, client_id, secret, REDIRECT, "olga")
        first = public.get_id(IdentityPoolId=pool, Logins={key: token})["IdentityId"]
        again = oidc_id_token(provider, client_id, secret, REDIRECT, "olga")
        assert public.get_id(IdentityPoolId=pool, Logins={key: again})["IdentityId"] == first
        foreign = oidc_id_token(provider, other_id, other_secret, REDIRECT, "olga")
        assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={key: foreign})) == NOT_SUPPORTED
        # UpdateIdentityPool names the provider by its ARN, which carries no audiences: they stay.
        admin.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="oidc", AllowUnauthenticatedIdentities=False,
                                   OpenIdConnectProviderARNs=created["OpenIdConnectProviderARNs"])
        assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={key: foreign})) == NOT_SUPPORTED
    assert claims_of(token)["sub"] == "olga-1"


def _pool_key(server, pool_id: str) -> RSAKey:
    found = rows(server, "SELECT private_jwk FROM signing_keys WHERE pool_id = :p AND retired_at IS NULL", p=pool_id)
    jwk = found[0][0]
    return RSAKey.import_key(jwk if isinstance(jwk, dict) else json.loads(jwk))


def _resigned(token: str, key: RSAKey, **changes: int) -> str:
    """``token``'s claims (changed) signed by ``key`` under the original key id."""
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    return jose_jwt.encode({"alg": "RS256", "kid": kid}, {**claims_of(token), **changes}, key, algorithms=["RS256"])


def test_hostile_login_values_are_refused_without_a_crash(server, public, site, pool):
    def segment(value: object) -> str:
        raw_bytes = value if isinstance(value, bytes) else json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw_bytes).rstrip(b"=").decode()

    now = int(time.time())
    iss = f"{server.base_url}/{site.pool_id}"
    good_claims = {"iss": iss, "aud": site.client_id, "token_use": "id", "sub": "x", "exp": now + 60, "iat": now}
    values = [
        "a.b.c", "é.é.é", "..", "x" * 49_000,
        f"{segment(b'[' * 5000)}.{segment(good_claims)}.c2ln",
        f"{segment({'alg': 'none', 'kid': 'k'})}.{segment(good_claims)}.",
        f"{segment({'alg': 'RS256', 'kid': {'nested': 1}})}.{segment(good_claims)}.c2ln",
        f"{segment({'alg': 'RS256', 'kid': 'k'})}.{segment({**good_claims, 'exp': 'soon'})}.c2ln",
        f"{segment({'alg': 'HS256', 'kid': 'k'})}.{segment(good_claims)}.c2ln",
        f"{segment({'alg': 'RS256', 'kid': 'k'})}.{segment([1, 2])}.c2ln",
    ]
    for key in (site.provider, "cognito-identity.amazonaws.com", f"{server.base_url.split('://')[1]}/identity"):
        for value in values:
            code, _ = refused(lambda: public.get_id(IdentityPoolId=pool, Logins={key: value}))
            assert code == "NotAuthorizedException", (key, value[:80])


def test_an_unreachable_oidc_provider_is_an_external_service_error(server, public):
    with running_provider() as provider:
        client_id, secret = provider.register(REDIRECT)
        provider.add_user("otto", sub="otto-1")
        pool = server.cli_json("identity-pool", "create", "--name", "down", "--oidc-provider",
                               f"{provider.issuer}={client_id}", "--authenticated-role", ROLE + "M")["IdentityPoolId"]
        token = oidc_id_token(provider, client_id, secret, REDIRECT, "otto")
        provider.misbehave = "down"
        key = provider.issuer.split("://", 1)[1]
        before = _identities(server, pool)
        assert refused(lambda: public.get_id(IdentityPoolId=pool, Logins={key: token}))[0] == \
            "ExternalServiceException"
        assert _identities(server, pool) == before
