"""Administration of pools, app clients, users, groups and resource servers (the CLI's
operations, shaped like Cognito's Admin* API). Every function validates all its input
before writing anything and raises :class:`InvalidInput` with one clear line.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from .. import branding
from ..errors import InvalidInput, PasswordRejected, ResourceMissing, UserNotFound, UsernameExists
from ..oauth import keys
from ..store import repo
from ..store.models import AppClient, ResourceServer, User, UserPool, utcnow
from . import audit, client_attributes, client_auth, hash_formats, password_rules, srp_verifiers
from .attribute_changes import current, describe_pending
from .passwords import PasswordPolicy, hash_password
from .attributes import attribute_types, check_attributes, check_name
from .security import Security
from .usernames import check_username

STANDARD_SCOPES = ("openid", "email", "phone", "profile", "aws.cognito.signin.user.admin")
FLOWS = ("code", "client_credentials")
MFA = ("OFF", "OPTIONAL", "ON")
LIMITS = {  # Cognito's bounds, seconds
    "access_token_ttl": (300, 86400),
    "id_token_ttl": (300, 86400),
    "refresh_token_ttl": (3600, 10 * 365 * 86400),
}
_ALNUM = string.ascii_letters + string.digits


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def create_pool(
    session: Session, name: str, mfa: str = "OFF", self_signup: bool = True,
    signing_alg: str = "RS256", required_attributes: list[str] | None = None,
    password_policy: dict[str, Any] | None = None,
) -> UserPool:
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise InvalidInput("pool name must have 1 to 128 characters")
    if mfa not in MFA:
        raise InvalidInput(f"--mfa must be one of {', '.join(MFA)}")
    if signing_alg not in keys.SUPPORTED_ALGS:
        raise InvalidInput(f"signing algorithm must be one of {', '.join(keys.SUPPORTED_ALGS)}")
    required = list(required_attributes if required_attributes is not None else ["email"])
    for attribute in required:
        check_name(attribute)
    policy = PasswordPolicy.from_dict(password_policy)
    if not 6 <= policy.min_length <= 99:
        raise InvalidInput("password minimum length must be between 6 and 99")
    pool = UserPool(
        id=f"local_{_random(_ALNUM, 9)}", name=name, mfa=mfa, self_signup=self_signup,
        signing_alg=signing_alg, required_attributes=required, password_policy=policy.as_dict(),
    )
    session.add(pool)
    session.flush()
    keys.generate_key(session, pool)
    audit.record(session, pool.id, "CreateUserPool", audit.PASS, name=name, mfa=mfa, self_signup=self_signup,
                 signing_alg=signing_alg, required_attributes=required)
    return pool


def require_pool(session: Session, pool_id: str) -> UserPool:
    pool = repo.get_pool(session, pool_id)
    if pool is None:
        raise ResourceMissing(f"no user pool {pool_id!r}")
    return pool


def check_callback_url(url: str) -> str:
    """Cognito's rules: absolute, no fragment, https except for localhost; app schemes allowed."""
    parts = urlsplit(url)
    if not parts.scheme or parts.fragment or len(url) > 1024 or any(c.isspace() for c in url):
        raise InvalidInput(f"invalid URL {url!r}: absolute, no fragment, no spaces")
    if parts.scheme == "http" and parts.hostname not in {"localhost", "127.0.0.1", "::1"}:
        raise InvalidInput(f"invalid URL {url!r}: http is allowed only for localhost")
    if parts.scheme in {"http", "https"} and not parts.hostname:
        raise InvalidInput(f"invalid URL {url!r}: no host")
    if parts.scheme in {"javascript", "data", "file", "vbscript"}:
        raise InvalidInput(f"invalid URL {url!r}: scheme {parts.scheme} is not allowed")
    return url


