"""``broker user passkeys list|delete``: a user's passkeys as an admin sees and removes them
(the user does it on the hosted account page or with the API's WebAuthn operations), and the
passkey options of ``broker pool update``. Registered on :mod:`broker.cli`'s ``user`` group
when imported; same rules (``--json``; bad input: one line on stderr, exit 2, nothing written).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session

from .cli import _emit, _store, json_option, user
from .config import Settings
from .userpool import admin, passkeys, sign_in_policy


@user.group("passkeys")
def user_passkeys() -> None:
    """A user's passkeys (WebAuthn credentials)."""


@user_passkeys.command("list")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def passkeys_list(pool_id: str, username: str, as_json: bool) -> None:
    """The user's passkeys, as ListWebAuthnCredentials shows them, with when each was last
    used and whether it is synced (backup-eligible) and backed up."""
    with _store() as (_s, session):
        found = admin.require_user(session, pool_id, username)
        out = {"Credentials": [_described(row) for row in passkeys.for_user(session, found)]}
    _emit(out, as_json)


@user_passkeys.command("delete")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@click.option("--credential-id", required=True, help="The CredentialId that `passkeys list` shows.")
@json_option
def passkeys_delete(pool_id: str, username: str, credential_id: str, as_json: bool) -> None:
    """Delete one of the user's passkeys: it signs nobody in any more."""
    with _store() as (_s, session):
        pool = admin.require_pool(session, pool_id)
        found = admin.require_user(session, pool_id, username)
        passkeys.delete(session, pool, found, credential_id, by_admin=True)
    _emit({"UserPoolId": pool_id, "Username": found.username, "CredentialId": credential_id, "Deleted": True},
          as_json)


def _described(row: Any) -> dict[str, Any]:
    return {**passkeys.describe(row), "LastUsedAt": row.last_used_at, "SignCount": row.sign_count,
            "BackupEligible": row.backup_eligible, "BackedUp": row.backed_up, "Aaguid": row.aaguid}


def pool_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The sign-in policy and passkey options of ``broker pool update``."""
    for option in reversed((
        click.option("--first-factor", multiple=True, type=click.Choice(sign_in_policy.FACTORS),
                     help="A first factor users may sign in with (repeat; PASSWORD must be one): the list is replaced."),
        click.option("--passkey-rp-id", help="The passkeys' relying-party id (a domain); empty: the pool's host."),
        click.option("--passkey-user-verification", type=click.Choice(("required", "preferred")),
                     help="Whether passkeys must verify the user (PIN, biometrics)."),
        click.option("--passkey-aaguid", multiple=True, metavar="UUID",
                     help="An authenticator model (AAGUID) allowed to hold passkeys (repeat; needs "
                          "BROKER_PASSKEY_ATTESTATION_ROOTS); none given: any."),
        click.option("--any-passkey-aaguid", is_flag=True, help="Allow passkeys of any authenticator model again."),
        click.option("--passkey-origin", multiple=True, metavar="URL",
                     help="A further origin (https://host[:port]) whose pages may use the pool's passkeys, besides "
                          "the server's, the pool's domains and its app clients' callback URLs (repeat: the list "
                          "is replaced)."),
        click.option("--no-passkey-origins", is_flag=True, help="Remove the pool's further passkey origins."),
    )):
        command = option(command)
    return command


def update_pool(session: Session, settings: Settings, pool_id: str, first_factor: tuple[str, ...],
                passkey_rp_id: str | None, passkey_user_verification: str | None, passkey_aaguid: tuple[str, ...],
                any_passkey_aaguid: bool, passkey_origin: tuple[str, ...], no_passkey_origins: bool) -> bool:
    """``broker pool update``'s sign-in policy and passkey options, those given; whether any was."""
    web_authn: dict[str, Any] = {}
    if passkey_rp_id is not None:
        web_authn["RelyingPartyId"] = passkey_rp_id or None
    if passkey_user_verification is not None:
        web_authn["UserVerification"] = passkey_user_verification
    if passkey_aaguid or any_passkey_aaguid:
        web_authn["AllowedAaguids"] = list(passkey_aaguid)
    if passkey_origin or no_passkey_origins:
        web_authn["AllowedOrigins"] = list(passkey_origin)
    if not first_factor and not web_authn:
        return False
    sign_in_policy.update(session, pool_id, factors=list(first_factor) or None, web_authn=web_authn or None,
                          roots=bool(settings.passkey_attestation_roots), own=True)
    return True
