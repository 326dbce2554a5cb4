"""Pure token minting: the same inputs always give the same Cognito-shaped claims.

Claims follow Cognito's ID and access tokens
(https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-with-identity-providers.html)
and OpenID Connect Core §2 for the ID token.

>>> grant = Grant(issuer="http://localhost:8000/local_X", client_id="c", scopes=("openid",),
...               auth_time=100, origin_jti="o", event_id="e")
>>> access_claims(grant, Subject("u-1", "alice"), now=100, ttl=60)["exp"]
160
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

from .. import ids
from .keys import ParsedKeys

EMAIL_CLAIMS = ("email", "email_verified")
PHONE_CLAIMS = ("phone_number", "phone_number_verified")
PROFILE_CLAIMS = (
    "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
    "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "address",
    "updated_at",
)
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
BOOLEAN_CLAIMS = {"email_verified", "phone_number_verified"}


@dataclass(frozen=True)
class Subject:
    """Who the tokens are about; ``username`` is None for client-credentials tokens."""

    sub: str
    username: str | None
    groups: tuple[str, ...] = ()
    #: IAM role ARNs of the groups, by group precedence (Cognito's ``cognito:roles``).
    roles: tuple[str, ...] = ()
    #: ``cognito:preferred_role``: the role of the group with the best precedence, if one is
    #: (or the one a PreTokenGeneration trigger names).
    preferred_role: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    identities: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Grant:
    """What was granted: to which client, which scopes, from which sign-in."""

    issuer: str
    client_id: str
    scopes: tuple[str, ...]
    auth_time: int
    origin_jti: str
    event_id: str
    nonce: str | None = None
    #: Authentication methods (RFC 8176): "pwd", "otp", "mfa".
    amr: tuple[str, ...] = ()
    #: The hosted sign-in session the grant comes from: the ID token's ``sid``
    #: (OpenID Connect Back-Channel Logout 1.0 §2.1); None at the JSON API.
    sid: str | None = None


def access_claims(grant: Grant, subject: Subject, now: int, ttl: int) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": subject.sub,
        "iss": grant.issuer,
        "client_id": grant.client_id,
        "origin_jti": grant.origin_jti,
        "event_id": grant.event_id,
        "token_use": "access",
        "scope": " ".join(grant.scopes),
        "auth_time": grant.auth_time,
        "exp": now + ttl,
        "iat": now,
        "jti": ids.uuid4(),
        "version": 2,
    }
    if subject.groups:
        claims["cognito:groups"] = list(subject.groups)
    if subject.username is not None:
        claims["username"] = subject.username
    if grant.amr:
        claims["amr"] = list(grant.amr)
    return claims


def id_claims(grant: Grant, subject: Subject, now: int, ttl: int, access_token: str | None = None) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": subject.sub,
        "aud": grant.client_id,
        "iss": grant.issuer,
        "token_use": "id",
        "cognito:username": subject.username,
        "auth_time": grant.auth_time,
        "exp": now + ttl,
        "iat": now,
        "jti": ids.uuid4(),
        "origin_jti": grant.origin_jti,
        "event_id": grant.event_id,
    }
    if subject.groups:
        claims["cognito:groups"] = list(subject.groups)
    if subject.roles:
        claims["cognito:roles"] = list(subject.roles)
    if subject.preferred_role:
        claims["cognito:preferred_role"] = subject.preferred_role
    if grant.nonce:
        claims["nonce"] = grant.nonce
    if access_token:
        claims["at_hash"] = at_hash(access_token)
    if subject.identities:
        claims["identities"] = subject.identities
    if grant.amr:
        claims["amr"] = list(grant.amr)
    if grant.sid:
        claims["sid"] = grant.sid
    claims.update(attribute_claims(subject.attributes, grant.scopes))
    return claims


def attribute_claims(attributes: dict[str, Any], scopes: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """User attributes released for ``scopes`` (also what ``/oauth2/userInfo`` returns)."""
    allowed: set[str] = set()
    everything = ADMIN_SCOPE in scopes
    if everything or "email" in scopes:
        allowed.update(EMAIL_CLAIMS)
    if everything or "phone" in scopes:
        allowed.update(PHONE_CLAIMS)
    if everything or "profile" in scopes:
        allowed.update(PROFILE_CLAIMS)
    released: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in BOOLEAN_CLAIMS and name in allowed:
            released[name] = value in (True, "true", "True")
        elif name in allowed or name.startswith("custom:"):
            released[name] = str(value) if name.startswith("custom:") else value
    return released


#: Every claim an ID token or ``/oauth2/userInfo`` may carry, besides the pool's ``custom:*``
#: attributes: discovery's ``claims_supported`` (OIDC Discovery 1.0 §3).
ISSUED_CLAIMS = (
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "jti", "origin_jti", "event_id",
    "token_use", "cognito:username", "cognito:groups", "cognito:roles", "cognito:preferred_role", "identities",
    "username", "sid", *EMAIL_CLAIMS, *PHONE_CLAIMS, *PROFILE_CLAIMS,
)


def claims_supported(custom: list[str] | tuple[str, ...]) -> list[str]:
    """The claims discovery advertises: :data:`ISSUED_CLAIMS` and the ``custom`` attributes
    the pool declares (Cognate takes undeclared ones too, but cannot name them in advance).

    >>> claims_supported(["custom:tier"])[-1]
    'custom:tier'
    """
    return [*ISSUED_CLAIMS, *sorted(set(custom))]


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def sign(claims: dict[str, Any], keys: ParsedKeys, typ: str | None = None) -> str:
    """A JWS of ``claims`` under the pool's signing key; ``typ`` sets the header's type
    (``logout+jwt`` for logout tokens, so that no other JWT can pass for one)."""
    return keys.signer.sign(claims, typ or "JWT")


# -- what a PreTokenGeneration trigger changes, applied as data ---------------------------

#: Claims no trigger adds, changes or suppresses (Cognito's list); Cognito leaves them as
#: they are, and so does Cognate: the trigger's word on them is ignored.
#: https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html
FIXED_ID_CLAIMS = frozenset({
    "acr", "amr", "aud", "at_hash", "auth_time", "azp", "cognito:username", "event_id", "exp", "iat", "identities",
    "iss", "jti", "nbf", "nonce", "origin_jti", "sub", "token_use",
    "sid",  # Cognate's: the session back-channel logout names (a trigger changing it would break that)
})
#: The access token's own: its client, its scopes (changed with scopesToAdd/Suppress only),
#: its user's name and its format version besides.
FIXED_ACCESS_CLAIMS = FIXED_ID_CLAIMS | {"client_id", "scope", "username", "version"}
#: Changed with ``groupOverrideDetails`` only, as Cognito asks.
GROUP_CLAIMS = frozenset({"cognito:groups", "cognito:roles", "cognito:preferred_role"})


@dataclass(frozen=True)
class ClaimChanges:
    """Claims to add or override, and claims to suppress (suppression wins, as Cognito's)."""

    add: Mapping[str, Any] = field(default_factory=dict)
    suppress: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GroupOverride:
    """``groupOverrideDetails``: the groups, roles and preferred role the tokens state instead."""

    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    preferred_role: str | None = None


@dataclass(frozen=True)
class Overrides:
    """A PreTokenGeneration trigger's answer as data, applied while minting:

    >>> o = Overrides(access_token=ClaimChanges({"tier": "gold", "sub": "x"}, frozenset({"amr"})),
    ...               scopes_add=("api/read",), scopes_suppress=frozenset({"email"}))
    >>> o.scopes(("openid", "email"))
    ('openid', 'api/read')
    >>> override({"sub": "u", "amr": ["pwd"]}, o.access_token, FIXED_ACCESS_CLAIMS)
    {'sub': 'u', 'amr': ['pwd'], 'tier': 'gold'}
    """

    id_token: ClaimChanges = ClaimChanges()
    access_token: ClaimChanges = ClaimChanges()
    scopes_add: tuple[str, ...] = ()
    scopes_suppress: frozenset[str] = frozenset()
    #: None: the user's groups as they are.
    groups: GroupOverride | None = None

    def subject(self, subject: Subject) -> Subject:
        """``subject`` with the groups and roles the trigger gave, if it gave any."""
        if self.groups is None:
            return subject
        return dataclasses.replace(subject, groups=self.groups.groups, roles=self.groups.roles,
                                   preferred_role=self.groups.preferred_role)

    def scopes(self, granted: tuple[str, ...]) -> tuple[str, ...]:
        """The access token's scopes: the granted ones and the added ones, less the suppressed."""
        kept = dict.fromkeys(s for s in (*granted, *self.scopes_add) if s not in self.scopes_suppress)
        return tuple(kept)


def override(claims: dict[str, Any], changes: ClaimChanges, fixed: frozenset[str]) -> dict[str, Any]:
    """``claims`` with ``changes`` applied, except to the ``fixed`` claims, the group claims
    and Cognito's developer-only ``dev:`` claims, which stay as they were."""
    def changeable(name: str) -> bool:
        return name not in fixed and name not in GROUP_CLAIMS and not name.startswith("dev:")

    out = {**claims, **{k: v for k, v in changes.add.items() if changeable(k)}}
    for name in changes.suppress:
        if changeable(name):
            out.pop(name, None)
    return out
