"""OpenID tokens of identities: what GetOpenIdToken and GetOpenIdTokenForDeveloperIdentity
answer, and what Cognate hands an STS in AssumeRoleWithWebIdentity (the enhanced flow).
https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html

Cognito's shape: ``iss`` Cognate's issuer for identities (``<BASE_URL>/identity``, with
discovery and JWKS under it), ``aud`` the identity pool id, ``sub`` the identity id, ``amr``
(``["unauthenticated"]`` for a guest; ``["authenticated", <provider>, <detail>]`` per
login), the identity pool's ARN, principal tags under ``https://aws.amazon.com/tags``
(values as one-element lists, as STS reads session tags), ``iat`` and ``exp``. Signed RS512
with :mod:`.keys`.

    token = open_id_token(session, runtime, pool, identity, logins)          # 10 minutes
    claims = verify_open_id_token(session, runtime, pool, token)             # or NotAuthorized
"""
from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from ..oauth.tokens import sign
from ..oauth.verify import InvalidToken, verified_claims
from ..runtime import Runtime
from ..store.models import Identity, IdentityPool
from . import keys, pools
from .errors import BAD_SIGNATURE, ISSUER_MISMATCH, NOT_SUPPORTED, invalid_parameter, not_authorized
from .providers import Login, check_times, kind, unverified

#: GetOpenIdToken's tokens live 10 minutes; GetOpenIdTokenForDeveloperIdentity's 15 by
#: default, at most a day (its TokenDuration).
BASIC_TTL = 600
DEVELOPER_TTL = 900
POOL_ARN_CLAIM = "https://cognito-identity.amazonaws.com/identity-pool-arn"
TAGS_CLAIM = "https://aws.amazon.com/tags"
#: STS's limits on session tags: 50 tags, keys of 128 and values of 256 characters.
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
#: UseDefaults of SetPrincipalTagAttributeMap: tag → claim, by kind of provider (Cognito's
#: default provider mappings: client id and user id; SAML's name identifier and name).
SAML_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
DEFAULT_TAGS = {
    "user_pool": {"client": "aud", "username": "sub"},
    "oidc": {"client": "aud", "username": "sub"},
    "public": {"client": "aud", "username": "sub"},
    "saml": {"username": SAML_CLAIMS + "nameidentifier", "name": SAML_CLAIMS + "name"},
}


