"""What every table shares: the declarative base, timezone-aware UTC datetimes, and the
canonical form of a username."""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from sqlalchemy import JSON, DateTime, TypeDecorator
from sqlalchemy.orm import DeclarativeBase


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def canonical_username(username: str) -> str:
    """The form a username is stored and looked up in: compatibility forms folded (NFKC:
    full-width ``ａｌｉｃｅ`` is ``alice``) and lower-cased, as RFC 8265 §3.3's
    UsernameCaseMapped profile maps width and case; Cognito compares usernames
    case-insensitively."""
    return unicodedata.normalize("NFKC", username).strip().lower()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON, list[Any]: JSON}
