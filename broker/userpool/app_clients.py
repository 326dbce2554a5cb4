"""App clients of a pool (Cognito's CreateUserPoolClient, DescribeUserPoolClient,
UpdateUserPoolClient, DeleteUserPoolClient), shared by ``broker client`` and the admin API.
Every function validates all its input before writing anything and raises
:class:`InvalidInput` with one clear line.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolClientType.html
"""
from __future__ import annotations

import re
import string
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from .. import branding, urls
from ..errors import InvalidInput
from ..store import repo
from ..store.models import AppClient
from . import audit, client_attributes, client_auth
from .admin import random_text, require_pool

STANDARD_SCOPES = ("openid", "email", "phone", "profile", "aws.cognito.signin.user.admin")
#: OAuth flows a client may be allowed (Cognito's AllowedOAuthFlows). ``implicit``
#: (``response_type=token``) only when asked for: see :func:`check_response_type
#: <broker.oauth.authorize.check_response_type>`.
FLOWS = ("code", "implicit", "client_credentials")
#: Flows that send the browser back to a callback URL.
BROWSER_FLOWS = ("code", "implicit")
LIMITS = {  # Cognito's bounds, seconds
    "access_token_ttl": (300, 86400),
    "id_token_ttl": (300, 86400),
    "refresh_token_ttl": (3600, 10 * 365 * 86400),
}


def check_callback_url(url: str) -> str:
    """Cognito's rules: absolute, no fragment, https except for localhost; app schemes allowed."""
    parts = urlsplit(url)
    if not parts.scheme or parts.fragment or len(url) > 1024 or any(c.isspace() for c in url):
        raise InvalidInput(f"invalid URL {url!r}: absolute, no fragment, no spaces")
    if parts.scheme == "http" and parts.hostname not in urls.LOOPBACK:
        raise InvalidInput(f"invalid URL {url!r}: http is allowed only for localhost")
    if parts.scheme in {"http", "https"} and not parts.hostname:
        raise InvalidInput(f"invalid URL {url!r}: no host")
    if parts.scheme in {"javascript", "data", "file", "vbscript"}:
        raise InvalidInput(f"invalid URL {url!r}: scheme {parts.scheme} is not allowed")
    return url


def check_backchannel_url(url: str | None) -> str | None:
    """Where back-channel logout tokens are POSTed (OpenID Connect Back-Channel Logout 1.0
    §2.2, ``backchannel_logout_uri``): the server calls it, so it is checked as every URL the
    server calls (:func:`broker.urls.problem`: https, or http on loopback; no credentials
    nor fragment; a query allowed, §2.2), at most 1024 characters. ``""`` or None: none."""
    if not url:
        return None
    why = "must be at most 1024 characters, without spaces" if len(url) > 1024 or \
        any(c.isspace() or ord(c) < 32 for c in url) else urls.problem(url, query=True)
    if why:
        raise InvalidInput(f"invalid back-channel logout URL {url!r}: {why}")
    return url


