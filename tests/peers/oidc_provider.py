"""A real OpenID Connect provider on loopback: Authlib's authorization server (code grant
with the OpenIDCode extension and PKCE S256 required, nonce required), an RS256 JWKS,
discovery, UserInfo behind Authlib's resource protector, and a one-field login form, in a
small Flask app on an in-memory store, served by werkzeug in a thread.

A :class:`Flavor` gives it its paths and the shape of its ID tokens: :data:`GENERIC`
(Keycloak-like paths under a realm issuer) or :data:`GOOGLE` (a stand-in for Google,
speaking its protocol: https://developers.google.com/identity/openid-connect/openid-connect).

``provider.misbehave`` makes it answer as a broken or hostile provider would, for the
hostile tests: see :data:`MISBEHAVIOURS`.

Example::

    with running_provider() as idp:
        client_id, secret = idp.register("http://127.0.0.1:8000/pool/oauth2/idpresponse")
        idp.add_user("alice", sub="u-1", email="alice@example.org", name="Alice")
"""
from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo, UserInfoEndpoint
from authlib.oidc.core.util import create_half_hash
from flask import Flask, Response, current_app, jsonify, request
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from tests.peers.social import LOGIN_FORM, Served, running

#: Knobs for the hostile tests: the ID token's audience, issuer, lifetime, signature
#: (none, a stranger's RSA key under our kid, HS256 with the client secret) or nonce is
#: wrong; UserInfo names another subject; the login answers error=access_denied; every
#: endpoint answers 503; the discovery document speaks for another issuer (mix-up).
MISBEHAVIOURS = frozenset({"wrong_aud", "wrong_iss", "expired", "alg_none", "other_key", "hs256", "wrong_nonce",
                           "userinfo_other_sub", "access_denied", "down", "foreign_discovery"})
PROFILE = ("name", "given_name", "family_name", "picture", "locale", "preferred_username", "hd")
@dataclass(frozen=True)
class Flavor:
    """Where a provider serves what, and how its ID tokens look."""

    issuer_path: str
    authorize: str
    token: str
    userinfo: str
    jwks: str
    #: Google's shape: ``aud`` a string, ``azp``, no ``auth_time``.
    google_claims: bool = False
    discovery_extra: dict[str, Any] = field(default_factory=dict)
    #: How the token response spells granted scopes (Google answers with URLs).
    granted_scope_names: dict[str, str] = field(default_factory=dict)


REALM = "/realms/test"
GENERIC = Flavor(
    issuer_path=REALM, authorize=f"{REALM}/protocol/openid-connect/auth",
    token=f"{REALM}/protocol/openid-connect/token", userinfo=f"{REALM}/protocol/openid-connect/userinfo",
    jwks=f"{REALM}/protocol/openid-connect/certs",
)
#: Google's protocol: https://accounts.google.com/.well-known/openid-configuration's fields,
#: its paths (on one host here), its ID token claims and its granted-scope spelling.
GOOGLE = Flavor(
    issuer_path="", authorize="/o/oauth2/v2/auth", token="/token", userinfo="/v1/userinfo",
    jwks="/oauth2/v3/certs", google_claims=True,
    discovery_extra={
        "device_authorization_endpoint": "/device/code",
        "revocation_endpoint": "/revoke",
        "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token",
                                     "code token id_token", "none"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss",
                             "name", "picture", "sub"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token",
                                  "urn:ietf:params:oauth:grant-type:device_code",
                                  "urn:ietf:params:oauth:grant-type:jwt-bearer"],
    },
    granted_scope_names={"email": "https://www.googleapis.com/auth/userinfo.email",
                         "profile": "https://www.googleapis.com/auth/userinfo.profile"},
)


@dataclass
class User:
    username: str
    claims: dict[str, Any]


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    client_metadata: dict[str, Any] = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope_to_list(scope) or [] if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class Token(TokenMixin):
    access_token: str
    client: Client
    scope: str
    user: User
    issued_at: float
    expires_in: int

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> User:
        return self.user

    def get_client(self) -> Client:
        return self.client


