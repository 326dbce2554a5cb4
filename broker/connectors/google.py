"""Sign in with Google: the OIDC connector with Google's issuer, scopes and claims.
https://developers.google.com/identity/openid-connect/openid-connect

The ``issuer`` option replaces https://accounts.google.com (a stand-in on loopback in
tests); Google's ID tokens may name their issuer without the scheme, which is accepted for
Google's own issuer only.

Example::

    details = configure({"client_id": "123.apps.googleusercontent.com", "client_secret": "s"}, None)
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..store.models import IdentityProvider
from . import oauth
from .oidc import OIDCConnector

ISSUER = "https://accounts.google.com"
SCOPES = "openid email profile"
DEFAULT_MAPPING = {name: name for name in ("email", "email_verified", "name", "given_name", "family_name", "picture")}
SECRETS = frozenset({"client_secret"})
OPTIONS = ("client_id", "client_secret", "scopes", "issuer")
#: Cognito's ProviderDetails names of the options; the keys it only shows.
PROVIDER_DETAILS = {"client_id": "client_id", "client_secret": "client_secret", "authorize_scopes": "scopes",
                    "oidc_issuer": "issuer"}
READ_ONLY = ("authorize_url", "token_url", "attributes_url", "attributes_url_add_attributes", "token_request_method")


def configure(options: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """Client credentials from the Google Cloud console; scopes default to Google's three."""
    details = oauth.merge_options("Google", options, current, OPTIONS)
    oauth.require(details, "client_id", "client_secret")
    details.setdefault("issuer", ISSUER)
    details["scopes"] = oauth.check_scopes(details.get("scopes", SCOPES), required="openid")
    return details


def from_provider_details(details: Mapping[str, str]) -> dict[str, Any]:
    return oauth.from_provider_details("Google", details, PROVIDER_DETAILS, READ_ONLY)


def provider_details(details: Mapping[str, Any]) -> dict[str, str]:
    return oauth.to_provider_details(details, PROVIDER_DETAILS)


def issuers(issuer: str) -> tuple[str, ...]:
    """The ``iss`` values of ``issuer``'s ID tokens: Google's own also signs as its bare host
    name; a stand-in only as itself."""
    return (ISSUER, "accounts.google.com") if issuer == ISSUER else (issuer,)


def open(idp: IdentityProvider) -> OIDCConnector:  # noqa: A001 - the registry's name
    details = dict(idp.details)
    return OIDCConnector(idp.name, "Google", {**details, "token_auth_method": "client_secret_post"},
                         issuers(details["issuer"]))
