"""Bulk import of users from Cognito's CSV (:mod:`.user_csv`), for ``broker user import``
and the import jobs of the API (CreateUserImportJob / StartUserImportJob).

- **A bad row fails alone**: it is reported with its line number and the reason, the rest
  imports. A bad *file* (not UTF-8, not CSV, a header that is not the format's) imports
  nothing: :class:`~.user_csv.MalformedFile`, and the caller rolls the transaction back.
- **No Argon2 at import**: hashes are stored as given (checked and put in PHC form by
  :mod:`.hash_formats`) and become Argon2id at each user's next sign-in, so import runs at
  the speed of the inserts. Rows are inserted in batches, the checks that need the database
  (names and subs taken, groups) made once per batch.
- Users without a hash are RESET_REQUIRED, as Cognito imports every user: their next
  sign-in asks them to reset the password with a code sent to their verified address.

    report = import_csv(session, pool, open("users.csv", newline=""))
    report.imported, [(r.line, r.reason) for r in report.rejected]
"""
from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, TextIO

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..store.models import Group, User, UserGroup, UserIdentity, UserMfa, UserPool, utcnow
from . import audit, hash_formats
from .admin import temporary_expiry
from .user_csv import ImportedUser, MalformedFile, parse_row, read_header  # noqa: F401  (MalformedFile: callers catch it)

BATCH = 1000
#: Cognito's limit of one import file: 100 MB. A cell longer than this is no attribute.
MAX_FIELD = 64 * 1024
#: Rejected rows kept in a report (the count goes on).
MAX_REPORTED = 10_000


@dataclass(frozen=True)
class Rejected:
    line: int
    username: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"Line": self.line, "Username": self.username, "Reason": self.reason}


@dataclass
class ImportReport:
    """What an import did: users written, rows refused (with line and reason)."""

    imported: int = 0
    with_hash: int = 0
    reset_required: int = 0
    failed: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def reject(self, line: int, username: str | None, reason: str) -> None:
        self.failed += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append(Rejected(line, username, reason))

    def as_dict(self) -> dict[str, Any]:
        return {"ImportedUsers": self.imported, "FailedUsers": self.failed, "WithPasswordHash": self.with_hash,
                "ResetRequired": self.reset_required,
                "Rejected": [r.as_dict() for r in sorted(self.rejected, key=lambda r: r.line)]}


def import_csv(session: Session, pool: UserPool, stream: TextIO, firebase: hash_formats.Firebase | None = None,
               progress: Callable[[int], None] | None = None, hashes: tuple[str, ...] | None = None) -> ImportReport:
    """Import the users of the CSV ``stream`` (opened with ``newline=""``) into ``pool``,
    in ``session``'s transaction (the caller commits). ``progress`` is called with the
    number of rows done after each batch; ``hashes`` limits the password hashes accepted to
    those whose stored form starts so (an import job's PasswordHashingAlgorithm)."""
    csv.field_size_limit(MAX_FIELD)
    rows = _records(stream)
    names = read_header(next(rows, (1, []))[1] or _empty())
    report = ImportReport()
    batch: list[tuple[int, ImportedUser]] = []
    seen: dict[str, int] = {}
    done = 0
    for line, cells in rows:
        done += 1
        if not any(c.strip() for c in cells):
            continue  # a blank line
        username = cells[names.index("cognito:username")].strip() if len(cells) == len(names) else None
        try:
            user = parse_row(names, cells, pool, firebase)
        except InvalidInput as exc:
            report.reject(line, username, exc.message)
            continue
        if hashes is not None and user.password_hash and not user.password_hash.startswith(hashes):
            report.reject(line, user.username, "the password hash is not of the job's PasswordHashingAlgorithm")
            continue
        if user.username in seen:
            report.reject(line, user.username, f"the username is also on line {seen[user.username]}")
            continue
        seen[user.username] = line
        batch.append((line, user))
        if len(batch) >= BATCH:
            _write(session, pool, batch, report)
            batch = []
            if progress is not None:
                progress(done)
    _write(session, pool, batch, report)
    if progress is not None:
        progress(done)
    audit.record(session, pool.id, "ImportUsers", audit.PASS, imported=report.imported, failed=report.failed)
    return report


def _empty() -> list[str]:
    raise MalformedFile("the file is empty: it needs a header line (see GetCSVHeader)")