def _provider() -> OIDCProvider:
    return current_app.config["PROVIDER"]


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code: str, req: Any) -> None:
        data = req.payload.data
        _provider().codes[code] = Code(
            code, req.client.client_id, req.payload.redirect_uri, req.payload.scope, req.user, data.get("nonce"),
            data.get("code_challenge"), data.get("code_challenge_method"), int(time.time()))

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = _provider().codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        _provider().codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> User:
        return authorization_code.user


class IdTokens(OpenIDCode):
    """The OpenIDCode extension, minting ID tokens in the flavor's shape (and misshaped on
    request)."""

    def exists_nonce(self, nonce: str, req: Any) -> bool:
        return any(c.nonce == nonce for c in _provider().codes.values())

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return UserInfo(_provider().user_claims(user, scope))

    def encode_id_token(self, token: dict[str, Any], req: Any) -> str:
        code = req.authorization_code
        return _provider().mint_id_token(req.client, code.user, code.scope, code.nonce, token["access_token"])


class UserInfoView(UserInfoEndpoint):
    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        claims = _provider().user_claims(user, scope)
        if _provider().misbehave == "userinfo_other_sub":
            claims["sub"] = "someone-else"
        return UserInfo(claims)


class Bearer(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> Token | None:
        return _provider().tokens.get(token_string)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class OIDCProvider(Served):
    def __init__(self, flavor: Flavor = GENERIC) -> None:
        self.flavor = flavor
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "alg": "RS256", "use": "sig"},
                                       private=True)
        self.clients: dict[str, Client] = {}
        self.users: dict[str, User] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Token] = {}
        self.misbehave: str | None = None
        #: Requests seen, by path; how each token request authenticated the client.
        self.hits: Counter[str] = Counter()
        self.token_auth: list[str] = []
        self.app = self._build_app()

    @property
    def issuer(self) -> str:
        return self.base_url + self.flavor.issuer_path

    def url(self, path: str) -> str:
        return self.base_url + path

    def rotate_key(self) -> None:
        """Sign with a new key from now on; the JWKS publishes only the new one."""
        self.key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "alg": "RS256", "use": "sig"},
                                       private=True)

    def register(self, redirect_uri: str) -> tuple[str, str]:
        client = Client(secrets.token_urlsafe(12), secrets.token_urlsafe(32), [redirect_uri])
        self.clients[client.client_id] = client
        return client.client_id, client.client_secret

    def add_user(self, username: str, **claims: Any) -> User:
        self.users[username] = User(username, claims)
        return self.users[username]

    def user_claims(self, user: User, scope: str, id_token: bool = False) -> dict[str, Any]:
        """The user's claims the scopes grant; provider-specific ones (groups, a team) only
        at UserInfo, as many providers keep their ID tokens small."""
        scopes = scope_to_list(scope) or []
        claims = {"sub": user.claims["sub"]}
        for name, value in user.claims.items():
            if (name in ("email", "email_verified") and "email" in scopes) or ("profile" in scopes and name in PROFILE):
                claims[name] = value
            elif name not in ("sub", "email", "email_verified", *PROFILE) and not id_token:
                claims[name] = value
        return claims

    def mint_id_token(self, client: Client, user: User, scope: str, nonce: str | None, access_token: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": user.claims["sub"], "iat": now, "exp": now + 3600,
                                  "at_hash": create_half_hash(access_token, "RS256").decode()}
        if self.flavor.google_claims:
            claims.update(azp=client.client_id, aud=client.client_id)
        else:
            claims.update(aud=[client.client_id], auth_time=now)
        if nonce:
            claims["nonce"] = nonce
        claims.update({k: v for k, v in self.user_claims(user, scope, id_token=True).items() if k != "sub"})
        return self._sign(self._misshape(claims, now), client)

    def _misshape(self, claims: dict[str, Any], now: int) -> dict[str, Any]:
        knob = self.misbehave
        if knob == "wrong_aud":
            claims["aud"] = "another-client"
            claims.pop("azp", None)
        elif knob == "wrong_iss":
            claims["iss"] = self.base_url + "/realms/evil"
        elif knob == "expired":
            claims.update(iat=now - 7200, exp=now - 3600)
        elif knob == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        return claims

    def _sign(self, claims: dict[str, Any], client: Client) -> str:
        header = {"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}
        if self.misbehave == "alg_none":
            return f"{b64({'alg': 'none', 'kid': self.key.kid})}.{b64(claims)}."
        if self.misbehave == "nested_header":  # JSON nested 5000 deep: RecursionError in a naive parser
            return f"{base64.urlsafe_b64encode(b'[' * 5000).rstrip(b'=').decode()}.{b64(claims)}.c2ln"
        if self.misbehave == "hs256":
            return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(client.client_secret), ["HS256"])
        key = self.key
        if self.misbehave == "other_key":
            key = RSAKey.generate_key(2048, parameters={"kid": self.key.kid}, private=True)
        return jwt.encode(header, claims, key, ["RS256"])

    def discovery(self) -> dict[str, Any]:
        f = self.flavor
        return {
            "issuer": self.issuer, "authorization_endpoint": self.url(f.authorize),
            "token_endpoint": self.url(f.token), "userinfo_endpoint": self.url(f.userinfo),
            "jwks_uri": self.url(f.jwks), "response_types_supported": ["code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", *PROFILE],
            "code_challenge_methods_supported": ["S256"], "grant_types_supported": ["authorization_code"],
            **{k: self.url(v) if isinstance(v, str) and v.startswith("/") else v
               for k, v in f.discovery_extra.items()},
        }

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.config["PROVIDER"] = self
        server = AuthorizationServer(app, query_client=self.clients.get, save_token=self._save_token)
        server.register_grant(CodeGrant, [CodeChallenge(required=True), IdTokens(require_nonce=True)])
        protector = ResourceProtector()
        protector.register_token_validator(Bearer())
        server.register_endpoint(UserInfoView(resource_protector=protector))
        routes(app, server, self)
        return app

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        self.tokens[token["access_token"]] = Token(token["access_token"], req.client, token.get("scope", ""),
                                                   req.user, time.time(), int(token.get("expires_in", 3600)))