def create_client(
    session: Session, pool_id: str, name: str, callback_urls: list[str], logout_urls: list[str] | None = None,
    secret: bool = False, scopes: list[str] | None = None, flows: list[str] | None = None,
    identity_providers: list[str] | None = None, read_attributes: list[str] | None = None,
    write_attributes: list[str] | None = None, explicit_auth_flows: list[str] | None = None,
    clear_secret: str | None = None, backchannel_logout_url: str | None = None, **lifetimes: Any,
) -> tuple[AppClient, str | None]:
    """Create an app client; returns it with its secret in clear (shown once, stored hashed
    for the OAuth endpoints and sealed for ``SECRET_HASH`` (:mod:`.client_auth`), audited
    only as ``has_secret``). ``flows`` None: the code flow; ``[]``: no OAuth flow (a client
    of the JSON API only). ``explicit_auth_flows`` None: Cognito's defaults. ``clear_secret``
    is a secret the caller chose (Cognito's ``ClientSecret``), else one is generated.
    Refresh tokens rotate, with reuse detection, unless ``rotate_refresh_tokens`` says
    otherwise: by default for clients without a secret (RFC 9700 §4.14.2: a public client's
    refresh token must be sender-constrained or rotated), not for confidential ones, which
    prove their secret at every refresh."""
    pool = require_pool(session, pool_id)
    secret = secret or clear_secret is not None
    if clear_secret is not None and not re.fullmatch(r"[A-Za-z0-9_+]{24,64}", clear_secret):
        raise InvalidInput("a client secret has 24 to 64 letters, digits, _ or +")
    given = {"name": name, "callback_urls": callback_urls, "logout_urls": logout_urls, "allowed_flows": flows,
             "allowed_scopes": scopes or None, "identity_providers": identity_providers or None,
             "read_attributes": read_attributes, "write_attributes": write_attributes,
             "explicit_auth_flows": explicit_auth_flows, "backchannel_logout_url": backchannel_logout_url,
             **{k: v for k, v in lifetimes.items() if k in _CLIENT_OPTIONS}}
    wanted = {**client_defaults(session, pool.id, secret, ["code"] if flows is None else flows),
              **{k: v for k, v in given.items() if v is not None}}
    settings = _client_settings(session, pool.id, secret, wanted)
    clear = (clear_secret or random_text(string.ascii_lowercase + string.digits, 51)) if secret else None
    client = AppClient(id=random_text(string.ascii_lowercase + string.digits, 26), pool_id=pool.id,
                       secret_hash=repo.sha256(clear) if clear else None, **settings)
    if clear:
        client_auth.seal_secret(session, client, clear)
    session.add(client)
    session.flush()
    audit.record(session, pool.id, "CreateUserPoolClient", audit.PASS, client_id=client.id,
                 has_secret=clear is not None, **settings)
    return client, clear


#: Cognito's default token lifetimes, seconds.
TOKEN_TTLS = {"access_token_ttl": 3600, "id_token_ttl": 3600, "refresh_token_ttl": 30 * 86400}


def client_defaults(session: Session, pool_id: str, has_secret: bool, flows: list[str]) -> dict[str, Any]:
    """What a client with the OAuth ``flows`` has of each setting not given: the standard
    scopes for the code flow, the pool's resource-server scopes for client_credentials
    alone; rotating refresh tokens for a public client (RFC 9700 §4.14.2)."""
    if any(f in flows for f in BROWSER_FLOWS):
        scopes = list(STANDARD_SCOPES)
    else:
        scopes = sorted(repo.resource_scopes(session, pool_id)) if "client_credentials" in flows else []
    return {"logout_urls": [], "allowed_flows": flows, "allowed_scopes": scopes, "identity_providers": ["COGNITO"],
            "read_attributes": None, "write_attributes": None, "explicit_auth_flows": None, **TOKEN_TTLS,
            "rotate_refresh_tokens": not has_secret, "refresh_grace_seconds": 0, "require_pkce": True,
            "backchannel_logout_url": None}


#: Settings that are yes or no.
_SWITCHES = {"rotate_refresh_tokens", "require_pkce"}
_CLIENT_OPTIONS = {*LIMITS, *_SWITCHES, "refresh_grace_seconds"}
#: What ``update_client`` may change: every setting but the id, the pool and the secret.
_CLIENT_SETTINGS = ("name", "callback_urls", "logout_urls", "allowed_flows", "allowed_scopes",
                    "backchannel_logout_url", "identity_providers", "read_attributes", "write_attributes", "explicit_auth_flows",
                    *sorted(_CLIENT_OPTIONS))


