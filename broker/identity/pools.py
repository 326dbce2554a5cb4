"""Identity pools' settings in Cognito's shapes (``IdentityPool`` of CreateIdentityPool,
DescribeIdentityPool and UpdateIdentityPool; SetIdentityPoolRoles' ``Roles`` and
``RoleMappings``; SetPrincipalTagAttributeMap):
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_CreateIdentityPool.html

What each provider is here:

- ``CognitoIdentityProviders``: Cognate user pools, named as Cognito names them, by their
  issuer without the scheme (``localhost:8000/local_Ab12Cd34E``); the ID token's ``aud``
  must be the ``ClientId`` given;
- ``SupportedLoginProviders``: ``accounts.google.com``, ``graph.facebook.com`` (value: the
  app's client id, as Cognito takes it) and any other issuer host Cognito knows;
- ``OpenIdConnectProviderARNs``: an IAM OIDC provider's ARN
  (``arn:aws:iam::<account>:oidc-provider/<issuer host/path>``) or the issuer URL itself.
  On AWS the audiences a token may have are the IAM provider's client ids; Cognate has no
  IAM, so they are given under the issuer's Logins key in ``SupportedLoginProviders``,
  separated by ``;`` (``{"idp.example.com": "client-1;client-2"}``), and are required: an
  issuer signs tokens for every app it serves. Cognate's own issuers (its user pools',
  ``<BASE_URL>/identity``) are not OIDC providers: their tokens have their own checks;
- ``SamlProviderARNs``: a SAML provider ARN ``arn:aws:iam::<account>:saml-provider/<Name>``
  naming a SAML identity provider of one of Cognate's user pools;
- ``DeveloperProviderName``: developer-authenticated identities.

As Cognito's UpdateIdentityPool, an update sets what it leaves out to its default.

    pool = create(session, from_cognito(session, settings, params), region="local")
"""
from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import urls
from ..config import Settings
from ..errors import InvalidInput, ResourceMissing
from ..oauth.issue import issuer as pool_issuer
from ..store import repo
from ..store.models import IdentityPool, IdentityProvider, utcnow

log = logging.getLogger("broker.identity")

#: The account every ARN Cognate shows carries (it has no AWS account).
ACCOUNT = "000000000000"
REGION = "local"
NAME = re.compile(r"[\w\s+=,.@-]{1,128}")
DEVELOPER_NAME = re.compile(r"[\w._-]{1,128}")
#: Logins keys of providers Cognito knows (and of Cognate's own OpenID tokens), which a
#: developer provider may not be named (a name with "/", an issuer's, is refused anyway).
RESERVED_DEVELOPER_NAMES = frozenset({"cognito-identity.amazonaws.com", "accounts.google.com", "graph.facebook.com",
                                      "www.amazon.com", "appleid.apple.com", "api.twitter.com"})
#: What separates an OIDC provider's audiences in SupportedLoginProviders (the API's
#: pattern for those values, ``[\w.;_/-]+``, allows no comma).
AUDIENCES = ";"
OIDC_ARN = re.compile(r"arn:aws:iam::\d{12}:oidc-provider/(.+)")
SAML_ARN = re.compile(r"arn:aws:iam::\d{12}:saml-provider/(.+)")
ROLE_KINDS = ("authenticated", "unauthenticated")
#: A role's ARN: AWS's (``arn:aws:iam::123456789012:role/Name``) or an S3-compatible store's.
ROLE_ARN = re.compile(r"arn:[\w+=/,.@-]+:iam:[\w+=/,.@-]*:[\w+=/,.@-]*:role/[\w+=/,.@-]+")
MATCH_TYPES = ("Equals", "Contains", "StartsWith", "NotEqual")
#: Cognito's limit on rules per provider.
MAX_RULES = 25


