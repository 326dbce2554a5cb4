"""The identities' OpenID issuer, ``<BASE_URL>/identity``: its discovery document (OpenID
Connect Discovery 1.0 §4) and JWKS, what an STS (AWS with Cognate registered as an IAM
OIDC provider, MinIO, Ceph RGW) reads to check the OpenID tokens of identities, as
https://cognito-identity.amazonaws.com/.well-known/openid-configuration serves Cognito's.
Keys rotate (:mod:`broker.identity.keys`): the JWKS may be cached for minutes, not days.
"""
from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from ..identity.keys import ALG, PUBLISH_AHEAD, current
from ..identity.tokens import POOL_ARN_CLAIM, TAGS_CLAIM, issuer
from ..runtime import runtime
from .api import cacheable
from .pools import open_session

bp = Blueprint("identity", __name__, url_prefix="/identity")


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    iss = issuer(runtime().settings.base_url)
    return _public(jsonify({
        "issuer": iss,
        "jwks_uri": f"{iss}/.well-known/jwks_uri",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALG],
        "claims_supported": ["sub", "aud", "iss", "iat", "exp", "amr", TAGS_CLAIM, POOL_ARN_CLAIM],
    }))


@bp.get("/.well-known/jwks_uri")
def jwks() -> Response:
    return _public(jsonify(current(open_session(), runtime()).jwks))


def _public(response: Response) -> Response:
    """Any site and any STS may read them; caches may keep them as long as a new key is
    published before it signs."""
    return cacheable(response, PUBLISH_AHEAD, any_origin=True)