def create_client(
    session: Session, pool_id: str, name: str, callback_urls: list[str], logout_urls: list[str] | None = None,
    secret: bool = False, scopes: list[str] | None = None, flows: list[str] | None = None,
    identity_providers: list[str] | None = None, read_attributes: list[str] | None = None,
    write_attributes: list[str] | None = None, explicit_auth_flows: list[str] | None = None, **lifetimes: Any,
) -> tuple[AppClient, str | None]:
    """Create an app client; returns it with its secret in clear (shown once, stored hashed
    for the OAuth endpoints and sealed for ``SECRET_HASH`` (:mod:`.client_auth`), audited
    only as ``has_secret``). ``explicit_auth_flows`` None: Cognito's defaults. Refresh tokens rotate, with reuse detection, unless
    ``rotate_refresh_tokens`` says otherwise: by default for clients without a secret
    (RFC 9700 §4.14.2: a public client's refresh token must be sender-constrained or
    rotated), not for confidential ones, which prove their secret at every refresh."""
    pool = require_pool(session, pool_id)
    flows = flows or ["code"]
    if not scopes:
        scopes = list(STANDARD_SCOPES) if "code" in flows else sorted(repo.resource_scopes(session, pool.id))
    wanted = {
        "name": name, "callback_urls": callback_urls, "logout_urls": logout_urls or [], "allowed_flows": flows,
        "allowed_scopes": scopes, "identity_providers": identity_providers or ["COGNITO"],
        "read_attributes": read_attributes, "write_attributes": write_attributes,
        "explicit_auth_flows": explicit_auth_flows,
        **{k: v for k, v in lifetimes.items() if k in _CLIENT_OPTIONS},
    }
    if wanted.get("rotate_refresh_tokens") is None:  # RFC 9700 §4.14.2: a public client's refresh tokens rotate
        wanted["rotate_refresh_tokens"] = not secret
    settings = _client_settings(session, pool.id, secret, wanted)
    clear = _random(string.ascii_lowercase + string.digits, 51) if secret else None
    client = AppClient(id=_random(string.ascii_lowercase + string.digits, 26), pool_id=pool.id,
                       secret_hash=repo.sha256(clear) if clear else None, **settings)
    if clear:
        client_auth.seal_secret(session, client, clear)
    session.add(client)
    session.flush()
    audit.record(session, pool.id, "CreateUserPoolClient", audit.PASS, client_id=client.id,
                 has_secret=clear is not None, **settings)
    return client, clear