@dataclass(frozen=True)
class PoolSettings:
    """An identity pool's settings as Cognito's input gives them, checked."""

    name: str
    allow_unauthenticated: bool
    allow_classic_flow: bool = False
    login_providers: dict[str, str] = field(default_factory=dict)
    developer_provider: str | None = None
    oidc_providers: list[dict[str, Any]] = field(default_factory=list)
    user_pools: list[dict[str, Any]] = field(default_factory=list)
    saml_providers: list[dict[str, str]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


def from_cognito(session: Session, settings: Settings, params: dict[str, Any],
                 may_name: Callable[[str], bool] = lambda _pool_id: True) -> PoolSettings:
    """CreateIdentityPool's or UpdateIdentityPool's input, or :class:`InvalidInput` naming
    the first problem. ``may_name`` tells the user pools the caller may name (an admin key
    limited to some pools names only those): the others are answered as missing."""
    name = str(params.get("IdentityPoolName") or "").strip()
    if not NAME.fullmatch(name):
        raise InvalidInput("IdentityPoolName must be 1 to 128 letters, digits, spaces or +=,.@-")
    given = {str(k): str(v) for k, v in (params.get("SupportedLoginProviders") or {}).items()}
    oidc = [oidc_provider(settings, arn, given) for arn in params.get("OpenIdConnectProviderARNs") or []]
    issuers = {login_name(p["Issuer"]) for p in oidc}
    developer = params.get("DeveloperProviderName")
    if developer is not None:
        _check_developer_name(developer, {*given, *issuers})
    return PoolSettings(
        name=name, allow_unauthenticated=bool(params.get("AllowUnauthenticatedIdentities")),
        allow_classic_flow=bool(params.get("AllowClassicFlow")),
        login_providers={k: v for k, v in given.items() if k not in issuers},
        developer_provider=developer, oidc_providers=oidc,
        user_pools=[user_pool(session, settings, p, may_name) for p in params.get("CognitoIdentityProviders") or []],
        saml_providers=[saml_provider(session, arn, may_name) for arn in params.get("SamlProviderARNs") or []],
        tags=dict(params.get("IdentityPoolTags") or {}))


def _check_developer_name(name: str, providers: set[str]) -> None:
    """A name of the developer's own: never another provider's Logins key (the developer
    provider's logins are taken from the signed developer only, and the pool's other
    providers' from their tokens)."""
    if not DEVELOPER_NAME.fullmatch(name):
        raise InvalidInput("DeveloperProviderName must be 1 to 128 letters, digits or ._-")
    if name.lower() in RESERVED_DEVELOPER_NAMES or name.lower() in {p.lower() for p in providers}:
        raise InvalidInput(f"DeveloperProviderName {name!r} names another provider's logins: choose a name of "
                           "your own (such as login.example.com)")


def oidc_provider(settings: Settings, value: str, login_providers: dict[str, str]) -> dict[str, Any]:
    """An OIDC issuer from an IAM OIDC provider ARN or the issuer URL itself, with the
    audiences ``login_providers`` gives under its Logins key (``;``-separated)."""
    found = OIDC_ARN.fullmatch(value)
    issuer = f"https://{found.group(1)}" if found else value.rstrip("/")
    wrong = urls.problem(issuer, private=False)
    if wrong:  # as a user pool's OIDC issuer, and not on a private network: Cognate fetches from it
        raise InvalidInput(f"OpenIdConnectProviderARNs: {value!r} is not an IAM OIDC provider ARN or an "
                           f"issuer URL: the issuer {wrong}")
    if _own_issuer(settings, issuer):
        raise InvalidInput(f"OpenIdConnectProviderARNs: {issuer} is Cognate's own: name a user pool in "
                           "CognitoIdentityProviders (its ID tokens are checked in process), or give the "
                           "identities' OpenID tokens as cognito-identity.amazonaws.com logins")
    audiences = login_providers.get(login_name(issuer), "")
    return {"Issuer": issuer, "ClientIds": [a.strip() for a in audiences.split(AUDIENCES) if a.strip()]}


def _own_issuer(settings: Settings, issuer: str) -> bool:
    """Whether ``issuer`` is served here: ``<BASE_URL>/identity``, a user pool's
    ``<BASE_URL>/<pool id>``, or a pool's custom domain."""
    name, own = login_name(issuer).lower(), login_name(settings.base_url).lower()
    host = (urlsplit(issuer).hostname or "").lower()
    return name == own or name.startswith(own + "/") or host in settings.domains


def audience_list(provider: dict[str, Any]) -> str:
    """An OIDC provider's audiences as ``SupportedLoginProviders`` gives them."""
    return AUDIENCES.join(provider.get("ClientIds") or [])


def oidc_arn(issuer: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.split('://', 1)[-1]}"


def login_name(issuer: str) -> str:
    """The Logins key of an issuer, as Cognito and Amplify form it: the URL without its scheme."""
    return issuer.split("://", 1)[-1].rstrip("/")


def saml_provider(session: Session, value: str, may_name: Callable[[str], bool]) -> dict[str, str]:
    """A SAML identity provider of a Cognate user pool the caller may name, from a SAML
    provider ARN or its name (``Name`` or ``<UserPoolId>:Name`` when two pools have one of
    that name)."""
    found = SAML_ARN.fullmatch(value)
    name = found.group(1) if found else value
    pool_id, _, idp_name = name.rpartition(":") if ":" in name else ("", "", name)
    stmt = select(IdentityProvider.pool_id, IdentityProvider.name).where(
        IdentityProvider.name == idp_name, IdentityProvider.type == "SAML")
    if pool_id:
        stmt = stmt.where(IdentityProvider.pool_id == pool_id)
    rows = [row for row in session.execute(stmt) if may_name(row.pool_id)]
    if not rows:
        raise InvalidInput(f"SamlProviderARNs: no user pool has a SAML identity provider named {idp_name!r}")
    if len(rows) > 1:
        raise InvalidInput(f"SamlProviderARNs: several user pools have a SAML provider named {idp_name!r}: "
                           "give it as <UserPoolId>:<Name>")
    return {"UserPoolId": rows[0].pool_id, "Name": rows[0].name}


def saml_arn(provider: dict[str, str]) -> str:
    return f"arn:aws:iam::{ACCOUNT}:saml-provider/{provider['UserPoolId']}:{provider['Name']}"


def user_pool(session: Session, settings: Settings, given: dict[str, Any],
              may_name: Callable[[str], bool]) -> dict[str, Any]:
    """A Cognate user pool and one of its app clients, named as Cognito names them
    (``ProviderName``: the pool's issuer without the scheme)."""
    name, client = login_name(str(given.get("ProviderName") or "")), str(given.get("ClientId") or "")
    if not name or "/" not in name or not client:
        raise InvalidInput("CognitoIdentityProviders: each needs a ProviderName (the user pool's issuer "
                           "without https://, e.g. localhost:8000/local_Ab12Cd34E) and a ClientId")
    pool_id = name.rpartition("/")[2]
    expected = login_name(pool_issuer(settings.base_url, pool_id))
    if name != expected or not may_name(pool_id) or repo.get_client(session, pool_id, client) is None:
        raise InvalidInput(f"CognitoIdentityProviders: {name} is no user pool of this server with an app client "
                           f"{client} (a user pool's ProviderName is {login_name(settings.base_url)}/<pool id>)")
    return {"ProviderName": name, "ClientId": client, "ServerSideTokenCheck": bool(given.get("ServerSideTokenCheck"))}


def create(session: Session, settings: PoolSettings, region: str = REGION) -> IdentityPool:
    pool = IdentityPool(id=f"{region}:{uuid.uuid4()}")
    _apply(pool, settings)
    session.add(pool)
    session.flush()
    note_change(pool, "CreateIdentityPool")
    return pool


def update(session: Session, pool: IdentityPool, settings: PoolSettings) -> IdentityPool:
    """As UpdateIdentityPool: ``settings`` replace the pool's, except that an OIDC issuer
    given again by its ARN (which does not name the scheme) keeps its issuer URL, and,
    given without audiences, the audiences it had. The role mappings of providers the pool
    no longer has go."""
    if pool.developer_provider and settings.developer_provider != pool.developer_provider:
        raise InvalidInput("DeveloperProviderName cannot be changed once it is set")
    kept = {login_name(p["Issuer"]): p for p in pool.oidc_providers or []}
    oidc = [{"Issuer": kept.get(login_name(p["Issuer"]), p)["Issuer"],
             "ClientIds": p.get("ClientIds") or kept.get(login_name(p["Issuer"]), {}).get("ClientIds") or []}
            for p in settings.oidc_providers]
    _apply(pool, replace(settings, oidc_providers=oidc))
    kept_keys = mapping_keys(pool)  # a provider gone takes its role mapping along
    pool.role_mappings = {k: v for k, v in (pool.role_mappings or {}).items() if k in kept_keys}
    pool.updated_at = utcnow()
    session.flush()
    note_change(pool, "UpdateIdentityPool")
    return pool


def _apply(pool: IdentityPool, s: PoolSettings) -> None:
    """(An OIDC issuer given without audiences is kept, and takes no token until they are
    given: an ID token is only ever taken for the clients the pool names.)"""
    pool.name, pool.allow_unauthenticated, pool.allow_classic_flow = s.name, s.allow_unauthenticated, \
        s.allow_classic_flow
    pool.login_providers, pool.developer_provider = s.login_providers, s.developer_provider
    pool.oidc_providers, pool.user_pools, pool.saml_providers = s.oidc_providers, s.user_pools, s.saml_providers
    pool.tags = s.tags


def note_change(pool: IdentityPool, event: str) -> None:
    """Identity pools have no user pool's audit log: their changes go to the server log."""
    log.info("%s %s (%s)", event, pool.id, pool.name)


def require(session: Session, pool_id: str) -> IdentityPool:
    pool = session.get(IdentityPool, pool_id) if isinstance(pool_id, str) else None
    if pool is None:
        raise ResourceMissing(f"IdentityPool '{pool_id}' not found.")
    return pool


def listed(session: Session) -> list[IdentityPool]:
    return list(session.scalars(select(IdentityPool).order_by(IdentityPool.id)))


def delete(session: Session, pool: IdentityPool) -> None:
    """The pool, its identities and their logins (``ON DELETE CASCADE``)."""
    session.delete(pool)
    session.flush()
    note_change(pool, "DeleteIdentityPool")


def describe(pool: IdentityPool) -> dict[str, Any]:
    """The pool as Cognito's ``IdentityPool`` shape."""
    out: dict[str, Any] = {
        "IdentityPoolId": pool.id, "IdentityPoolName": pool.name,
        "AllowUnauthenticatedIdentities": pool.allow_unauthenticated, "AllowClassicFlow": pool.allow_classic_flow,
        "SupportedLoginProviders": {**(pool.login_providers or {}),
                                    **{login_name(p["Issuer"]): audience_list(p) for p in pool.oidc_providers or []
                                       if p.get("ClientIds")}},
        "OpenIdConnectProviderARNs": [oidc_arn(p["Issuer"]) for p in pool.oidc_providers or []],
        "CognitoIdentityProviders": list(pool.user_pools or []),
        "SamlProviderARNs": [saml_arn(p) for p in pool.saml_providers or []],
        "IdentityPoolTags": dict(pool.tags or {}),
    }
    if pool.developer_provider:
        out["DeveloperProviderName"] = pool.developer_provider
    return out


def set_roles(session: Session, pool: IdentityPool, roles: dict[str, str], mappings: dict[str, Any]) -> None:
    """SetIdentityPoolRoles: the default roles and the role mappings per provider of the
    pool (Token, for user pools only, or Rules), checked as Cognito checks them."""
    unknown = sorted(set(roles) - set(ROLE_KINDS))
    if unknown:
        raise InvalidInput(f"Roles: unknown key {unknown[0]!r}: authenticated or unauthenticated")
    for kind, arn in roles.items():
        if not ROLE_ARN.fullmatch(str(arn)):
            raise InvalidInput(f"Roles.{kind}: {arn!r} is not a role ARN (arn:aws:iam::<account>:role/<name>)")
    providers = mapping_keys(pool)
    for provider, mapping in mappings.items():
        if provider not in providers:
            raise InvalidInput(f"RoleMappings: {provider!r} is not a provider of this identity pool (a user pool's "
                               "key is <ProviderName>:<ClientId>)")
        check_mapping(provider, mapping)
        if mapping["Type"] == "Token" and providers[provider] != "user_pool":
            raise InvalidInput(f"RoleMappings.{provider}: Type Token reads the roles a user pool puts in its ID "
                               "tokens: it is for user pools only (use Rules)")
    pool.roles, pool.role_mappings = dict(roles), dict(mappings)
    pool.updated_at = utcnow()
    session.flush()
    note_change(pool, "SetIdentityPoolRoles")


def mapping_keys(pool: IdentityPool) -> dict[str, str]:
    """The RoleMappings keys of the pool's providers, and what each is: ``user_pool``
    (``<ProviderName>:<ClientId>``), ``oidc``, ``saml``, ``public``, ``developer``."""
    keys = {f"{p['ProviderName']}:{p['ClientId']}": "user_pool" for p in pool.user_pools or []}
    keys.update({login_name(p["Issuer"]): "oidc" for p in pool.oidc_providers or []})
    keys.update({saml_arn(p): "saml" for p in pool.saml_providers or []})
    keys.update({name: "public" for name in pool.login_providers or {}})
    if pool.developer_provider:
        keys[pool.developer_provider] = "developer"
    return keys


def check_mapping(provider: str, mapping: dict[str, Any]) -> None:
    kind = mapping.get("Type")
    if kind not in ("Token", "Rules"):
        raise InvalidInput(f"RoleMappings.{provider}.Type must be Token or Rules")
    if mapping.get("AmbiguousRoleResolution") not in ("AuthenticatedRole", "Deny"):
        raise InvalidInput(f"RoleMappings.{provider}.AmbiguousRoleResolution must be AuthenticatedRole or Deny")
    rules = (mapping.get("RulesConfiguration") or {}).get("Rules") or []
    if kind == "Rules" and not 1 <= len(rules) <= MAX_RULES:
        raise InvalidInput(f"RoleMappings.{provider}: a Rules mapping has 1 to {MAX_RULES} rules")
    for rule in rules:
        if rule.get("MatchType") not in MATCH_TYPES or not rule.get("Claim") or not rule.get("RoleARN"):
            raise InvalidInput(f"RoleMappings.{provider}: each rule has a Claim, a MatchType "
                               f"({', '.join(MATCH_TYPES)}), a Value and a RoleARN")
        if not ROLE_ARN.fullmatch(str(rule["RoleARN"])):
            raise InvalidInput(f"RoleMappings.{provider}: {rule['RoleARN']!r} is not a role ARN")


def roles_of(pool: IdentityPool) -> dict[str, Any]:
    """GetIdentityPoolRoles' answer."""
    out: dict[str, Any] = {"IdentityPoolId": pool.id, "Roles": dict(pool.roles or {})}
    if pool.role_mappings:
        out["RoleMappings"] = dict(pool.role_mappings)
    return out


def set_tag_map(session: Session, pool: IdentityPool, provider: str, use_defaults: bool,
                tags: dict[str, str]) -> dict[str, Any]:
    """SetPrincipalTagAttributeMap: which claims of ``provider``'s tokens become principal tags."""
    maps = dict(pool.principal_tags or {})
    maps[provider] = {"UseDefaults": use_defaults, "PrincipalTags": dict(tags)}
    pool.principal_tags = maps
    pool.updated_at = utcnow()
    session.flush()
    note_change(pool, "SetPrincipalTagAttributeMap")
    return tag_map(pool, provider)


def tag_map(pool: IdentityPool, provider: str) -> dict[str, Any]:
    found = (pool.principal_tags or {}).get(provider) or {"UseDefaults": False, "PrincipalTags": {}}
    return {"IdentityPoolId": pool.id, "IdentityProviderName": provider, **found}
