"""The ``broker`` command: serve, migrate, and administer pools, clients, users, groups,
resource servers and keys. Data-printing commands take ``--json`` (one JSON document on
stdout, Cognito's shapes). Bad input: one line on stderr, exit code 2, nothing written.
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Any, Iterator

import click
from contextlib import contextmanager
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from . import sealing
from .config import ConfigError, Settings, data_location, listening_base_url, load_settings, validate
from .errors import FormInvalid, InvalidInput
from .oauth import keys
from .oauth.issue import issuer
from .store import repo
from .store.db import Database
from .userpool import admin, resource_servers

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def _settings(host: str | None = None, port: int | None = None) -> Settings:
    """The settings; for a command that listens on ``host:port``, the base URL defaults to
    where it listens (BROKER_BASE_URL or the config file still win)."""
    implied = {"base_url": listening_base_url(host, port)} if host is not None and port is not None else None
    context = click.get_current_context(silent=True)
    data_dir = context.find_root().params.get("data_dir") if context else None
    if data_dir == "":
        raise InvalidInput("--data-dir must name a directory")
    settings = load_settings(defaults=implied, **({"data_dir": data_dir} if data_dir else {}))
    problems = validate(settings)
    if problems:
        raise ConfigError(problems)
    return settings


@contextmanager
def _store(settings: Settings | None = None) -> Iterator[tuple[Settings, Session]]:
    settings = settings or _settings()
    db = Database(settings.database_url, sealing.for_settings(settings))
    db.sign_outs_committed.append(lambda rows: _tell_apps(db, settings, rows))
    try:
        if db.url.startswith("sqlite"):
            db.upgrade()
        with db.session() as session:
            yield settings, session
    finally:
        db.dispose()


def _tell_apps(db: Database, settings: Settings, rows: list[list[str]]) -> None:
    """Apps with a back-channel logout URL are told of a sign-out the command committed, at
    once (the CLI has no outbox); a failure is logged."""
    from .oauth import backchannel
    from .oauth.keys import KeyCache

    backchannel.signed_out(backchannel.told_now(backchannel.courier(db, KeyCache(), settings.base_url)))(rows)


def _emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, default=str))
        return
    for key, value in data.items():
        if isinstance(value, list):
            click.echo(f"{key}:")
            for item in value:
                click.echo("  - " + (json.dumps(item, default=str) if isinstance(item, dict) else str(item)))
        else:
            click.echo(f"{key}: {'' if value is None else value}")


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInput(f"{what} must be name=value, got {item!r}")
        out[name.strip()] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", metavar="DIR",
              help="Where the SQLite database and the development key live (over BROKER_DATA_DIR; "
                   "default: the checkout's var/, else $XDG_DATA_HOME/cognate).")
def cli(data_dir: str | None) -> None:
    """Cognate, a self-hosted identity broker shaped like Amazon Cognito user pools."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# -- serving -------------------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64), help="Run gunicorn with N worker processes.")
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="Threads per gunicorn worker.")
def serve(host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Run the server (development server, or gunicorn with --workers)."""
    from .serving import serve as run

    logging.getLogger().setLevel(logging.INFO)
    run(_settings(host, port), host, port, workers, threads)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def demo(host: str, port: int) -> None:
    """Create (once) a demo pool, client and user, print them, and serve."""
    from .demo import ensure_demo
    from .serving import serve as run

    settings = _settings(host, port)
    with _store(settings) as (_s, session):
        demo_pool = ensure_demo(session, settings)
    logging.getLogger().setLevel(logging.INFO)
    run(settings, host, port, None, None, demo_pool.banner(demo_pool.write_env(settings.data_dir)))


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the schema to the newest revision (Alembic)."""
    settings = _settings()
    database = Database(settings.database_url)
    database.upgrade()
    database.dispose()
    click.echo("database is up to date")


# -- pools ---------------------------------------------------------------------------

@cli.group()
def pool() -> None:
    """User pools."""


@pool.command("create")
@click.option("--name", required=True)
@click.option("--mfa", type=click.Choice(admin.MFA), default="OFF", show_default=True)
@click.option("--self-signup/--no-self-signup", default=True, show_default=True)
@click.option("--signing-alg", type=click.Choice(keys.SUPPORTED_ALGS), default="RS256", show_default=True)
@click.option("--required-attribute", "required", multiple=True, help="Attribute required at sign-up (repeat).")
@click.option("--password-min-length", type=int, default=8, show_default=True)
@json_option
def pool_create(name: str, mfa: str, self_signup: bool, signing_alg: str, required: tuple[str, ...],
                password_min_length: int, as_json: bool) -> None:
    with _store() as (settings, session):
        p = admin.create_pool(session, name, mfa, self_signup, signing_alg, list(required) or None,
                              {"min_length": password_min_length})
        out = {"Id": p.id, "Name": p.name, "Issuer": issuer(settings.base_url, p.id), "MfaConfiguration": p.mfa}
    _emit(out, as_json)


@pool.command("list")
@json_option
def pool_list(as_json: bool) -> None:
    with _store() as (settings, session):
        pools = [{"Id": p.id, "Name": p.name, "Issuer": issuer(settings.base_url, p.id)} for p in repo.list_pools(session)]
    _emit({"UserPools": pools}, as_json)
    if not pools:  # on stderr: the JSON document stays Cognito's shape
        click.echo(f"no pool yet in {data_location(settings)}: broker pool create --name NAME", err=True)


@pool.command("delete")
@click.option("--pool", "pool_id", required=True)
@json_option
def pool_delete(pool_id: str, as_json: bool) -> None:
    """Delete the pool and everything in it: clients, users, their tokens, keys, IdPs, branding."""
    with _store() as (_s, session):
        admin.delete_pool(session, pool_id)
    _emit({"Id": pool_id, "Deleted": True}, as_json)


# -- resource servers (app clients: cli_clients.py) ---------------------------------

@cli.group("resource-server")
def resource_server() -> None:
    """Resource servers and their custom scopes."""


@resource_server.command("create")
@click.option("--pool", "pool_id", required=True)
@click.option("--identifier", required=True)
@click.option("--name", default="")
@click.option("--scope", multiple=True, required=True)
@json_option
def resource_server_create(pool_id: str, identifier: str, name: str, scope: tuple[str, ...], as_json: bool) -> None:
    with _store() as (_s, session):
        rs = resource_servers.create_resource_server(session, pool_id, identifier, name, list(scope))
        out = {"Identifier": rs.identifier, "Name": rs.name,
               "Scopes": [f"{rs.identifier}/{s}" for s in rs.scopes]}
    _emit(out, as_json)


@resource_server.command("update")
@click.option("--pool", "pool_id", required=True)
@click.option("--identifier", required=True)
@click.option("--name", default="")
@click.option("--scope", multiple=True, required=True, help="Every scope it keeps (repeat): the list is replaced.")
@json_option
def resource_server_update(pool_id: str, identifier: str, name: str, scope: tuple[str, ...], as_json: bool) -> None:
    """Replace the name and scopes; a scope taken away leaves every app client that had it."""
    with _store() as (_s, session):
        rs = resource_servers.update_resource_server(session, pool_id, identifier, name, list(scope))
        out = {"ResourceServer": resource_servers.describe(rs)}
    _emit(out, as_json)


@resource_server.command("list")
@click.option("--pool", "pool_id", required=True)
@json_option
def resource_server_list(pool_id: str, as_json: bool) -> None:
    with _store() as (_s, session):
        out = {"ResourceServers": [resource_servers.describe(rs) for rs in resource_servers.listed(session, pool_id)]}
    _emit(out, as_json)


@resource_server.command("delete")
@click.option("--pool", "pool_id", required=True)
@click.option("--identifier", required=True)
@json_option
def resource_server_delete(pool_id: str, identifier: str, as_json: bool) -> None:
    """Delete it; its scopes leave every app client that had them."""
    with _store() as (_s, session):
        resource_servers.delete_resource_server(session, pool_id, identifier)
    _emit({"UserPoolId": pool_id, "Identifier": identifier, "Deleted": True}, as_json)


# -- users and groups ----------------------------------------------------------------

@cli.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@click.option("--password")
@click.option("--password-hash", help="Import a hash (Argon2, bcrypt, PBKDF2, scrypt, Firebase scrypt) instead of a password.")
@click.option("--email")
@click.option("--attribute", multiple=True, help="name=value (repeat).")
@click.option("--confirmed", is_flag=True, help="The password is permanent; the user can sign in at once.")
@click.option("--group", multiple=True)
@click.option("--suppress-invitation", is_flag=True, help="Send no invitation (Cognito's MessageAction=SUPPRESS).")
@json_option
def user_create(pool_id: str, username: str, password: str | None, password_hash: str | None, email: str | None,
                attribute: tuple[str, ...], confirmed: bool, group: tuple[str, ...], suppress_invitation: bool,
                as_json: bool) -> None:
    """Create a user. Without --password a temporary password is generated; a temporary
    password (also one given without --confirmed) is emailed in the pool's invitation when
    SMTP is configured, else printed, and works for the pool's temp-password-days."""
    from .cli_security import _invitation, _sender
    from .userpool.admin_security import create_invited

    attrs = _pairs(attribute, "--attribute")
    if email is not None:
        attrs["email"] = email
    with _store() as (settings, session):
        sender = None if suppress_invitation else _sender(settings)
        invitation = create_invited(session, sender, None, pool_id, username, password, attrs, confirmed, list(group),
                                    password_hash=password_hash)
        out = _invitation(invitation)
        if password is not None:
            out.pop("TemporaryPassword", None)  # the admin chose it
    _emit(out, as_json)


@user.command("list")
@click.option("--pool", "pool_id", required=True)
@click.option("--filter", "search", help='Cognito\'s ListUsers filter: \'email ^= "ann"\', \'status = "Disabled"\'.')
@json_option
def user_list(pool_id: str, search: str | None, as_json: bool) -> None:
    from .userpool.user_search import search as find

    with _store() as (_s, session):
        admin.require_pool(session, pool_id)
        users = [admin.describe_user(u) for u in find(session, pool_id, search)]
    _emit({"Users": users}, as_json)


@user.command("delete")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_delete(pool_id: str, username: str, as_json: bool) -> None:
    with _store() as (_s, session):
        admin.require_pool(session, pool_id)
        admin.delete_user(session, pool_id, username)
    _emit({"Username": username.lower(), "Deleted": True}, as_json)


@cli.group()
def group() -> None:
    """Groups."""


def _read(path: str | None, what: str, binary: bool) -> Any:
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read(1024 * 1024 + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    if binary:
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} {path} is not UTF-8 text") from None


# -- keys ----------------------------------------------------------------------------

@cli.group("keys")
def keys_group() -> None:
    """Signing keys."""


@keys_group.command("rotate")
@click.option("--pool", "pool_id", required=True)
@json_option
def keys_rotate(pool_id: str, as_json: bool) -> None:
    """Sign with a new key; older keys stay in the JWKS until their tokens expire."""
    with _store() as (_s, session):
        p = admin.require_pool(session, pool_id)
        new = keys.rotate(session, p)
        published = [k.kid for k in keys.POOL_KEY_ROWS.published(session, p.id)]
        out = {"Kid": new.kid, "Alg": new.alg, "PublishedKids": published}
    _emit(out, as_json)


from . import cli_admin_keys, cli_clients, cli_groups, cli_identity, cli_idp, cli_maintenance, cli_passkeys, cli_security, cli_tokens, cli_ui, cli_users  # noqa: E402,F401  (they register their commands on the groups above)


def main(argv: list[str] | None = None) -> None:
    """Entry point: exit 2 with one line for any bad input."""
    try:
        cli.main(args=argv, prog_name="broker", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.exit(1)
    except click.ClickException as exc:
        _fail(exc.format_message())
    except InvalidInput as exc:
        _fail(exc.message)
    except FormInvalid as exc:  # a password the pool's rules refuse
        _fail("; ".join(exc.errors))
    except ConfigError as exc:
        _fail("; ".join(exc.errors))
    except SQLAlchemyError as exc:
        click.echo(f"error: database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    except RedisError as exc:
        click.echo(f"error: state store: {exc.__class__.__name__}: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)
