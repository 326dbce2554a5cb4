"""Administration of a pool's identity providers (Cognito's CreateIdentityProvider,
UpdateIdentityProvider, DescribeIdentityProvider, ListIdentityProviders,
DeleteIdentityProvider), AdminLinkProviderForUser and AdminDisableProviderForUser. Type-specific settings are checked
by the type's connector module (:mod:`broker.connectors.registry`).
"""
from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..connectors import registry
from ..errors import InvalidInput, UserNotFound
from ..store import repo
from ..store.models import AppClient, IdentityProvider, User, UserIdentity
from . import audit
from .admin import require_pool, require_user
from .attributes import check_name

#: A provider name: 1–32 letters, digits or ``. + @ - _``, no leading or trailing underscore
#: (it appears in usernames, URLs and file names).
NAME = re.compile(r"^(?!_)[\w.+@-]{1,32}(?<!_)$", re.ASCII)
IDENTIFIER = re.compile(r"^[\w.+@-]{1,40}$")
RESERVED = {"cognito"}
MAX_IDENTIFIERS = 50
#: The user attribute holding the user's links, a JSON string as in Cognito.
IDENTITIES = "identities"
#: How a secret is shown: never in clear.
MASK = "*" * 8


def create_idp(session: Session, pool_id: str, provider_type: str, name: str, options: dict[str, Any],
               attribute_mapping: dict[str, str] | None = None, identifiers: list[str] | None = None) -> IdentityProvider:
    pool = require_pool(session, pool_id)
    if provider_type not in registry.TYPES:
        raise InvalidInput(f"--type must be one of {', '.join(registry.TYPES)}")
    if not NAME.fullmatch(name) or name.lower() in RESERVED or name in registry.TYPES and name != provider_type:
        raise InvalidInput(f"invalid provider name {name!r}: 1-32 letters, digits or . + @ - _, not starting or ending with _")
    if any(other.name.lower() == name.lower() for other in list_idps(session, pool.id)):
        raise InvalidInput(f"identity provider {name!r} already exists in pool {pool.id} (names ignore case)")
    mapping = check_mapping(attribute_mapping if attribute_mapping is not None
                            else registry.module(provider_type).DEFAULT_MAPPING)
    idp = IdentityProvider(pool_id=pool.id, name=name, type=provider_type, attribute_mapping=mapping,
                           identifiers=check_identifiers(session, pool.id, name, identifiers or []),
                           details=registry.configure(provider_type, options, None))
    session.add(idp)
    session.flush()
    audit.record(session, pool.id, "CreateIdentityProvider", audit.PASS, provider=name, type=provider_type)
    return idp


def update_idp(session: Session, pool_id: str, name: str, options: dict[str, Any],
               attribute_mapping: dict[str, str] | None = None, identifiers: list[str] | None = None) -> IdentityProvider:
    idp = require_idp(session, pool_id, name)
    details = registry.configure(idp.type, options, dict(idp.details)) if options else idp.details
    mapping = check_mapping(attribute_mapping) if attribute_mapping is not None else idp.attribute_mapping
    routed = check_identifiers(session, pool_id, name, identifiers) if identifiers is not None else idp.identifiers
    idp.details, idp.attribute_mapping, idp.identifiers = details, mapping, routed  # all checked: nothing half-changed
    session.flush()  # updated_at is set at the flush: the answer shows the new one
    changed = sorted(options) + [k for k, v in (("attribute_mapping", attribute_mapping),
                                                ("identifiers", identifiers)) if v is not None]
    audit.record(session, pool_id, "UpdateIdentityProvider", audit.PASS, provider=name, changed=changed)
    return idp


def delete_idp(session: Session, pool_id: str, name: str) -> None:
    """Delete the IdP, its links, and its name from every client's list."""
    idp = require_idp(session, pool_id, name)
    for client in session.scalars(select(AppClient).where(AppClient.pool_id == pool_id)):
        if name in client.identity_providers:
            client.identity_providers = [p for p in client.identity_providers if p != name]
    for link in session.scalars(select(UserIdentity).where(UserIdentity.pool_id == pool_id,
                                                           UserIdentity.provider_name == name)):
        session.delete(link)
    session.delete(idp)
    audit.record(session, pool_id, "DeleteIdentityProvider", audit.PASS, provider=name)


