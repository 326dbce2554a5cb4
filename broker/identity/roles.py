"""Which IAM role an identity's credentials are for, as Cognito's enhanced flow chooses it
(https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html):

- a guest (no login): the pool's ``unauthenticated`` role;
- a login whose provider has no role mapping: the ``authenticated`` role;
- a ``Token`` mapping: ``CustomRoleArn`` if the token's ``cognito:roles`` has it (else
  denied), else ``cognito:preferred_role``, else the mapping's ``AmbiguousRoleResolution``;
- a ``Rules`` mapping: the role of the first rule that matches a claim (``Equals``,
  ``NotEqual``, ``StartsWith``, ``Contains``; a ``NotEqual`` rule on an absent claim is not
  evaluated), the first matching rule with ``CustomRoleArn``'s role when one is asked for;
  no match: ``AmbiguousRoleResolution``.

``AmbiguousRoleResolution`` ``AuthenticatedRole`` falls back to the default role; ``Deny``
refuses with Cognito's ``NotAuthorizedException`` "The ambiguous role mapping rules for:
<provider> denied this request.". A pool without the role it needs refuses with
``InvalidIdentityPoolConfigurationException``. Mappings are keyed by the login's
``mapping_key`` (``<provider>:<client id>`` for user pools). With several logins, each
mapped one is tried in the order of their keys and the first role found wins.

A pure function of the pool's settings and the verified logins:

    role = choose(pool, [Login("localhost:8000/local_X", "sub", claims, "localhost:8000/local_X:client")], None)
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..store.models import IdentityPool
from .errors import Refused, misconfigured, not_authorized

if TYPE_CHECKING:
    from .providers import Login



def choose(pool: IdentityPool, logins: list[Login], custom_role_arn: str | None) -> str:
    """The role ARN for these logins (none: a guest), or :class:`Refused`."""
    if not logins:
        return _default(pool, "unauthenticated", custom_role_arn)
    mappings = pool.role_mappings or {}
    denied: Refused | None = None
    for login in logins:
        mapping = mappings.get(login.mapping_key)
        if mapping is None:
            continue
        try:
            return _mapped(pool, login, mapping, custom_role_arn)
        except Refused as exc:
            denied = denied or exc
    if denied is not None:
        raise denied
    return _default(pool, "authenticated", custom_role_arn)


def _default(pool: IdentityPool, kind: str, custom_role_arn: str | None) -> str:
    role = (pool.roles or {}).get(kind)
    if not role:
        raise misconfigured()
    if custom_role_arn and custom_role_arn != role:
        raise not_authorized(f"CustomRoleArn {custom_role_arn} is not a role this identity "
                      "pool gives to this identity.")
    return role


def _mapped(pool: IdentityPool, login: Login, mapping: dict[str, Any], custom_role_arn: str | None) -> str:
    if mapping.get("Type") == "Token":
        role = _from_token(login, custom_role_arn)
    else:
        role = _from_rules(login.claims, (mapping.get("RulesConfiguration") or {}).get("Rules") or [],
                           custom_role_arn)
    if role:
        return role
    if mapping.get("AmbiguousRoleResolution") == "AuthenticatedRole":
        return _default(pool, "authenticated", custom_role_arn)
    raise not_authorized(f"The ambiguous role mapping rules for: {login.mapping_key} denied this request.")


def _from_token(login: Login, custom_role_arn: str | None) -> str | None:
    """The role the user pool put in the ID token (its groups' roles)."""
    allowed = token_roles(login.claims)
    if custom_role_arn:
        if custom_role_arn not in allowed:
            raise not_authorized(f"CustomRoleArn {custom_role_arn} is not among the roles "
                          f"of the token of {login.mapping_key}.")
        return custom_role_arn
    preferred = login.claims.get("cognito:preferred_role")
    return preferred if isinstance(preferred, str) and preferred else None


def token_roles(claims: dict[str, Any]) -> list[str]:
    """``cognito:roles``: a JSON array in real ID tokens, a comma-separated string in the docs."""
    found = claims.get("cognito:roles")
    if isinstance(found, str):
        return [part.strip() for part in found.split(",") if part.strip()]
    if isinstance(found, list):
        return [str(part) for part in found if part]
    return []


def _from_rules(claims: dict[str, Any], rules: list[dict[str, Any]], custom_role_arn: str | None) -> str | None:
    for rule in rules:
        if custom_role_arn and rule.get("RoleARN") != custom_role_arn:
            continue
        if matches(rule, claims):
            return str(rule["RoleARN"])
    return None


def matches(rule: dict[str, Any], claims: dict[str, Any]) -> bool:
    """Whether ``rule`` matches the claim it names. A claim that is a list (``cognito:groups``)
    matches when one of its values does (``NotEqual``: when none equals the value); other
    values are compared as their JSON text (``true``, ``42``)."""
    name, kind, value = rule.get("Claim"), rule.get("MatchType"), str(rule.get("Value", ""))
    if name not in claims or claims[name] is None:
        return False  # NotEqual included: a rule on an absent claim is not evaluated
    found = claims[name]
    values = [_text(v) for v in found] if isinstance(found, list) else [_text(found)]
    if kind == "NotEqual":
        return value not in values
    test = {"Equals": str.__eq__, "StartsWith": str.startswith, "Contains": str.__contains__}.get(str(kind))
    return test is not None and any(test(v, value) for v in values)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
