"""``broker identity-pool``: Cognito's identity pools (:mod:`broker.identity.pools`).
Registered on :mod:`broker.cli`'s group when it is imported; same rules (``--json``; bad
input: one line, exit 2, nothing written).
"""
from __future__ import annotations

import json
from typing import Any

import click

from .cli import _emit, _pairs, _store, cli, json_option
from .config import Settings
from .errors import InvalidInput
from .identity import keys as identity_keys, pools
from .oauth.issue import issuer
from .store.models import IdentityPool


@cli.group("identity-pool")
def identity_pool() -> None:
    """Identity pools: logins or guests exchanged for temporary credentials from an STS."""


def _provider_options(command: Any) -> Any:
    options = [
        click.option("--allow-unauthenticated/--no-allow-unauthenticated", default=None,
                     help="Whether guests get an identity and the unauthenticated role's credentials."),
        click.option("--allow-classic-flow/--no-allow-classic-flow", default=None,
                     help="Allow the basic flow (GetOpenIdToken, then AssumeRoleWithWebIdentity by the app)."),
        click.option("--user-pool", "user_pools", multiple=True, metavar="POOLID:CLIENTID",
                     help="A Cognate user pool and the app client whose ID tokens it takes (repeat)."),
        click.option("--provider", "providers", multiple=True, metavar="NAME=CLIENT_ID",
                     help="A public provider (accounts.google.com, graph.facebook.com) and the app's id (repeat)."),
        click.option("--oidc-provider", "oidc", multiple=True, metavar="ISSUER[=AUDIENCE,...]",
                     help="An OpenID Connect issuer, and the audiences its tokens may have (repeat)."),
        click.option("--saml-provider", "saml", multiple=True, metavar="NAME",
                     help="A SAML identity provider of a user pool, by name or POOLID:NAME (repeat)."),
        click.option("--developer-provider", help="The developer provider name (cannot change once set)."),
        click.option("--authenticated-role", metavar="ARN", help="The role of signed-in identities."),
        click.option("--unauthenticated-role", metavar="ARN", help="The role of guests."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _cognito_input(settings: Settings, name: str, current: IdentityPool | None, given: dict[str, Any]) -> dict[str, Any]:
    """CreateIdentityPool's input from the options; on update, what is not given stays."""
    out = pools.describe(current) if current else {}
    out["IdentityPoolName"] = name
    for flag, member in (("allow_unauthenticated", "AllowUnauthenticatedIdentities"),
                         ("allow_classic_flow", "AllowClassicFlow")):
        if given[flag] is not None or current is None:
            out[member] = bool(given[flag])
    if given["user_pools"]:
        out["CognitoIdentityProviders"] = [_user_pool(settings, v) for v in given["user_pools"]]
    if given["providers"]:
        out["SupportedLoginProviders"] = _pairs(given["providers"], "--provider")
    if given["saml"]:
        out["SamlProviderARNs"] = list(given["saml"])
    if given["developer_provider"]:
        out["DeveloperProviderName"] = given["developer_provider"]
    if given["oidc"]:
        _oidc_input(out, current, given["oidc"])
    return out


def _oidc_input(out: dict[str, Any], current: IdentityPool | None, values: tuple[str, ...]) -> None:
    """``--oidc-provider ISSUER=AUD,...`` as the API takes it: the issuer among
    OpenIdConnectProviderARNs, its audiences in SupportedLoginProviders (instead of the old ones')."""
    old = {pools.login_name(p["Issuer"]) for p in current.oidc_providers or []} if current else set()
    logins = {k: v for k, v in (out.get("SupportedLoginProviders") or {}).items() if k not in old}
    out["OpenIdConnectProviderARNs"] = []
    for value in values:
        issuer_url, _, audiences = value.partition("=")
        out["OpenIdConnectProviderARNs"].append(issuer_url)
        given = [a for a in audiences.split(",") if a]
        if given:
            logins[pools.login_name(issuer_url)] = pools.AUDIENCES.join(given)
        else:
            click.echo(f"warning: {issuer_url} has no audiences: its tokens are refused until they are given "
                       f"(--oidc-provider {issuer_url}=CLIENT_ID,...)", err=True)
    out["SupportedLoginProviders"] = logins


def _user_pool(settings: Settings, value: str) -> dict[str, Any]:
    pool_id, sep, client_id = value.partition(":")
    if not sep or not pool_id or not client_id:
        raise InvalidInput(f"--user-pool takes POOLID:CLIENTID, got {value!r}")
    return {"ProviderName": pools.login_name(issuer(settings.base_url, pool_id)), "ClientId": client_id}


def _roles(current: IdentityPool | None, given: dict[str, Any]) -> dict[str, str]:
    roles = dict(current.roles or {}) if current else {}
    for kind in pools.ROLE_KINDS:
        if given[f"{kind}_role"]:
            roles[kind] = given[f"{kind}_role"]
    return roles


@identity_pool.command("create")
@click.option("--name", required=True)
@_provider_options
@json_option
def identity_pool_create(name: str, as_json: bool, **given: Any) -> None:
    """A new identity pool; prints its IdentityPoolId."""
    if not given["authenticated_role"]:
        raise InvalidInput("--authenticated-role is required")
    with _store() as (settings, session):
        pool = pools.create(session, pools.from_cognito(session, settings,
                                                        _cognito_input(settings, name, None, given)))
        pools.set_roles(session, pool, _roles(None, given), {})
        out = pools.describe(pool)
    _emit(out, as_json)


@identity_pool.command("update")
@click.option("--pool", "pool_id", required=True)
@click.option("--name")
@_provider_options
@json_option
def identity_pool_update(pool_id: str, name: str | None, as_json: bool, **given: Any) -> None:
    """Change an identity pool; what is not given stays (a list given replaces the old one)."""
    with _store() as (settings, session):
        pool = pools.require(session, pool_id)
        wanted = _cognito_input(settings, name or pool.name, pool, given)
        pools.update(session, pool, pools.from_cognito(session, settings, wanted))
        pools.set_roles(session, pool, _roles(pool, given), dict(pool.role_mappings or {}))
        out = pools.describe(pool)
    _emit(out, as_json)


@identity_pool.command("describe")
@click.option("--pool", "pool_id", required=True)
@json_option
def identity_pool_describe(pool_id: str, as_json: bool) -> None:
    with _store() as (_s, session):
        pool = pools.require(session, pool_id)
        out = {**pools.describe(pool), **pools.roles_of(pool)}
    _emit(out, as_json)


@identity_pool.command("list")
@json_option
def identity_pool_list(as_json: bool) -> None:
    with _store() as (_s, session):
        out = {"IdentityPools": [{"IdentityPoolId": p.id, "IdentityPoolName": p.name}
                                 for p in pools.listed(session)]}
    _emit(out, as_json)


@identity_pool.command("delete")
@click.option("--pool", "pool_id", required=True)
@json_option
def identity_pool_delete(pool_id: str, as_json: bool) -> None:
    """Delete the identity pool with its identities."""
    with _store() as (_s, session):
        pools.delete(session, pools.require(session, pool_id))
    _emit({"IdentityPoolId": pool_id, "Deleted": True}, as_json)


@identity_pool.command("roles")
@click.option("--pool", "pool_id", required=True)
@click.option("--authenticated-role", metavar="ARN")
@click.option("--unauthenticated-role", metavar="ARN")
@click.option("--role-mappings", metavar="JSON",
              help="SetIdentityPoolRoles' RoleMappings as JSON, e.g. "
                   '\'{"localhost:8000/local_X:CLIENT": {"Type": "Token", "AmbiguousRoleResolution": "Deny"}}\'.')
@json_option
def identity_pool_roles(pool_id: str, authenticated_role: str | None, unauthenticated_role: str | None,
                        role_mappings: str | None, as_json: bool) -> None:
    """Show the pool's roles and role mappings; with options, set them first."""
    with _store() as (_s, session):
        pool = pools.require(session, pool_id)
        if authenticated_role or unauthenticated_role or role_mappings is not None:
            given = {"authenticated_role": authenticated_role, "unauthenticated_role": unauthenticated_role}
            pools.set_roles(session, pool, _roles(pool, given), _mappings(role_mappings, pool))
        out = pools.roles_of(pool)
    _emit(out, as_json)


def _mappings(text: str | None, pool: IdentityPool) -> dict[str, Any]:
    if text is None:
        return dict(pool.role_mappings or {})
    try:
        found = json.loads(text)
    except ValueError:
        raise InvalidInput("--role-mappings must be a JSON object") from None
    if not isinstance(found, dict) or not all(isinstance(v, dict) for v in found.values()):
        raise InvalidInput("--role-mappings must be a JSON object of provider name to mapping")
    return found


@identity_pool.command("rotate-keys")
@json_option
def identity_pool_rotate_keys(as_json: bool) -> None:
    """A new key for identities' OpenID tokens: in the JWKS now, signing in 5 minutes (when
    verifiers' copies of the JWKS hold it); the old ones stay in the JWKS a day longer."""
    with _store() as (_s, session):
        new = identity_keys.rotate(session)
        out = {"Kid": new.kid, "Alg": new.alg, "PublishedKids": [k.kid for k in identity_keys.IDENTITY_KEY_ROWS.published(session, None)]}
    _emit(out, as_json)
