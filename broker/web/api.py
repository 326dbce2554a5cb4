"""The OAuth 2.0 / OIDC endpoints that answer JSON: discovery, JWKS, token, userInfo,
revocation, introspection."""
from __future__ import annotations

from typing import Any, Callable

from flask import current_app, g, jsonify, request
from werkzeug.wrappers import Response

from ..i18n import LANGUAGES
from ..oauth import errors
from ..oauth.issue import issuer
from ..oauth.tokens import attribute_claims, claims_supported
from ..oauth.verify import InvalidToken, verify_access_token
from ..runtime import runtime
from ..userpool.app_clients import STANDARD_SCOPES
from ..userpool.client_attributes import readable
from .errors import oauth_error, security_headers
from .pools import pool_blueprint

bp = pool_blueprint("api")


#: Browser apps (SPAs) call these endpoints with fetch. None of them reads cookies, so any
#: origin may: the answer depends only on the credentials sent in the request.
CORS = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
        ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"), ("Access-Control-Max-Age", "600")]


@bp.after_request
def _cors(response: Response) -> Response:
    if "Origin" in request.headers:
        response.headers.update(CORS)
    return response


def token_answer_headers(https: bool) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    """The headers this blueprint and the app's hooks give a token answer, for the answers
    made before the app (:mod:`broker.oauth.lean_token`): by the request's WSGI environ."""
    always = security_headers(https)

    def headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
        return [*always, *CORS] if "HTTP_ORIGIN" in environ else always

    return headers


def _server() -> Any:
    return current_app.extensions["broker.oauth"]


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    iss = issuer(runtime().settings.base_url, g.pool.id)
    doc = {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/oauth2/authorize",
        "token_endpoint": f"{iss}/oauth2/token",
        "userinfo_endpoint": f"{iss}/oauth2/userInfo",
        "jwks_uri": f"{iss}/.well-known/jwks.json",
        "revocation_endpoint": f"{iss}/oauth2/revoke",
        "introspection_endpoint": f"{iss}/oauth2/introspect",
        "end_session_endpoint": f"{iss}/logout",
        "response_types_supported": ["code", "token"],  # token: for clients allowed the implicit grant only
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "client_credentials"],
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [g.pool.signing_alg],
        "scopes_supported": list(STANDARD_SCOPES),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "claims_supported": claims_supported([n for n in g.pool.required_attributes if n.startswith("custom:")]),
        "ui_locales_supported": LANGUAGES,
    }
    return cacheable(jsonify(doc))


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    rt = runtime()
    return cacheable(jsonify(rt.keys.get(g.db_session, g.pool).jwks))


@bp.post("/oauth2/token")
def token() -> Response:
    response = _server().create_token_response()  # (a failed trigger: the error handler answers it)
    if response.status_code == 200:
        g.db_session.commit()
    return response


@bp.post("/oauth2/revoke")
def revoke() -> Response:
    return _server().create_endpoint_response("revocation")


@bp.post("/oauth2/introspect")
def introspect() -> Response:
    return _server().create_endpoint_response("introspection")


@bp.route("/oauth2/userInfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """OIDC Core §5.3: the signed-in user's claims for the token's scopes."""
    rt = runtime()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _bearer_error("invalid_request", "Missing bearer access token.", 401)
    try:
        claims, user = verify_access_token(g.db_session, rt.keys, rt.config, g.pool,
                                           issuer(rt.settings.base_url, g.pool.id), token.strip())
        if user is None:
            raise InvalidToken("a client_credentials token speaks for no user")
    except InvalidToken:
        return _bearer_error("invalid_token", "Access token is invalid, expired or revoked.", 401)
    scopes = str(claims.get("scope", "")).split()
    if "openid" not in scopes:  # as on AWS: the JSON API's tokens (aws.cognito.signin.user.admin) are refused
        return _bearer_error("insufficient_scope", "The openid scope is required.", 403)
    client = rt.config.client(g.db_session, g.pool.id, str(claims.get("client_id")))
    body = {"sub": user.sub, **attribute_claims(readable(client, user.attributes), scopes), "username": user.username}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _bearer_error(error: str, description: str, status: int) -> Response:
    response = oauth_error(error, description, status)
    response.headers["WWW-Authenticate"] = errors.bearer_challenge(error, description)
    return response


def cacheable(response: Response, seconds: int = 300, any_origin: bool = False) -> Response:
    """A public document (discovery, JWKS) that caches may keep ``seconds``; with
    ``any_origin``, any site's scripts may read it too."""
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    if any_origin:
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response