def routes(app: Flask, server: AuthorizationServer, provider: OIDCProvider) -> None:
    f = provider.flavor

    @app.before_request
    def down() -> Any:
        provider.hits[request.path] += 1
        if provider.misbehave == "down":
            return jsonify(error="temporarily_unavailable"), 503
        return None

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    @app.get(f.issuer_path + "/.well-known/openid-configuration")
    def discovery() -> Response:
        document = provider.discovery()
        if provider.misbehave == "foreign_discovery":
            document["issuer"] = provider.base_url + "/realms/other"
        return jsonify(document)

    @app.get(f.jwks)
    def jwks() -> Response:
        return jsonify({"keys": [provider.key.as_dict(private=False)]})

    @app.route(f.authorize, methods=["GET", "POST"])
    def authorize() -> Any:
        user = provider.users.get(request.form.get("username", "")) if request.method == "POST" else None
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            return jsonify(error=error.error, error_description=error.description), 400
        if provider.misbehave == "access_denied":
            return server.create_authorization_response(grant_user=None, grant=grant)
        if user is None:
            return Response(LOGIN_FORM, 401 if request.method == "POST" else 200, content_type="text/html")
        return server.create_authorization_response(grant_user=user, grant=grant)

    @app.post(f.token)
    def token() -> Response:
        provider.token_auth.append("client_secret_basic" if request.authorization else "client_secret_post")
        response = server.create_token_response()
        body = response.get_json(silent=True)
        if response.status_code == 200 and f.granted_scope_names and isinstance(body, dict):
            body["scope"] = " ".join(f.granted_scope_names.get(s, s) for s in body.get("scope", "").split())
            response.set_data(json.dumps(body))
        return response

    @app.route(f.userinfo, methods=["GET", "POST"])
    def userinfo() -> Response:
        return server.create_endpoint_response("userinfo")


def running_provider(flavor: Flavor = GENERIC) -> AbstractContextManager[OIDCProvider]:
    return running(OIDCProvider(flavor))



def running_google() -> AbstractContextManager[OIDCProvider]:
    return running_provider(GOOGLE)
