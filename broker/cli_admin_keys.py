"""``broker admin-key``: the keys that sign calls to the admin and management API with AWS
Signature Version 4 (:mod:`broker.userpool.admin_keys`). Registered on :mod:`broker.cli`'s
group when it is imported; same rules (``--json``; bad input: one line, exit 2, nothing
written).
"""
from __future__ import annotations

import click

from .cli import _emit, _store, cli, json_option
from .userpool import admin_keys


@cli.group("admin-key")
def admin_key() -> None:
    """Keys for the admin API (AWS SigV4: boto3, the AWS CLI, SDKs)."""


@admin_key.command("create")
@click.option("--pool", "pools", multiple=True, help="A pool the key may act on (repeat); none: every pool.")
@click.option("--description")
@json_option
def admin_key_create(pools: tuple[str, ...], description: str | None, as_json: bool) -> None:
    """A new key; its secret is shown this once."""
    with _store() as (_s, session):
        key, secret = admin_keys.create(session, list(pools), description)
        out = {"AccessKeyId": key.id, "SecretAccessKey": secret, "UserPoolIds": key.pools}
    _emit(out, as_json)


@admin_key.command("list")
@json_option
def admin_key_list(as_json: bool) -> None:
    with _store() as (_s, session):
        out = {"AdminKeys": [admin_keys.describe(k) for k in admin_keys.listed(session)]}
    _emit(out, as_json)


@admin_key.command("delete")
@click.option("--key", "key_id", required=True, help="The AccessKeyId.")
@json_option
def admin_key_delete(key_id: str, as_json: bool) -> None:
    with _store() as (_s, session):
        admin_keys.delete(session, key_id)
    _emit({"AccessKeyId": key_id, "Deleted": True}, as_json)
