"""Pages of the admin API's lists (ListUsers' ``PaginationToken``, ``NextToken`` elsewhere):
a token names the last row of the page before, so the next page starts right after it
(:func:`broker.store.repo.page`); it is opaque to callers, and one that does not decode is
``InvalidParameterException``. A token comes with a page only when more rows follow it.

    rows, token = pages.fetch(lambda after, limit: groups.list_groups(s, pool.id, after, limit),
                              params.get("NextToken"), params.get("Limit"))
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Callable, Sequence

from .errors import AwsError

#: Cognito's QueryLimitType: at most 60 rows a page, and 60 when no Limit is given (or 0).
MAX_LIMIT = 60
_PREFIX = "cognate-page:"


def fetch(rows_after: Callable[[int | None, int], Sequence[Any]], token: str | None,
          limit: int | None, default: int = MAX_LIMIT) -> tuple[list[Any], str | None]:
    """The page after ``token``: ``rows_after(after_id, n)`` returns up to n rows after the
    row ``after_id``; one more than the page is asked for, to tell whether another follows."""
    size = min(limit or default, MAX_LIMIT)
    rows = list(rows_after(decode(token), size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return rows, encode(rows[-1].id) if more else None


def encode(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{row_id}".encode()).decode().rstrip("=")


def decode(token: str | None) -> int | None:
    """The row id a token names; None for no token."""
    if token is None:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError):
        text = ""
    number = text.removeprefix(_PREFIX)
    if not text.startswith(_PREFIX) or not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise AwsError("InvalidParameterException", "Invalid pagination token.")
    return int(number)
