"""Durable data of identity pools (Cognito Federated Identities): the pools, their
identities and the logins linked to each, and the keys that sign their OpenID tokens."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, KeyColumns, utcnow


class IdentityPool(Base):
    """Cognito's identity pool: which logins it takes, whether guests get credentials, and
    the roles it hands out (:mod:`broker.identity.pools`). Ids are ``<region>:<uuid>``."""

    __tablename__ = "identity_pools"

    id: Mapped[str] = mapped_column(String(55), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    allow_unauthenticated: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_classic_flow: Mapped[bool] = mapped_column(Boolean, default=False)
    #: SupportedLoginProviders: ``{"accounts.google.com": "<client id>", "graph.facebook.com": "<app id>"}``.
    login_providers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    developer_provider: Mapped[str | None] = mapped_column(String(128))
    #: OpenID Connect issuers (IAM's OpenIdConnectProviderARNs): ``[{"Issuer", "ClientIds"}]``.
    oidc_providers: Mapped[list[Any]] = mapped_column(default=list)
    #: CognitoIdentityProviders: ``[{"ProviderName", "ClientId", "ServerSideTokenCheck"}]``.
    user_pools: Mapped[list[Any]] = mapped_column(default=list)
    #: SAML identity providers of Cognate's user pools: ``[{"UserPoolId", "Name"}]``.
    saml_providers: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``{"authenticated": ARN, "unauthenticated": ARN}`` (SetIdentityPoolRoles' Roles).
    roles: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: SetIdentityPoolRoles' RoleMappings, by provider name, as Cognito gives them.
    role_mappings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: SetPrincipalTagAttributeMap, by provider name: ``{"UseDefaults": bool, "PrincipalTags": {...}}``.
    principal_tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """One identity of an identity pool: a guest, or the logins linked to it."""

    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(55), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("identity_pools.id", ondelete="CASCADE"), index=True)
    #: The identity this one was merged into (it is disabled then), as Cognito merges them.
    merged_into: Mapped[str | None] = mapped_column(String(55))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    logins: Mapped[list[IdentityLogin]] = relationship(back_populates="identity", cascade="all, delete-orphan",
                                                      passive_deletes=True)


class IdentityLogin(Base):
    """A login linked to an identity: one per (pool, provider, subject), the provider being
    Cognito's Logins key (``localhost:8000/local_X``, ``accounts.google.com``, a developer
    provider name...)."""

    __tablename__ = "identity_logins"
    __table_args__ = (UniqueConstraint("pool_id", "provider", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), index=True)
    pool_id: Mapped[str] = mapped_column(String(55))
    provider: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    identity: Mapped[Identity] = relationship(back_populates="logins")


class IdentityKey(KeyColumns, Base):
    """A key that signs the OpenID tokens of identities (issuer ``<BASE_URL>/identity``);
    rotated and published as a user pool's keys are."""

    __tablename__ = "identity_keys"