def _client_settings(session: Session, pool_id: str, has_secret: bool, wanted: dict[str, Any]) -> dict[str, Any]:
    """The checks of ``create_client`` and ``update_client``, on the client as it would be
    after the change; returns its settings cleaned (no repeats, no unset lifetimes)."""
    name = wanted["name"].strip()
    if not 1 <= len(name) <= 128:
        raise InvalidInput("client name must have 1 to 128 characters")
    flows, scopes = _check_grants(session, pool_id, has_secret, wanted["allowed_flows"], wanted["allowed_scopes"])
    callback_urls = [check_callback_url(u) for u in dict.fromkeys(wanted["callback_urls"])]
    logout_urls = [check_callback_url(u) for u in dict.fromkeys(wanted["logout_urls"])]
    for flow in BROWSER_FLOWS:
        if flow in flows and not callback_urls:
            raise InvalidInput(f"the {flow} flow needs at least one --callback-url")
    for field, (low, high) in LIMITS.items():
        value = wanted.get(field)
        if value is not None and not low <= int(value) <= high:
            raise InvalidInput(f"{field.replace('_', '-')} must be between {low} and {high} seconds")
    options = {k: (bool(v) if k in _SWITCHES else int(v))
               for k, v in wanted.items() if k in _CLIENT_OPTIONS and v is not None}
    if has_secret and not options.get("require_pkce", True):
        raise InvalidInput("only a public client can be exempt from PKCE: with a secret it is optional already")
    read, write = client_attributes.check_lists(wanted["read_attributes"], wanted["write_attributes"])
    return {
        "name": name, "callback_urls": callback_urls, "logout_urls": logout_urls, "allowed_flows": flows,
        "backchannel_logout_url": check_backchannel_url(wanted.get("backchannel_logout_url")),
        "allowed_scopes": scopes, "read_attributes": read, "write_attributes": write, **options,
        "explicit_auth_flows": client_auth.check_auth_flows(wanted["explicit_auth_flows"]),
        "identity_providers": check_client_providers(session, pool_id, wanted["identity_providers"]),
    }


def _check_grants(session: Session, pool_id: str, has_secret: bool, flows: list[str],
                  scopes: list[str]) -> tuple[list[str], list[str]]:
    """OAuth flows and scopes: known ones only; client_credentials needs a secret and,
    without the code flow, takes only resource-server scopes."""
    flows = list(dict.fromkeys(flows))
    for flow in flows:
        if flow not in FLOWS:
            raise InvalidInput(f"--flow must be one of {', '.join(FLOWS)}, not {flow!r}")
    custom = repo.resource_scopes(session, pool_id)
    scopes = list(dict.fromkeys(scopes))
    for scope in scopes:
        if scope not in STANDARD_SCOPES and scope not in custom:
            raise InvalidInput(f"unknown scope {scope!r}: not standard and no resource server defines it")
    if "client_credentials" in flows:
        if not has_secret:
            raise InvalidInput("the client_credentials flow needs a client secret (--secret)")
        if not any(f in flows for f in BROWSER_FLOWS) and any(s in STANDARD_SCOPES for s in scopes):
            raise InvalidInput("client_credentials clients take only resource-server scopes")
    return flows, scopes


def require_client(session: Session, pool_id: str, client_id: str) -> AppClient:
    require_pool(session, pool_id)
    client = repo.get_client(session, pool_id, client_id)
    if client is None:
        raise InvalidInput(f"no app client {client_id!r} in pool {pool_id}")
    return client


def update_client(session: Session, pool_id: str, client_id: str, replace: bool = False,
                  **changes: Any) -> AppClient:
    """Change the settings given (None: not given); lists given replace the old ones.
    Settings left out keep their value, or with ``replace`` take their defaults
    (:func:`client_defaults`; the name stays), as Cognito's UpdateUserPoolClient resets
    them. The client as changed must pass every check of ``create_client``, or nothing
    changes. The secret cannot be changed."""
    client = require_client(session, pool_id, client_id)
    unknown = changes.keys() - set(_CLIENT_SETTINGS)
    if unknown:
        raise TypeError(f"update_client() cannot change {', '.join(sorted(unknown))}")
    given = {k: v for k, v in changes.items() if v is not None}
    has_secret = client.secret_hash is not None
    current = {k: getattr(client, k) for k in _CLIENT_SETTINGS}
    base = current
    if replace:
        flows = given.get("allowed_flows", ["code"])
        base = {**client_defaults(session, pool_id, has_secret, flows), "name": client.name,
                "callback_urls": [], "require_pkce": client.require_pkce,  # Cognate's own: no Cognito default
                "backchannel_logout_url": client.backchannel_logout_url}
        if not given.get("allowed_scopes"):
            given.pop("allowed_scopes", None)
    settings = _client_settings(session, pool_id, has_secret, {**base, **given})
    changed = sorted(k for k, v in settings.items() if v != current[k])
    for key in changed:
        setattr(client, key, settings[key])
    audit.record(session, pool_id, "UpdateUserPoolClient", audit.PASS, client_id=client.id, changed=changed)
    session.flush()
    return client


