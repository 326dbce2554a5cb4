"""What every table shares: the declarative base, timezone-aware UTC datetimes, and the
canonical form of a username; and the columns of the two kinds of signing keys."""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from sqlalchemy import JSON, DateTime, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class KeyColumns:
    """The columns of a signing key, a user pool's (:class:`.SigningKey`) or the
    identities' (:class:`.IdentityKey`): both are rotated and published by one mechanism,
    :class:`broker.oauth.keys.KeyRows`."""

    kid: Mapped[str] = mapped_column(String(64), primary_key=True, sort_order=-1)  # (the first column)
    alg: Mapped[str] = mapped_column(String(8))
    private_jwk: Mapped[dict[str, Any]] = mapped_column()
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Set when a newer key took over signing; the key stays published until ``expires_at``.
    retired_at: Mapped[dt.datetime | None] = mapped_column()
    expires_at: Mapped[dt.datetime | None] = mapped_column()
