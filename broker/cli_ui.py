"""``broker ui``: hosted-UI branding (logo, CSS with Cognito's classes, theme), per pool or
per app client. Registered on :mod:`broker.cli`'s group when it is imported; same rules
(``--json``; bad input: one line, exit 2, nothing written).
"""
from __future__ import annotations

import click

from .cli import _emit, _read, _store, cli, json_option
from .errors import InvalidInput
from .userpool import admin


@cli.group()
def ui() -> None:
    """Hosted UI branding: logo, CSS (Cognito's classes) and theme, per pool or per client."""


@ui.command("set")
@click.option("--pool", "pool_id", required=True)
@click.option("--client", "client_id", help="An app client id (default: ALL, the whole pool).")
@click.option("--css", "css_file", type=click.Path(dir_okay=False), help="A CSS file using Cognito's classes.")
@click.option("--logo", "logo_file", type=click.Path(dir_okay=False), help="A PNG or JPEG file, at most 100 KB.")
@click.option("--theme", help="A theme folder name under BROKER_THEMES_DIR ('' for none).")
@json_option
def ui_set(pool_id: str, client_id: str | None, css_file: str | None, logo_file: str | None, theme: str | None,
           as_json: bool) -> None:
    from . import branding

    if css_file is None and logo_file is None and theme is None:
        raise InvalidInput("give at least one of --css, --logo, --theme")
    css, logo = _read(css_file, "CSS file", False), _read(logo_file, "logo file", True)
    with _store() as (settings, session):
        row = branding.customize(session, settings.themes_dir, pool_id, client_id, css, logo, theme)
        out = branding.describe(row, pool_id, client_id)
    _emit(out, as_json)


@ui.command("get")
@click.option("--pool", "pool_id", required=True)
@click.option("--client", "client_id")
@json_option
def ui_get(pool_id: str, client_id: str | None, as_json: bool) -> None:
    from . import branding

    with _store() as (_s, session):
        admin.require_pool(session, pool_id)
        out = branding.describe(branding.find(session, pool_id, client_id or branding.ALL), pool_id, client_id)
    _emit({"UICustomization": out}, as_json)


@ui.command("reset")
@click.option("--pool", "pool_id", required=True)
@click.option("--client", "client_id")
@json_option
def ui_reset(pool_id: str, client_id: str | None, as_json: bool) -> None:
    from . import branding

    with _store() as (_s, session):
        admin.require_pool(session, pool_id)
        removed = branding.reset(session, pool_id, client_id)
    _emit({"UserPoolId": pool_id, "ClientId": client_id or branding.ALL, "Reset": removed}, as_json)
