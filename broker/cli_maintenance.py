"""``broker db prune``: delete the durable rows that are no longer needed (expired refresh
tokens, old revoked token families, audit events and devices). Registered on
:mod:`broker.cli`'s ``db`` group when it is imported; same rules (``--json``; bad input:
one line, exit 2, nothing written).
"""
from __future__ import annotations

import click

from .cli import _emit, _store, db, json_option
from .userpool import retention

_days = click.IntRange(min=0)


@db.command("prune")
@click.option("--audit-days", type=_days, default=retention.AUDIT_DAYS, show_default=True,
              help="Delete audit events older than this; 0 keeps them for ever.")
@click.option("--device-days", type=_days, default=retention.DEVICE_DAYS, show_default=True,
              help="Delete devices not seen for this long and not remembered; 0 keeps them for ever.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@json_option
def db_prune(audit_days: int, device_days: int, dry_run: bool, as_json: bool) -> None:
    """Delete rows no longer needed: refresh tokens expired for over a day, revoked token
    families older than a day (their access tokens have expired; their refresh tokens stay
    refused), old audit events and devices. Run it daily: it works in batches of a few
    thousand rows, one transaction each, so a first run on a large table holds no long locks."""
    with _store() as (_s, session):
        counts = retention.prune(session, retention.Retention(audit_days, device_days), dry_run=dry_run)
    _emit({**counts, "DryRun": dry_run}, as_json)
