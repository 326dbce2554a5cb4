"""Where a code went, as Cognito tells it (``CodeDeliveryDetailsType``: ``Destination``
masked, ``DeliveryMedium``, ``AttributeName``), and the same answer for users who do not
exist, so that a request for a code tells nothing about the account
(https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pool-managing-errors.html).

    >>> mask_email("alice@example.com")
    'a***@e***'
    >>> mask_phone("+15555550123")
    '+*******0123'
"""
from __future__ import annotations

import string
from typing import Any

from sqlalchemy.orm import Session

from .. import sealing
from ..store.models import canonical_username

_FIRST = string.ascii_lowercase


def mask_email(address: str) -> str:
    """Cognito's mask: the first character of the local part and of the domain."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


def mask_phone(number: str) -> str:
    """``+15555550123`` → ``+*******0123``: the last four digits."""
    return "+" + "*" * max(len(number) - 5, 0) + number[-4:]


def details(address: str) -> dict[str, Any]:
    return {"Destination": mask_email(address), "DeliveryMedium": "EMAIL", "AttributeName": "email"}


def attribute_details(name: str, value: str) -> dict[str, Any]:
    """Where the code verifying attribute ``name`` went: by email, or by text message to a phone number."""
    if name == "phone_number":
        return {"Destination": mask_phone(value), "DeliveryMedium": "SMS", "AttributeName": name}
    return {**details(value), "AttributeName": name}


def stand_in(session: Session, pool_id: str, username: str) -> dict[str, Any]:
    """The details answered when no code was sent: a masked address that looks like a real
    one and stays the same for the same name, computed under the deployment's secret."""
    digest = _stand_in_digest(session, pool_id, username)
    return details(f"{_FIRST[digest[0] % 26]}@{_FIRST[digest[1] % 26]}")


def stand_in_phone(session: Session, pool_id: str, username: str) -> str:
    """:func:`stand_in` for a text message: a masked number, the same for the same name."""
    digest = _stand_in_digest(session, pool_id, username)
    return mask_phone("+1555555" + "".join(str(b % 10) for b in digest[2:6]))


def _stand_in_digest(session: Session, pool_id: str, username: str) -> bytes:
    return sealing.of(session).mac("code-destination", f"{pool_id}\0{canonical_username(username)}".encode())
