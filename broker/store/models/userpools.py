"""Durable data of user pools: the pools and their configuration versions, app clients,
users and their identities, groups, MFA, password history, devices and passkeys,
resource servers, signing keys, refresh tokens, admin keys, UI customizations, audit
events and import jobs."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, KeyColumns, utcnow


class UserPool(Base):
    __tablename__ = "user_pools"

    id: Mapped[str] = mapped_column(String(55), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    mfa: Mapped[str] = mapped_column(String(8), default="OFF")
    self_signup: Mapped[bool] = mapped_column(Boolean, default=True)
    signing_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    password_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    required_attributes: Mapped[list[str]] = mapped_column(default=list)
    #: Second factors users may choose: "TOTP", "EMAIL_OTP", "SMS_OTP".
    mfa_methods: Mapped[list[str]] = mapped_column(default=lambda: ["TOTP", "EMAIL_OTP", "SMS_OTP"])
    #: Account-security settings; keys and defaults in :mod:`broker.userpool.security`.
    security: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Message templates per kind (subject, text, html); defaults in :mod:`broker.userpool.messages`.
    messages: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Link a first federated sign-in to the confirmed user with the same email, when the
    #: IdP vouches for the address (off by default: the IdP must be trusted for it).
    link_by_email: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Triggers (Cognito's LambdaConfig): see :mod:`broker.triggers.settings`.
    lambda_config: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: The secret that signs webhook triggers' events, sealed (:mod:`broker.sealing`).
    trigger_secret: Mapped[str | None] = mapped_column(Text, default=None)
    #: Cognito's ``SignInPolicy.AllowedFirstAuthFactors`` (``PASSWORD``, ``EMAIL_OTP``,
    #: ``SMS_OTP``, ``WEB_AUTHN``) for choice-based sign-in; None = the password only.
    first_factors: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    #: Passkey settings (Cognito's ``WebAuthnConfiguration`` and more): ``RelyingPartyId``,
    #: ``UserVerification``, ``AllowedAaguids``; None = the defaults of
    #: :mod:`broker.userpool.passkeys`.
    web_authn: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConfigVersion(Base):
    """One row whose ``value`` grows with every committed change to configuration (pools,
    clients, keys, branding, IdPs): nodes compare it to drop what they cached
    (:mod:`broker.store.cache`)."""

    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class AppClient(Base):
    __tablename__ = "app_clients"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str | None] = mapped_column(String(128))
    #: The secret itself, sealed (:mod:`broker.sealing`): Cognito's SECRET_HASH is keyed with
    #: it. None for clients made before the JSON API until their secret is rotated.
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    #: Cognito's ExplicitAuthFlows (``ALLOW_USER_SRP_AUTH``...); None = its defaults.
    explicit_auth_flows: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    callback_urls: Mapped[list[str]] = mapped_column(default=list)
    logout_urls: Mapped[list[str]] = mapped_column(default=list)
    allowed_flows: Mapped[list[str]] = mapped_column(default=list)
    allowed_scopes: Mapped[list[str]] = mapped_column(default=list)
    identity_providers: Mapped[list[str]] = mapped_column(default=list)
    access_token_ttl: Mapped[int] = mapped_column(Integer, default=3600)
    id_token_ttl: Mapped[int] = mapped_column(Integer, default=3600)
    refresh_token_ttl: Mapped[int] = mapped_column(Integer, default=30 * 86400)
    rotate_refresh_tokens: Mapped[bool] = mapped_column(Boolean, default=False)
    refresh_grace_seconds: Mapped[int] = mapped_column(Integer, default=0)
    #: Cognito's ReadAttributes / WriteAttributes; None = its defaults (see
    #: :mod:`broker.userpool.client_attributes`).
    read_attributes: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    write_attributes: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    #: Whether a public client (no secret) must use PKCE; false only by the operator's
    #: choice, for an app that moves over from Cognito (which does not require it).
    require_pkce: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: Where the client is told of its users' sign-outs (OpenID Connect Back-Channel Logout
    #: 1.0): https, or http on loopback; None = it is not told.
    backchannel_logout_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("pool_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    sub: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    username: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(Text)
    #: The SRP salt and verifier, sealed (:mod:`broker.sealing`); None until the password is
    #: next set or proven in the clear (an imported hash has none).
    srp_verifier: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="UNCONFIRMED")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: When a temporary (admin-set) password stops working.
    temp_password_expires_at: Mapped[dt.datetime | None] = mapped_column()
    #: Until when sign-in is locked after repeated failures (admin: ``broker user unlock``).
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    #: Moved by a sign-out everywhere (global sign-out, disable, password reset): hosted
    #: sessions, sign-ins in progress and authorization codes of an older epoch are over.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    #: Loaded when read (tokens need them; a sign-in does not), or with the refresh token
    #: in one query (:func:`broker.store.repo.get_refresh_token_and_user`).
    groups: Mapped[list[Group]] = relationship(secondary="user_groups", lazy="select")


class IdentityProvider(Base):
    """An upstream IdP of a pool (Cognito's CreateIdentityProvider). ``details`` holds the
    type's settings (Cognito's ProviderDetails), validated by its connector module."""

    __tablename__ = "identity_providers"
    __table_args__ = (UniqueConstraint("pool_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Pool attribute → upstream attribute (claim, Graph field or SAML attribute name).
    attribute_mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Email domains (or other identifiers) that route to this IdP (``idp_identifier``).
    identifiers: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserIdentity(Base):
    """A federated identity linked to a pool user (``identities`` claim; Cognito's
    AdminLinkProviderForUser). One upstream subject maps to one user."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("pool_id", "provider_name", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider_name: Mapped[str] = mapped_column(String(32))
    provider_type: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("pool_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(String(2048))
    precedence: Mapped[int | None] = mapped_column(Integer)
    role_arn: Mapped[str | None] = mapped_column(String(2048))


class UserGroup(Base):
    __tablename__ = "user_groups"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)


