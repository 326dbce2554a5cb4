"""``broker user passkeys list|delete``: a user's passkeys as an admin sees and removes them
(the user does it on the hosted account page or with the API's WebAuthn operations), and the
passkey options of ``broker pool update``. Registered on :mod:`broker.cli`'s ``user`` group
when imported; same rules (``--json``; bad input: one line on stderr, exit 2, nothing written).
"""
from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from .cli import _emit, _store, json_option, user
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


def update_pool(session: Session, pool_id: str, first_factor: tuple[str, ...], rp_id: str | None,
                user_verification: str | None, aaguid: tuple[str, ...], no_aaguids: bool) -> bool:
    """``broker pool update``'s sign-in policy and passkey options, those given; whether any was."""
    web_authn: dict[str, Any] = {}
    if rp_id is not None:
        web_authn["RelyingPartyId"] = rp_id or None
    if user_verification is not None:
        web_authn["UserVerification"] = user_verification
    if aaguid or no_aaguids:
        web_authn["AllowedAaguids"] = list(aaguid)
    if not first_factor and not web_authn:
        return False
    sign_in_policy.update(session, pool_id, factors=list(first_factor) or None, web_authn=web_authn or None)
    return True
