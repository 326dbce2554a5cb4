"""Cognito's app-client settings (``UserPoolClientType`` of CreateUserPoolClient,
UpdateUserPoolClient and DescribeUserPoolClient) and the :mod:`.app_clients` settings
each one is: https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolClientType.html

- token lifetimes are a number in ``TokenValidityUnits`` (Cognito's defaults: hours for
  the access and ID tokens, days for the refresh token), kept in seconds;
- ``AllowedOAuthFlows`` take ``code``, ``implicit`` and ``client_credentials`` when
  ``AllowedOAuthFlowsUserPoolClient`` is true (``implicit`` only when named: RFC 9700
  §2.1.2 advises against it, as it hands tokens to the front channel);
- ``RefreshTokenRotation`` rotates refresh tokens, with its grace period;
- what Cognate always does is accepted only as such: ``PreventUserExistenceErrors``
  ``ENABLED``, ``EnableTokenRevocation`` true, ``AuthSessionValidity`` 3 minutes.

Empty ``ReadAttributes``, ``WriteAttributes`` and ``ExplicitAuthFlows`` are Cognito's
defaults, as on Cognito.

    kwargs = from_cognito(params)          # for app_clients.create_client / update_client
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..engine import sessions
from ..errors import InvalidInput
from ..store.models import AppClient
from . import audit, client_auth
from .app_clients import LIMITS

UNITS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
#: Cognito's token, its lifetime member, its default unit and Cognate's setting.
TOKENS = (("AccessToken", "AccessTokenValidity", "hours", "access_token_ttl"),
          ("IdToken", "IdTokenValidity", "hours", "id_token_ttl"),
          ("RefreshToken", "RefreshTokenValidity", "days", "refresh_token_ttl"))
#: Minutes a sign-in's Session string lasts at the JSON API (Cognito's AuthSessionValidity).
AUTH_SESSION_MINUTES = sessions.TTL // 60
#: Settings Cognate has no switch for, and the value that says what it does.
NEUTRAL: dict[str, Any] = {"PreventUserExistenceErrors": "ENABLED", "EnableTokenRevocation": True,
                           "EnablePropagateAdditionalUserContextData": False,
                           "AuthSessionValidity": AUTH_SESSION_MINUTES, "PublishSecretsInAWSSecretsManager": False,
                           "AnalyticsConfiguration": None, "DefaultRedirectURI": None}
WHY = {
    "PreventUserExistenceErrors": "Cognate never tells whether a user exists (ENABLED only)",
    "EnableTokenRevocation": "Cognate always lets refresh tokens be revoked (true only)",
    "EnablePropagateAdditionalUserContextData": "Cognate takes no additional user context data (false only)",
    "AuthSessionValidity": f"a sign-in's Session lasts {AUTH_SESSION_MINUTES} minutes in Cognate",
    "PublishSecretsInAWSSecretsManager": "Cognate keeps client secrets itself (false only)",
    "AnalyticsConfiguration": "Cognate sends no analytics",
    "DefaultRedirectURI": "Cognate takes the redirect_uri of each request, which must be one of CallbackURLs",
}


def from_cognito(params: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Keyword arguments of :func:`~.app_clients.create_client` (``creating``) or
    :func:`~.app_clients.update_client`, or :class:`InvalidInput` naming what Cognate does
    not support."""
    for member, accepted in NEUTRAL.items():
        value = params.get(member)
        if value is not None and value != accepted:
            raise InvalidInput(f"{member}: {WHY[member]}")
    rotation = params.get("RefreshTokenRotation")
    out: dict[str, Any] = {
        "callback_urls": list(params.get("CallbackURLs") or []), "logout_urls": list(params.get("LogoutURLs") or []),
        "flows": _flows(params), "scopes": list(params.get("AllowedOAuthScopes") or []) or None,
        "identity_providers": params.get("SupportedIdentityProviders") or None,
        "read_attributes": params.get("ReadAttributes") or None,
        "write_attributes": params.get("WriteAttributes") or None,
        "explicit_auth_flows": params.get("ExplicitAuthFlows") or None,
        "rotate_refresh_tokens": rotation["Feature"] == "ENABLED" if rotation else None,
        "refresh_grace_seconds": rotation.get("RetryGracePeriodSeconds", 0) if rotation else None,
        **_lifetimes(params),
    }
    if creating:
        out["secret"] = bool(params.get("GenerateSecret"))
        out["clear_secret"] = params.get("ClientSecret")
    else:
        out["name"] = params.get("ClientName")
        out["allowed_flows"], out["allowed_scopes"] = out.pop("flows"), out.pop("scopes")
    return out


