"""Durable data: user pools with their clients, users, tokens and keys (:mod:`.userpools`),
and identity pools (:mod:`.identity`), on one declarative base (:mod:`.base`). Everything
short-lived lives in :mod:`broker.store.state` instead.

    from broker.store.models import User, UserPool
"""
from .base import Base, UTCDateTime, canonical_username, utcnow
from .identity import Identity, IdentityKey, IdentityLogin, IdentityPool
from .userpools import (
    AdminKey, AppClient, AuditEvent, ConfigVersion, Device, Group, IdentityProvider, Passkey, PasswordHistory,
    RefreshToken, ResourceServer, RevokedOrigin, SigningKey, UiCustomization, User, UserGroup, UserIdentity,
    UserImportJob, UserMfa, UserPool,
)

__all__ = [
    "AdminKey", "AppClient", "AuditEvent", "Base", "canonical_username", "ConfigVersion", "Device", "Group",
    "Identity", "IdentityKey", "IdentityLogin", "IdentityPool", "IdentityProvider", "Passkey",
    "PasswordHistory", "RefreshToken", "ResourceServer", "RevokedOrigin", "SigningKey", "UiCustomization",
    "User", "UserGroup", "UserIdentity", "UserImportJob", "UserMfa", "UserPool", "UTCDateTime", "utcnow",
]
