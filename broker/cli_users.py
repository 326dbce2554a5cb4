"""``broker user import`` and ``broker user export``: users in and out of a pool in
Cognito's import CSV with Cognate's extension columns (:mod:`broker.userpool.user_csv`),
password hashes included. Registered on :mod:`broker.cli`'s ``user`` group when imported;
same rules (``--json``; a bad file: one line on stderr, exit 2, nothing written).
"""
from __future__ import annotations

import os
import sys
import tempfile
from typing import IO, Callable, Iterator

import click
from contextlib import contextmanager

from .cli import _emit, _store, json_option, user
from .errors import InvalidInput, NotFound
from .userpool import admin, import_jobs, user_export, user_import
from .userpool.hash_formats import Firebase


@user.command("import")
@click.option("--pool", "pool_id", required=True)
@click.argument("path", metavar="FILE")
@click.option("--firebase-scrypt", "firebase", metavar="PARAMS",
              help="The Firebase project's hash parameters for $firebase-scrypt$SALT$HASH cells: "
                   "signer_key=B64,salt_separator=B64,rounds=N,mem_cost=N.")
@json_option
def user_import_command(pool_id: str, path: str, firebase: str | None, as_json: bool) -> None:
    """Import users from Cognito's CSV (see GetCSVHeader) with an optional cognate:password_hash
    column. A bad row is reported with its line and skipped; a bad file imports nothing."""
    params = Firebase.parse(firebase) if firebase else None
    with _opened(path) as raw, user_import.open_text(raw) as text, _store() as (_s, session):
        pool = admin.require_pool(session, pool_id)
        with _progress(raw) as progress:
            report = user_import.import_csv(session, pool, text, params, progress)
    _emit({"UserPoolId": pool_id, **report.as_dict()}, as_json)


@user.command("export")
@click.option("--pool", "pool_id", required=True)
@click.option("--with-hashes", is_flag=True, help="Include password hashes (PHC strings) and statuses.")
@click.option("--with-secrets", is_flag=True, help="Include TOTP secrets.")
@click.option("--format", "fmt", type=click.Choice(user_export.FORMATS), default="csv", show_default=True)
@click.option("--output", metavar="FILE", help="Write here (mode 0600) instead of stdout.")
def user_export_command(pool_id: str, with_hashes: bool, with_secrets: bool, fmt: str, output: str | None) -> None:
    """Every user of the pool, in the CSV that `user import` reads, or as JSON Lines."""
    with _store() as (_s, session), _destination(output) as out:
        pool = admin.require_pool(session, pool_id)
        count = user_export.export_users(session, pool, out, fmt, with_hashes, with_secrets)
    if output:
        click.echo(f"exported {count} users to {output}", err=True)


@user.group("import-job")
def import_job() -> None:
    """User import jobs made over the API (CreateUserImportJob)."""


@import_job.command("report")
@click.option("--pool", "pool_id", required=True)
@click.option("--job", "job_id", required=True, help="The JobId (import-...).")
@json_option
def import_job_report(pool_id: str, job_id: str, as_json: bool) -> None:
    """A job's outcome and its rejected rows, each with its line and the reason."""
    with _store() as (_s, session):
        try:
            job = import_jobs.find(session, admin.require_pool(session, pool_id), job_id)
        except NotFound as exc:
            raise InvalidInput(exc.message) from None
        out = {"JobId": job.id, "Status": job.status, "ImportedUsers": job.imported_users,
               "FailedUsers": job.failed_users, "CompletionMessage": job.completion_message, "Rejected": job.report}
    _emit(out, as_json)


@contextmanager
def _progress(raw: IO[bytes]) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, by bytes read, when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=os.fstat(raw.fileno()).st_size, label="importing", file=sys.stderr) as bar:
        yield lambda _rows: bar.update(raw.tell() - bar.pos)


@contextmanager
def _opened(path: str) -> Iterator[IO[bytes]]:
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with raw:
        yield raw


@contextmanager
def _destination(path: str | None) -> Iterator[IO[str]]:
    """stdout, or ``path`` written whole or not at all (a temporary file renamed at the end),
    readable by its owner only: it may hold password hashes and secrets. The temporary file
    has an unpredictable name and is created, never opened if it exists (``mkstemp``: mode
    0600, ``O_EXCL``), so nobody can have it write through a link they placed."""
    if path is None:
        yield sys.stdout
        return
    target = os.path.abspath(path)
    try:
        fd, partial = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".partial",
                                       dir=os.path.dirname(target))
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
