"""Which user attributes an app client may read and write: Cognito's ``ReadAttributes`` and
``WriteAttributes`` on the app client
(https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolClientType.html).

- **Read**: the attributes that reach the client in ID tokens and at ``/oauth2/userInfo``
  (and, later, GetUser), on top of what the scopes allow. Unset, a client reads every
  attribute, ``custom:*`` included, as Cognate's ID tokens always had them: a client that
  must not see an attribute lists the ones it may.
- **Write**: the attributes a user may give through the client (sign-up, later
  UpdateUserAttributes). Unset, Cognito's default: the standard attributes, plus the ones
  the pool requires at sign-up (Cognito cannot require ``custom:*`` ones, Cognate can). So a
  user never chooses a ``custom:*`` attribute the pool did not ask for, which apps often
  trust (a tier, a role, a tenant). ``email_verified`` and ``phone_number_verified`` are
  never written by users, whatever the list says: only a code proves them.

Administration (``broker user create/update``) and IdP attribute mapping are the
operator's own writes and are not limited by these lists.

    >>> sorted(readable(None, {"email": "a@example.com"}))
    []
"""
from __future__ import annotations

from typing import Any

from ..errors import AttributeNotWritable, InvalidInput
from ..i18n import gettext as _
from ..store.models import AppClient, UserPool
from .attributes import STANDARD, check_name, label

#: Set only by proving the address or number with a code, never by the user directly.
NEVER_WRITABLE = frozenset({"email_verified", "phone_number_verified"})


def check_lists(read: list[str] | None, write: list[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """A client's lists as given to ``client create/update``: known names, no repeats, no
    verification flags among the writable ones; None stays None (the defaults)."""
    read = None if read is None else [check_name(n) for n in dict.fromkeys(read)]
    write = None if write is None else [check_name(n) for n in dict.fromkeys(write)]
    for name in write or []:
        if name in NEVER_WRITABLE:
            raise InvalidInput(f"{name} cannot be a write attribute: only a verification code sets it")
    return read, write


def readable(client: AppClient | None, attributes: dict[str, Any]) -> dict[str, Any]:
    """The part of a user's ``attributes`` that ``client`` may read (none for a client that
    no longer exists)."""
    if client is None:
        return {}
    if client.read_attributes is None:
        return dict(attributes)
    allowed = set(client.read_attributes)
    return {name: value for name, value in attributes.items() if name in allowed}


def can_write(pool: UserPool, client: AppClient | None, name: str) -> bool:
    """Whether a user may set attribute ``name`` through ``client`` (None: no client, the
    defaults)."""
    if name in NEVER_WRITABLE:
        return False
    if client is None or client.write_attributes is None:
        return name in STANDARD or name in pool.required_attributes
    return name in client.write_attributes


def check_writable(pool: UserPool, client: AppClient | None, attributes: dict[str, Any]) -> None:
    """:class:`AttributeNotWritable` naming the first of ``attributes`` the user may not set through
    ``client`` (Cognito answers NotAuthorizedException: "A client attempted to write
    unauthorized attribute")."""
    for name in attributes:
        if not can_write(pool, client, name):
            raise AttributeNotWritable(_("%(name)s cannot be set through this application.", name=label(name)))
