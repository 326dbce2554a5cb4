"""Finding a pool's users with Cognito's ListUsers ``Filter``: ``attribute = "value"`` (the
value exactly) or ``attribute ^= "value"`` (starting with it), one attribute of those
Cognito lets a search name; a ``"`` or ``\\`` in the value is escaped with ``\\``. An empty
filter finds every user.
https://docs.aws.amazon.com/cognito/latest/developerguide/how-to-manage-user-accounts.html#cognito-user-pools-searching-for-users-using-listusers-api

- ``username`` compares the canonical name (case and width folded, as names are stored);
- ``cognito:user_status`` the account status (``CONFIRMED``..., any case);
- ``status`` ``Enabled`` or ``Disabled``;
- ``sub`` and the attributes ``email``, ``phone_number``, ``name``, ``given_name``,
  ``family_name``, ``preferred_username``, their current values (not those waiting for
  verification), exactly as stored.

    search(session, pool_id, 'email ^= "ann"', after=None, limit=60)
"""
from __future__ import annotations

import re
from typing import Any, Callable

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session, selectinload

from ..errors import InvalidInput
from ..store import repo
from ..store.models import User, canonical_username

FILTER = re.compile(r'\s*(?P<name>[\w:]+)\s*(?P<op>\^?=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*')
#: Attributes a filter may name besides those with a column of their own.
ATTRIBUTES = ("email", "phone_number", "name", "given_name", "family_name", "preferred_username")
STATUSES = {"Enabled": True, "Disabled": False}


def search(session: Session, pool_id: str, text: str | None = None, after: int | None = None,
           limit: int | None = None) -> list[User]:
    """The pool's users ``text`` finds (:func:`condition`), with their groups, in a stable
    order: a page of at most ``limit`` after the user ``after`` (a row id)."""
    stmt = select(User).where(User.pool_id == pool_id).options(selectinload(User.groups))
    found = condition(text)
    if found is not None:
        stmt = stmt.where(found)
    return repo.page(session, stmt, User.id, after, limit)


def condition(text: str | None) -> ColumnElement[bool] | None:
    """The SQL condition of a filter; None for an empty one. :class:`InvalidInput` for a
    filter that is not ``name = "value"`` or ``name ^= "value"`` over a searchable name."""
    if text is None or not text.strip():
        return None
    match = FILTER.fullmatch(text)
    if match is None:
        raise InvalidInput("Error while parsing filter.")
    name, prefix = match["name"], match["op"] == "^="
    value = re.sub(r"\\(.)", r"\1", match["value"])
    compare = _COLUMNS.get(name)
    if compare is None:
        raise InvalidInput(f"Invalid search attribute: {name}")
    return compare(value, prefix)


def _text(column: Any, value: str, prefix: bool) -> ColumnElement[bool]:
    return column.startswith(value, autoescape=True) if prefix else column == value


def _attribute(name: str) -> Callable[[str, bool], ColumnElement[bool]]:
    return lambda value, prefix: _text(User.attributes[name].as_string(), value, prefix)


def _enabled(value: str, prefix: bool) -> ColumnElement[bool]:
    matching = {on for label, on in STATUSES.items() if (label.startswith(value) if prefix else label == value)}
    if len(matching) == 2:
        return User.enabled.is_not(None)
    return User.enabled.is_(matching.pop()) if matching else false()


_COLUMNS: dict[str, Callable[[str, bool], ColumnElement[bool]]] = {
    "username": lambda value, prefix: _text(User.username, canonical_username(value), prefix),
    "sub": lambda value, prefix: _text(User.sub, value, prefix),
    "cognito:user_status": lambda value, prefix: _text(User.status, value.upper(), prefix),
    "status": _enabled,
    **{name: _attribute(name) for name in ATTRIBUTES},
}