def rotate_client_secret(session: Session, pool_id: str, client_id: str) -> str:
    """Replace the secret of a client that has one; returns the new one in clear (shown
    once). The old secret stops working at once, at the token endpoint and in
    ``SECRET_HASH``. Clients made before secrets were kept sealed need this once before
    the JSON API can check their ``SECRET_HASH``."""
    client = require_client(session, pool_id, client_id)
    if client.secret_hash is None:
        raise InvalidInput(f"app client {client_id} has no secret (a public client cannot be given one)")
    clear = random_text(string.ascii_lowercase + string.digits, 51)
    client.secret_hash = repo.sha256(clear)
    client_auth.seal_secret(session, client, clear)
    audit.record(session, pool_id, "RotateClientSecret", audit.PASS, client_id=client.id)
    session.flush()
    return clear


def delete_client(session: Session, pool_id: str, client_id: str) -> None:
    """DeleteUserPoolClient. Its token families are revoked first (their access tokens are
    refused from now on, :func:`broker.oauth.verify.holder` also refuses a deleted client's),
    then its refresh tokens go with it (``ON DELETE CASCADE``, which SQLite enforces too:
    the connection turns ``foreign_keys`` on), and so does its own hosted-UI branding,
    which names it without a foreign key."""
    client = require_client(session, pool_id, client_id)
    repo.revoke_client_tokens(session, client.id)
    own_branding = branding.find(session, pool_id, client.id)
    if own_branding is not None:
        session.delete(own_branding)
    session.delete(client)
    audit.record(session, pool_id, "DeleteUserPoolClient", audit.PASS, client_id=client.id)
    session.flush()


def check_client_providers(session: Session, pool_id: str, names: list[str]) -> list[str]:
    """An app client's ``--idp`` list: COGNITO (password sign-in) or IdPs of the pool."""
    known = set(repo.idp_names(session, pool_id))
    names = list(dict.fromkeys(n.strip() for n in names))
    for name in names:
        if name != "COGNITO" and name not in known:
            raise InvalidInput(f"no identity provider {name!r} in pool {pool_id} (create it with `broker idp create`)")
    return names


def describe_client(client: AppClient) -> dict[str, Any]:
    return {
        "ClientId": client.id, "ClientName": client.name, "UserPoolId": client.pool_id,
        "CallbackURLs": client.callback_urls, "LogoutURLs": client.logout_urls,
        "AllowedOAuthFlows": client.allowed_flows, "AllowedOAuthScopes": client.allowed_scopes,
        "SupportedIdentityProviders": client.identity_providers, "HasSecret": client.secret_hash is not None,
        "AccessTokenValidity": client.access_token_ttl, "IdTokenValidity": client.id_token_ttl,
        "RefreshTokenValidity": client.refresh_token_ttl,
        "EnableTokenRotation": client.rotate_refresh_tokens,
        "RefreshTokenRotation": {"Feature": "ENABLED" if client.rotate_refresh_tokens else "DISABLED",
                                 "RetryGracePeriodSeconds": client.refresh_grace_seconds},
        # as Cognito: shown only when set (unset: the defaults of client_attributes)
        **({"ReadAttributes": client.read_attributes} if client.read_attributes is not None else {}),
        **({"WriteAttributes": client.write_attributes} if client.write_attributes is not None else {}),
        "ExplicitAuthFlows": sorted(client_auth.allowed_auth_flows(client)),
        "PkceRequired": pkce_required(client),
        "BackchannelLogoutURL": client.backchannel_logout_url,
    }


def pkce_required(client: AppClient) -> bool:
    """Whether the code flow of ``client`` needs PKCE (RFC 7636): for a public client unless
    the operator exempted it (``--no-require-pkce``); a confidential one may use it."""
    return client.secret_hash is None and client.require_pkce
