"""Facebook Login: OAuth 2.0 code flow, then the Graph API's ``/me`` with the fields the
attribute mapping needs, proven with ``appsecret_proof``.
https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof

Facebook issues no ID token in this flow: the user is who ``/me`` says, called with the
access token our code exchange obtained. Facebook only returns confirmed emails, so an
email counts as verified.

Example::

    details = configure({"client_id": "1234", "client_secret": "s"}, None)
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput
from ..store.models import IdentityProvider
from . import oauth
from .base import Callback, Identity, Outbound, UpstreamError

API_VERSION = "v19.0"
SCOPES = "public_profile email"
DEFAULT_MAPPING = {"email": "email", "name": "name", "given_name": "first_name", "family_name": "last_name"}
SECRETS = frozenset({"client_secret"})
OPTIONS = ("client_id", "client_secret", "scopes", "api_version", "authorize_url", "token_url", "userinfo_url")
#: Cognito's ProviderDetails names of the options (its scopes are comma-separated); the keys it only shows.
PROVIDER_DETAILS = {"client_id": "client_id", "client_secret": "client_secret", "authorize_scopes": "scopes",
                    "api_version": "api_version", "authorize_url": "authorize_url", "token_url": "token_url",
                    "attributes_url": "userinfo_url"}
READ_ONLY = ("attributes_url_add_attributes", "token_request_method")
VERSION = re.compile(r"^v\d{1,2}\.\d$")
#: A Graph API field name (anything else in a mapping is not asked of Facebook).
FIELD = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def configure(options: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """App id and secret from the Meta developer console; ``api_version`` picks the Graph
    API version; explicit URLs replace Facebook's (a stand-in on loopback in tests)."""
    details = oauth.merge_options("Facebook", options, current, OPTIONS)
    oauth.require(details, "client_id", "client_secret")
    details["scopes"] = oauth.check_scopes(details.get("scopes", SCOPES))
    details.setdefault("api_version", API_VERSION)
    if not VERSION.fullmatch(details["api_version"]):
        raise InvalidInput("--api-version must look like v19.0")
    return details


def from_provider_details(details: Mapping[str, str]) -> dict[str, Any]:
    options = oauth.from_provider_details("Facebook", details, PROVIDER_DETAILS, READ_ONLY)
    if isinstance(options.get("scopes"), str):
        options["scopes"] = " ".join(s.strip() for s in options["scopes"].split(","))
    return options


def provider_details(details: Mapping[str, Any]) -> dict[str, str]:
    out = oauth.to_provider_details(details, PROVIDER_DETAILS)
    if "authorize_scopes" in out:
        out["authorize_scopes"] = ",".join(out["authorize_scopes"].split())
    return out


def open(idp: IdentityProvider) -> FacebookConnector:  # noqa: A001 - the registry's name
    return FacebookConnector(idp.name, dict(idp.details), idp.attribute_mapping or DEFAULT_MAPPING)


def graph_fields(mapping: Mapping[str, str]) -> str:
    """``id`` plus every Graph field the mapping reads (and email, name)."""
    wanted = ["id", "email", "name", *mapping.values()]
    return ",".join(f for f in dict.fromkeys(wanted) if FIELD.fullmatch(f) and f != "sub")


def appsecret_proof(app_secret: str, access_token: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


class FacebookConnector:
    provider_type = "Facebook"

    def __init__(self, name: str, details: dict[str, Any], mapping: Mapping[str, str]) -> None:
        self.name, self.details, self.fields = name, details, graph_fields(mapping)
        version = details.get("api_version", API_VERSION)
        self.authorize_url = details.get("authorize_url") or f"https://www.facebook.com/{version}/dialog/oauth"
        self.token_url = details.get("token_url") or f"https://graph.facebook.com/{version}/oauth/access_token"
        self.userinfo_url = details.get("userinfo_url") or f"https://graph.facebook.com/{version}/me"

    def _client(self, callback: Callback) -> Any:
        return oauth.client_session(self.details, callback.url, self.details.get("scopes", SCOPES),
                                    "client_secret_post", pkce=False)

    def begin(self, callback: Callback) -> Outbound:
        fresh = {"auth_type": "reauthenticate"} if callback.fresh else {}
        url, _state = self._client(callback).create_authorization_url(self.authorize_url, state=callback.state, **fresh)
        return Outbound(url=url)

    def complete(self, callback: Callback, params: Mapping[str, str], kept: dict[str, Any]) -> Identity:
        code = oauth.check_answer(callback, params)
        with self._client(callback) as client:
            token = oauth.exchange_code(client, self.token_url, code)
        attributes = profile(self.userinfo_url, token["access_token"], self.fields, self.details["client_secret"])
        return Identity(provider_name=self.name, provider_type=self.provider_type, subject=attributes["sub"],
                        attributes=attributes, email_verified="email" in attributes)


def profile(me_url: str, access_token: str, fields: str, app_secret: str | None = None) -> dict[str, str]:
    """The Graph API's ``/me`` for ``access_token`` as attributes (``sub``: the user's id;
    ``picture``: its URL), with ``appsecret_proof`` when the app's secret is known;
    :class:`UpstreamError` when Facebook names no user."""
    params = {"fields": fields, "access_token": access_token}
    if app_secret is not None:
        params["appsecret_proof"] = appsecret_proof(app_secret, access_token)
    me = oauth.get_json(me_url, params=params)
    subject = me.get("id")
    if "error" in me or not isinstance(subject, str) or not subject or len(subject) > 128:
        raise UpstreamError("invalid_request", "Graph /me answered without an id")
    attributes = {"sub": subject}
    for name, value in me.items():
        if name == "picture" and isinstance(value, dict):  # {"data": {"url": ...}}
            data = value.get("data")
            value = data.get("url") if isinstance(data, dict) else None
        text = oauth.as_string(value)
        if text is not None and name != "sub":
            attributes[name] = text
    return attributes