def _flows(params: dict[str, Any]) -> list[str]:
    flows = list(dict.fromkeys(params.get("AllowedOAuthFlows") or []))
    if params.get("AllowedOAuthFlowsUserPoolClient"):
        if not flows:
            raise InvalidInput("AllowedOAuthFlows must name code, implicit or client_credentials when "
                               "AllowedOAuthFlowsUserPoolClient is true")
        return flows
    if flows:
        raise InvalidInput("AllowedOAuthFlows need AllowedOAuthFlowsUserPoolClient set to true")
    return []


def _lifetimes(params: dict[str, Any]) -> dict[str, int | None]:
    units = params.get("TokenValidityUnits") or {}
    out: dict[str, int | None] = {}
    for token, member, unit, setting in TOKENS:
        value = params.get(member)
        seconds = value * UNITS[units.get(token, unit)] if value else None
        low, high = LIMITS[setting]
        if seconds is not None and not low <= seconds <= high:
            raise InvalidInput(f"{member} must be from {low} to {high} seconds ({value} {units.get(token, unit)} "
                               "given)")
        out[setting] = seconds
    return out


def describe(session: Session, client: AppClient, with_secret: bool = True) -> dict[str, Any]:
    """Cognito's ``UserPoolClientType``, with the secret as DescribeUserPoolClient shows it."""
    secret = client_auth.secret_of(session, client) if with_secret else None
    lifetimes, units = {}, {}
    for token, member, _unit, setting in TOKENS:
        lifetimes[member], units[token] = _in_units(getattr(client, setting))
    return {
        "UserPoolId": client.pool_id, "ClientName": client.name, "ClientId": client.id,
        **({"ClientSecret": secret} if secret else {}),
        "CreationDate": client.created_at,
        "LastModifiedDate": audit.last_client_change(session, client.pool_id, client.id) or client.created_at,
        **lifetimes, "TokenValidityUnits": units,
        **({"ReadAttributes": client.read_attributes} if client.read_attributes is not None else {}),
        **({"WriteAttributes": client.write_attributes} if client.write_attributes is not None else {}),
        "ExplicitAuthFlows": sorted(client_auth.allowed_auth_flows(client)),
        "SupportedIdentityProviders": client.identity_providers, "CallbackURLs": client.callback_urls,
        "LogoutURLs": client.logout_urls, "AllowedOAuthFlows": client.allowed_flows,
        "AllowedOAuthScopes": client.allowed_scopes, "AllowedOAuthFlowsUserPoolClient": bool(client.allowed_flows),
        **{k: v for k, v in NEUTRAL.items() if v is not None and k != "PublishSecretsInAWSSecretsManager"},
        "RefreshTokenRotation": {"Feature": "ENABLED" if client.rotate_refresh_tokens else "DISABLED",
                                 "RetryGracePeriodSeconds": client.refresh_grace_seconds},
    }


def _in_units(seconds: int) -> tuple[int, str]:
    """``seconds`` in the largest unit that holds it exactly."""
    for unit, size in UNITS.items():
        if seconds % size == 0:
            return seconds // size, unit
    return seconds, "seconds"