def get_idp(session: Session, pool_id: str, name: str) -> IdentityProvider | None:
    if not name or len(name) > 32 or "\x00" in name:
        return None
    stmt = select(IdentityProvider).where(IdentityProvider.pool_id == pool_id, IdentityProvider.name == name)
    return session.scalars(stmt).first()


def require_idp(session: Session, pool_id: str, name: str) -> IdentityProvider:
    require_pool(session, pool_id)
    idp = get_idp(session, pool_id, name)
    if idp is None:
        raise InvalidInput(f"no identity provider {name!r} in pool {pool_id}")
    return idp


def list_idps(session: Session, pool_id: str) -> list[IdentityProvider]:
    stmt = select(IdentityProvider).where(IdentityProvider.pool_id == pool_id).order_by(IdentityProvider.name)
    return list(session.scalars(stmt))


def idp_for_identifier(session: Session, pool_id: str, value: str, allowed: list[str]) -> IdentityProvider | None:
    """The IdP, among ``allowed``, that claims ``value``: an identifier itself, or the
    domain of an email address (Cognito's ``idp_identifier`` and email routing)."""
    value = value.strip().lower()
    candidates = {value, value.rpartition("@")[2]} - {""}
    for idp in list_idps(session, pool_id):
        if idp.name in allowed and candidates & {i.lower() for i in idp.identifiers}:
            return idp
    return None


def check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pool_attr, upstream in mapping.items():
        if pool_attr in {"sub", "username"} or pool_attr.startswith("cognito:"):
            raise InvalidInput(f"attribute {pool_attr!r} cannot be mapped")
        check_name(pool_attr)
        if not upstream or len(upstream) > 256 or any(c.isspace() or not c.isprintable() for c in upstream):
            raise InvalidInput(f"invalid upstream attribute name {upstream!r}")
        out[pool_attr] = upstream
    return out


def check_identifiers(session: Session, pool_id: str, name: str, identifiers: list[str]) -> list[str]:
    values = list(dict.fromkeys(i.strip().lower() for i in identifiers))
    if len(values) > MAX_IDENTIFIERS:
        raise InvalidInput(f"at most {MAX_IDENTIFIERS} identifiers per identity provider")
    taken = {i for other in list_idps(session, pool_id) if other.name != name for i in other.identifiers}
    for value in values:
        if not IDENTIFIER.fullmatch(value):
            raise InvalidInput(f"invalid identifier {value!r}: 1-40 letters, digits or . _ + @ -")
        if value in taken:
            raise InvalidInput(f"identifier {value!r} already routes to another identity provider")
    return values


def describe_idp(idp: IdentityProvider) -> dict[str, Any]:
    """Cognito's DescribeIdentityProvider shape; secrets and private keys are never shown."""
    hidden = set(registry.module(idp.type).SECRETS)
    details = {k: (MASK if k in hidden else v) for k, v in idp.details.items()}
    return {
        "UserPoolId": idp.pool_id, "ProviderName": idp.name, "ProviderType": idp.type,
        "ProviderDetails": details, "AttributeMapping": idp.attribute_mapping, "IdpIdentifiers": idp.identifiers,
        "CreationDate": idp.created_at.isoformat(), "LastModifiedDate": idp.updated_at.isoformat(),
    }


def options_from_cognito(provider_type: str, details: dict[str, str]) -> dict[str, Any]:
    """Cognito's ``ProviderDetails`` as the connector's options. A secret sent back as
    :func:`cognito_details` shows it (masked) keeps its value, so a description read,
    changed and sent back as a whole changes what it changed only."""
    if provider_type not in registry.TYPES:
        raise InvalidInput(f"ProviderType must be one of {', '.join(registry.TYPES)}")
    hidden = set(registry.module(provider_type).SECRETS)
    options = registry.from_provider_details(provider_type, details)
    return {k: v for k, v in options.items() if not (k in hidden and v == MASK)}