class ResourceServer(Base):
    __tablename__ = "resource_servers"
    __table_args__ = (UniqueConstraint("pool_id", "identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    identifier: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    #: Scope names without the identifier prefix, e.g. ``["read", "write"]``.
    scopes: Mapped[list[str]] = mapped_column(default=list)


class SigningKey(KeyColumns, Base):
    __tablename__ = "signing_keys"

    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("app_clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    #: The sign-in every token of this family descends from (Cognito's ``origin_jti``).
    origin_jti: Mapped[str] = mapped_column(String(36), index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    auth_time: Mapped[int] = mapped_column(Integer)
    #: How the sign-in was made (RFC 8176 values: pwd, otp, mfa), kept across refreshes.
    amr: Mapped[list[str]] = mapped_column(default=list)
    #: The hosted sign-in session the family comes from (the ID token's ``sid``); None for
    #: sign-ins at the JSON API.
    sid: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    rotated_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class AdminKey(Base):
    """A key that signs calls to the admin and management API (AWS Signature Version 4).
    SigV4 needs the secret itself to check a signature, so it is kept sealed
    (:mod:`broker.sealing`), bound to the key id; ``pools`` limits the key to those pools
    (empty: every pool, and creating pools)."""

    __tablename__ = "admin_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_sealed: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(256))
    pools: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column()


class RevokedOrigin(Base):
    """A revoked token family: access tokens carrying this ``origin_jti`` are refused."""

    __tablename__ = "revoked_origins"

    origin_jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UiCustomization(Base):
    """Hosted-UI branding of a pool (``client_id == "ALL"``) or of one app client, which
    replaces the pool's entirely, as in Cognito's SetUICustomization."""

    __tablename__ = "ui_customizations"
    __table_args__ = (UniqueConstraint("pool_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(128), default="ALL")
    css: Mapped[str | None] = mapped_column(Text)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_type: Mapped[str | None] = mapped_column(String(32))
    theme: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserMfa(Base):
    """A user's second factors. The TOTP secret must be readable to check codes; recovery
    codes are kept as hashes and each works once."""

    __tablename__ = "user_mfa"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    email_otp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_otp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred: Mapped[str | None] = mapped_column(String(16))
    recovery_codes: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PasswordHistory(Base):
    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Device(Base):
    """A browser seen at sign-in, known by the hash of its long-lived device cookie."""

    __tablename__ = "devices"
    #: Risk scoring reads a user's most recently seen devices.
    __table_args__ = (UniqueConstraint("user_id", "key_hash"), Index("ix_devices_user_last_seen", "user_id", "last_seen"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    last_ip: Mapped[str | None] = mapped_column(String(64))
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Until when this device may skip MFA (the pool must allow remembered devices).
    remembered_until: Mapped[dt.datetime | None] = mapped_column()
    #: Cognito's tracked devices (the JSON API): the DeviceKey (``key_hash`` is its hash),
    #: DeviceGroupKey, the sealed SRP verifier ConfirmDevice set, and the device's name.
    #: None for the hosted UI's browsers, known by their cookie only.
    device_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    group_key: Mapped[str | None] = mapped_column(String(64))
    srp_verifier: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(256))


class Passkey(Base):
    """A user's WebAuthn credential (a passkey or a security key), registered for one
    relying-party id. https://www.w3.org/TR/webauthn-3/#credential-record"""

    __tablename__ = "passkeys"
    #: Credential ids are looked up within a pool (a username-less sign-in knows no user).
    __table_args__ = (UniqueConstraint("pool_id", "credential_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The credential id, base64url without padding (as WebAuthn's JSON forms carry it).
    credential_id: Mapped[str] = mapped_column(String(1400))
    #: The COSE public key, as the authenticator gave it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    relying_party_id: Mapped[str] = mapped_column(String(253))
    aaguid: Mapped[str | None] = mapped_column(String(36))
    transports: Mapped[list[str]] = mapped_column(default=list)
    #: ``platform`` or ``cross-platform``, as the browser reported it (None: not said).
    attachment: Mapped[str | None] = mapped_column(String(16))
    #: The backup flags (BE, BS): a synced passkey, and whether it is backed up now.
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column()


class AuditEvent(Base):
    """Sign-ins, sign-ups, tokens and admin changes, with the signals behind each decision."""

    __tablename__ = "audit_events"
    #: Risk scoring counts a user's recent failures: one index serves it, without visiting
    #: the user's successful sign-ins (a busy account has thousands an hour).
    __table_args__ = (Index("ix_audit_events_user_event_outcome_time", "user_id", "event", "outcome", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username: Mapped[str | None] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    risk: Mapped[str | None] = mapped_column(String(8))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class UserImportJob(Base):
    """Cognito's user import job (CreateUserImportJob): the CSV is PUT to the job's
    pre-signed URL and kept here until the job runs; ``report`` keeps the rejected rows
    (line, username, reason) for ``broker user import-job report``."""

    __tablename__ = "user_import_jobs"

    id: Mapped[str] = mapped_column(String(55), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="Created")
    role_arn: Mapped[str] = mapped_column(String(2048))
    hashing_algorithm: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    upload_expires_at: Mapped[dt.datetime] = mapped_column()
    uploaded_at: Mapped[dt.datetime | None] = mapped_column()
    started_at: Mapped[dt.datetime | None] = mapped_column()
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    imported_users: Mapped[int] = mapped_column(Integer, default=0)
    skipped_users: Mapped[int] = mapped_column(Integer, default=0)
    failed_users: Mapped[int] = mapped_column(Integer, default=0)
    completion_message: Mapped[str | None] = mapped_column(String(128))
    #: The uploaded CSV, read only when the job runs.
    body: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    report: Mapped[list[Any]] = mapped_column(JSON, default=list)
