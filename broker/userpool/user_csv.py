"""Cognito's user-import CSV, and Cognate's extension columns: the format ``broker user
import`` and import jobs read and ``broker user export`` writes, so an export imports again.

Cognito's columns (GetCSVHeader; https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-using-import-tool-csv-header.html):
``cognito:username``, ``cognito:mfa_enabled`` (both required in the header), the standard
attributes, the pool's ``custom:*`` attributes. Order does not matter; an empty cell is an
absent value; booleans are ``true``/``false``. Cognate's columns, all optional:

- ``cognate:password_hash``: a hash in a format of :mod:`.hash_formats`. A user with one is
  CONFIRMED and signs in with their old password; a user without one is RESET_REQUIRED, as
  Cognito imports everyone, and then needs a verified email or phone number for the code;
- ``cognate:sub`` (keep the user's ``sub``), ``cognate:enabled``, ``cognate:status``;
- ``cognate:groups`` (names separated by ``;``), ``cognate:identities`` (the ``identities``
  claim's JSON list), ``cognate:mfa_factors`` (``TOTP;EMAIL_OTP;SMS_OTP``),
  ``cognate:mfa_preferred``, ``cognate:totp_secret`` (Base32).

    header = read_header(next(reader))          # MalformedFile for a header that is not the format's
    record = parse_row(header, cells, pool)     # ImportedUser, or InvalidInput naming the problem
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..store.models import UserPool
from . import hash_formats, mfa
from .attributes import CUSTOM, STANDARD, check_attributes
from .usernames import check_username

USERNAME, MFA_ENABLED = "cognito:username", "cognito:mfa_enabled"
HASH, SUB, ENABLED, STATUS = "cognate:password_hash", "cognate:sub", "cognate:enabled", "cognate:status"
GROUPS, IDENTITIES = "cognate:groups", "cognate:identities"
FACTORS, PREFERRED, TOTP_SECRET = "cognate:mfa_factors", "cognate:mfa_preferred", "cognate:totp_secret"
EXTENSIONS = (HASH, SUB, ENABLED, STATUS, GROUPS, IDENTITIES, FACTORS, PREFERRED, TOTP_SECRET)
#: GetCSVHeader's order (custom attributes go after ``updated_at``).
COGNITO_ATTRIBUTES = ("name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile",
                      "picture", "website", "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale",
                      "phone_number", "phone_number_verified", "address", "updated_at")
FLAGS = ("email_verified", "phone_number_verified")
STATUSES = ("CONFIRMED", "UNCONFIRMED", "FORCE_CHANGE_PASSWORD", "RESET_REQUIRED", "EXTERNAL_PROVIDER")
GROUP_NAME = re.compile(r"[\w\s+=,.@-]{1,128}")
MAX_COLUMNS = 100
#: A cell a spreadsheet would read as a formula starts with one of these; export writes it
#: after a ``'`` (OWASP, "CSV Injection"), and a cell that starts with ``'`` too, so that
#: import can take exactly that ``'`` off again. A ``'`` before anything else stays.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


class MalformedFile(InvalidInput):
    """A file that is not this format (its header, its encoding, its CSV): nothing imports."""


@dataclass
class ImportedUser:
    """One row, checked: what the import writes."""

    username: str
    attributes: dict[str, str]
    password_hash: str | None
    status: str
    enabled: bool = True
    sub: str | None = None
    groups: list[str] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    factors: list[str] = field(default_factory=list)
    preferred: str | None = None
    totp_secret: str | None = None


def header(custom: list[str], extensions: tuple[str, ...] = (HASH,)) -> list[str]:
    """The columns of a file for a pool with the ``custom`` attributes: GetCSVHeader's, then
    Cognate's ``extensions``."""
    attributes = [*COGNITO_ATTRIBUTES, *sorted(custom)]
    return [*attributes, MFA_ENABLED, USERNAME, *extensions]


def read_header(cells: list[str]) -> list[str]:
    """The header's column names, or :class:`MalformedFile` saying what is wrong."""
    names = [c.strip() for c in cells]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:]  # a byte-order mark from a spreadsheet
    if len(names) > MAX_COLUMNS:
        raise MalformedFile(f"the header has {len(names)} columns, more than {MAX_COLUMNS}")
    seen = set()
    for name in names:
        if name in seen:
            raise MalformedFile(f"the header names column {name!r} twice")
        seen.add(name)
        if name not in STANDARD and not CUSTOM.fullmatch(name) and name not in (USERNAME, MFA_ENABLED, *EXTENSIONS):
            raise MalformedFile(f"the header has an unknown column {name[:64]!r} (see GetCSVHeader)")
    for required in (USERNAME, MFA_ENABLED):
        if required not in seen:
            raise MalformedFile(f"the header has no {required} column (see GetCSVHeader)")
    return names


def parse_row(names: list[str], cells: list[str], pool: UserPool,
              firebase: hash_formats.Firebase | None = None) -> ImportedUser:
    """The user a row describes, or :class:`InvalidInput` with the reason it is refused."""
    if len(cells) != len(names):
        raise InvalidInput(f"the row has {len(cells)} fields where the header has {len(names)}")
    row = {name: unescape_cell(cell.strip()) for name, cell in zip(names, cells) if cell.strip()}
    username = check_username(row.get(USERNAME, ""))
    attributes = _attributes(row, pool)
    password_hash = hash_formats.recognise(row[HASH], firebase) if HASH in row else None
    user = ImportedUser(username, attributes, password_hash, _status(row, password_hash, attributes),
                        enabled=_flag(row, ENABLED, True), sub=_sub(row.get(SUB)),
                        groups=_groups(row.get(GROUPS, "")), identities=_identities(row.get(IDENTITIES)))
    _mfa(row, user, pool)
    return user


