"""Cognito's user import jobs (CreateUserImportJob, StartUserImportJob, StopUserImportJob,
DescribeUserImportJob, ListUserImportJobs), over the same import as ``broker user import``
(:mod:`.user_import`).
https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-using-import-tool-cli-cognito-user-pools-create-import-job.html

- **The upload.** AWS hands out a pre-signed S3 URL that takes a ``PUT`` of the CSV. Here
  the job's ``PreSignedUrl`` is ``<BASE_URL>/import-jobs/<JobId>?expires=<unix>&signature=<hex>``:
  an HMAC-SHA256 of the pool, the job and the expiry under a key derived from the server's
  secret (:meth:`broker.sealing.Sealer.mac`), good for :data:`UPLOAD_TTL` seconds and while
  the job has not started. The body (at most :data:`MAX_UPLOAD` bytes, Cognito's limit) is
  kept with the job; a tampered or expired URL stores nothing.
- **The run.** StartUserImportJob marks the job Pending, commits, and runs the import in a
  background thread of the node that took the call (a file of 100 MB takes longer than an
  HTTP request should): InProgress, then Succeeded (users written in one transaction) or
  Failed (a malformed file: nothing written) with the counts and a CompletionMessage.
  StopUserImportJob is seen between batches; a stopped job writes nothing. A job whose
  node stops while it runs stays InProgress; create another one.
- **The report.** Rejected rows (line, username, reason) stay with the job:
  ``broker user import-job report``.

    job = create(session, pool, "migration", role_arn)
    url = upload_url(base_url, sealer, job)        # PUT the CSV there
    start(db, session, pool, job.id)               # then poll describe()
"""
from __future__ import annotations

import datetime as dt
import hmac
import io
import logging
import secrets
import string
import threading
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import BrokerError, InvalidInput, NotFound, PreconditionNotMet
from ..sealing import Sealer
from ..store.db import Database
from ..store.models import UserImportJob, UserPool, utcnow
from . import audit
from .user_csv import MalformedFile
from .user_import import import_csv, open_text

log = logging.getLogger("broker.import")
PURPOSE = "import-job-upload"
UPLOAD_TTL = 3600
#: Cognito's limit of one import file.
MAX_UPLOAD = 100 * 1024 * 1024
#: Hashes each PasswordHashingAlgorithm admits, by the form they are stored in.
ALGORITHMS = {"BCRYPT": ("$2",), "SCRYPT": ("$scrypt$", "$firebase-scrypt$"), "ARGON2ID": ("$argon2id$",),
              "PBKDF2_SHA256": ("$pbkdf2-sha256$",)}
_ID_ALPHABET = string.ascii_letters + string.digits


class UploadRefused(BrokerError):
    """A PUT to an upload URL that is not (or no longer) good: nothing is stored."""

    status = 403


class Stopped(Exception):
    """StopUserImportJob was called while the job ran."""


def create(session: Session, pool: UserPool, name: str, role_arn: str, algorithm: str | None = None) -> UserImportJob:
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise InvalidInput(f"PasswordHashingAlgorithm must be one of {', '.join(ALGORITHMS)}")
    job = UserImportJob(id="import-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10)), pool_id=pool.id,
                        name=name, role_arn=role_arn, hashing_algorithm=algorithm, status="Created", report=[],
                        created_at=utcnow(), upload_expires_at=utcnow() + dt.timedelta(seconds=UPLOAD_TTL))
    session.add(job)
    audit.record(session, pool.id, "CreateUserImportJob", audit.PASS, job=job.id, name=name)
    session.flush()
    return job


def find(session: Session, pool: UserPool, job_id: str) -> UserImportJob:
    job = session.get(UserImportJob, job_id)
    if job is None or job.pool_id != pool.id:
        raise NotFound(f"Import job {job_id} does not exist in user pool {pool.id}.")
    return job


def listed(session: Session, pool: UserPool, limit: int, token: str | None) -> tuple[list[UserImportJob], str | None]:
    """A page of the pool's jobs, oldest first, and the token of the next page (None: last)."""
    if token and not (token.isascii() and token.isdigit() and len(token) <= 18):
        raise InvalidInput("The pagination token is not valid.")  # an OFFSET PostgreSQL takes: 0 to 10^18
    offset = int(token) if token else 0
    rows = list(session.scalars(select(UserImportJob).where(UserImportJob.pool_id == pool.id)
                                .order_by(UserImportJob.created_at, UserImportJob.id).offset(offset).limit(limit + 1)))
    return rows[:limit], (str(offset + limit) if len(rows) > limit else None)


# -- the upload -----------------------------------------------------------------------------

def upload_url(base_url: str, sealer: Sealer, job: UserImportJob) -> str:
    expires = str(int(job.upload_expires_at.timestamp()))
    query = urlencode({"expires": expires, "signature": _signature(sealer, job.pool_id, job.id, expires)})
    return f"{base_url.rstrip('/')}/import-jobs/{job.id}?{query}"


def _signature(sealer: Sealer, pool_id: str, job_id: str, expires: str) -> str:
    return sealer.mac(PURPOSE, f"{pool_id}\n{job_id}\n{expires}".encode()).hex()


def check_upload(session: Session, job_id: str, expires: str, signature: str) -> UserImportJob:
    """The job a PUT may store its CSV for; :class:`UploadRefused` for a URL that was not
    made here, was changed, has expired, or names a job that has started."""
    job = session.get(UserImportJob, job_id) if len(job_id) <= 55 else None
    if job is None or not expires.isdigit():
        raise UploadRefused("Request has invalid parameters.")
    expected = _signature(_sealer(session), job.pool_id, job.id, expires)
    if not signature.isascii() or not hmac.compare_digest(expected, signature):  # compare_digest takes ASCII only
        raise UploadRefused("The request signature we calculated does not match the signature you provided.")
    if int(expires) < utcnow().timestamp():
        raise UploadRefused("Request has expired.")
    if job.status != "Created":
        raise UploadRefused("The import job has started: it takes no more files.")
    return job


