"""The ``Logins`` of GetId, GetOpenIdToken, GetCredentialsForIdentity and UnlinkIdentity:
each entry checked with the provider its key names in the identity pool, and turned into
a :class:`Login`. Any entry that fails refuses the whole call (NotAuthorizedException, in
Cognito's words; ExternalServiceException when the provider cannot be reached).
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetId.html

Every entry's cheap checks (a provider the pool has, the token's shape, unverified issuer,
audience and lifetime) run before any entry's signature or network check. Developer logins
are only taken from the developer's signed GetOpenIdTokenForDeveloperIdentity
(:func:`developer`), never from a public operation.

    logins = verify(session, runtime, pool, {"localhost:8000/local_Ab12Cd34E": id_token})
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..config import Settings
from ..runtime import Runtime
from ..store.models import IdentityPool
from . import jwt_logins, upstream_logins
from .errors import NOT_SUPPORTED, invalid_parameter, not_authorized
from .providers import MAX_SUBJECT, Login, Verifier

#: Each kind of login, tried in turn on a Logins key: the first that knows the key checks it.
FINDERS = (jwt_logins.user_pool, jwt_logins.google, upstream_logins.facebook, jwt_logins.oidc,
           upstream_logins.saml, jwt_logins.identity_token)


def verify(session: Session, runtime: Runtime, pool: IdentityPool, logins: dict[str, str] | None) -> list[Login]:
    """The verified logins of ``logins`` (Logins key → token), in key order."""
    steps = [_plan(runtime.settings, pool, key, value) for key, value in sorted((logins or {}).items())]
    return [step(session, runtime) for step in steps]


def _plan(settings: Settings, pool: IdentityPool, key: str, value: str) -> Verifier:
    if not isinstance(value, str) or (pool.developer_provider and key == pool.developer_provider):
        raise not_authorized(NOT_SUPPORTED)
    for finder in FINDERS:
        step = finder(settings, pool, key, value)
        if step is not None:
            return step
    raise not_authorized(NOT_SUPPORTED)


def developer(session: Session, runtime: Runtime, pool: IdentityPool, logins: dict[str, str]) -> list[Login]:
    """GetOpenIdTokenForDeveloperIdentity's Logins: the developer provider's user
    identifier, vouched for by the signed caller, and any other login, verified."""
    name = pool.developer_provider
    if not name:
        raise invalid_parameter("This identity pool has no developer provider "
                      "(DeveloperProviderName).")
    user = logins.get(name)
    if not isinstance(user, str) or not user:
        raise invalid_parameter(f"Logins must map the developer provider {name} to the "
                      "developer user identifier.")
    if len(user) > MAX_SUBJECT:
        raise invalid_parameter(f"A developer user identifier is at most {MAX_SUBJECT} characters.")
    others = verify(session, runtime, pool, {k: v for k, v in logins.items() if k != name})
    return sorted([Login(name, user, {}, name), *others], key=lambda login: login.provider)
