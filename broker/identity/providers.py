"""What every kind of login shares: the :class:`Login` a verified ``Logins`` entry becomes,
which kind of provider a ``Logins`` key names in a pool, and the cheap checks of a JWT made
before its signature is (``iss``, ``aud`` and lifetime read from the unverified payload,
so that a token bound to fail costs no key lookup and no network call).
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetId.html#CognitoIdentity-GetId-request-Logins

    kind(pool, "localhost:8000/local_Ab12Cd34E")     # "user_pool"
    header, claims = unverified(token)               # or NotAuthorizedException
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.orm import Session

from ..connectors.oidc import is_number
from ..oauth import jose
from ..runtime import Runtime
from ..store.models import IdentityPool
from . import pools
from .errors import NOT_ID_TOKEN, expired, not_authorized

#: The Logins key of an OpenID token Cognate issued for an identity (what the developer
#: flow's apps send to GetCredentialsForIdentity), as Cognito names its own.
COGNITO_IDENTITY = "cognito-identity.amazonaws.com"
#: Public providers and their Logins keys (SupportedLoginProviders).
GOOGLE = "accounts.google.com"
FACEBOOK = "graph.facebook.com"
#: Clock skew allowed on ``iat`` (a token from a host whose clock runs ahead).
SKEW = 60
MAX_SUBJECT = 1024


@dataclass(frozen=True)
class Login:
    """One verified entry of ``Logins``: who the provider says the user is.

    ``provider`` is the Logins key; ``subject`` the user at that provider (``sub``, the
    Facebook id, the SAML NameID, the developer's user identifier); ``claims`` what the
    verified token says (role rules and principal tags read them; ``{}`` for developer
    logins); ``mapping_key`` the RoleMappings key (``<provider>:<client id>`` for a user
    pool, else the provider)."""

    provider: str
    subject: str
    claims: dict[str, Any] = field(default_factory=dict)
    mapping_key: str = ""


#: A login's checks that may look keys up or call the provider, run once every entry's cheap
#: checks have passed (:func:`broker.identity.logins.verify`).
Verifier = Callable[[Session, Runtime], Login]


def kind(pool: IdentityPool, provider: str) -> str:
    """What ``provider`` is in ``pool``: ``user_pool``, ``oidc``, ``saml``, ``developer``,
    ``identity`` (an OpenID token of Cognate's), ``public`` (Google, Facebook) or ``""``."""
    if provider == COGNITO_IDENTITY:
        return "identity"
    if provider == pool.developer_provider:
        return "developer"
    if any(p["ProviderName"] == provider for p in pool.user_pools or []):
        return "user_pool"
    if any(pools.login_name(p["Issuer"]) == provider for p in pool.oidc_providers or []):
        return "oidc"
    if any(pools.saml_arn(p) == provider for p in pool.saml_providers or []):
        return "saml"
    return "public" if provider in (pool.login_providers or {}) else ""


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, unverified: only to refuse it early."""
    found = jose.unverified(token)
    if found is None:
        raise not_authorized(NOT_ID_TOKEN)
    return found


def check_times(claims: dict[str, Any], now: float | None = None) -> None:
    """Unexpired (no leeway: Cognito's "Token expired: <now> >= <exp>") and not issued in
    the future (beyond :data:`SKEW`)."""
    now = int(time.time() if now is None else now)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not is_number(exp) or (iat is not None and not is_number(iat)):
        raise not_authorized(NOT_ID_TOKEN)
    if now >= exp:
        raise expired(int(exp), now)
    if iat is not None and iat - SKEW > now:
        raise not_authorized("Invalid login token. Token used before issued.")


def subject_of(claims: dict[str, Any]) -> str:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT:
        raise not_authorized(NOT_ID_TOKEN)
    return sub

