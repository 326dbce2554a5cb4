"""``broker client``: a pool's app clients (Cognito's CreateUserPoolClient, ListUserPoolClients,
DescribeUserPoolClient, UpdateUserPoolClient, DeleteUserPoolClient). Registered on
:mod:`broker.cli`'s group when it is imported; same rules (``--json``; bad input: one line,
exit 2, nothing written).
"""
from __future__ import annotations

from typing import Any, Callable

import click

from .cli import _emit, _store, cli, json_option
from .errors import InvalidInput
from .store import repo
from .userpool import admin, app_clients


@cli.group()
def client() -> None:
    """App clients."""


def _settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The settings ``client create`` and ``client update`` share (lists: repeat the option)."""
    options = [
        click.option("--callback-url", multiple=True),
        click.option("--logout-url", multiple=True),
        click.option("--scope", multiple=True),
        click.option("--flow", multiple=True, type=click.Choice(app_clients.FLOWS)),
        click.option("--idp", multiple=True, help="Identity providers allowed (COGNITO = password sign-in)."),
        click.option("--access-token-ttl", type=int, help="Seconds (300-86400)."),
        click.option("--id-token-ttl", type=int, help="Seconds (300-86400)."),
        click.option("--refresh-token-ttl", type=int, help="Seconds (3600-315360000)."),
        click.option("--read-attribute", multiple=True,
                     help="An attribute the client may read (ID token, userInfo); default: all."),
        click.option("--write-attribute", multiple=True,
                     help="An attribute users may set through the client; default: the standard ones "
                          "and the pool's required ones."),
        click.option("--auth-flow", multiple=True,
                     help="A sign-in flow the client allows at the JSON API (Cognito's ExplicitAuthFlows: "
                          "ALLOW_USER_SRP_AUTH, ALLOW_USER_PASSWORD_AUTH, ALLOW_ADMIN_USER_PASSWORD_AUTH, "
                          "ALLOW_CUSTOM_AUTH, ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_AUTH); default: "
                          "ALLOW_USER_SRP_AUTH, ALLOW_CUSTOM_AUTH, ALLOW_REFRESH_TOKEN_AUTH."),
        click.option("--backchannel-logout-url",
                     help="Where the app is told when its users sign out (OpenID Connect Back-Channel Logout: a "
                          "signed logout_token is POSTed): https, or http on localhost. Empty: none."),
        click.option("--require-pkce/--no-require-pkce", default=None,
                     help="Whether a public client must use PKCE (default: it must). --no-require-pkce is for "
                          "apps moving over from Cognito that send no code_challenge yet."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _scopes(values: tuple[str, ...]) -> list[str]:
    """``--scope`` values, each of which may hold several scopes separated by spaces."""
    return [s for value in values for s in value.split()]


@client.command("create")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True)
@click.option("--secret", is_flag=True, help="Generate a client secret (confidential client).")
@_settings_options
@click.option("--rotate-refresh-tokens/--no-rotate-refresh-tokens", default=None,
              help="Issue a new refresh token at each refresh (default: yes without --secret, no with it).")
@click.option("--refresh-grace", type=click.IntRange(0, 60), default=0, help="Seconds a rotated token still works.")
@json_option
def client_create(pool_id: str, name: str, callback_url: tuple[str, ...], logout_url: tuple[str, ...], secret: bool,
                  scope: tuple[str, ...], flow: tuple[str, ...], idp: tuple[str, ...], access_token_ttl: int | None,
                  id_token_ttl: int | None, refresh_token_ttl: int | None, read_attribute: tuple[str, ...],
                  write_attribute: tuple[str, ...], auth_flow: tuple[str, ...], backchannel_logout_url: str | None,
                  require_pkce: bool | None, rotate_refresh_tokens: bool | None, refresh_grace: int,
                  as_json: bool) -> None:
    with _store() as (_settings_, session):
        c, clear = app_clients.create_client(
            session, pool_id, name, list(callback_url), list(logout_url), secret, _scopes(scope), list(flow) or None,
            list(idp), list(read_attribute) or None, list(write_attribute) or None, list(auth_flow) or None,
            access_token_ttl=access_token_ttl, id_token_ttl=id_token_ttl,
            refresh_token_ttl=refresh_token_ttl, rotate_refresh_tokens=rotate_refresh_tokens,
            refresh_grace_seconds=refresh_grace, require_pkce=require_pkce,
            backchannel_logout_url=backchannel_logout_url,
        )
        out = {"ClientId": c.id, "ClientSecret": clear, "ClientName": c.name, "UserPoolId": c.pool_id}
    _warn_without_pkce(c.id, require_pkce)
    _warn_implicit(c.id, flow)
    _emit(out, as_json)


@client.command("list")
@click.option("--pool", "pool_id", required=True)
@json_option
def client_list(pool_id: str, as_json: bool) -> None:
    with _store() as (_s, session):
        admin.require_pool(session, pool_id)
        clients = [app_clients.describe_client(c) for c in repo.list_clients(session, pool_id)]
    _emit({"UserPoolClients": clients}, as_json)


@client.command("describe")
@click.option("--pool", "pool_id", required=True)
@click.option("--client", "client_id", required=True, help="The app client id.")
@json_option
def client_describe(pool_id: str, client_id: str, as_json: bool) -> None:
    """The client's settings (never its secret)."""
    with _store() as (_s, session):
        out = {"UserPoolClient": app_clients.describe_client(app_clients.require_client(session, pool_id, client_id))}
    _emit(out, as_json)