def store_upload(session: Session, pool_id: str, job_id: str, body: bytes) -> None:
    """Keep ``body`` as the job's file if the job is still Created (a body read slowly may
    arrive after StartUserImportJob: then :class:`UploadRefused`, nothing stored)."""
    stored = session.execute(update(UserImportJob).where(UserImportJob.id == job_id, UserImportJob.status == "Created")
                             .values(body=body, uploaded_at=utcnow()).execution_options(synchronize_session=False))
    if stored.rowcount != 1:
        raise UploadRefused("The import job has started: it takes no more files.")
    audit.record(session, pool_id, "UploadUserImportFile", audit.PASS, job=job_id, size=len(body))


def _sealer(session: Session) -> Sealer:
    from .. import sealing

    return sealing.of(session)


# -- the run --------------------------------------------------------------------------------

def start(db: Database, session: Session, pool: UserPool, job_id: str) -> UserImportJob:
    """Mark the job Pending, commit, and import its file in a background thread. The job
    moves from Created in one conditional UPDATE: of two calls at once, one starts it."""
    job = find(session, pool, job_id)
    moved = session.execute(update(UserImportJob).where(
        UserImportJob.id == job.id, UserImportJob.status == "Created", UserImportJob.uploaded_at.is_not(None))
        .values(status="Pending", started_at=utcnow()).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        session.refresh(job)
        if job.status != "Created":
            raise PreconditionNotMet(f"Import job {job.id} has status {job.status}: only a Created job starts.")
        raise PreconditionNotMet(f"No CSV file was uploaded to import job {job.id}'s PreSignedUrl.")
    audit.record(session, pool.id, "StartUserImportJob", audit.PASS, job=job.id)
    session.commit()
    session.refresh(job)
    threading.Thread(target=run, args=(db, job.id), name=f"import {job.id}", daemon=True).start()
    return job


def stop(session: Session, pool: UserPool, job_id: str) -> UserImportJob:
    job = find(session, pool, job_id)
    if job.status not in ("Created", "Pending", "InProgress"):
        raise PreconditionNotMet(f"Import job {job.id} has status {job.status}: it cannot be stopped.")
    job.status = "Stopped" if job.status == "Created" else "Stopping"
    if job.status == "Stopped":
        job.completed_at = utcnow()
    audit.record(session, pool.id, "StopUserImportJob", audit.PASS, job=job.id)
    return job


def run(db: Database, job_id: str) -> None:
    """Import the job's file (the body of the thread :func:`start` starts). The users and
    the job's outcome are committed together; a refusal rolls the users back and records
    only the outcome."""
    with db.session() as session:
        taken = session.execute(update(UserImportJob).where(UserImportJob.id == job_id, UserImportJob.status == "Pending")
                                .values(status="InProgress").execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        return
    session = db.sessions()
    try:
        _import(db, session, job_id)
        return
    except Stopped:
        outcome = {"status": "Stopped", "completion_message": "The import job was stopped: no user was imported."}
    except MalformedFile as exc:
        outcome = {"status": "Failed", "completion_message": exc.message[:128]}
    except Exception:  # noqa: BLE001 - the job must end Failed, not stay InProgress
        log.exception("import job %s failed", job_id)
        outcome = {"status": "Failed", "completion_message": "The import failed: see the server's log."}
    finally:
        session.rollback()
        session.close()
    with db.session() as session:
        job = session.get(UserImportJob, job_id)
        if job is not None:
            _end(job, **outcome)


def _import(db: Database, session: Session, job_id: str) -> None:
    job = session.get(UserImportJob, job_id)
    pool = session.get(UserPool, job.pool_id) if job is not None else None
    if job is None or pool is None or job.body is None:
        raise MalformedFile("The import job has no file.")

    def stop_check(_rows: int) -> None:
        with db.session() as other:
            if other.scalar(select(UserImportJob.status).where(UserImportJob.id == job_id)) == "Stopping":
                raise Stopped()

    allowed = ALGORITHMS.get(job.hashing_algorithm or "")
    with open_text(io.BytesIO(job.body)) as text:
        report = import_csv(session, pool, text, progress=stop_check, hashes=allowed)
    stop_check(0)
    message = ("Import Job Completed Successfully." if not report.failed else
               f"Imported {report.imported} users; {report.failed} rows failed: broker user import-job report.")
    _end(job, status="Succeeded", imported_users=report.imported, failed_users=report.failed,
         completion_message=message[:128], report=report.as_dict()["Rejected"])
    session.commit()


def _end(job: UserImportJob, **outcome: Any) -> None:
    for name, value in outcome.items():
        setattr(job, name, value)
    job.completed_at, job.body = utcnow(), None


def describe(job: UserImportJob, url: str) -> dict[str, Any]:
    """Cognito's UserImportJobType."""
    out: dict[str, Any] = {
        "JobName": job.name, "JobId": job.id, "UserPoolId": job.pool_id, "PreSignedUrl": url,
        "CreationDate": job.created_at, "Status": job.status, "CloudWatchLogsRoleArn": job.role_arn,
        "ImportedUsers": job.imported_users, "SkippedUsers": job.skipped_users, "FailedUsers": job.failed_users}
    optional = {"StartDate": job.started_at, "CompletionDate": job.completed_at,
                "CompletionMessage": job.completion_message, "PasswordHashingAlgorithm": job.hashing_algorithm}
    return {**out, **{k: v for k, v in optional.items() if v is not None}}