def _records(stream: TextIO) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on; :class:`MalformedFile` for what is not CSV
    or not UTF-8 (a whole file is refused: its rows cannot be told apart any more)."""
    reader = csv.reader(stream, strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MalformedFile(f"line {reader.line_num}: not CSV ({exc})") from None
        except UnicodeDecodeError:
            raise MalformedFile(f"line {reader.line_num + 1}: the file is not UTF-8 text") from None
        yield start, cells
        start = reader.line_num + 1


def _write(session: Session, pool: UserPool, batch: list[tuple[int, ImportedUser]], report: ImportReport) -> None:
    """Insert one batch: rows whose name, sub or federated identity is taken are rejected
    first, then the users, their groups, factors and identities go in one statement each."""
    if not batch:
        return
    batch = _not_taken(session, pool, batch, report)
    if not batch:
        return
    groups = _groups(session, pool, {g for _, u in batch for g in u.groups})
    now = utcnow()
    rows = [_user_row(pool, user, now) for _, user in batch]
    ids = dict(session.execute(insert(User).returning(User.username, User.id), rows).all())
    memberships = [{"user_id": ids[u.username], "group_id": groups[g]} for _, u in batch for g in u.groups]
    factors = [_mfa_row(ids[u.username], u) for _, u in batch if u.factors or u.totp_secret]
    identities = [{"pool_id": pool.id, "user_id": ids[u.username], "provider_name": i["providerName"],
                   "provider_type": i["providerType"], "subject": i["userId"], "created_at": now}
                  for _, u in batch for i in u.identities]
    for model, values in ((UserGroup, memberships), (UserMfa, factors), (UserIdentity, identities)):
        if values:
            session.execute(insert(model), values)
    report.imported += len(batch)
    report.with_hash += sum(1 for _, u in batch if u.password_hash)
    report.reset_required += sum(1 for _, u in batch if u.status == "RESET_REQUIRED")


def _not_taken(session: Session, pool: UserPool, batch: list[tuple[int, ImportedUser]],
               report: ImportReport) -> list[tuple[int, ImportedUser]]:
    names = set(session.scalars(select(User.username).where(
        User.pool_id == pool.id, User.username.in_([u.username for _, u in batch]))))
    subs = set(session.scalars(select(User.sub).where(User.sub.in_([u.sub for _, u in batch if u.sub]))))
    pairs = [(i["providerName"], i["userId"]) for _, u in batch for i in u.identities]
    linked = set(session.execute(select(UserIdentity.provider_name, UserIdentity.subject).where(
        UserIdentity.pool_id == pool.id, tuple_(UserIdentity.provider_name, UserIdentity.subject).in_(pairs))
    )) if pairs else set()
    kept, new_subs, new_links = [], set(), set()
    for line, user in batch:
        links = {(i["providerName"], i["userId"]) for i in user.identities}
        reason = ("the username already exists in the pool" if user.username in names else
                  "the sub belongs to another user" if user.sub and (user.sub in subs or user.sub in new_subs) else
                  "a federated identity is linked to another user" if links & (linked | new_links) else None)
        if reason:
            report.reject(line, user.username, reason)
            continue
        new_subs.add(user.sub)
        new_links |= links
        kept.append((line, user))
    return kept


def _groups(session: Session, pool: UserPool, wanted: Iterable[str]) -> dict[str, int]:
    """The ids of the groups ``wanted``; those the pool lacks are created (name only)."""
    wanted = set(wanted)
    if not wanted:
        return {}
    found = dict(session.execute(select(Group.name, Group.id).where(Group.pool_id == pool.id, Group.name.in_(wanted)))
                 .all())
    for name in sorted(wanted - found.keys()):
        group = Group(pool_id=pool.id, name=name)
        session.add(group)
        session.flush()
        audit.record(session, pool.id, "CreateGroup", audit.PASS, group=name, source="ImportUsers")
        found[name] = group.id
    return found


def _user_row(pool: UserPool, user: ImportedUser, now: Any) -> dict[str, Any]:
    row = {"pool_id": pool.id, "username": user.username, "password_hash": user.password_hash,
           "status": user.status, "enabled": user.enabled, "attributes": user.attributes,
           "created_at": now, "updated_at": now, "session_epoch": 0,
           "sub": user.sub or str(uuid.uuid4()),
           "temp_password_expires_at": temporary_expiry(pool) if user.status == "FORCE_CHANGE_PASSWORD" else None}
    return row


def _mfa_row(user_id: int, user: ImportedUser) -> dict[str, Any]:
    return {"user_id": user_id, "totp_secret": user.totp_secret, "totp_enabled": "TOTP" in user.factors,
            "email_otp_enabled": "EMAIL_OTP" in user.factors, "sms_otp_enabled": "SMS_OTP" in user.factors,
            "preferred": user.preferred, "recovery_codes": [], "totp_last_step": 0, "updated_at": utcnow()}


def open_text(raw: Any) -> TextIO:
    """A binary stream read as UTF-8 CSV text (a byte-order mark is dropped by the header)."""
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")