@client.command("update")
@click.option("--pool", "pool_id", required=True)
@click.option("--client", "client_id", required=True, help="The app client id.")
@click.option("--name")
@_settings_options
@click.option("--rotate-refresh-tokens/--no-rotate-refresh-tokens", default=None,
              help="Issue a new refresh token at each refresh, or stop.")
@click.option("--refresh-grace", type=click.IntRange(0, 60), help="Seconds a rotated token still works.")
@json_option
def client_update(pool_id: str, client_id: str, name: str | None, callback_url: tuple[str, ...],
                  logout_url: tuple[str, ...], scope: tuple[str, ...], flow: tuple[str, ...], idp: tuple[str, ...],
                  access_token_ttl: int | None, id_token_ttl: int | None, refresh_token_ttl: int | None,
                  read_attribute: tuple[str, ...], write_attribute: tuple[str, ...], auth_flow: tuple[str, ...],
                  backchannel_logout_url: str | None, require_pkce: bool | None,
                  rotate_refresh_tokens: bool | None, refresh_grace: int | None, as_json: bool) -> None:
    """Change the settings given; the others keep their value (Cognito's
    UpdateUserPoolClient resets them to defaults). A list option given (--callback-url,
    --logout-url, --scope, --flow, --idp, --read-attribute, --write-attribute, --auth-flow)
    replaces the whole list; --backchannel-logout-url "" removes the URL. The client must still
    pass every check of `client create`. The secret cannot be added, removed or changed."""
    changes = {
        "name": name, "callback_urls": list(callback_url) or None, "logout_urls": list(logout_url) or None,
        "allowed_scopes": _scopes(scope) or None, "allowed_flows": list(flow) or None,
        "identity_providers": list(idp) or None, "access_token_ttl": access_token_ttl,
        "id_token_ttl": id_token_ttl, "refresh_token_ttl": refresh_token_ttl,
        "rotate_refresh_tokens": rotate_refresh_tokens, "refresh_grace_seconds": refresh_grace,
        "read_attributes": list(read_attribute) or None, "write_attributes": list(write_attribute) or None,
        "explicit_auth_flows": list(auth_flow) or None, "require_pkce": require_pkce,
        "backchannel_logout_url": backchannel_logout_url,
    }
    if all(value is None for value in changes.values()):
        raise InvalidInput("give at least one setting to change")
    with _store() as (_s, session):
        out = {"UserPoolClient": app_clients.describe_client(app_clients.update_client(session, pool_id, client_id, **changes))}
    _warn_without_pkce(client_id, require_pkce)
    _warn_implicit(client_id, flow)
    _emit(out, as_json)


def _warn_without_pkce(client_id: str, require_pkce: bool | None) -> None:
    """Said on stderr each time a client is exempted, so that it is not done in passing."""
    if require_pkce is False:
        click.echo(f"warning: app client {client_id} may now use the code flow without PKCE: an authorization "
                   "code intercepted on its way to the app can be exchanged by anyone (RFC 9700 §2.1.1). Keep this "
                   "only while the app moves over from Cognito, then: --require-pkce", err=True)


def _warn_implicit(client_id: str, flows: tuple[str, ...]) -> None:
    """Said on stderr each time the implicit flow is allowed, as for --no-require-pkce."""
    if "implicit" in flows:
        click.echo(f"warning: app client {client_id} may now get tokens with response_type=token: they travel in "
                   "the browser's address bar and are bound to no sender (RFC 9700 §2.1.2). Keep this only while "
                   "the app moves over from Cognito, then use the code flow with PKCE.", err=True)


@client.command("rotate-secret")
@click.option("--pool", "pool_id", required=True)
@click.option("--client", "client_id", required=True, help="The app client id.")
@json_option
def client_rotate_secret(pool_id: str, client_id: str, as_json: bool) -> None:
    """Give a client with a secret a new one (shown once); the old one stops working at once."""
    with _store() as (_s, session):
        clear = app_clients.rotate_client_secret(session, pool_id, client_id)
    _emit({"ClientId": client_id, "UserPoolId": pool_id, "ClientSecret": clear}, as_json)


@client.command("delete")
@click.option("--pool", "pool_id", required=True)
@click.option("--client", "client_id", required=True, help="The app client id.")
@json_option
def client_delete(pool_id: str, client_id: str, as_json: bool) -> None:
    """Delete the client with its refresh tokens and its own branding. Its access tokens are
    refused from then on at userInfo and introspection; ID tokens and access tokens that an
    API checks only by signature stay valid until they expire."""
    with _store() as (_s, session):
        app_clients.delete_client(session, pool_id, client_id)
    _emit({"ClientId": client_id, "UserPoolId": pool_id, "Deleted": True}, as_json)
