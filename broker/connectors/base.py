"""The whole contract between Cognate and an upstream identity provider (Dex's model).

A connector sends the browser upstream (:meth:`Connector.begin`) and turns what comes back
into a protocol-neutral :class:`Identity` (:meth:`Connector.complete`). Everything
protocol-specific (tokens, assertions, raw claims) stays inside the connector; the pool
only sees the identity, and maps its attributes by data (the IdP's attribute mapping).

Example::

    connector = registry.open(idp)                  # idp: store.models.IdentityProvider
    out = connector.begin(Callback(url, state, sp_entity_id))
    ...                                             # browser → upstream → our callback
    identity = connector.complete(Callback(...), request.values, out.kept)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol


@dataclass(frozen=True)
class Identity:
    """Who the upstream says signed in.

    ``attributes`` are the upstream's own claim or attribute names (OIDC claims, Graph
    fields, SAML attribute names, plus ``sub``/``NameID``), values as strings; the IdP's
    attribute mapping turns them into pool attributes.
    """

    provider_name: str
    provider_type: str  # "Google", "Facebook", "OIDC" or "SAML", as Cognito spells them
    subject: str
    attributes: dict[str, str] = field(default_factory=dict)
    #: Whether the upstream vouches for ``attributes["email"]`` (auto-linking needs it).
    email_verified: bool = False
    #: SAML session data needed for single logout (NameID, its format, SessionIndex).
    logout: dict[str, str] | None = None


@dataclass(frozen=True)
class Callback:
    """Where the upstream sends the browser back, and the value that binds its answer to
    one login transaction (OAuth ``state``, SAML ``RelayState``)."""

    url: str
    state: str
    sp_entity_id: str
    #: The app asked for a fresh sign-in (``prompt=login`` or ``max_age``): the upstream must
    #: authenticate the user again, not answer from its own session.
    fresh: bool = False


def saml_acs_url(pool_issuer: str) -> str:
    """A pool's SAML Assertion Consumer Service (HTTP-POST), under its issuer URL."""
    return f"{pool_issuer}/saml2/idpresponse"


def sp_entity_id(pool_id: str) -> str:
    """The SAML entity id Cognate has as the service provider of one pool."""
    return f"urn:cognate:sp:{pool_id}"


@dataclass(frozen=True)
class Outbound:
    """Where to send the browser, and what the connector needs again at :meth:`complete`
    (nonce, PKCE verifier, AuthnRequest ID), kept server-side in the login transaction."""

    url: str
    kept: dict[str, Any] = field(default_factory=dict)


class UpstreamError(Exception):
    """The upstream sign-in failed or its answer is not acceptable.

    ``error`` is the OAuth error code the app receives (``access_denied`` when the user or
    the IdP refused, ``temporarily_unavailable`` when the IdP could not be reached,
    ``invalid_request`` for a tampered or expired answer); ``detail`` is for the log only.
    """

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error, self.detail = error, detail


class Connector(Protocol):
    """One configured upstream; built by :func:`broker.connectors.registry.open`."""

    def begin(self, callback: Callback) -> Outbound:
        """The upstream sign-in request for this login."""

    def complete(self, callback: Callback, params: Mapping[str, str], kept: dict[str, Any]) -> Identity:
        """Check the upstream's answer (query or form ``params``) and say who signed in;
        raises :class:`UpstreamError`."""