def mapping_from_cognito(mapping: dict[str, str] | None) -> dict[str, str] | None:
    """Cognito's AttributeMapping; its ``username: sub`` (which Cognito adds by itself) is
    what Cognate does anyway: the upstream subject names the user."""
    if mapping is None:
        return None
    return {k: v for k, v in mapping.items() if not (k == "username" and v == "sub")}


def cognito_details(idp: IdentityProvider) -> dict[str, str]:
    """The IdP's ``ProviderDetails`` under Cognito's names, secrets masked."""
    hidden = set(registry.module(idp.type).SECRETS)
    return {k: (MASK if k in hidden else v) for k, v in registry.provider_details(idp.type, idp.details).items()}


def link_user(session: Session, pool_id: str, username: str, provider: str, subject: str) -> UserIdentity:
    """AdminLinkProviderForUser: ``subject`` of ``provider`` signs in as ``username`` from now on."""
    user = require_user(session, pool_id, username)
    idp = require_idp(session, pool_id, provider)
    subject = subject.strip()
    if not 1 <= len(subject) <= 512 or not subject.isprintable():
        raise InvalidInput("--subject must have 1 to 512 printable characters")
    if user.status == "EXTERNAL_PROVIDER":
        raise InvalidInput(f"user {user.username!r} is itself a federated user; link to a native user")
    existing = find_link(session, pool_id, idp.name, subject)
    if existing is not None:
        raise InvalidInput(f"{idp.name} subject {subject!r} is already linked to a user")
    link = UserIdentity(pool_id=pool_id, user_id=user.id, provider_name=idp.name, provider_type=idp.type,
                        subject=subject)
    session.add(link)
    session.flush()
    refresh_identities(session, user)
    audit.record(session, pool_id, "AdminLinkProviderForUser", audit.PASS, user=user, provider=idp.name)
    return link


def unlink_user(session: Session, pool_id: str, provider: str, subject: str) -> User:
    """AdminDisableProviderForUser: ``subject`` of ``provider`` signs in no more. Linked to a
    native user, the link goes (the native user keeps its password; the identity's next
    sign-in makes a user of its own); the identity of a federated user
    (EXTERNAL_PROVIDER) keeps its link and the user is disabled and signed out everywhere.
    Returns the user the identity was of; :class:`UserNotFound` when it is of nobody."""
    require_pool(session, pool_id)
    link = find_link(session, pool_id, provider, subject.strip())
    user = session.get(User, link.user_id) if link is not None else None
    if link is None or user is None:
        raise UserNotFound(f"no user has the {provider} identity {subject!r}")
    if user.status == "EXTERNAL_PROVIDER":
        user.enabled = False
        repo.sign_out_everywhere(session, user)
    else:
        session.delete(link)
        session.flush()
        refresh_identities(session, user)
    audit.record(session, pool_id, "AdminDisableProviderForUser", audit.PASS, user=user, provider=provider)
    return user


def find_link(session: Session, pool_id: str, provider: str, subject: str) -> UserIdentity | None:
    stmt = select(UserIdentity).where(UserIdentity.pool_id == pool_id, UserIdentity.provider_name == provider,
                                      UserIdentity.subject == subject)
    return session.scalars(stmt).first()


def user_links(session: Session, user_id: int) -> list[UserIdentity]:
    stmt = select(UserIdentity).where(UserIdentity.user_id == user_id).order_by(UserIdentity.id)
    return list(session.scalars(stmt))


def refresh_identities(session: Session, user: User) -> None:
    """Rewrite the user's ``identities`` attribute from its links (Cognito's shape)."""
    links = user_links(session, user.id)
    attributes = {k: v for k, v in user.attributes.items() if k != IDENTITIES}
    if links:
        attributes[IDENTITIES] = json.dumps([describe_link(l, i == 0) for i, l in enumerate(links)])
    user.attributes = attributes


def describe_link(link: UserIdentity, primary: bool) -> dict[str, Any]:
    return {
        "userId": link.subject, "providerName": link.provider_name, "providerType": link.provider_type,
        "issuer": None, "primary": "true" if primary else "false",
        "dateCreated": str(int(link.created_at.timestamp() * 1000)),
    }


def identities_of(attributes: dict[str, Any]) -> list[dict[str, Any]] | None:
    raw = attributes.get(IDENTITIES)
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return value if isinstance(value, list) and value else None