def escape_cell(value: str) -> str:
    """``value`` as a cell no spreadsheet runs as a formula (:data:`FORMULA_STARTS`)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unescape_cell(cell: str) -> str:
    """What :func:`escape_cell` wrote: the ``'`` before a formula's first character goes."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def _attributes(row: dict[str, str], pool: UserPool) -> dict[str, str]:
    given = {k: v for k, v in row.items() if not k.startswith(("cognito:", "cognate:"))}
    for flag in FLAGS:
        if flag in given:
            given[flag] = "true" if _flag(given, flag, False) else "false"
    attributes = check_attributes(given)
    for flag, name in (("email_verified", "email"), ("phone_number_verified", "phone_number")):
        if attributes.get(flag) == "true" and name not in attributes:
            raise InvalidInput(f"{flag} is true without {name}")
    missing = [name for name in pool.required_attributes if name not in attributes]
    if missing:
        raise InvalidInput(f"the pool requires {', '.join(missing)}")
    return attributes


def _status(row: dict[str, str], password_hash: str | None, attributes: dict[str, str]) -> str:
    """CONFIRMED with a hash, RESET_REQUIRED without (Cognito's import); ``cognate:status``
    says otherwise, within what the user can do with or without a password."""
    status = row.get(STATUS, "CONFIRMED" if password_hash else "RESET_REQUIRED").upper()
    if status not in STATUSES:
        raise InvalidInput(f"{STATUS} must be one of {', '.join(STATUSES)}")
    if password_hash is None and status not in ("RESET_REQUIRED", "EXTERNAL_PROVIDER"):
        raise InvalidInput(f"a user with status {status} needs {HASH}")
    if status == "EXTERNAL_PROVIDER" and (password_hash or IDENTITIES not in row):
        raise InvalidInput(f"an EXTERNAL_PROVIDER user has {IDENTITIES} and no password hash")
    if status == "RESET_REQUIRED" and not any(attributes.get(flag) == "true" for flag in FLAGS):
        raise InvalidInput("a user without a password hash needs email_verified or phone_number_verified true "
                           "to receive a reset code")
    return status


def _flag(row: dict[str, str], name: str, default: bool) -> bool:
    value = row.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise InvalidInput(f"{name} must be true or false, not {value[:32]!r}")
    return value.lower() == "true"


def _sub(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInput(f"{SUB} must be a UUID") from None


def _groups(value: str) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in value.split(";") if n.strip()))
    for name in names:
        if not GROUP_NAME.fullmatch(name):
            raise InvalidInput(f"invalid group name {name[:64]!r}")
    return names


def _identities(value: str | None) -> list[dict[str, Any]]:
    """The ``identities`` claim's list: each with ``providerName``, ``providerType``, ``userId``,
    a provider's user once (a pool links it to one user only)."""
    if value is None:
        return []
    try:
        items = json.loads(value)
    except ValueError:
        raise InvalidInput(f"{IDENTITIES} is not JSON") from None
    if not isinstance(items, list) or len(items) > 20:
        raise InvalidInput(f"{IDENTITIES} must be a JSON list (at most 20)")
    out = []
    for item in items:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and 0 < len(item[k]) <= limit
                                                 for k, limit in (("providerName", 32), ("providerType", 16),
                                                                  ("userId", 512))):
            raise InvalidInput(f"each of {IDENTITIES} needs providerName, providerType and userId")
        if any((item["providerName"], item["userId"]) == (o["providerName"], o["userId"]) for o in out):
            raise InvalidInput(f"{IDENTITIES} lists {item['providerName']!r} user {item['userId'][:64]!r} twice")
        out.append({k: item[k] for k in ("providerName", "providerType", "userId")})
    return out


def _mfa(row: dict[str, str], user: ImportedUser, pool: UserPool) -> None:
    """``cognate:mfa_factors``; without it, ``cognito:mfa_enabled`` true is Cognito's SMS MFA."""
    if FACTORS in row:
        factors = list(dict.fromkeys(f.strip().upper() for f in row[FACTORS].split(";") if f.strip()))
    else:
        factors = [mfa.SMS_OTP] if _flag(row, MFA_ENABLED, False) else []
    for factor in factors:
        if factor not in (mfa.TOTP, mfa.EMAIL_OTP, mfa.SMS_OTP):
            raise InvalidInput(f"unknown MFA factor {factor[:32]!r}")
        if factor not in pool.mfa_methods:
            raise InvalidInput(f"the pool does not offer {factor}")
    if mfa.SMS_OTP in factors and "phone_number" not in user.attributes:
        raise InvalidInput("SMS MFA needs a phone_number")
    if mfa.EMAIL_OTP in factors and user.attributes.get("email_verified") != "true":
        raise InvalidInput("EMAIL_OTP needs a verified email")
    secret = row.get(TOTP_SECRET)
    if (mfa.TOTP in factors) != (secret is not None):
        raise InvalidInput(f"TOTP in {FACTORS} goes with {TOTP_SECRET}, and only with it")
    if secret is not None:
        user.totp_secret = _base32(secret)
    preferred = row.get(PREFERRED, "").upper() or None
    if preferred is not None and preferred not in factors:
        raise InvalidInput(f"{PREFERRED} must be one of the user's factors")
    user.factors, user.preferred = factors, preferred


def _base32(secret: str) -> str:
    value = secret.replace(" ", "").upper()
    try:
        raw = base64.b32decode(value + "=" * (-len(value) % 8))
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{TOTP_SECRET} is not Base32") from None
    if not 10 <= len(raw) <= 40:
        raise InvalidInput(f"{TOTP_SECRET} must hold 80 to 320 bits")
    return value.rstrip("=")
