"""Identity pools from a client's side, against a test server: boto3's ``cognito-identity``
(unsigned for GetId, GetOpenIdToken, GetCredentialsForIdentity and UnlinkIdentity, as
botocore sends them; signed with an admin key for the rest), a user pool whose users sign
in with InitiateAuth, ID tokens of an OpenID Connect provider on loopback, and the OpenID
tokens of identities checked with PyJWT against the published JWKS.

    site = user_pool_site(server)
    ident = identity(server.base_url)
    identity_id = ident.get_id(IdentityPoolId=pool_id, Logins={site.provider: site.id_token("alice")})["IdentityId"]

A test module imports the :func:`server`, :func:`admin` and :func:`public` fixtures from
here, and :func:`server_env` or its own fixture of that name (the server's settings).
"""
from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3
import jwt
import pytest
import requests
from botocore.config import Config

from broker.errors import BrokerError
from tests.aws import api_broker
from tests.rp import CALLBACK, pkce, query_of

PASSWORD = "Corr3ct-Horse-Id!"
ROLE = "arn:aws:iam::000000000000:role/"
ONE_CALL = Config(retries={"max_attempts": 1, "mode": "standard"})
#: Where the peers' code flows send their codes (nothing listens: the code is read off the Location).
REDIRECT = "http://127.0.0.1:9/callback"
#: Cognito's refusals, as the SDKs see them (code, message).
NOT_SUPPORTED = ("NotAuthorizedException", "Token is not from a supported provider of this identity pool.")
BAD_SIGNATURE = ("NotAuthorizedException", "Invalid login token. Couldn't verify signed token.")
BAD_SAML = ("NotAuthorizedException", "Invalid login token. Couldn't verify the SAML response.")
DONT_MATCH = ("NotAuthorizedException",
              "Logins don't match. Please include at least one valid login for this identity or identity pool.")
CONFIGURATION = ("InvalidIdentityPoolConfigurationException",
                 "Invalid identity pool configuration. Check assigned IAM roles for this pool.")


def identity(base_url: str, key: dict[str, str] | None = None) -> Any:
    """boto3's ``cognito-identity``: signing with ``key`` (an admin key) when given; the
    public operations are never signed."""
    creds = key or {"AccessKeyId": "public", "SecretAccessKey": "unused"}
    return boto3.client("cognito-identity", endpoint_url=base_url, region_name="local", config=ONE_CALL,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"])


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Settings of the module's server beyond the tests' own (a module may name its peers)."""
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any, redis_url: str, request: Any, server_env: dict[str, str]) -> Iterator[Any]:
    """A server for the module, on SQLite and the run's Redis."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    with api_broker(tmp_path_factory.mktemp(module), redis_url, **server_env) as found:
        yield found


@pytest.fixture(scope="module")
def admin(server: Any) -> Any:
    """``cognito-identity`` signing with a new admin key of ``server`` (for every pool)."""
    return identity(server.base_url, server.cli_json("admin-key", "create", "--description", "identity"))


@pytest.fixture(scope="module")
def public(server: Any) -> Any:
    """``cognito-identity`` for the public operations (unsigned)."""
    return identity(server.base_url)


@dataclass
class UserPoolSite:
    """A Cognate user pool with an app client taking passwords at the JSON API."""

    server: Any
    pool_id: str
    client_id: str

    @property
    def provider(self) -> str:
        """Its Logins key: the issuer without the scheme, as Amplify forms it."""
        return f"{self.server.base_url.split('://', 1)[1]}/{self.pool_id}"

    def user(self, username: str, *extra: str) -> str:
        self.server.cli("user", "create", "--pool", self.pool_id, "--username", username, "--password", PASSWORD,
                        "--email", f"{username}@example.com", "--confirmed", *extra)
        return username

    def sign_in(self, username: str, client_id: str | None = None) -> dict[str, str]:
        idp = boto3.client("cognito-idp", endpoint_url=self.server.base_url, region_name="local", config=ONE_CALL,
                           aws_access_key_id="x", aws_secret_access_key="x")
        return idp.initiate_auth(ClientId=client_id or self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})["AuthenticationResult"]

    def entry(self, **extra: Any) -> dict[str, Any]:
        """The user pool as CognitoIdentityProviders names it."""
        return {"ProviderName": self.provider, "ClientId": self.client_id, **extra}

    def id_token(self, username: str, client_id: str | None = None) -> str:
        return self.sign_in(username, client_id)["IdToken"]

    def client(self, name: str = "app") -> str:
        return self.server.cli_json("client", "create", "--pool", self.pool_id, "--name", name, "--callback-url", CALLBACK,
                                    "--auth-flow", "ALLOW_USER_PASSWORD_AUTH",
                                    "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")["ClientId"]


