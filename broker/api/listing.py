"""Pages of the admin API's List* operations (``MaxResults`` / ``NextToken``, or ``Limit`` /
``PaginationToken``): a token names the last item served, so a page never repeats or skips
an item when others are added or removed between calls. Tokens are opaque to callers.

    page, token = paged(clients, params.get("MaxResults"), params.get("NextToken"), key=lambda c: c.id)
"""
from __future__ import annotations

import base64
import binascii
from typing import Callable, Sequence, TypeVar

from .errors import AwsError

T = TypeVar("T")
#: Cognito's largest page for the lists that use this.
MAX_RESULTS = 60


def paged(items: Sequence[T], limit: int | None, token: str | None, key: Callable[[T], str],
          default: int = MAX_RESULTS) -> tuple[list[T], str | None]:
    """The items after the one ``token`` names, ``limit`` of them, in ``key`` order, and the
    token of the next page (None on the last one)."""
    ordered = sorted(items, key=key)
    if token:
        after = decode_token(token)
        ordered = [item for item in ordered if key(item) > after]
    size = limit or default
    page = ordered[:size]
    return page, (encode_token(key(page[-1])) if len(ordered) > size else None)


def encode_token(key: str) -> str:
    """The token of the page after the item of ``key`` (for lists paged by the database)."""
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_token(token: str) -> str:
    """The key of the last item the page before ``token`` served."""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AwsError("InvalidParameterException", "The pagination token is not valid.") from None