def issuer(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/identity"


def pool_arn(pool: IdentityPool) -> str:
    region = pool.id.split(":", 1)[0]
    return f"arn:aws:cognito-identity:{region}:{pools.ACCOUNT}:identitypool/{pool.id}"


def open_id_token(session: Session, runtime: Runtime, pool: IdentityPool, identity: Identity, logins: list[Login],
                  ttl: int = BASIC_TTL, principal_tags: dict[str, str] | None = None) -> str:
    """A signed OpenID token for ``identity``, authenticated by ``logins`` (none: a guest).
    ``principal_tags`` replaces the tags the pool's principal-tag maps give."""
    claims = token_claims(issuer(runtime.settings.base_url), pool, identity.id, logins, int(time.time()), ttl,
                          principal_tags)
    return sign(claims, keys.current(session, runtime))


def token_claims(iss: str, pool: IdentityPool, identity_id: str, logins: list[Login], now: int, ttl: int,
                 principal_tags: dict[str, str] | None = None) -> dict[str, Any]:
    """The claims, purely: the same inputs always give the same token."""
    claims: dict[str, Any] = {"sub": identity_id, "aud": pool.id, "amr": amr(pool, logins), "iss": iss,
                              POOL_ARN_CLAIM: pool_arn(pool), "iat": now, "exp": now + ttl}
    tags = tags_of(pool, logins) if principal_tags is None else given_tags(principal_tags)
    if tags:
        claims[TAGS_CLAIM] = {"principal_tags": {key: [value] for key, value in sorted(tags.items())}}
    return claims


def amr(pool: IdentityPool, logins: list[Login]) -> list[str]:
    """``["unauthenticated"]``, or ``"authenticated"`` then each login's provider and the
    form Cognito gives it: ``<user pool>:CognitoSignIn:<sub>``, ``<IAM OIDC provider
    ARN>:OIDC:<sub>``, ``<SAML provider ARN>:SAML:<NameID>``, else ``<provider>:<identity
    pool id>:<user>``. A login by an OpenID token of Cognate's keeps that token's."""
    if not logins:
        return ["unauthenticated"]
    found = ["authenticated"]
    for login in logins:
        for value in _login_amr(pool, login):
            if value not in found:
                found.append(value)
    return found


def _login_amr(pool: IdentityPool, login: Login) -> list[str]:
    provider, sub = login.provider, login.subject
    what = kind(pool, provider)
    if what == "identity":
        return [a for a in login.claims.get("amr") or [] if isinstance(a, str) and a != "authenticated"]
    if what == "user_pool":
        return [provider, f"{provider}:CognitoSignIn:{sub}"]
    if what == "oidc":
        return [provider, f"{pools.oidc_arn('https://' + provider)}:OIDC:{sub}"]
    if what == "saml":
        return [provider, f"{provider}:SAML:{sub}"]
    return [provider, f"{provider}:{pool.id}:{sub}"]


def tags_of(pool: IdentityPool, logins: list[Login]) -> dict[str, str]:
    """Principal tags from the logins' claims, by the pool's principal-tag map of each
    provider (its own, or its kind's defaults); values that are not text or numbers, or
    too long for STS, are left out. An OpenID token of Cognate's given as a login (the
    developer's enhanced flow) carries its own tags on."""
    tags: dict[str, str] = {}
    for login in logins:
        for tag, value in _login_tags(pool, login):
            value = _tag_value(value)
            if value is not None and isinstance(tag, str) and 0 < len(tag) <= MAX_TAG_KEY and len(tags) < MAX_TAGS:
                tags.setdefault(tag, value)
    return tags


def _login_tags(pool: IdentityPool, login: Login) -> list[tuple[Any, Any]]:
    if kind(pool, login.provider) == "identity":  # an OpenID token of Cognate's keeps its tags
        carried = login.claims.get(TAGS_CLAIM)
        found = carried.get("principal_tags") if isinstance(carried, dict) else None
        return [(tag, values[0]) for tag, values in (found or {}).items() if isinstance(values, list) and values] \
            if isinstance(found, dict) else []
    maps = pool.principal_tags or {}
    setting = maps.get(login.mapping_key) or maps.get(login.provider)
    if not setting:
        return []
    wanted = DEFAULT_TAGS.get(kind(pool, login.provider), {}) if setting.get("UseDefaults") \
        else setting.get("PrincipalTags") or {}
    return [(tag, login.claims.get(claim)) for tag, claim in wanted.items()]


def given_tags(tags: dict[str, Any]) -> dict[str, str]:
    """The developer's PrincipalTags, within STS's limits as :func:`tags_of`'s are, or
    InvalidParameterException."""
    if len(tags) > MAX_TAGS or not all(isinstance(k, str) and 0 < len(k) <= MAX_TAG_KEY and isinstance(v, str)
                                       and _tag_value(v) == v for k, v in tags.items()):
        raise invalid_parameter(f"PrincipalTags: at most {MAX_TAGS} tags, keys of 1 to "
                      f"{MAX_TAG_KEY} characters, values of 1 to {MAX_TAG_VALUE}")
    return dict(tags)


def _tag_value(value: Any) -> str | None:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TAG_VALUE else None


def verify_open_id_token(session: Session, runtime: Runtime, pool: IdentityPool, token: str) -> dict[str, Any]:
    """The claims of an OpenID token Cognate signed for an authenticated identity of
    ``pool``, unexpired (the developer flow's login: ``cognito-identity.amazonaws.com``)."""
    check_claims(runtime.settings.base_url, pool, unverified(token)[1])
    try:
        claims = verified_claims(session, keys.cache(session, runtime), keys.ISSUER, token, (keys.ALG,))
    except InvalidToken:
        raise not_authorized(BAD_SIGNATURE) from None
    check_claims(runtime.settings.base_url, pool, claims)
    return claims


def check_claims(base_url: str, pool: IdentityPool, claims: dict[str, Any]) -> None:
    """An OpenID token of Cognate's for an authenticated identity of ``pool``, unexpired."""
    if claims.get("iss") != issuer(base_url):
        raise not_authorized(ISSUER_MISMATCH)
    found = claims.get("amr")
    if claims.get("aud") != pool.id or not isinstance(found, list) or "authenticated" not in found:
        raise not_authorized(NOT_SUPPORTED)  # another pool's, or a guest's: no login
    check_times(claims)

