"""PreTokenGeneration: the event Cognito sends before it mints a user's tokens, and its
answer read into :class:`~broker.oauth.tokens.Overrides`, which the minting applies.
https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html

A pool's version decides the event. ``V1_0`` (event ``version`` "1") customizes the ID
token, and the groups of both tokens:

    request:  {"userAttributes": {...}, "groupConfiguration": {"groupsToOverride": [...],
               "iamRolesToOverride": [...], "preferredRole": "..."}, "clientMetadata": {...}}
    response: {"claimsOverrideDetails": {"claimsToAddOrOverride": {"tier": "gold"},
               "claimsToSuppress": ["email"], "groupOverrideDetails": {...}}}

``V2_0`` (event ``version`` "2") adds the access token and its scopes; ``request.scopes``
lists the scopes granted:

    response: {"claimsAndScopeOverrideDetails": {
                 "idTokenGeneration": {"claimsToAddOrOverride": {...}, "claimsToSuppress": [...]},
                 "accessTokenGeneration": {"claimsToAddOrOverride": {...}, "claimsToSuppress": [...],
                                           "scopesToAdd": [...], "scopesToSuppress": [...]},
                 "groupOverrideDetails": {...}}}

Claim values are strings in V1 (numbers and booleans are written as strings, as Cognito's
string map reads them); V2 takes strings, numbers, booleans, arrays of these and JSON
objects, except in the ID token's ``email_verified``, ``phone_number_verified``,
``updated_at`` and ``address``, which stay scalar. Anything else is Cognito's
``InvalidLambdaResponseException``. Claims that cannot change (``sub``, ``iss``, ``exp``,
... :data:`~broker.oauth.tokens.FIXED_ID_CLAIMS`) are left as they were, as Cognito does.
A ``groupOverrideDetails`` object replaces the groups (``groupsToOverride: []``: none);
without it, or null, the groups stay. A V2 event answered in V1's shape is applied as V1's.
"""
from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session

from ..engine.challenges import DEVICE_PASSWORD_VERIFIER, NEW_PASSWORD_REQUIRED
from ..oauth import scopes as scope_bounds
from ..oauth.tokens import ClaimChanges, GroupOverride, Overrides, Subject
from ..store.models import User, UserPool
from . import invoke, settings
from .answers import obj, string, string_list
from .attributes import user_attributes

HOSTED_AUTH = "TokenGeneration_HostedAuth"
AUTHENTICATION = "TokenGeneration_Authentication"
NEW_PASSWORD_CHALLENGE = "TokenGeneration_NewPasswordChallenge"
AUTHENTICATE_DEVICE = "TokenGeneration_AuthenticateDevice"
REFRESH_TOKENS = "TokenGeneration_RefreshTokens"
V1, V2 = "claimsOverrideDetails", "claimsAndScopeOverrideDetails"
#: ID token claims that take no array or object (Cognito's exceptions to V2's types).
SCALAR_ID_CLAIMS = frozenset({"email_verified", "phone_number_verified", "updated_at", "address"})


def source_of(progress: dict[str, Any]) -> str:
    """The ``triggerSource`` of an API sign-in, by the challenge that ended it (``progress``
    of :class:`~broker.engine.challenges.SignedIn`)."""
    step = progress.get("step")
    if step == NEW_PASSWORD_REQUIRED:
        return NEW_PASSWORD_CHALLENGE
    if step == DEVICE_PASSWORD_VERIFIER:
        return AUTHENTICATE_DEVICE
    return AUTHENTICATION


def overrides(session: Session, pool: UserPool, client_id: str, user: User, subject: Subject,
              scopes: tuple[str, ...], source: str) -> Overrides | None:
    """Fire the pool's PreTokenGeneration trigger for tokens of ``user`` (as ``subject``,
    before any override) with ``scopes``; its changes, or None without a trigger."""
    v2 = settings.pre_token_version(pool) == "V2_0"
    request: dict[str, Any] = {"userAttributes": user_attributes(user), "groupConfiguration": {
        "groupsToOverride": list(subject.groups), "iamRolesToOverride": list(subject.roles),
        "preferredRole": subject.preferred_role}}
    if v2:
        request["scopes"] = list(scopes)
    answer = invoke.fire(session, pool, settings.PRE_TOKEN_GENERATION, source, user.username, request, {V2 if v2 else V1: None},
                         version="2" if v2 else "1", client_id=client_id)
    if answer is None:
        return None
    if v2 and answer.get(V2) is None and isinstance(answer.get(V1), dict):
        v2 = False  # a V1 handler left on a V2 pool
    return _read_v2(answer.get(V2)) if v2 else _read_v1(answer.get(V1))


def _read_v1(details: Any) -> Overrides:
    found = obj(details)
    return Overrides(id_token=_claims(found, _v1_value), groups=_groups(found))


def _read_v2(details: Any) -> Overrides:
    found = obj(details)
    id_part, access_part = obj(found.get("idTokenGeneration")), obj(found.get("accessTokenGeneration"))
    return Overrides(id_token=_claims(id_part, _v2_id_value), access_token=_claims(access_part, _v2_value),
                     scopes_add=_scopes(access_part.get("scopesToAdd")),
                     scopes_suppress=frozenset(_scopes(access_part.get("scopesToSuppress"))),
                     groups=_groups(found))


def _claims(part: dict[str, Any], check: Any) -> ClaimChanges:
    add = obj(part.get("claimsToAddOrOverride"))
    return ClaimChanges({str(name): check(name, value) for name, value in add.items()},
                        frozenset(string_list(part.get("claimsToSuppress"))))


def _scopes(value: Any) -> tuple[str, ...]:
    """Scopes to add or suppress, each within the bounds of any requested scope."""
    found = tuple(dict.fromkeys(string_list(value)))
    try:
        if found != scope_bounds.requested(" ".join(found)):  # empty, or holding whitespace
            raise invoke.invalid()
    except scope_bounds.ScopeError:
        raise invoke.invalid() from None
    return found


def _groups(found: dict[str, Any]) -> GroupOverride | None:
    """The groups, roles and preferred role a ``groupOverrideDetails`` object states instead
    (``groupsToOverride: []``: none); None (absent, or null as a handler that fills the
    event's empty response leaves it) keeps the user's."""
    if found.get("groupOverrideDetails") is None:
        return None
    details = obj(found["groupOverrideDetails"])
    return GroupOverride(tuple(string_list(details.get("groupsToOverride"))),
                         tuple(string_list(details.get("iamRolesToOverride"))),
                         string(details.get("preferredRole")) or None)


def _v1_value(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and _finite(value):
        return str(value)
    raise invoke.invalid()


def _v2_id_value(name: str, value: Any) -> Any:
    if name in SCALAR_ID_CLAIMS and isinstance(value, (list, dict)):
        raise invoke.invalid()
    return _v2_value(name, value)


def _v2_value(name: str, value: Any) -> Any:
    if _scalar(value):
        return value
    if isinstance(value, list) and all(_scalar(v) for v in value):
        return value
    if isinstance(value, dict) and _json(value):
        return value
    raise invoke.invalid()


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, bool)) or (isinstance(value, (int, float)) and _finite(value))


def _json(value: Any) -> bool:
    """Whether ``value`` is JSON a token can carry (no NaN or infinity, which JSON cannot write)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json(v) for v in value)
    return value is None or _scalar(value)


def _finite(value: float) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