_CLIENT_OPTIONS = {*LIMITS, "rotate_refresh_tokens", "refresh_grace_seconds"}
#: What ``update_client`` may change: every setting but the id, the pool and the secret.
_CLIENT_SETTINGS = ("name", "callback_urls", "logout_urls", "allowed_flows", "allowed_scopes",
                    "identity_providers", "read_attributes", "write_attributes", "explicit_auth_flows",
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
    if "code" in flows and not callback_urls:
        raise InvalidInput("the code flow needs at least one --callback-url")
    for field, (low, high) in LIMITS.items():
        value = wanted.get(field)
        if value is not None and not low <= int(value) <= high:
            raise InvalidInput(f"{field.replace('_', '-')} must be between {low} and {high} seconds")
    options = {k: (bool(v) if k == "rotate_refresh_tokens" else int(v))
               for k, v in wanted.items() if k in _CLIENT_OPTIONS and v is not None}
    read, write = client_attributes.check_lists(wanted["read_attributes"], wanted["write_attributes"])
    return {
        "name": name, "callback_urls": callback_urls, "logout_urls": logout_urls, "allowed_flows": flows,
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
        if "code" not in flows and any(s in STANDARD_SCOPES for s in scopes):
            raise InvalidInput("client_credentials clients take only resource-server scopes")
    return flows, scopes


def require_client(session: Session, pool_id: str, client_id: str) -> AppClient:
    require_pool(session, pool_id)
    client = repo.get_client(session, pool_id, client_id)
    if client is None:
        raise InvalidInput(f"no app client {client_id!r} in pool {pool_id}")
    return client


def update_client(session: Session, pool_id: str, client_id: str, **changes: Any) -> AppClient:
    """UpdateUserPoolClient, except that settings left out (or None) keep their value where
    Cognito resets them; lists given replace the old ones. The client as changed must pass
    every check of ``create_client``, or nothing changes. The secret cannot be changed."""
    client = require_client(session, pool_id, client_id)
    unknown = changes.keys() - set(_CLIENT_SETTINGS)
    if unknown:
        raise TypeError(f"update_client() cannot change {', '.join(sorted(unknown))}")
    given = {k: v for k, v in changes.items() if v is not None}
    current = {k: getattr(client, k) for k in _CLIENT_SETTINGS}
    settings = _client_settings(session, pool_id, client.secret_hash is not None, {**current, **given})
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
    clear = _random(string.ascii_lowercase + string.digits, 51)
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


def create_resource_server(session: Session, pool_id: str, identifier: str, name: str, scopes: list[str]) -> ResourceServer:
    pool = require_pool(session, pool_id)
    if not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}", identifier):
        raise InvalidInput(f"invalid resource server identifier {identifier!r}")
    for scope in scopes:
        if not re.fullmatch(r"[\x21\x23-\x2e\x30-\x5b\x5d-\x7e]{1,256}", scope):
            raise InvalidInput(f"invalid scope name {scope!r}")
    if any(rs == f"{identifier}/{s}" for rs in repo.resource_scopes(session, pool.id) for s in scopes):
        raise InvalidInput(f"resource server {identifier!r} already exists")
    server = ResourceServer(pool_id=pool.id, identifier=identifier, name=name or identifier,
                            scopes=list(dict.fromkeys(scopes)))
    session.add(server)
    session.flush()
    audit.record(session, pool.id, "CreateResourceServer", audit.PASS, identifier=server.identifier,
                 name=server.name, scopes=server.scopes)
    return server


def create_user(
    session: Session, pool_id: str, username: str, password: str | None = None,
    attributes: dict[str, str] | None = None, confirmed: bool = False, groups: list[str] | None = None,
    password_hash: str | None = None,
) -> tuple[User, str | None]:
    """AdminCreateUser: with ``confirmed`` the password is permanent, otherwise temporary
    (FORCE_CHANGE_PASSWORD, working for the pool's ``temp_password_days``). Without a
    password a temporary one is generated and returned (the caller sends the invitation).
    ``password_hash`` imports a user from another system (the formats of
    :mod:`.hash_formats`); it is upgraded to Argon2id at the user's first sign-in."""
    pool = require_pool(session, pool_id)
    username = check_username(username)
    if repo.get_user(session, pool.id, username):
        raise UsernameExists(f"user {username!r} already exists")
    attributes = check_attributes(attributes or {})
    policy = PasswordPolicy.from_dict(pool.password_policy)
    temporary = None
    if password_hash is not None:
        if password is not None:
            raise InvalidInput("--password-hash takes the place of --password: give one of them")
        password_hash = hash_formats.recognise(password_hash)
    elif password is None:
        temporary = password = generate_password(policy)
    problems = password_rules.problems(pool, password) if password is not None else []
    if problems:
        raise PasswordRejected(problems)
    found = []
    for name in dict.fromkeys(groups or []):
        group = repo.get_group(session, pool.id, name)
        if group is None:
            raise ResourceMissing(f"no group {name!r} in pool {pool.id}")
        found.append(group)
    if confirmed and "email" in attributes:
        attributes.setdefault("email_verified", "true")
    status = "CONFIRMED" if confirmed and not temporary else "FORCE_CHANGE_PASSWORD"
    user = User(
        pool_id=pool.id, username=username, password_hash=password_hash or hash_password(password or ""),
        status=status, attributes=attributes,
        temp_password_expires_at=temporary_expiry(pool) if status == "FORCE_CHANGE_PASSWORD" and password else None,
    )
    session.add(user)
    session.flush()
    password_rules.remember(session, pool, user)
    if password is not None:  # (an imported hash gets its verifier at the first sign-in)
        srp_verifiers.remember(session, pool, user, password)
    audit.record(session, pool.id, "AdminCreateUser", audit.PASS, user=user, status=status)
    for group in found:
        repo.add_user_to_group(session, user, group)
        audit.record(session, pool.id, "AdminAddUserToGroup", audit.PASS, user=user, group=group.name)
    return user, temporary


def temporary_expiry(pool: UserPool) -> dt.datetime:
    """When a temporary password set now stops working (Cognito's TemporaryPasswordValidityDays)."""
    return utcnow() + dt.timedelta(days=Security.of(pool.security).temp_password_days)


def generate_password(policy: PasswordPolicy) -> str:
    picks = [secrets.choice(string.ascii_lowercase), secrets.choice(string.ascii_uppercase),
             secrets.choice(string.digits), secrets.choice("!@#$%^&*-_=+")]
    rest = [secrets.choice(_ALNUM) for _ in range(max(policy.min_length, 16) - len(picks))]
    chars = picks + rest
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def delete_user(session: Session, pool_id: str, username: str) -> None:
    """AdminDeleteUser. What the user holds ends with it: token families are revoked (access
    tokens refused at userInfo and introspection), refresh tokens, devices and factors go
    with the row, and hosted sessions and codes name a user that no longer exists."""
    remove_user(session, pool_id, require_user(session, pool_id, username))


def remove_user(session: Session, pool_id: str, user: User, event: str = "AdminDeleteUser") -> None:
    """Delete ``user`` as :func:`delete_user` describes (DeleteUser: the user's own request)."""
    repo.revoke_user_tokens(session, user.id)
    audit.record(session, pool_id, event, audit.PASS, username=user.username)
    session.delete(user)


def require_user(session: Session, pool_id: str, username: str) -> User:
    user = repo.get_user(session, pool_id, username.strip())
    if user is None:
        raise UserNotFound(f"no user {username!r} in pool {pool_id}")
    return user


def describe_user(user: User) -> dict[str, Any]:
    """A user as Cognito's ListUsers shows it; values waiting for verification (see
    :mod:`attribute_changes`) as ``PendingVerification``, never as attributes."""
    out = {
        "Username": user.username, "Sub": user.sub, "Attributes": attribute_types(user.sub, current(user)),
        "Enabled": user.enabled,
        "UserStatus": user.status, "UserCreateDate": user.created_at.isoformat(),
        "UserLastModifiedDate": user.updated_at.isoformat(),
        "Groups": [g.name for g in user.groups],
    }
    waiting = describe_pending(user)
    return {**out, "PendingVerification": waiting} if waiting else out


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
    }
