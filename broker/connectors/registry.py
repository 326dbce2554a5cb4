"""Provider type → connector module. Adding a provider is one module and one line here.

Each module exposes:

- ``DEFAULT_MAPPING``: pool attribute → upstream attribute, used when the admin gives none;
- ``configure(options, current) -> details``: validate the admin's options (CLI names with
  dashes turned into underscores, only those given) over the ``current`` details of an
  update, raising :class:`broker.errors.InvalidInput` with one clear line;
- ``open(idp) -> Connector``: a connector for a stored :class:`IdentityProvider`;
- ``SECRETS``: detail keys never shown by ``idp list``/``describe``;
- ``from_provider_details(details) -> options`` and ``provider_details(details)``: Cognito's
  ``ProviderDetails`` names (the admin API) to options, and stored details back to them.

Modules are imported on first use: SAML pulls in lxml and xmlsec.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ..store.models import IdentityProvider
from .base import Connector

TYPES = {"Google": "google", "Facebook": "facebook", "OIDC": "oidc", "SAML": "saml"}


def module(provider_type: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.{TYPES[provider_type]}")


def configure(provider_type: str, options: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    return module(provider_type).configure(options, current)  # type: ignore[no-any-return]


def open(idp: IdentityProvider) -> Connector:  # noqa: A001 - Dex's name for it
    return module(idp.type).open(idp)  # type: ignore[no-any-return]


def from_provider_details(provider_type: str, details: dict[str, str]) -> dict[str, Any]:
    """Cognito's ``ProviderDetails`` as the options of ``configure()``."""
    return module(provider_type).from_provider_details(details)  # type: ignore[no-any-return]


def provider_details(provider_type: str, details: dict[str, Any]) -> dict[str, str]:
    """Stored details as Cognito's ``ProviderDetails``, secrets included (callers hide them)."""
    return module(provider_type).provider_details(details)  # type: ignore[no-any-return]