def user_pool_site(server: Any) -> UserPoolSite:
    pool_id = server.pool()
    site = UserPoolSite(server, pool_id, "")
    site.client_id = site.client()
    return site


def identity_pool(admin: Any, *sites: UserPoolSite, name: str = "pool", guests: bool = False, **options: Any) -> str:
    """A new identity pool (CreateIdentityPool) taking the ID tokens of ``sites``' app clients."""
    if sites:
        options["CognitoIdentityProviders"] = [site.entry() for site in sites]
    return admin.create_identity_pool(IdentityPoolName=name, AllowUnauthenticatedIdentities=guests,
                                      **options)["IdentityPoolId"]


def refusal(call: Any) -> tuple[str, str]:
    """The Cognito error type and message ``call()`` (in process) is refused with."""
    with pytest.raises(BrokerError) as caught:
        call()
    return getattr(caught.value, "aws_type", ""), caught.value.message


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (to build bad tokens from good ones)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def verified(base_url: str, token: str, pool_id: str) -> dict[str, Any]:
    """An identity's OpenID token checked as an STS checks it: the issuer's discovery
    document, its JWKS, the signature (PyJWT), ``iss`` and ``aud``."""
    iss = f"{base_url}/identity"
    config = requests.get(f"{iss}/.well-known/openid-configuration", timeout=10).json()
    assert config["issuer"] == iss
    key = jwt.PyJWKClient(config["jwks_uri"], cache_keys=False).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=config["id_token_signing_alg_values_supported"],
                      audience=pool_id, issuer=iss)


def oidc_id_token(provider: Any, client_id: str, secret: str, redirect_uri: str, username: str) -> str:
    """An ID token of the OIDC peer (tests/peers/oidc_provider.py) for ``username``: its
    code flow, driven as a relying party drives it."""
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid email",
              "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
              "code_challenge_method": "S256"}
    answer = requests.post(f"{provider.url(provider.flavor.authorize)}?{urlencode(params)}",
                           data={"username": username}, allow_redirects=False, timeout=10)
    code = query_of(answer.headers["Location"])["code"]
    token = requests.post(provider.url(provider.flavor.token), auth=(client_id, secret), timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier})
    return token.json()["id_token"]


def facebook_token(facebook: Any, app_id: str, secret: str, redirect_uri: str, username: str) -> str:
    """An access token of the Facebook stand-in (tests/peers/facebook.py) for ``username``."""
    dialog = f"{facebook.base_url}/v19.0/dialog/oauth?" + urlencode(
        {"client_id": app_id, "redirect_uri": redirect_uri, "state": "s"})
    answer = requests.post(dialog, data={"username": username}, allow_redirects=False, timeout=10)
    code = query_of(answer.headers["Location"].split("#")[0])["code"]
    token = requests.post(f"{facebook.base_url}/v19.0/oauth/access_token", timeout=10, data={
        "client_id": app_id, "client_secret": secret, "redirect_uri": redirect_uri, "code": code})
    return token.json()["access_token"]
