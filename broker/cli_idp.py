"""``broker idp``: a pool's upstream identity providers (Google, Facebook, any OIDC provider,
SAML IdPs), and ``broker user link`` (AdminLinkProviderForUser). Registered on
:mod:`broker.cli`'s groups when it is imported; same rules (``--json``; bad input: one line,
exit 2, nothing written).
"""
from __future__ import annotations

from typing import Any, Callable

import click

from .cli import _emit, _pairs, _read, _store, cli, json_option, user
from .connectors import registry
from .userpool import idps


@cli.group()
def idp() -> None:
    """Upstream identity providers: Google, Facebook, OIDC and SAML."""


def _provider_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The type-specific settings shared by ``idp create`` and ``idp update``."""
    options = [
        click.option("--client-id", help="OAuth client id at the upstream (Google, Facebook, OIDC)."),
        click.option("--client-secret", help="OAuth client secret at the upstream."),
        click.option("--scopes", help='Scopes asked of the upstream, one quoted value: "openid email".'),
        click.option("--issuer", help="OIDC issuer (discovery); for Google, an override of https://accounts.google.com (tests)."),
        click.option("--authorize-url", help="Explicit authorization endpoint (OIDC, Facebook)."),
        click.option("--token-url", help="Explicit token endpoint (OIDC, Facebook)."),
        click.option("--userinfo-url", help="Explicit userinfo endpoint (OIDC) or Graph /me URL (Facebook)."),
        click.option("--jwks-uri", help="Explicit JWKS URL (OIDC)."),
        click.option("--token-auth-method", type=click.Choice(["client_secret_basic", "client_secret_post"]),
                     help="How Cognate authenticates at the upstream token endpoint (OIDC)."),
        click.option("--api-version", help="Graph API version (Facebook), e.g. v19.0."),
        click.option("--metadata-url", help="The IdP's SAML metadata URL."),
        click.option("--metadata-file", type=click.Path(dir_okay=False), help="The IdP's SAML metadata XML file."),
        click.option("--sign-requests/--no-sign-requests", default=None, help="Sign SAML AuthnRequests."),
        click.option("--want-assertions-signed/--no-want-assertions-signed", default=None,
                     help="Require signed SAML assertions (default on)."),
        click.option("--want-assertions-encrypted/--no-want-assertions-encrypted", default=None,
                     help="Require encrypted SAML assertions."),
        click.option("--name-id-format", help="SAML NameID format URN to ask for."),
        click.option("--idp-initiated/--no-idp-initiated", default=None, help="Accept IdP-initiated SAML sign-in."),
        click.option("--attribute-mapping", multiple=True, metavar="POOL_ATTR=UPSTREAM_ATTR",
                     help="Map an upstream attribute to a pool attribute (repeat); replaces the defaults."),
        click.option("--identifier", multiple=True, help="An email domain or identifier routing to this IdP (repeat)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _settings(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str] | None, list[str] | None]:
    """The connector options given, the attribute mapping and the identifiers (None: not given)."""
    mapping = values.pop("attribute_mapping")
    identifiers = values.pop("identifier")
    metadata_file = values.pop("metadata_file")
    options = {k: v for k, v in values.items() if v is not None}
    if metadata_file is not None:
        options["metadata_xml"] = _read(metadata_file, "metadata file", False)
    return (options, _pairs(mapping, "--attribute-mapping") if mapping else None,
            list(identifiers) if identifiers else None)


@idp.command("create")
@click.option("--pool", "pool_id", required=True)
@click.option("--type", "provider_type", required=True, type=click.Choice(list(registry.TYPES)))
@click.option("--name", required=True, help="The provider name apps use (identity_provider=NAME).")
@_provider_options
@json_option
def idp_create(pool_id: str, provider_type: str, name: str, as_json: bool, **values: Any) -> None:
    options, mapping, identifiers = _settings(values)
    with _store() as (_s, session):
        row = idps.create_idp(session, pool_id, provider_type, name, options, mapping, identifiers)
        out = {"IdentityProvider": idps.describe_idp(row)}
    _emit(out, as_json)


@idp.command("update")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True)
@_provider_options
@json_option
def idp_update(pool_id: str, name: str, as_json: bool, **values: Any) -> None:
    """Change the settings given; the others stay as they are."""
    options, mapping, identifiers = _settings(values)
    with _store() as (_s, session):
        row = idps.update_idp(session, pool_id, name, options, mapping, identifiers)
        out = {"IdentityProvider": idps.describe_idp(row)}
    _emit(out, as_json)


@idp.command("describe")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True)
@json_option
def idp_describe(pool_id: str, name: str, as_json: bool) -> None:
    with _store() as (_s, session):
        out = {"IdentityProvider": idps.describe_idp(idps.require_idp(session, pool_id, name))}
    _emit(out, as_json)


@idp.command("list")
@click.option("--pool", "pool_id", required=True)
@json_option
def idp_list(pool_id: str, as_json: bool) -> None:
    from .userpool.admin import require_pool

    with _store() as (_s, session):
        require_pool(session, pool_id)
        out = {"Providers": [{"ProviderName": p.name, "ProviderType": p.type, "IdpIdentifiers": p.identifiers,
                              "CreationDate": p.created_at.isoformat()} for p in idps.list_idps(session, pool_id)]}
    _emit(out, as_json)


@idp.command("delete")
@click.option("--pool", "pool_id", required=True)
@click.option("--name", required=True)
def idp_delete(pool_id: str, name: str) -> None:
    """Delete the IdP; app clients stop offering it. Its users stay in the pool."""
    with _store() as (_s, session):
        idps.delete_idp(session, pool_id, name)


@user.command("link")
@click.option("--pool", "pool_id", required=True)
@click.option("--user", "username", required=True, help="The native user who will sign in.")
@click.option("--provider", required=True, help="The identity provider name.")
@click.option("--subject", required=True, help="The user's subject at the provider (sub, Facebook id, NameID).")
@json_option
def user_link(pool_id: str, username: str, provider: str, subject: str, as_json: bool) -> None:
    """AdminLinkProviderForUser: the provider's subject signs in as this user from now on."""
    with _store() as (_s, session):
        link = idps.link_user(session, pool_id, username, provider, subject)
        out = {"Username": username.strip().lower(), "ProviderName": link.provider_name,
               "ProviderSubject": link.subject}
    _emit(out, as_json)


@user.command("unlink")
@click.option("--pool", "pool_id", required=True)
@click.option("--provider", required=True, help="The identity provider name.")
@click.option("--subject", required=True, help="The user's subject at the provider.")
@json_option
def user_unlink(pool_id: str, provider: str, subject: str, as_json: bool) -> None:
    """AdminDisableProviderForUser: the provider's subject signs in no more (a link to a
    native user goes; a federated user is disabled)."""
    with _store() as (_s, session):
        u = idps.unlink_user(session, pool_id, provider, subject)
        out = {"Username": u.username, "ProviderName": provider, "Enabled": u.enabled}
    _emit(out, as_json)
