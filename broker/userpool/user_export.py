"""``broker user export``: every user of a pool, streamed, in the CSV that import reads
(:mod:`.user_csv`, so an export imports into another Cognate as it is) or as JSON Lines
(one object a user, keyed by the same column names, lists and booleans as JSON).

What leaves with a user: attributes, groups, linked federated identities, second factors;
with ``with_hashes`` the password hash (a PHC string: Argon2id for users who signed in or
set a password here; a hash imported and not used yet, in the PHC form it was stored in)
and the status; with ``with_secrets`` the TOTP secret as well (without it, an authenticator
app cannot move: TOTP is left out of the factors). SRP verifiers are not exported: they are
bound to the pool's id, so the importing pool makes its own at each user's next sign-in.

    count = export_users(session, pool, sys.stdout, fmt="csv", with_hashes=True)
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from typing import Any, Iterator, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Group, User, UserGroup, UserIdentity, UserMfa, UserPool
from . import attribute_changes, audit, mfa
from .attributes import CUSTOM
from .user_csv import (
    ENABLED, EXTENSIONS, FACTORS, GROUPS, HASH, IDENTITIES, MFA_ENABLED, PREFERRED, STATUS, SUB, TOTP_SECRET, USERNAME,
    escape_cell, header,
)

BATCH = 500
FORMATS = ("csv", "jsonl")


def custom_attributes(session: Session, pool_id: str) -> list[str]:
    """The ``custom:*`` attributes the pool's users hold (Cognate keeps no schema of them)."""
    found: set[str] = set()
    for attributes in session.scalars(select(User.attributes).where(User.pool_id == pool_id)
                                      .execution_options(yield_per=BATCH)):
        found.update(name for name in attributes if CUSTOM.fullmatch(name))
    return sorted(found)


def csv_header(session: Session, pool: UserPool) -> list[str]:
    """GetCSVHeader: Cognito's columns for this pool, and the password hash column."""
    return header(custom_attributes(session, pool.id))


def export_users(session: Session, pool: UserPool, out: TextIO, fmt: str = "csv", with_hashes: bool = False,
                 with_secrets: bool = False) -> int:
    """Write every user of ``pool`` to ``out``; returns how many."""
    columns = header(custom_attributes(session, pool.id), EXTENSIONS if with_secrets else EXTENSIONS[:-1])
    writer = csv.DictWriter(out, columns, lineterminator="\n", extrasaction="ignore") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    count = 0
    for record in _records(session, pool, with_hashes, with_secrets):
        if writer is not None:
            writer.writerow(_cells(record))
        else:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    audit.record(session, pool.id, "ExportUsers", audit.PASS, exported=count, with_hashes=with_hashes,
                 with_secrets=with_secrets)
    return count


def _records(session: Session, pool: UserPool, with_hashes: bool, with_secrets: bool) -> Iterator[dict[str, Any]]:
    """Users in id order, a batch at a time, with their groups, identities and factors."""
    last = 0
    while True:
        users = list(session.scalars(select(User).where(User.pool_id == pool.id, User.id > last)
                                     .order_by(User.id).limit(BATCH)))
        if not users:
            return
        ids = [u.id for u in users]
        groups, identities, factors = _related(session, ids)
        for user in users:
            yield _record(user, groups[user.id], identities[user.id], factors.get(user.id), with_hashes, with_secrets)
        last = ids[-1]
        session.expunge_all()


def _related(session: Session, ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[dict[str, str]]],
                                                         dict[int, UserMfa]]:
    groups: dict[int, list[str]] = defaultdict(list)
    for user_id, name in session.execute(select(UserGroup.user_id, Group.name).join(Group, Group.id == UserGroup.group_id)
                                         .where(UserGroup.user_id.in_(ids)).order_by(Group.name)):
        groups[user_id].append(name)
    identities: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in session.scalars(select(UserIdentity).where(UserIdentity.user_id.in_(ids)).order_by(UserIdentity.id)):
        identities[row.user_id].append({"providerName": row.provider_name, "providerType": row.provider_type,
                                        "userId": row.subject})
    factors = {row.user_id: row for row in session.scalars(select(UserMfa).where(UserMfa.user_id.in_(ids)))}
    return groups, identities, factors


def _record(user: User, groups: list[str], identities: list[dict[str, str]], row: UserMfa | None,
            with_hashes: bool, with_secrets: bool) -> dict[str, Any]:
    attributes = {k: (str(v).lower() if isinstance(v, bool) else str(v))
                  for k, v in attribute_changes.current(user).items() if not k.startswith("_")}
    on = _factors(row, with_secrets)
    record: dict[str, Any] = {USERNAME: user.username, **attributes, MFA_ENABLED: bool(on), SUB: user.sub,
                              ENABLED: user.enabled, GROUPS: groups, IDENTITIES: identities, FACTORS: on,
                              PREFERRED: row.preferred if row is not None and row.preferred in on else None}
    if with_hashes:
        record.update({HASH: user.password_hash, STATUS: user.status})
    elif user.status == "EXTERNAL_PROVIDER":
        record[STATUS] = user.status  # the others import RESET_REQUIRED, as without a hash they must
    if with_secrets and mfa.TOTP in on and row is not None:
        record[TOTP_SECRET] = row.totp_secret
    return record


def _factors(row: UserMfa | None, with_secrets: bool) -> list[str]:
    if row is None:
        return []
    flags = {mfa.TOTP: row.totp_enabled and bool(row.totp_secret) and with_secrets,
             mfa.EMAIL_OTP: row.email_otp_enabled, mfa.SMS_OTP: row.sms_otp_enabled}
    return [factor for factor, on in flags.items() if on]


def _cells(record: dict[str, Any]) -> dict[str, str]:
    """A record as CSV cells: booleans ``true``/``false``, groups and factors joined with
    ``;``, identities as JSON, nothing for an absent value; a cell that would start a
    formula behind a ``'`` (:func:`.user_csv.escape_cell`: import takes it off)."""
    cells = {}
    for name, value in record.items():
        if value is None or value == []:
            continue
        if isinstance(value, bool):
            cells[name] = "true" if value else "false"
        elif name == IDENTITIES:
            cells[name] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, list):
            cells[name] = ";".join(value)
        else:
            cells[name] = str(value)
    return {name: escape_cell(cell) for name, cell in cells.items()}
